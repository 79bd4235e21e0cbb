// My agents (/app): the caller's agents and those shared with them, host status live, invite links.

import { api } from "./api.js";
import { h, show, statusBadge, setStatus, copyRow } from "./dom.js";
import { openShareDialog } from "./invite-dialog.js";
import { failure, userStream } from "./shell.js";

export async function agentsPage() {
  const agents = await api("GET", "/v1/agents");
  const own = agents.filter((agent) => agent.access === "owner");
  const shared = agents.filter((agent) => agent.access === "guest");
  const badges = new Map();
  agentsPage.badges = badges;
  const card = (agent) => {
    const badge = statusBadge(agent.host_online, "Host online", "Host offline");
    badges.set(agent.id, { badge, agent });
    const invite = h("div", { class: "invite" });
    const actions = h(
      "div",
      { class: "actions" },
      h("a", { class: "button", href: `/app/chat/${encodeURIComponent(agent.id)}` }, "Chat"),
      agent.access === "owner" &&
        h("button", {
          type: "button",
          class: "secondary share-agent",
          onclick: (event) =>
            // The dialog shows the link, its QR code, expiry and uses; the card keeps the link.
            openShareDialog(agent, event.currentTarget, (created) =>
              invite.replaceChildren(
                h("p", { class: "muted" }, "Invite link (shown once; anyone who opens it can ask to use this agent):"),
                copyRow(`invite-${agent.id}`, `Invite link for ${agent.name}`, created.invite_url),
              ),
            ),
        }, "Create invite link"),
    );
    return h(
      "li",
      { class: "card agent", "data-agent-id": agent.id },
      h("h3", {}, agent.name),
      h("p", { class: "muted" }, agent.access === "owner" ? `On device ${agent.device_id}` : `Shared by ${agent.owner_name}`),
      agent.description && h("p", {}, agent.description),
      badge,
      actions,
      invite,
    );
  };
  const list = (items, empty) => (items.length ? h("ul", { class: "cards" }, items.map(card)) : h("p", { class: "muted" }, empty));
  show(
    "My agents",
    h("h2", {}, "Your agents"),
    list(own, "No agents yet. Host one with the desktop app (or `gatewayctl host`) pointed at this gateway."),
    h("h2", {}, "Shared with you"),
    list(shared, "Nobody has shared an agent with you yet. Open an invite link to add one."),
  );
  if (agentsPage.stream) return;
  agentsPage.stream = userStream(
    (type, data) => {
      const current = agentsPage.badges;
      if (type === "host.status" && current.has(data.agent_id)) setStatus(current.get(data.agent_id).badge, data.online, "Host online", "Host offline");
      if (type === "device.status") {
        for (const { badge, agent } of current.values()) if (agent.device_id === data.device_id) setStatus(badge, data.online, "Host online", "Host offline");
      }
      if (["share.revoked", "agent.unpublished"].includes(type)) agentsPage().catch(failure);
    },
    () => agentsPage().catch(failure),
  );
}
