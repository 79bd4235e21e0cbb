// Chat (/app/chat/{agentID}, /app/chat/{agentID}?session={sessionID}): one conversation with an
// agent (the one in the address, else the newest open one, else a new one), the list of the
// caller's other conversations with it, the stored messages, then the session stream: replies
// rendered as Markdown delta by delta, host status, and the end of the chat when the share is
// revoked or the session closes.

import { api } from "./api.js";
import { randomString } from "./auth.js";
import { conversationList, titleFromText } from "./conversations.js";
import { h, show, notice, statusBadge, setStatus } from "./dom.js";
import { markdownText, renderMarkdown } from "./markdown.js";
import { EventStream } from "./sse.js";
import { failure } from "./shell.js";

const chatPath = (agentID, sessionID) => `/app/chat/${encodeURIComponent(agentID)}${sessionID ? `?session=${encodeURIComponent(sessionID)}` : ""}`;

/** Opens a new conversation with the agent and goes to it. */
async function newConversation(agentID, button, banner) {
  button.disabled = true;
  try {
    const session = await api("POST", "/v1/sessions", { agent_id: agentID });
    location.assign(chatPath(agentID, session.id));
  } catch (error) {
    button.disabled = false;
    banner.replaceChildren(notice(`Could not start a conversation: ${error.message}`, "danger"));
  }
}

