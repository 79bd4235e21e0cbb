// Shares (/app/shares): the invites the caller created, with Revoke, and the shares they
// accepted, with Leave; refreshed from the user stream.

import { api } from "./api.js";
import { fromNow, h, show, when } from "./dom.js";
import { failure, userStream } from "./shell.js";

function shareCard(share, outgoing) {
  const uses = share.max_uses ? `${share.use_count} of ${share.max_uses} uses.` : `${share.use_count} uses, no limit.`;
  const expiry = share.expires_at ? ` Expires ${when(share.expires_at).textContent} (${fromNow(share.expires_at)}).` : " Never expires.";
  const guests = (share.guests || []).filter((guest) => !guest.left).map((guest) => guest.display_name);
  const action = outgoing
    ? share.status === "active" &&
      h("button", {
        type: "button",
        class: "danger",
        onclick: async (event) => {
          event.target.disabled = true;
          await api("DELETE", `/v1/shares/${encodeURIComponent(share.id)}`).catch(failure);
          sharesPage().catch(failure);
        },
      }, `Revoke ${share.label || share.agent_name}`)
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
  return h(
    "li",
    { class: "card share", "data-share-id": share.id, "data-status": share.status },
    h("h3", {}, share.agent_name, share.label ? ` — ${share.label}` : ""),
    h("p", { class: "muted" }, `Status: ${share.status}.`, outgoing ? ` ${uses}${share.status === "active" ? expiry : ""}` : ""),
    outgoing && h("p", {}, guests.length ? `Guests: ${guests.join(", ")}` : "No guests yet."),
    !outgoing && share.status === "active" && h("a", { href: `/app/chat/${encodeURIComponent(share.agent_id)}` }, "Chat"),
    h("div", { class: "actions" }, action),
  );
}

export async function sharesPage() {
  const [outgoing, incoming] = await Promise.all([api("GET", "/v1/shares"), api("GET", "/v1/shares/incoming")]);
  show(
    "Shares",
    h("h2", {}, "Invites you created"),
    outgoing.length
      ? h("ul", { class: "cards" }, outgoing.map((share) => shareCard(share, true)))
      : h("p", { class: "muted" }, "None yet. Create an invite link on My agents."),
    h("h2", {}, "Shared with you"),
    incoming.length ? h("ul", { class: "cards" }, incoming.map((share) => shareCard(share, false))) : h("p", { class: "muted" }, "None."),
  );
  if (!sharesPage.stream) {
    sharesPage.stream = userStream(
      (type) => {
        if (type.startsWith("share.")) sharesPage().catch(failure);
      },
      () => sharesPage().catch(failure),
    );
  }
}
