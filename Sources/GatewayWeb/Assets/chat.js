// Chat (/app/chat/{agentID}): the caller's open session with the agent (or a new one), its
// stored messages, then the session stream: replies streamed delta by delta, host status, and
// the end of the chat when the share is revoked or the session closes.

import { api } from "./api.js";
import { randomString } from "./auth.js";
import { h, show, notice, statusBadge, setStatus } from "./dom.js";
import { EventStream } from "./sse.js";
import { failure } from "./shell.js";

export async function chatPage(agentID) {
  let agent;
  try {
    agent = await api("GET", `/v1/agents/${encodeURIComponent(agentID)}`);
  } catch (error) {
    if (error.status === 404) {
      return show("Agent not available", notice("This agent is not available to you: its share may have been revoked, or it was removed.", "danger"));
    }
    throw error;
  }
  const sessions = await api("GET", "/v1/sessions");
  let session = sessions
    .filter((candidate) => candidate.agent_id === agentID && !candidate.closed_at)
    .sort((a, b) => (a.created_at < b.created_at ? 1 : -1))[0];
  if (!session) session = await api("POST", "/v1/sessions", { agent_id: agentID });
  const sessionPath = `/v1/sessions/${encodeURIComponent(session.id)}`;

  const hostBadge = statusBadge(session.host_online, "Host online", "Host offline");
  hostBadge.id = "host-status";
  const connection = h("span", { class: "muted", id: "connection" }, "Connecting…");
  const log = h("ol", { class: "messages", id: "messages", role: "log", "aria-live": "polite", "aria-label": `Conversation with ${agent.name}` });
  const banner = h("div", { id: "chat-notice" });
  const input = h("textarea", { id: "message-input", name: "text", rows: 2, required: true, autocomplete: "off" });
  const send = h("button", { type: "submit", id: "send" }, "Send");
  const form = h(
    "form",
    { class: "composer", id: "composer" },
    h("label", { for: "message-input", class: "visually-hidden" }, `Message to ${agent.name}`),
    input,
    send,
  );
  show(
    agent.name,
    h(
      "div",
      { class: "chat" },
      h("div", { class: "chat-head" }, h("p", { class: "muted" }, agent.access === "guest" ? `Shared by ${agent.owner_name}` : "Your agent"), hostBadge, connection),
      banner,
      log,
      form,
    ),
  );

  const byID = new Map(); // message id -> element
  const replies = new Map(); // reply_to -> element being streamed
  const pending = []; // own messages posted but not yet seen on the stream
  const bubble = (role, text, who) => h("li", { class: `message ${role}` }, h("span", { class: "who" }, who), h("span", { class: "text" }, text));
  const scroll = (element) => element.scrollIntoView({ block: "nearest" });
  const addMessage = (message) => {
    if (byID.has(message.id)) return byID.get(message.id);
    let element = message.role === "agent" ? replies.get(message.reply_to) : null;
    if (!element && message.role === "user") {
      const index = pending.findIndex((candidate) => candidate.text === message.text);
      if (index !== -1) element = pending.splice(index, 1)[0].element;
    }
    if (element) {
      element.querySelector(".text").textContent = message.text;
      element.classList.remove("pending", "streaming");
    } else {
      element = bubble(message.role, message.text, message.role === "agent" ? agent.name : "You");
      log.append(element);
    }
    element.dataset.id = message.id;
    byID.set(message.id, element);
    if (message.reply_to) replies.delete(message.reply_to);
    scroll(element);
    return element;
  };
  const loadHistory = async () => {
    const { messages } = await api("GET", `${sessionPath}/messages`);
    for (const message of messages) addMessage(message);
  };

  let stream = null;
  const end = (text) => {
    stream?.stop();
    input.disabled = true;
    send.disabled = true;
    connection.textContent = "";
    banner.replaceChildren(notice(text, "danger"));
    for (const element of replies.values()) element.classList.remove("streaming");
  };
  const revoked = () => end("The owner revoked this share: you can no longer chat with this agent.");
  const closedReasons = {
    closed_by_user: "This chat was closed.",
    left_share: "You left this share.",
    agent_unpublished: "The owner removed this agent.",
    device_deleted: "The owner removed the device hosting this agent.",
  };

  await loadHistory();
  stream = new EventStream(`${sessionPath}/events`, {
    lastEventId: session.stream_position,
    onState: (state) => {
      connection.textContent = state === "live" ? "Live" : "Reconnecting…";
    },
    onFatal: (error) => (error.type === "share-revoked" ? revoked() : error.status === 401 ? failure(error) : end(error.message)),
    onEvent: (type, data) => {
      switch (type) {
        case "message.created":
          addMessage(data.message);
          break;
        case "reply.delta": {
          let element = replies.get(data.reply_to);
          if (!element) {
            element = bubble("agent streaming", "", agent.name);
            replies.set(data.reply_to, element);
            log.append(element);
          }
          element.querySelector(".text").append(data.text);
          scroll(element);
          break;
        }
        case "reply.done":
          addMessage(data.message);
          break;
        case "reply.error": {
          const element = replies.get(data.reply_to) || log.appendChild(bubble("agent", "", agent.name));
          element.classList.remove("streaming");
          element.classList.add("failed");
          element.querySelector(".text").textContent = `The host could not answer: ${data.error}`;
          replies.delete(data.reply_to);
          break;
        }
        case "host.status":
          setStatus(hostBadge, data.online, "Host online", "Host offline");
          break;
        case "share.revoked":
          revoked();
          break;
        case "session.closed":
          end(closedReasons[data.reason] || "This chat ended.");
          banner.append(h("p", {}, h("a", { href: location.pathname }, "Start a new chat")));
          break;
        case "reset":
          loadHistory().catch(() => {});
          break;
      }
    },
  }).start();

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || input.disabled) return;
    input.value = "";
    const element = bubble("user pending", text, "You");
    log.append(element);
    scroll(element);
    const entry = { text, element };
    pending.push(entry);
    try {
      const result = await api("POST", `${sessionPath}/messages`, { text }, { "Idempotency-Key": randomString(18) });
      const index = pending.indexOf(entry);
      if (index !== -1) {
        pending.splice(index, 1);
        if (byID.has(result.message.id)) element.remove();
        else {
          element.classList.remove("pending");
          element.dataset.id = result.message.id;
          byID.set(result.message.id, element);
        }
      }
      if (result.queued && !result.host_online) connection.textContent = "The host is offline: your message waits until it is back.";
    } catch (error) {
      element.classList.add("failed");
      if (error.type === "share-revoked") revoked();
      else if (error.type === "session-closed") end("This chat was closed.");
      else banner.replaceChildren(notice(`Not sent: ${error.message}`, "danger"));
    }
  });
  input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.focus();
}
