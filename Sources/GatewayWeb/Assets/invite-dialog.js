// The share dialog (My agents): what a new invite allows (a label, when it expires, how many
// people may accept it), then the invite link with a Copy button, its QR code (drawn here by
// qr.js: the link goes to no other service) and the expiry and uses left.

import { api } from "./api.js";
import { copyRow, fromNow, h, notice, when } from "./dom.js";
import { qrSVG } from "./qr.js";

const EXPIRY = [
  ["", "Never"],
  ["3600", "In 1 hour"],
  ["86400", "In 1 day"],
  ["604800", "In 7 days"],
  ["2592000", "In 30 days"],
];

/** What the invite allows, in words. */
function facts(share) {
  const remaining = share.max_uses ? Math.max(0, share.max_uses - share.use_count) : null;
  return h(
    "dl",
    { class: "invite-facts" },
    share.label && [h("dt", {}, "Label"), h("dd", {}, share.label)],
    h("dt", {}, "Expires"),
    h("dd", { id: "invite-expiry" }, share.expires_at ? [when(share.expires_at), ` (${fromNow(share.expires_at)})`] : "Never"),
    h("dt", {}, "Uses left"),
    h("dd", { id: "invite-uses" }, remaining === null ? "Unlimited" : `${remaining} of ${share.max_uses}`),
  );
}

/** Opens the dialog for `agent`; `onCreated(created)` gets the new invite. Focus returns to `opener`. */
export function openShareDialog(agent, opener, onCreated) {
  const dialog = h("dialog", { class: "share-dialog", id: "share-dialog", "aria-labelledby": "share-dialog-title" });
  const close = () => dialog.close();
  const message = h("div", { role: "status" });
  const label = h("input", { id: "share-label", type: "text", maxlength: 100, autocomplete: "off" });
  const expiry = h("select", { id: "share-expiry" }, EXPIRY.map(([value, text]) => h("option", { value, selected: value === "604800" }, text)));
  const uses = h("input", { id: "share-max-uses", type: "number", min: 1, max: 10000, inputmode: "numeric", placeholder: "Unlimited", "aria-describedby": "share-max-uses-hint" });
  const create = h("button", { type: "submit", id: "create-invite" }, "Create invite link");
  const form = h(
    "form",
    { class: "share-form" },
    h("h2", { id: "share-dialog-title" }, `Invite someone to ${agent.name}`),
    h("p", { class: "muted" }, "Whoever opens the link can sign in and chat with this agent, until it expires, is used up or you revoke it (on Shares)."),
    h("label", { for: "share-label" }, "Label (optional, only you see it)"),
    label,
    h("label", { for: "share-expiry" }, "Expires"),
    expiry,
    h("label", { for: "share-max-uses" }, "How many people may accept it"),
    uses,
    h("p", { class: "muted", id: "share-max-uses-hint" }, "Leave empty for no limit."),
    message,
    h("div", { class: "actions" }, create, h("button", { type: "button", class: "secondary", onclick: close }, "Cancel")),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {};
    if (label.value.trim()) body.label = label.value.trim();
    if (expiry.value) body.expires_in = Number(expiry.value);
    if (uses.value) body.max_uses = Number(uses.value);
    create.disabled = true;
    try {
      const created = await api("POST", `/v1/agents/${encodeURIComponent(agent.id)}/shares`, body);
      showInvite(created);
      onCreated?.(created);
    } catch (error) {
      create.disabled = false;
      message.replaceChildren(notice(error.message, "danger"));
    }
  });

  const showInvite = (created) => {
    const done = h("button", { type: "button", id: "share-done", onclick: close }, "Done");
    dialog.replaceChildren(
      h("h2", { id: "share-dialog-title" }, `Invite link for ${agent.name}`),
      h("p", { class: "muted" }, "Shown only now: copy it, or let them scan the code with a phone camera."),
      copyRow("invite-link", `Invite link for ${agent.name}`, created.invite_url),
      h("figure", { class: "qr-figure" }, qrSVG(created.invite_url, `QR code of the invite link for ${agent.name}`), h("figcaption", { class: "muted" }, "Scan to open the invite.")),
      facts(created.share),
      h("div", { class: "actions" }, done),
    );
    dialog.querySelector("#invite-link").focus();
  };

  dialog.append(form);
  dialog.addEventListener("close", () => {
    dialog.remove();
    opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  label.focus();
}
