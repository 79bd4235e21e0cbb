// An invite (/invite/{code}): who shares which agent, and Accept and chat. Signed out, the page
// already says who invites you to what and whether the invite still works: the gateway puts the
// invite into the page (a JSON data block, #invite-preview) for anyone holding the link.

import { api, tokens } from "./api.js";
import { signIn } from "./auth.js";
import { h, show, notice, fromNow } from "./dom.js";

const inactive = {
  revoked: ["Invite revoked", "The owner revoked this invite. Ask them for a new one."],
  expired: ["Invite expired", "This invite has expired. Ask the owner for a new one."],
  exhausted: ["Invite used up", "This invite has been used as many times as allowed. Ask the owner for a new one."],
};

/** The invite the gateway put into the page, or null. */
function embeddedInvite() {
  const block = document.getElementById("invite-preview");
  if (!block) return null;
  try {
    return JSON.parse(block.textContent);
  } catch {
    return null;
  }
}

/** "Olga shares the agent Echo with you." with the description and the expiry. */
function describe(invite) {
  return [
    h("p", {}, h("strong", { id: "invite-owner" }, invite.owner_name), " shares the agent ", h("strong", { id: "invite-agent" }, invite.agent_name), " with you."),
    invite.agent_description && h("p", { class: "muted invite-description" }, invite.agent_description),
    invite.status === "active" && invite.expires_at && h("p", { class: "muted", id: "invite-expiry" }, `This invite expires ${fromNow(invite.expires_at)}.`),
  ].filter(Boolean);
}

function showInactive(invite) {
  const [title, text] = inactive[invite.status] || ["Invite not usable", `This invite is ${invite.status}.`];
  show(title, ...describe(invite), notice(text, "danger"));
}

export async function invitePage(code) {
  if (!tokens()) {
    const invite = embeddedInvite();
    if (!invite) {
      return show("Invite not found", notice("This invite link is not valid. Check that it was copied whole, or ask for a new one.", "danger"));
    }
    if (invite.status !== "active") return showInactive(invite);
    show(
      `${invite.owner_name} invites you to chat with ${invite.agent_name}`,
      ...describe(invite),
      h("p", {}, "Sign in to accept and start chatting."),
      h("p", {}, h("button", { type: "button", id: "sign-in", onclick: () => signIn(location.pathname) }, "Sign in to accept")),
    );
    document.getElementById("sign-in").focus();
    return;
  }
  let invite;
  try {
    invite = await api("GET", `/v1/invites/${encodeURIComponent(code)}`);
  } catch (error) {
    if (error.status === 404) return show("Invite not found", notice("This invite link is not valid. Ask for a new one.", "danger"));
    throw error;
  }
  if (invite.status !== "active") return showInactive(invite);
  const message = h("div", { role: "status" });
  const accept = h(
    "button",
    {
      type: "button",
      id: "accept-invite",
      onclick: async () => {
        accept.disabled = true;
        try {
          const accepted = await api("POST", `/v1/invites/${encodeURIComponent(code)}/accept`);
          location.assign(`/app/chat/${encodeURIComponent(accepted.agent.id)}`);
        } catch (error) {
          accept.disabled = false;
          const text = {
            "own-invite": "This is your own invite: share the link with someone else.",
            "invite-revoked": inactive.revoked[1],
            "invite-expired": inactive.expired[1],
            "invite-exhausted": inactive.exhausted[1],
          }[error.type];
          message.replaceChildren(notice(text || error.message, "danger"));
        }
      },
    },
    "Accept and chat",
  );
  show(`Chat with ${invite.agent_name}`, ...describe(invite), h("p", {}, accept), message);
  accept.focus();
}
