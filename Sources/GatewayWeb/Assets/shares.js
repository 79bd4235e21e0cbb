// Shares (/app/shares): the invites the caller created, with Revoke (after a confirmation that
// names who loses access), and the shares they accepted, with Leave; refreshed from the user stream.

import { api } from "./api.js";
import { confirmInline, fromNow, h, show, when } from "./dom.js";
import { failure, userStream } from "./shell.js";

/** The display names of a share's guests who still have access (not those who left). */
function guestNames(share) {
  return (share.guests || []).filter((guest) => !guest.left).map((guest) => guest.display_name);
}

const nameList = new Intl.ListFormat("en", { style: "long", type: "conjunction" });

/** What Revoke asks first: the share (its label, or "this invite"), who loses access to which
 *  agent, and that it cannot be undone. Plain text: the names are other people's. */
export function revokeShareQuestion(share) {
  const names = guestNames(share);
  const what = share.label ? `“${share.label}”` : "this invite";
  const who = names.length
    ? `${nameList.format(names)} ${names.length === 1 ? "loses" : "lose"} access to ${share.agent_name} at once, and the invite link stops working.`
    : `Nobody has accepted it yet; the invite link to ${share.agent_name} stops working at once.`;
  return `Revoke ${what}? ${who} This cannot be undone.`;
}

const cardSelector = (id) => `li.share[data-share-id="${CSS.escape(id)}"]`;

/** Revoke, which asks first in `actions` (the card's); confirmed, the page reloads with the focus
 *  on the card's heading, which then says the share is revoked. */
function revokeButton(share, actions) {
  const revoke = h("button", {
    type: "button",
    class: "danger revoke-share",
    onclick: () =>
      confirmInline(actions, revoke, {
        id: `revoke-share-question-${share.id}`,
        name: "revoke-share",
        question: revokeShareQuestion(share),
        yes: "Yes, revoke",
        onConfirm: async () => {
          try {
            await api("DELETE", `/v1/shares/${encodeURIComponent(share.id)}`);
            await sharesPage();
          } catch (error) {
            failure(error);
            return false;
          }
          document.querySelector(`${cardSelector(share.id)} h3`)?.focus(); // its buttons are gone
        },
      }),
  }, `Revoke ${share.label || share.agent_name}`);
  return revoke;
}

function shareCard(share, outgoing) {
  const uses = share.max_uses ? `${share.use_count} of ${share.max_uses} uses.` : `${share.use_count} uses, no limit.`;
  const expiry = share.expires_at ? ` Expires ${when(share.expires_at).textContent} (${fromNow(share.expires_at)}).` : " Never expires.";
  const guests = guestNames(share);
  const status = `share-status-${share.id}`;
  const actions = h("div", { class: "actions" });
  const action = outgoing
    ? share.status === "active" && revokeButton(share, actions)
    : share.status === "active" &&
      h("button", {
        type: "button",
        class: "secondary",
        onclick: async (event) => {
          event.target.disabled = true;
          await api("DELETE", `/v1/shares/${encodeURIComponent(share.id)}/grant`).catch(failure);
          sharesPage().catch(failure);
        },
      }, "Leave");
  if (action) actions.append(action);
  return h(
    "li",
    { class: "card share", "data-share-id": share.id, "data-status": share.status },
    h("h3", { tabindex: "-1", "aria-describedby": status }, share.agent_name, share.label ? ` — ${share.label}` : ""),
    h("p", { class: "muted", id: status }, `Status: ${share.status}.`, outgoing ? ` ${uses}${share.status === "active" ? expiry : ""}` : ""),
    outgoing && h("p", {}, guests.length ? `Guests: ${guests.join(", ")}` : "No guests yet."),
    !outgoing && share.status === "active" && h("a", { href: `/app/chat/${encodeURIComponent(share.agent_id)}` }, "Chat"),
    actions,
  );
}

export async function sharesPage() {
  const [outgoing, incoming] = await Promise.all([api("GET", "/v1/shares"), api("GET", "/v1/shares/incoming")]);
  // A reload from the user stream (a guest accepted, a reset) while Revoke asks: ask again, with
  // the guests as they are now.
  const asking = document.querySelector("li.share .confirm")?.closest("li.share")?.dataset.shareId;
  show(
    "Shares",
    h("h2", {}, "Invites you created"),
    outgoing.length
      ? h("ul", { class: "cards" }, outgoing.map((share) => shareCard(share, true)))
      : h("p", { class: "muted" }, "None yet. Create an invite link on My agents."),
    h("h2", {}, "Shared with you"),
    incoming.length ? h("ul", { class: "cards" }, incoming.map((share) => shareCard(share, false))) : h("p", { class: "muted" }, "None."),
  );
  if (asking) document.querySelector(`${cardSelector(asking)} button.revoke-share`)?.click();
  if (!sharesPage.stream) {
    sharesPage.stream = userStream(
      (type) => {
        if (type.startsWith("share.")) sharesPage().catch(failure);
      },
      () => sharesPage().catch(failure),
    );
  }
}
