// Conversations: the caller's sessions with one agent, newest first, each with its title, when it
// started, whether it has ended and whether the agent's host is online; used by the chat page.

import { api, storage, readJSON } from "./api.js";
import { h, setStatus, statusBadge, when } from "./dom.js";

const TITLES = "gateway.titles";
const titles = new Map(Object.entries(readJSON(TITLES) || {}));

/** A title from a message: its first non-blank line, without Markdown markers, shortened. */
export function titleFromText(text) {
  const line = String(text || "")
    .split("\n")
    .map((candidate) => candidate.trim())
    .find((candidate) => candidate && !/^(`{3,}|~{3,})/.test(candidate));
  if (!line) return "";
  const plain = line
    .replace(/^(?:#{1,6}\s+|>\s*|[-+*]\s+|\d{1,9}[.)]\s+)+/, "")
    .replace(/[*_`~]+/g, "")
    .replace(/\s+/g, " ")
    .trim();
  return plain.length > 60 ? `${plain.slice(0, 59).trimEnd()}…` : plain;
}

export function rememberTitle(sessionID, title) {
  if (!title) return;
  titles.set(sessionID, title);
  storage.setItem(TITLES, JSON.stringify(Object.fromEntries([...titles].slice(-200))));
}

/**
 * A conversation's title, or "" while it has no message. Today the gateway has no title field,
 * so it is the first line of the first user message, fetched once and remembered; when
 * SessionView gains a `title`, it is used as it is and nothing is fetched.
 */
export async function conversationTitle(session) {
  if (session.title) return session.title;
  if (titles.has(session.id)) return titles.get(session.id);
  const { messages } = await api("GET", `/v1/sessions/${encodeURIComponent(session.id)}/messages`);
  const first = messages.find((message) => message.role === "user");
  const title = first ? titleFromText(first.text) : "";
  rememberTitle(session.id, title);
  return title;
}

/** Fetches titles a few at a time, for the items that scroll into view. */
function lazyTitles(items) {
  const queue = [];
  let running = 0;
  const pump = () => {
    while (running < 3 && queue.length) {
      const { session, element } = queue.shift();
      running++;
      conversationTitle(session)
        .then((title) => {
          element.textContent = title || (session.closed_at ? "Empty conversation" : "New conversation");
        })
        .catch(() => {
          element.textContent = "Conversation";
        })
        .finally(() => {
          running--;
          pump();
        });
    }
  };
  const load = (item) => {
    queue.push(item);
    pump();
  };
  if (!("IntersectionObserver" in window)) return items.forEach(load);
  const byElement = new Map(items.map((item) => [item.element, item]));
  const observer = new IntersectionObserver((entries) => {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      observer.unobserve(entry.target);
      load(byElement.get(entry.target));
    }
  });
  for (const item of items) observer.observe(item.element);
}

/**
 * The list of conversations with an agent, newest first, `current` marked; returns the element
 * and functions to update it (host status, the current conversation's title).
 */
export function conversationList(agentID, sessions, current) {
  const sorted = sessions.filter((session) => session.agent_id === agentID).sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
  const pending = [];
  const badges = [];
  const titleElements = new Map();
  const items = sorted.map((session) => {
    const known = session.title || titles.get(session.id);
    const title = h("span", { class: "conversation-title" }, known || "…");
    titleElements.set(session.id, title);
    if (!known) pending.push({ session, element: title });
    const badge = statusBadge(session.host_online, "Host online", "Host offline");
    badge.removeAttribute("role"); // one status region per page is enough: the chat's own
    badges.push(badge);
    const isCurrent = session.id === current;
    return h(
      "li",
      { class: `conversation${isCurrent ? " current" : ""}${session.closed_at ? " closed" : ""}`, "data-session-id": session.id },
      h(
        "a",
        { href: `/app/chat/${encodeURIComponent(agentID)}?session=${encodeURIComponent(session.id)}`, "aria-current": isCurrent ? "page" : false },
        title,
        h("span", { class: "conversation-meta" }, when(session.created_at), session.closed_at ? " · Ended" : "", " · ", badge),
      ),
    );
  });
  const list = h("ol", { class: "conversation-list", id: "conversation-list" }, items);
  lazyTitles(pending);
  return {
    list,
    count: sorted.length,
    setHostOnline(online) {
      for (const badge of badges) setStatus(badge, online, "Host online", "Host offline");
    },
    setTitle(sessionID, title) {
      if (!title) return;
      rememberTitle(sessionID, title);
      const element = titleElements.get(sessionID);
      if (element) element.textContent = title;
    },
  };
}