export async function chatPage(agentID, sessionID) {
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
  const banner = h("div", { id: "chat-notice" });
  let session = null;
  if (sessionID) {
    session = sessions.find((candidate) => candidate.id === sessionID && candidate.agent_id === agentID) || null;
    if (!session) banner.append(notice("That conversation was not found; here is your latest one.", "danger"));
  }
  if (!session) {
    session = sessions
      .filter((candidate) => candidate.agent_id === agentID && !candidate.closed_at)
      .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))[0];
    if (!session) {
      session = await api("POST", "/v1/sessions", { agent_id: agentID });
      sessions.push(session);
    }
    // The address names the conversation shown, so reloading or sharing the tab keeps it.
    history.replaceState(null, "", chatPath(agentID, session.id));
  }
  const sessionPath = `/v1/sessions/${encodeURIComponent(session.id)}`;

  const conversations = conversationList(agentID, sessions, session.id);
  const start = h("button", { type: "button", id: "new-conversation", class: "secondary", onclick: () => newConversation(agentID, start, banner) }, "New conversation");
  // Beside the chat on wide screens, open; folded above it on phones.
  const wide = matchMedia("(min-width: 60rem)");
  const panel = h(
    "details",
    { class: "conversations", id: "conversations", open: wide.matches },
    h("summary", {}, `Conversations (${conversations.count})`),
    start,
    conversations.list,
  );
  wide.addEventListener("change", (event) => (panel.open = event.matches));

  const hostBadge = statusBadge(session.host_online, "Host online", "Host offline");
  hostBadge.id = "host-status";
  // A status region: "Reconnecting…" and "the host is offline: your message waits" are said too.
  const connection = h("span", { class: "muted", id: "connection", role: "status" }, session.closed_at ? "" : "Connecting…");
  // Deltas are not announced one by one: this region says when a reply is complete.
  const announcer = h("p", { class: "visually-hidden", id: "reply-announcer", role: "status", "aria-live": "polite" });
  const log = h("ol", { class: "messages", id: "messages", "aria-label": `Conversation with ${agent.name}` });
  const input = h("textarea", { id: "message-input", name: "text", rows: 2, required: true, autocomplete: "off", "aria-describedby": "composer-hint" });
  const send = h("button", { type: "submit", id: "send" }, "Send");
  // Shown while one of my messages waits for its reply: asks the host to stop (docs/protocol.md).
  const stop = h("button", { type: "button", id: "stop", class: "secondary", hidden: true }, "Stop");
  const form = h(
    "form",
    { class: "composer", id: "composer" },
    h("label", { for: "message-input", class: "visually-hidden" }, `Message to ${agent.name}`),
    input,
    send,
    stop,
    h("span", { id: "composer-hint", class: "visually-hidden" }, "Enter sends; Shift+Enter starts a new line."),
  );
  show(
    agent.name,
    h(
      "div",
      { class: "chat-layout" },
      panel,
      h(
        "div",
        { class: "chat" },
        h("div", { class: "chat-head" }, h("p", { class: "muted" }, agent.access === "guest" ? `Shared by ${agent.owner_name}` : "Your agent"), hostBadge, connection),
        banner,
        log,
        announcer,
        form,
      ),
    ),
  );
  document.getElementById("main").classList.add("wide");
  // The message box sticks to the bottom of the window: what scrolls into view (the newest
  // message, whatever takes the focus, its focus ring) stops above it instead of behind it
  // (WCAG 2.4.11).
  const keepClear = () => document.documentElement.style.setProperty("scroll-padding-bottom", `${form.offsetHeight + 8}px`);
  if ("ResizeObserver" in window) new ResizeObserver(keepClear).observe(form);
  keepClear();

  const byID = new Map(); // message id -> element
  const replies = new Map(); // reply_to -> element being streamed
  const pending = []; // own messages posted but not yet seen on the stream
  const awaiting = new Set(); // ids of user messages without a reply yet
  const answered = new Set(); // ids of user messages with a stored reply
  const stopped = new Set(); // ids of user messages whose reply was asked to stop
  const updateStop = () => {
    stop.hidden = awaiting.size === 0 || input.disabled;
  };
  let titled = Boolean(session.title);

  const bubble = (role, who) =>
    h("li", { class: `message ${role}` }, h("span", { class: "who" }, who), h("div", { class: role.startsWith("agent") ? "text markdown" : "text" }));
  /** Agent replies are Markdown; what people type is shown as typed. */
  const setText = (element, text, streaming) => {
    const target = element.querySelector(".text");
    if (element.classList.contains("agent")) renderMarkdown(target, text, { streaming });
    else target.textContent = text;
  };
  const scroll = (element) => element.scrollIntoView({ block: "nearest" });
  const announce = (text) => {
    announcer.textContent = text.length > 300 ? `${text.slice(0, 299)}…` : text;
  };
  const addMessage = (message) => {
    if (byID.has(message.id)) return byID.get(message.id);
    let element = message.role === "agent" ? replies.get(message.reply_to) : null;
    if (!element && message.role === "user") {
      const index = pending.findIndex((candidate) => candidate.text === message.text);
      if (index !== -1) element = pending.splice(index, 1)[0].element;
    }
    if (!element) {
      element = bubble(message.role, message.role === "agent" ? agent.name : "You");
      log.append(element);
    }
    clearTimeout(element.renderTimer);
    element.classList.remove("pending", "streaming");
    element.removeAttribute("aria-busy");
    setText(element, message.text);
    element.dataset.id = message.id;
    byID.set(message.id, element);
    if (message.reply_to) {
      replies.delete(message.reply_to);
      awaiting.delete(message.reply_to);
      answered.add(message.reply_to);
      if (stopped.has(message.reply_to)) element.querySelector(".who").textContent = `${agent.name} (stopped)`;
    } else if (message.role === "user" && !answered.has(message.id)) {
      awaiting.add(message.id);
    }
    updateStop();
    if (message.role === "user" && !titled) {
      titled = true;
      conversations.setTitle(session.id, titleFromText(message.text));
    }
    scroll(element);
    return element;
  };
  const loadHistory = async () => {
    const { messages } = await api("GET", `${sessionPath}/messages`);
    for (const message of messages) addMessage(message);
  };

  /** A delta: the reply so far is rendered at once, then at most every few tens of milliseconds. */
  const growReply = (data) => {
    let element = replies.get(data.reply_to);
    if (!element) {
      element = bubble("agent streaming", agent.name);
      element.setAttribute("aria-busy", "true");
      element.replyText = "";
      element.lastRender = 0;
      replies.set(data.reply_to, element);
      log.append(element);
    }
    element.replyText += data.text;
    const render = () => {
      element.renderTimer = null;
      element.lastRender = performance.now();
      setText(element, element.replyText, true);
      scroll(element);
    };
    if (element.renderTimer) return;
    // Longer replies take longer to parse: render them less often.
    const interval = Math.min(200, 30 + element.replyText.length / 200);
    const wait = element.lastRender + interval - performance.now();
    if (wait <= 0) render();
    else element.renderTimer = setTimeout(render, wait);
  };

  let stream = null;
  const end = (text) => {
    stream?.stop();
    input.disabled = true;
    send.disabled = true;
    stop.hidden = true;
    connection.textContent = "";
    banner.replaceChildren(notice(text, "danger"));
    for (const element of replies.values()) {
      element.classList.remove("streaming");
      element.removeAttribute("aria-busy");
    }
  };
  const revoked = () => end("The owner revoked this share: you can no longer chat with this agent.");
  const closedReasons = {
    closed_by_user: "This conversation was closed.",
    left_share: "You left this share.",
    agent_unpublished: "The owner removed this agent.",
    device_deleted: "The owner removed the device hosting this agent.",
  };
  const offerNew = () => {
    const again = h("button", { type: "button", id: "start-new", onclick: () => newConversation(agentID, again, banner) }, "Start a new conversation");
    banner.append(h("p", {}, again));
  };

  await loadHistory();
  if (session.closed_at) {
    end("This conversation has ended: you can read it, and start a new one to keep chatting.");
    offerNew();
    return;
  }
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
        case "reply.delta":
          growReply(data);
          break;
        case "reply.done": {
          const known = byID.has(data.message.id);
          addMessage(data.message);
          if (!known) announce(`${agent.name} replied: ${markdownText(data.message.text)}`);
          break;
        }
        case "reply.error": {
          const element = replies.get(data.reply_to) || log.appendChild(bubble("agent", agent.name));
          clearTimeout(element.renderTimer);
          element.classList.remove("streaming");
          element.removeAttribute("aria-busy");
          element.classList.add("failed");
          element.querySelector(".text").textContent = `The host could not answer: ${data.error}`;
          replies.delete(data.reply_to);
          awaiting.delete(data.reply_to);
          updateStop();
          announce(`${agent.name} could not answer.`);
          break;
        }
        case "reply.stop_requested":
          stopped.add(data.reply_to);
          replies.get(data.reply_to)?.classList.add("stopping");
          break;
        case "host.status":
          setStatus(hostBadge, data.online, "Host online", "Host offline");
          conversations.setHostOnline(data.online);
          break;
        case "share.revoked":
          revoked();
          break;
        case "session.closed":
          end(closedReasons[data.reason] || "This conversation ended.");
          offerNew();
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
    const element = bubble("user pending", "You");
    setText(element, text);
    log.append(element);
    scroll(element);
    const entry = { text, element };
    pending.push(entry);
    if (!titled) {
      titled = true;
      conversations.setTitle(session.id, titleFromText(text));
    }
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
          if (!answered.has(result.message.id)) awaiting.add(result.message.id);
          updateStop();
        }
      }
      if (result.queued && !result.host_online) connection.textContent = "The host is offline: your message waits until it is back.";
    } catch (error) {
      element.classList.add("failed");
      if (error.type === "share-revoked") revoked();
      else if (error.type === "session-closed") end("This conversation was closed.");
      else banner.replaceChildren(notice(`Not sent: ${error.message}`, "danger"));
    }
  });
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    stop.textContent = "Stopping…";
    try {
      for (const id of [...awaiting]) {
        stopped.add(id);
        // 409: answered meanwhile, nothing left to stop.
        await api("POST", `${sessionPath}/messages/${encodeURIComponent(id)}/stop`).catch((error) => {
          if (error.status !== 409) throw error;
        });
      }
    } catch (error) {
      banner.replaceChildren(notice(`Could not stop the reply: ${error.message}`, "danger"));
    } finally {
      stop.disabled = false;
      stop.textContent = "Stop";
      updateStop();
      input.focus();
    }
  });
  input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter (and Enter while an input method composes) is a new line.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.focus();
}
