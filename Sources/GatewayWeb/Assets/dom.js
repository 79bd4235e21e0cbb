// Building the page: elements from data (text nodes only, never HTML), the page frame's title
// and notices, status badges, inline confirmations and copy buttons.

/** h("button", {class: "x", onclick: f}, "text", child) */
export function h(tag, attributes, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else if (name === "text") element.textContent = value;
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

const main = () => document.getElementById("main");

export function show(title, ...nodes) {
  document.title = `${title} · Gateway`;
  main().classList.remove("wide"); // the chat's two columns widen it again
  main().replaceChildren(h("h1", { id: "page-title" }, title), ...nodes);
}

export function notice(text, kind) {
  return h("p", { class: `notice ${kind || ""}`, role: kind === "danger" ? "alert" : "status" }, text);
}

export function statusBadge(online, onText, offText) {
  return h("span", { class: `status ${online ? "online" : "offline"}`, role: "status" }, online ? onText : offText);
}

export function setStatus(badge, online, onText, offText) {
  badge.className = `status ${online ? "online" : "offline"}`;
  badge.textContent = online ? onText : offText;
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "short" });
const clockFormat = new Intl.DateTimeFormat(undefined, { timeStyle: "short" });

/** A <time>: "Today 14:05" today, "3 Mar 2025, 14:05" on other days. */
export function when(iso) {
  const date = new Date(iso);
  const today = new Date().toDateString() === date.toDateString();
  return h("time", { datetime: iso, title: dateFormat.format(date) }, today ? `Today ${clockFormat.format(date)}` : dateFormat.format(date));
}

const relativeFormat = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });

/** "in 7 days", "in 3 hours", "in 12 minutes": how far away a moment is. */
export function fromNow(iso) {
  const seconds = (Date.parse(iso) - Date.now()) / 1000;
  // A minute of slack, so that an invite made for 1 day says "tomorrow", not "in 24 hours".
  for (const [unit, length] of [["day", 86400], ["hour", 3600]]) {
    if (Math.abs(seconds) >= length - 60) return relativeFormat.format(Math.round(seconds / length), unit);
  }
  return relativeFormat.format(Math.round(seconds / 60), "minute");
}

/** Asks before a destructive action, in place: `holder` (a card's actions) shows the question
 *  (text, never HTML), a danger button (`yes`, class `confirm-{name}`) and Cancel (class
 *  `cancel-{name}`), with the focus on the first. Cancel or Escape puts `trigger` back, with the
 *  focus on it. Confirming disables both buttons and awaits `onConfirm`; if it returns false (it
 *  failed and said so), they are enabled again. */
export function confirmInline(holder, trigger, { id, name, question, yes, onConfirm }) {
  const text = h("p", { id }, question);
  const busy = (on) => {
    accept.disabled = cancel.disabled = on;
  };
  const back = () => {
    holder.replaceChildren(trigger);
    trigger.focus();
  };
  const accept = h("button", {
    type: "button", class: `danger confirm-${name}`, "aria-describedby": id,
    onclick: async () => {
      busy(true);
      if ((await onConfirm()) === false) busy(false);
    },
  }, yes);
  const cancel = h("button", { type: "button", class: `secondary cancel-${name}`, onclick: back }, "Cancel");
  const onkeydown = (event) => {
    if (event.key !== "Escape" || cancel.disabled) return;
    event.preventDefault();
    back();
  };
  holder.replaceChildren(h("div", { class: "confirm", onkeydown }, text, h("div", { class: "actions" }, accept, cancel)));
  accept.focus();
}

/** A read-only field with a copy button (the Gateway URL, invite links). */
export function copyRow(id, label, value) {
  const input = h("input", { id, type: "text", readonly: true, value, "aria-label": label });
  const status = h("span", { class: "muted", role: "status", "aria-live": "polite" });
  const button = h("button", { type: "button", class: "copy secondary", onclick: () => copy(input, status) }, "Copy");
  return h("div", {}, h("div", { class: "copy-row" }, input, button), status);
}

export async function copy(input, status) {
  try {
    if (navigator.clipboard && window.isSecureContext) await navigator.clipboard.writeText(input.value);
    else {
      input.select();
      if (!document.execCommand("copy")) throw new Error("copy refused");
    }
    status.textContent = "Copied.";
  } catch {
    input.select();
    status.textContent = "Press Ctrl+C (⌘C) to copy.";
  }
}
