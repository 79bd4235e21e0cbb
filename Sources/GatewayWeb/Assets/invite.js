// An invite (/invite/{code}): who shares which agent, and Accept and chat.

import { api, tokens } from "./api.js";
import { h, show, notice } from "./dom.js";
import { signInPrompt } from "./shell.js";

export async function invitePage(code) {
  if (!tokens()) {
    signInPrompt("You're invited", "Someone shared an AI agent with you on this gateway. Sign in to see it and start chatting.");
    return;
  }
  let invite;
  try {
    invite = await api("GET", `/v1/invites/${encodeURIComponent(code)}`);
  } catch (error) {
    if (error.status === 404) return show("Invite not found", notice("This invite link is not valid. Ask for a new one.", "danger"));
    throw error;
  }
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
            "invite-revoked": "The owner revoked this invite.",
            "invite-expired": "This invite has expired.",
            "invite-exhausted": "This invite has been used as many times as allowed.",
          }[error.type];
          message.replaceChildren(notice(text || error.message, "danger"));
        }
      },
    },
    "Accept and chat",
  );
  const inactive = { revoked: "The owner revoked this invite.", expired: "This invite has expired.", exhausted: "This invite has been used up." };
  show(
    `Chat with ${invite.agent_name}`,
    h("p", {}, h("strong", {}, invite.owner_name), " shares the agent ", h("strong", { id: "invite-agent" }, invite.agent_name), " with you."),
    invite.agent_description && h("p", { class: "muted" }, invite.agent_description),
    invite.status === "active" ? h("p", {}, accept) : notice(inactive[invite.status] || `This invite is ${invite.status}.`, "danger"),
    message,
  );
  if (invite.status === "active") accept.focus();
}
