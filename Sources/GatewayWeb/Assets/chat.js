// Chat (/app/chat/{agentID}, /app/chat/{agentID}?session={sessionID}): one conversation with an
// agent (the one in the address, else the newest open one, else a new one), the list of the
// caller's other conversations with it, the stored messages, then the session stream: replies
// rendered as Markdown delta by delta, host status, and the end of the chat when the share is
// revoked or the session closes.
//
// A reply's lifecycle (docs/protocol.md): reply.started shows "working…", deltas stream with a
// cursor, a newer attempt replaces an older one's text, reply.interrupted marks a reply whose
// host went away, reply.done settles it. The messages response says where to read the stream
// from so a reload mid-reply replays the text so far.

import { api } from "./api.js";
import { randomString } from "./auth.js";
import { conversationList, conversationTitle, titleFromText } from "./conversations.js";
import { h, show, notice, statusBadge, setStatus, when, confirmInline } from "./dom.js";
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

/**
 * The current conversation's name with Rename (PATCH /v1/sessions/{id}) and Delete
 * (DELETE …?erase=true, after a confirmation; then the agent's newest conversation).
 */
function conversationTools(session, agentID, conversations, banner) {
  const path = `/v1/sessions/${encodeURIComponent(session.id)}`;
  const name = h("span", { class: "conversation-name", id: "conversation-name" }, session.title || "");
  const showName = async () => {
    name.textContent = session.title || (await conversationTitle(session).catch(() => "")) || "New conversation";
  };
  showName();
  const rename = h("button", { type: "button", class: "secondary small", id: "rename-conversation" }, "Rename");
  const remove = h("button", { type: "button", class: "secondary small", id: "delete-conversation" }, "Delete");
  // The delete question replaces the Delete button only, beside the name.
  const removal = h("div", { class: "conversation-removal" }, remove);
  const tools = h("div", { class: "conversation-tools" }, name, rename, removal);
  const restore = () => {
    tools.replaceChildren(name, rename, removal);
  };
  rename.addEventListener("click", () => {
    const field = h("input", { type: "text", id: "conversation-title-input", maxlength: 100, value: session.title || name.textContent, "aria-label": "Conversation name" });
    const save = h("button", { type: "submit", class: "small", id: "save-conversation-title" }, "Save");
    const cancel = h("button", { type: "button", class: "secondary small", onclick: () => (restore(), rename.focus()) }, "Cancel");
    const form = h("form", { class: "rename-form" }, field, save, cancel);
    form.addEventListener("keydown", (event) => {
      if (event.key === "Escape") (event.preventDefault(), restore(), rename.focus());
    });
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      save.disabled = true;
      try {
        const renamed = await api("PATCH", path, { title: field.value });
        session.title = renamed.title;
        await showName();
        conversations.setTitle(session.id, name.textContent);
        restore();
        rename.focus();
      } catch (error) {
        save.disabled = false;
        banner.replaceChildren(notice(`Not renamed: ${error.message}`, "danger"));
      }
    });
    tools.replaceChildren(form);
    field.select();
  });
  remove.addEventListener("click", () =>
    confirmInline(removal, remove, {
      id: "delete-conversation-question",
      name: "delete-conversation",
      question: "Delete this conversation and its messages? This cannot be undone.",
      yes: "Yes, delete",
      onConfirm: async () => {
        try {
          await api("DELETE", `${path}?erase=true`);
          location.assign(chatPath(agentID));
        } catch (error) {
          banner.replaceChildren(notice(`Not deleted: ${error.message}`, "danger"));
          return false;
        }
      },
    }),
  );
  return tools;
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
  // "Live", "Reconnecting…": said by a status region that stays in view with the message box.
  const connection = h("span", { class: "muted", id: "connection", role: "status" }, session.closed_at ? "" : "Connecting…");
  // Deltas are not announced one by one: this region says when a reply is complete.
  const announcer = h("p", { class: "visually-hidden", id: "reply-announcer", role: "status", "aria-live": "polite" });
  const log = h("ol", { class: "messages", id: "messages", "aria-label": `Conversation with ${agent.name}` });
  const greeting = h(
    "div",
    { class: "chat-empty", id: "chat-empty", hidden: true },
    h("p", { class: "chat-empty-name" }, agent.name),
    agent.description ? h("p", { class: "chat-empty-description" }, agent.description) : null,
    h("p", { class: "muted" }, agent.access === "guest" ? `${agent.owner_name} shared this agent with you. Say hello!` : "Your agent. Say hello!"),
  );
  const input = h("textarea", { id: "message-input", name: "text", rows: 1, required: true, autocomplete: "off", "aria-describedby": "composer-hint" });
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
  // Shown when the reader scrolled up and something new arrived below.
  const jump = h("button", { type: "button", id: "jump-to-latest", class: "jump secondary", hidden: true }, "↓ Latest");
  // The message box, the chat's state and its notices stay at the bottom of the window, where
  // the reader is, on a phone too.
  const dock = h("div", { class: "chat-dock", id: "chat-dock" }, jump, banner, h("div", { class: "chat-status", id: "chat-status" }, hostBadge, connection), form);
  show(
    agent.name,
    h(
      "div",
      { class: "chat-layout" },
      panel,
      h(
        "div",
        { class: "chat" },
        h("div", { class: "chat-head" }, h("p", { class: "muted" }, agent.access === "guest" ? `Shared by ${agent.owner_name}` : "Your agent"), conversationTools(session, agentID, conversations, banner)),
        greeting,
        log,
        announcer,
        dock,
      ),
    ),
  );
  document.getElementById("main").classList.add("wide");
  // What scrolls into view (the newest message, whatever takes the focus, its focus ring) stops
  // above the docked message box instead of behind it (WCAG 2.4.11).
  const keepClear = () => document.documentElement.style.setProperty("scroll-padding-bottom", `${dock.offsetHeight + 8}px`);
  if ("ResizeObserver" in window) new ResizeObserver(keepClear).observe(dock);
  keepClear();

  // MARK: Scrolling: follow new text only while the reader is at the bottom.
  const atBottom = () => window.innerHeight + window.scrollY >= document.documentElement.scrollHeight - 96;
  let following = true;
  addEventListener("scroll", () => {
    following = atBottom();
    if (following) jump.hidden = true;
  }, { passive: true });
  const toBottom = () => {
    following = true;
    jump.hidden = true;
    window.scrollTo({ top: document.documentElement.scrollHeight });
  };
  const follow = () => {
    if (following) window.scrollTo({ top: document.documentElement.scrollHeight });
    else jump.hidden = false;
  };
  jump.addEventListener("click", toBottom);

  // MARK: The transcript
  const byID = new Map(); // message id -> element
  const replies = new Map(); // reply_to -> the reply in progress: {element, attempt, text, state}
  const pending = []; // own messages posted but not yet seen on the stream
  const awaiting = new Set(); // ids of user messages without a reply yet
  const answered = new Set(); // ids of user messages with a stored reply
  const stopped = new Set(); // ids of user messages whose reply was asked to stop
  let hostOnline = session.host_online;
  let ended = false;
  const updateStop = () => {
    stop.hidden = awaiting.size === 0 || input.disabled;
  };
  let titled = Boolean(session.title);

  const bubble = (role, who) =>
    h(
      "li",
      { class: `message ${role}` },
      h("div", { class: "message-head" }, h("span", { class: "who" }, who), h("span", { class: "reply-state" })),
      h("span", { class: "typing", "aria-hidden": "true" }, h("span"), h("span"), h("span")),
      h("div", { class: role.startsWith("agent") ? "text markdown" : "text" }),
      h("p", { class: "message-note", hidden: true }),
      h("div", { class: "message-actions" }),
    );
  /** Agent replies are Markdown; what people type is shown as typed. */
  const setText = (element, text, streaming) => {
    const target = element.querySelector(".text");
    element.rawText = text;
    if (element.classList.contains("agent")) renderMarkdown(target, text, { streaming });
    else target.textContent = text;
  };
  /** A line under a message: why it waits, why it was cut off. */
  const setNote = (element, text, kind) => {
    const note = element.querySelector(".message-note");
    note.textContent = text || "";
    note.className = `message-note ${kind || ""}`;
    note.hidden = !text;
  };
  const setLabel = (element, text) => {
    element.querySelector(".reply-state").textContent = text ? ` ${text}` : "";
  };
  const stamp = (element, iso) => {
    if (!iso || element.querySelector(".message-head time")) return;
    element.querySelector(".message-head").append(when(iso));
  };
  /** A line in the transcript about the chat itself: the host came or went, the share ended. */
  const chatEvent = (text, kind) => {
    const item = h("li", { class: `chat-event ${kind || ""}` }, h("span", {}, text), " ", when(new Date().toISOString()));
    log.append(item);
    follow();
    return item;
  };
  const announce = (text) => {
    announcer.textContent = text.length > 300 ? `${text.slice(0, 299)}…` : text;
  };
  const updateGreeting = () => {
    greeting.hidden = log.querySelector(".message") !== null;
  };

  // Copy on every reply; send again and edit on my last message.
  const actionButton = (label, name, onclick) => h("button", { type: "button", class: `message-action ${name}`, onclick }, label);
  const copyText = async (button, text) => {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch {
      button.textContent = "Copy failed";
    }
    setTimeout(() => (button.textContent = "Copy"), 1500);
  };
  const refreshActions = () => {
    const mine = [...log.querySelectorAll(".message.user[data-id]")];
    const last = mine[mine.length - 1];
    for (const element of log.querySelectorAll(".message[data-id]")) {
      const actions = element.querySelector(".message-actions");
      const buttons = [];
      if (element.classList.contains("agent")) {
        buttons.push(actionButton("Copy", "copy-message", (click) => copyText(click.currentTarget, element.rawText || "")));
      } else if (element === last && !input.disabled && answered.has(element.dataset.id)) {
        buttons.push(actionButton("Send again", "resend-message", () => submit(element.rawText || "")));
        buttons.push(
          actionButton("Edit", "edit-message", () => {
            input.value = element.rawText || "";
            grow();
            input.focus();
          }),
        );
      }
      actions.replaceChildren(...buttons);
    }
  };

  const addMessage = (message) => {
    if (byID.has(message.id)) return byID.get(message.id);
    let element = message.role === "agent" ? replies.get(message.reply_to)?.element : null;
    if (!element && message.role === "user") {
      const index = pending.findIndex((candidate) => candidate.text === message.text);
      if (index !== -1) element = pending.splice(index, 1)[0].element;
    }
    if (!element) {
      element = bubble(message.role, message.role === "agent" ? agent.name : "You");
      log.append(element);
    }
    const entry = replies.get(message.reply_to);
    if (entry) clearTimeout(entry.renderTimer);
    element.classList.remove("pending", "streaming", "working", "interrupted", "stopping");
    element.removeAttribute("aria-busy");
    setText(element, message.text);
    setNote(element, null);
    setLabel(element, "");
    stamp(element, message.created_at);
    element.dataset.id = message.id;
    byID.set(message.id, element);
    if (message.reply_to) {
      replies.delete(message.reply_to);
      awaiting.delete(message.reply_to);
      answered.add(message.reply_to);
      const asked = byID.get(message.reply_to);
      if (asked) setNote(asked, null);
      if (stopped.has(message.reply_to)) setLabel(element, "(stopped)");
    } else if (message.role === "user" && !answered.has(message.id)) {
      awaiting.add(message.id);
    }
    updateStop();
    updateGreeting();
    refreshActions();
    if (message.role === "user" && !titled) {
      titled = true;
      conversations.setTitle(session.id, titleFromText(message.text));
    }
    follow();
    return element;
  };

  /** My message that waits for an offline host says so. */
  const markQueued = (id) => {
    const element = byID.get(id);
    if (element && !answered.has(id) && !replies.has(id)) setNote(element, "Waiting for the host: it is answered when the host is back online.", "queued");
  };

  /** The reply to `replyTo`, made when its first event arrives; a newer attempt starts it over. */
  const replyTo = (id, attempt) => {
    let entry = replies.get(id);
    if (!entry) {
      const element = bubble("agent", agent.name);
      element.setAttribute("aria-busy", "true");
      entry = { id, element, attempt: attempt || 0, text: "", lastRender: 0, renderTimer: null, state: "working" };
      replies.set(id, entry);
      // Right after the message it answers, so later (queued) messages stay below it.
      const asked = byID.get(id);
      if (asked && asked.parentNode === log) asked.after(element);
      else log.append(element);
      updateGreeting();
    } else if (attempt && attempt > entry.attempt) {
      // The host answers again: the earlier attempt's text is not the answer.
      clearTimeout(entry.renderTimer);
      entry.renderTimer = null;
      entry.attempt = attempt;
      entry.text = "";
      setText(entry.element, "", true);
      setNote(entry.element, null);
    }
    const asked = byID.get(id);
    if (asked) setNote(asked, null);
    return entry;
  };
  const setReplyState = (entry, state) => {
    entry.state = state;
    const element = entry.element;
    element.classList.toggle("working", state === "working");
    element.classList.toggle("streaming", state === "streaming");
    element.classList.toggle("interrupted", state === "interrupted");
    if (state === "interrupted") element.removeAttribute("aria-busy");
    else element.setAttribute("aria-busy", "true");
    const stopping = stopped.has(entry.id);
    setLabel(element, state === "working" ? "working…" : state === "interrupted" ? "(interrupted)" : stopping ? "stopping…" : "");
  };
  const started = (data) => {
    const entry = replyTo(data.reply_to, data.attempt);
    setReplyState(entry, "working");
    follow();
  };
  const interrupted = (data) => {
    const entry = replies.get(data.reply_to);
    if (!entry || (data.attempt && data.attempt < entry.attempt)) return;
    clearTimeout(entry.renderTimer);
    entry.renderTimer = null;
    setText(entry.element, entry.text);
    setReplyState(entry, "interrupted");
    setNote(entry.element, "The host went offline in the middle of this reply. It answers again when it is back.", "interrupted");
    announce(`${agent.name}'s reply was interrupted: the host went offline.`);
    follow();
  };

  /** A delta: the reply so far is rendered at once, then at most every few tens of milliseconds. */
  const growReply = (data) => {
    const current = replies.get(data.reply_to);
    if (current && data.attempt && data.attempt < current.attempt) return; // an older attempt's late piece
    const entry = replyTo(data.reply_to, data.attempt);
    if (entry.state !== "streaming") {
      setReplyState(entry, "streaming");
      setNote(entry.element, null); // back after a dropped connection: the same attempt goes on
    }
    entry.text += data.text;
    const render = () => {
      entry.renderTimer = null;
      entry.lastRender = performance.now();
      setText(entry.element, entry.text, true);
      follow();
    };
    if (entry.renderTimer) return;
    // Longer replies take longer to parse: render them less often.
    const interval = Math.min(200, 30 + entry.text.length / 200);
    const wait = entry.lastRender + interval - performance.now();
    if (wait <= 0) render();
    else entry.renderTimer = setTimeout(render, wait);
  };

  const loadHistory = async () => {
    const list = await api("GET", `${sessionPath}/messages`);
    for (const message of list.messages) addMessage(message);
    // Replies in progress: their text so far is replayed from the stream position below.
    for (const progress of list.replies || []) {
      if (answered.has(progress.reply_to)) continue;
      if (progress.stop_requested) stopped.add(progress.reply_to);
      const entry = replyTo(progress.reply_to, progress.attempt);
      setReplyState(entry, progress.state === "streaming" ? "working" : progress.state);
      if (progress.state === "interrupted") interrupted({ reply_to: progress.reply_to, attempt: progress.attempt });
    }
    if (!hostOnline) for (const id of awaiting) markQueued(id);
    return list.stream_position;
  };

  let stream = null;
  const end = (text) => {
    if (ended) return;
    ended = true;
    stream?.stop();
    input.disabled = true;
    send.disabled = true;
    stop.hidden = true;
    // The host's state no longer matters here: the status line says the chat ended.
    hostBadge.hidden = true;
    connection.textContent = "This chat has ended.";
    banner.replaceChildren(notice(text, "danger"));
    chatEvent(text, "danger");
    for (const entry of replies.values()) {
      clearTimeout(entry.renderTimer);
      entry.element.classList.remove("streaming", "working");
      entry.element.removeAttribute("aria-busy");
      setLabel(entry.element, "(cut off)");
      setNote(entry.element, "The chat ended before this reply was finished.", "interrupted");
    }
    refreshActions();
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
  const hostChanged = (online) => {
    if (online === hostOnline) return;
    hostOnline = online;
    setStatus(hostBadge, online, "Host online", "Host offline");
    conversations.setHostOnline(online);
    if (online) {
      chatEvent("The host is back online.", "ok");
    } else {
      chatEvent("The host went offline. Messages you send wait until it is back.", "danger");
      for (const id of awaiting) markQueued(id);
    }
  };

  const position = await loadHistory();
  updateGreeting();
  if (session.closed_at) {
    end("This conversation has ended: you can read it, and start a new one to keep chatting.");
    offerNew();
    return;
  }
  if (!hostOnline) chatEvent("The host is offline. Messages you send wait until it is back.", "danger");
  toBottom();
  stream = new EventStream(`${sessionPath}/events`, {
    lastEventId: position || session.stream_position,
    onState: (state) => {
      connection.textContent = state === "live" ? "Live" : "Reconnecting…";
    },
    onFatal: (error) => (error.type === "share-revoked" ? revoked() : error.status === 401 ? failure(error) : end(error.message)),
    onEvent: (type, data) => {
      switch (type) {
        case "message.created":
          addMessage(data.message);
          if (!hostOnline) markQueued(data.message.id);
          break;
        case "reply.started":
          started(data);
          break;
        case "reply.delta":
          growReply(data);
          break;
        case "reply.interrupted":
          interrupted(data);
          break;
        case "reply.done": {
          const known = byID.has(data.message.id);
          if (data.stopped) stopped.add(data.message.reply_to);
          addMessage(data.message);
          if (!known) announce(`${agent.name} replied: ${markdownText(data.message.text)}`);
          break;
        }
        case "reply.error": {
          const entry = replies.get(data.reply_to);
          const element = entry?.element || log.appendChild(bubble("agent", agent.name));
          if (entry) clearTimeout(entry.renderTimer);
          element.classList.remove("streaming", "working", "interrupted");
          element.removeAttribute("aria-busy");
          element.classList.add("failed");
          setLabel(element, "(failed)");
          element.querySelector(".text").textContent = `The host could not answer: ${data.error}`;
          setNote(element, null);
          replies.delete(data.reply_to);
          awaiting.delete(data.reply_to);
          answered.add(data.reply_to); // may be sent again
          updateStop();
          refreshActions();
          announce(`${agent.name} could not answer.`);
          follow();
          break;
        }
        case "reply.stop_requested": {
          stopped.add(data.reply_to);
          const entry = replies.get(data.reply_to);
          if (entry) setLabel(entry.element, "stopping…");
          break;
        }
        case "host.status":
          hostChanged(data.online);
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

  /** Posts `text` as my message (the composer's, or a message sent again). */
  const submit = async (text) => {
    if (!text || input.disabled) return;
    const element = bubble("user pending", "You");
    setText(element, text);
    log.append(element);
    updateGreeting();
    toBottom();
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
          stamp(element, result.message.created_at);
          byID.set(result.message.id, element);
          if (!answered.has(result.message.id)) awaiting.add(result.message.id);
          updateStop();
          refreshActions();
        }
      }
      if (result.queued) markQueued(result.message.id);
    } catch (error) {
      element.classList.add("failed");
      if (error.type === "share-revoked") revoked();
      else if (error.type === "session-closed") end("This conversation was closed.");
      else banner.replaceChildren(notice(`Not sent: ${error.message}`, "danger"));
    }
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = input.value.trim();
    if (!text || input.disabled) return;
    input.value = "";
    grow();
    banner.replaceChildren();
    submit(text);
  });
  stop.addEventListener("click", async () => {
    stop.disabled = true;
    stop.textContent = "Stopping…";
    try {
      for (const id of [...awaiting]) {
        stopped.add(id);
        const entry = replies.get(id);
        if (entry) setLabel(entry.element, "stopping…");
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
  // The message box grows with what is typed, up to a third of the window, then scrolls.
  const grow = () => {
    input.style.height = "auto";
    input.style.height = `${Math.min(input.scrollHeight + 2, Math.round(window.innerHeight / 3))}px`;
  };
  input.addEventListener("input", grow);
  input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter (and Enter while an input method composes) is a new line.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.requestSubmit();
    }
  });
  input.focus();
}
