// The gateway's web app: sign-in (OAuth authorization code + PKCE, client `web`), invites, chat,
// agents, shares and devices. Plain JavaScript, no build step, no third-party code. Pages are
// built with DOM calls and textContent only (never innerHTML with data), under a CSP that allows
// scripts and connections to this origin alone. See docs/web.md.
"use strict";
(() => {
  const BASE = (document.querySelector('meta[name="gateway-base-url"]')?.content || location.origin).replace(/\/+$/, "");
  const CLIENT_ID = "web";
  const REDIRECT_URI = BASE + "/app/callback";
  // Tokens live in sessionStorage: one sign-in per tab. Tabs sharing one refresh token would
  // each rotate it, and the gateway treats a rotated token presented again as stolen (it revokes
  // the whole family), so tabs must not share one.
  const storage = window.sessionStorage;
  const TOKENS = "gateway.tokens";
  const PENDING = "gateway.signin";
  const ME = "gateway.me";
  const encoder = new TextEncoder();

  // MARK: DOM helpers

  /** h("button", {class: "x", onclick: f}, "text", child) */
  function h(tag, attributes, ...children) {
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

  function show(title, ...nodes) {
    document.title = `${title} · Gateway`;
    main().replaceChildren(h("h1", { id: "page-title" }, title), ...nodes);
  }

  function notice(text, kind) {
    return h("p", { class: `notice ${kind || ""}`, role: kind === "danger" ? "alert" : "status" }, text);
  }

  function statusBadge(online, onText, offText) {
    return h("span", { class: `status ${online ? "online" : "offline"}`, role: "status" }, online ? onText : offText);
  }

  function setStatus(badge, online, onText, offText) {
    badge.className = `status ${online ? "online" : "offline"}`;
    badge.textContent = online ? onText : offText;
  }

  /** A read-only field with a copy button (the Gateway URL, invite links). */
  function copyRow(id, label, value) {
    const input = h("input", { id, type: "text", readonly: true, value, "aria-label": label });
    const status = h("span", { class: "muted", role: "status", "aria-live": "polite" });
    const button = h("button", { type: "button", class: "copy secondary", onclick: () => copy(input, status) }, "Copy");
    return h("div", {}, h("div", { class: "copy-row" }, input, button), status);
  }

  async function copy(input, status) {
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

  // MARK: PKCE and tokens

  function base64url(bytes) {
    let binary = "";
    for (const byte of bytes) binary += String.fromCharCode(byte);
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  const randomString = (byteCount) => base64url(crypto.getRandomValues(new Uint8Array(byteCount)));

  async function sha256(text) {
    const bytes = encoder.encode(text);
    if (window.crypto && crypto.subtle) return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
    return window.gatewaySHA256(bytes);
  }

  function readJSON(key) {
    try {
      return JSON.parse(storage.getItem(key) || "null");
    } catch {
      return null;
    }
  }

  const tokens = () => readJSON(TOKENS);

  function saveTokens(response) {
    storage.setItem(
      TOKENS,
      JSON.stringify({
        access_token: response.access_token,
        refresh_token: response.refresh_token,
        expires_at: Date.now() + (response.expires_in || 300) * 1000,
      }),
    );
  }

  function clearTokens() {
    storage.removeItem(TOKENS);
    storage.removeItem(ME);
  }

  /** What the sign-in page says for each RFC 6749 error code the gateway can send back. */
  const SIGN_IN_ERRORS = {
    access_denied: "You cancelled the sign-in.",
    invalid_request: "The sign-in request was malformed. Try again.",
    invalid_scope: "The sign-in request asked for access this gateway does not offer.",
    unsupported_response_type: "The sign-in request was malformed. Try again.",
    server_error: "The gateway could not complete the sign-in. Try again in a moment.",
    temporarily_unavailable: "The gateway could not complete the sign-in. Try again in a moment.",
    other: "The sign-in did not complete. Try again.",
  };

  /** Starts the authorization-code flow; the browser comes back to /app/callback. */
  async function signIn(returnTo) {
    if (location.origin !== new URL(BASE).origin) {
      // The redirect URI is under the public base URL; sign in from there so the verifier in
      // this tab's storage is the one the callback finds.
      location.assign(BASE + location.pathname + location.search);
      return;
    }
    const verifier = randomString(48);
    const state = randomString(16);
    storage.setItem(PENDING, JSON.stringify({ verifier, state, returnTo: returnTo || "/app" }));
    const query = new URLSearchParams({
      response_type: "code",
      client_id: CLIENT_ID,
      redirect_uri: REDIRECT_URI,
      code_challenge: base64url(await sha256(verifier)),
      code_challenge_method: "S256",
      state,
      scope: "gateway",
    });
    location.assign(`/oauth/authorize?${query}`);
  }

  async function tokenRequest(parameters) {
    const response = await fetch("/oauth/token", {
      method: "POST",
      body: new URLSearchParams({ client_id: CLIENT_ID, ...parameters }),
      cache: "no-store",
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error_description || body.error || `token endpoint answered ${response.status}`);
    return body;
  }

  async function completeSignIn() {
    const params = new URLSearchParams(location.search);
    const pending = readJSON(PENDING);
    storage.removeItem(PENDING);
    const retry = h("button", { type: "button", onclick: () => signIn(pending?.returnTo || "/app") }, "Try again");
    // Only a response to the sign-in this tab started is read, and the page never shows text
    // from the address bar: anyone can craft a link to this page.
    if (!pending || params.get("state") !== pending.state) {
      show("Sign-in failed", notice("This sign-in response does not belong to a sign-in started in this tab.", "danger"), retry);
      return;
    }
    if (params.get("error")) {
      const cancelled = params.get("error") === "access_denied";
      show(cancelled ? "Sign-in cancelled" : "Sign-in failed", notice(SIGN_IN_ERRORS[params.get("error")] || SIGN_IN_ERRORS.other, "danger"), retry);
      return;
    }
    if (!params.get("code")) {
      show("Sign-in failed", notice(SIGN_IN_ERRORS.other, "danger"), retry);
      return;
    }
    show("Signing in…");
    try {
      saveTokens(
        await tokenRequest({
          grant_type: "authorization_code",
          code: params.get("code"),
          redirect_uri: REDIRECT_URI,
          code_verifier: pending.verifier,
        }),
      );
    } catch (error) {
      show("Sign-in failed", notice(error.message, "danger"), retry);
      return;
    }
    // Drop the code from the address bar and history, then show the page sign-in started from.
    history.replaceState(null, "", pending.returnTo || "/app");
    route();
  }

  let refreshing = null;

  /** Rotates the refresh token (once, however many requests ask at the same time). */
  function refresh() {
    if (!refreshing) {
      refreshing = (async () => {
        const current = tokens();
        if (!current?.refresh_token) return null;
        try {
          saveTokens(await tokenRequest({ grant_type: "refresh_token", refresh_token: current.refresh_token }));
          return tokens().access_token;
        } catch {
          clearTokens();
          return null;
        }
      })().finally(() => {
        refreshing = null;
      });
    }
    return refreshing;
  }

  async function accessToken() {
    const current = tokens();
    if (!current) return null;
    if (current.expires_at - Date.now() < 30_000) return refresh();
    return current.access_token;
  }

  async function signOut() {
    const current = tokens();
    clearTokens();
    if (current?.refresh_token) {
      await fetch("/oauth/revoke", {
        method: "POST",
        body: new URLSearchParams({ token: current.refresh_token, token_type_hint: "refresh_token", client_id: CLIENT_ID }),
      }).catch(() => {});
    }
    location.assign("/");
  }

  // MARK: API

  class APIError extends Error {
    constructor(status, problem) {
      super(problem?.detail || problem?.title || `the gateway answered ${status}`);
      this.status = status;
      this.type = (problem?.type || "").replace("urn:agent-gateway:problem:", "");
    }
  }

  async function authorizedFetch(path, options) {
    for (let attempt = 0; attempt < 2; attempt++) {
      const token = attempt === 0 ? await accessToken() : await refresh();
      if (!token) throw new APIError(401, { type: "signed-out", detail: "You are signed out." });
      const response = await fetch(path, { ...options, headers: { ...options.headers, Authorization: `Bearer ${token}` } });
      if (response.status !== 401) return response;
    }
    clearTokens();
    throw new APIError(401, { type: "signed-out", detail: "Your sign-in expired." });
  }

  async function api(method, path, body, headers) {
    const response = await authorizedFetch(path, {
      method,
      cache: "no-store",
      headers: { Accept: "application/json", ...(body ? { "Content-Type": "application/json" } : {}), ...(headers || {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    if (!response.ok) throw new APIError(response.status, await response.json().catch(() => null));
    return response.status === 204 ? null : response.json();
  }

  async function me() {
    const cached = readJSON(ME);
    if (cached) return cached;
    const user = await api("GET", "/v1/me");
    storage.setItem(ME, JSON.stringify(user));
    return user;
  }

  // MARK: Event streams
  //
  // EventSource cannot send an Authorization header, and access tokens never go in URLs (they
  // would end up in logs and history), so streams are read with fetch() and a small parser of the
  // WHATWG format: `id:` is remembered and sent back as Last-Event-ID when reconnecting, `retry:`
  // sets the reconnection delay, comments (`: heartbeat`) only prove the connection alive, and
  // the server ending the stream (its maximum lifetime) is followed by a reconnect from the last
  // id. A 401 refreshes the token first; 403/404/410 are final.

  class EventStream {
    constructor(path, { lastEventId, onEvent, onState, onFatal }) {
      Object.assign(this, { path, lastEventId: lastEventId || null, onEvent, onState: onState || (() => {}), onFatal });
      this.retry = 2000;
      this.stopped = false;
      this.controller = null;
    }

    start() {
      this.run();
      return this;
    }

    stop() {
      this.stopped = true;
      this.controller?.abort();
      clearInterval(this.watchdog);
    }

    async run() {
      let failures = 0;
      while (!this.stopped) {
        try {
          const headers = { Accept: "text/event-stream" };
          if (this.lastEventId) headers["Last-Event-ID"] = this.lastEventId;
          this.controller = new AbortController();
          const response = await authorizedFetch(this.path, { headers, cache: "no-store", signal: this.controller.signal });
          if (!response.ok) {
            const error = new APIError(response.status, await response.json().catch(() => null));
            if ([403, 404, 410].includes(response.status)) {
              this.stopped = true;
              this.onFatal(error);
              return;
            }
            throw error;
          }
          failures = 0;
          this.onState("live");
          await this.read(response.body);
        } catch (error) {
          if (this.stopped) return;
          if (error instanceof APIError && error.status === 401) {
            this.stopped = true;
            this.onFatal(error);
            return;
          }
          failures++;
        }
        if (this.stopped) return;
        this.onState("reconnecting");
        const backoff = failures === 0 ? this.retry : Math.min(this.retry * 2 ** failures, 30_000);
        await new Promise((resolve) => setTimeout(resolve, backoff * (0.8 + Math.random() * 0.4)));
      }
    }

    /** Reads one connection until it ends; dispatches each complete event. */
    async read(body) {
      const reader = body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      let data = [];
      let type = "";
      let lastActivity = Date.now();
      // Heartbeats come every 15 s; a connection silent for 45 s is dead, whatever TCP thinks.
      clearInterval(this.watchdog);
      this.watchdog = setInterval(() => {
        if (Date.now() - lastActivity > 45_000) this.controller?.abort();
      }, 5_000);
      const dispatch = () => {
        const eventType = type || "message";
        const payload = data.join("\n");
        data = [];
        type = "";
        if (!payload && eventType === "message") return;
        let parsed = null;
        try {
          parsed = payload ? JSON.parse(payload) : {};
        } catch {
          return;
        }
        if (!this.stopped) this.onEvent(eventType, parsed, this.lastEventId);
      };
      const line = (text) => {
        if (text === "") return dispatch();
        if (text.startsWith(":")) return; // a comment: heartbeat
        const colon = text.indexOf(":");
        const field = colon === -1 ? text : text.slice(0, colon);
        let value = colon === -1 ? "" : text.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "data") data.push(value);
        else if (field === "event") type = value;
        else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
        else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
      };
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          lastActivity = Date.now();
          buffer += decoder.decode(value, { stream: true });
          // Lines end in \n, \r\n or \r; a \r at the very end may be half of a \r\n.
          let match;
          while ((match = /\r\n|\r(?!$)|\n/.exec(buffer))) {
            line(buffer.slice(0, match.index));
            buffer = buffer.slice(match.index + match[0].length);
          }
          if (this.stopped) break;
        }
      } finally {
        clearInterval(this.watchdog);
        reader.cancel().catch(() => {});
      }
    }
  }

  // MARK: Pages

  function signInPrompt(title, text) {
    show(
      title,
      h("p", {}, text),
      h("p", {}, h("button", { type: "button", id: "sign-in", onclick: () => signIn(location.pathname) }, "Sign in")),
    );
    document.getElementById("sign-in").focus();
  }

  function failure(error) {
    if (error instanceof APIError && error.status === 401) {
      signInPrompt("Signed out", "Your sign-in expired. Sign in again to continue.");
      renderAccount();
      return;
    }
    show("Something went wrong", notice(error.message, "danger"), h("p", {}, h("a", { href: location.pathname }, "Reload")));
  }

  async function renderAccount() {
    const account = document.getElementById("account");
    if (!account) return;
    if (!tokens()) {
      account.replaceChildren(
        h("button", { type: "button", class: "secondary", id: "account-sign-in", onclick: () => signIn(location.pathname === "/" ? "/app" : location.pathname) }, "Sign in"),
      );
      return;
    }
    try {
      const user = await me();
      account.replaceChildren(
        h("span", { id: "signed-in-as" }, `Signed in as ${user.display_name}`),
        h("button", { type: "button", class: "secondary", id: "sign-out", onclick: signOut }, "Sign out"),
      );
    } catch {
      account.replaceChildren();
    }
  }

  function markNavigation() {
    for (const link of document.querySelectorAll(".top nav a")) {
      const path = link.getAttribute("href");
      const current = location.pathname === path || (path === "/app" && location.pathname.startsWith("/app/chat/"));
      if (current) link.setAttribute("aria-current", "page");
      else link.removeAttribute("aria-current");
    }
  }

  /** The user stream, for pages that show live status; `onChange` reloads or patches the page. */
  function userStream(onEvent, reload) {
    return new EventStream("/v1/events", {
      onEvent: (type, data) => (type === "reset" ? reload() : onEvent(type, data)),
      onFatal: failure,
    }).start();
  }

  // MARK: My agents

  async function agentsPage() {
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
            class: "secondary",
            onclick: async (event) => {
              event.target.disabled = true;
              try {
                const created = await api("POST", `/v1/agents/${encodeURIComponent(agent.id)}/shares`, {});
                invite.replaceChildren(
                  h("p", { class: "muted" }, "Invite link (shown once; anyone who opens it can ask to use this agent):"),
                  copyRow(`invite-${agent.id}`, `Invite link for ${agent.name}`, created.invite_url),
                );
                invite.querySelector("input").focus();
              } catch (error) {
                invite.replaceChildren(notice(error.message, "danger"));
              } finally {
                event.target.disabled = false;
              }
            },
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

  // MARK: Shares

  function shareCard(share, outgoing) {
    const uses = share.max_uses ? `${share.use_count} of ${share.max_uses} uses` : `${share.use_count} uses`;
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
      h("p", { class: "muted" }, `Status: ${share.status}. ${outgoing ? uses : ""}`),
      outgoing && h("p", {}, guests.length ? `Guests: ${guests.join(", ")}` : "No guests yet."),
      !outgoing && share.status === "active" && h("a", { href: `/app/chat/${encodeURIComponent(share.agent_id)}` }, "Chat"),
      h("div", { class: "actions" }, action),
    );
  }

  async function sharesPage() {
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

  // MARK: Devices

  async function devicesPage() {
    const devices = await api("GET", "/v1/devices");
    const badges = new Map();
    show(
      "Devices",
      devices.length
        ? h(
            "ul",
            { class: "cards" },
            devices.map((device) => {
              const badge = statusBadge(device.online, "Online", "Offline");
              badges.set(device.id, badge);
              return h(
                "li",
                { class: "card device", "data-device-id": device.id },
                h("h3", {}, device.name),
                h("p", { class: "muted" }, `${device.platform} · id ${device.id}`),
                badge,
              );
            }),
          )
        : h("p", { class: "muted" }, "No devices yet. Sign in from the desktop app or gatewayctl with this gateway's URL."),
    );
    if (!devicesPage.stream) {
      devicesPage.stream = userStream(
        (type, data) => {
          if (type === "device.status") {
            if (badges.has(data.device_id)) setStatus(badges.get(data.device_id), data.online, "Online", "Offline");
            else devicesPage().catch(failure);
          }
        },
        () => devicesPage().catch(failure),
      );
    }
  }

  // MARK: Invite

  async function invitePage(code) {
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

  // MARK: Chat

  async function chatPage(agentID) {
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

  // MARK: Router

  async function route() {
    markNavigation();
    const path = location.pathname.replace(/\/+$/, "") || "/";
    try {
      if (document.body.dataset.page === "landing") {
        for (const button of document.querySelectorAll("button[data-copy]")) {
          const input = document.getElementById(button.dataset.copy);
          const status = document.querySelector(`[data-copy-status="${button.dataset.copy}"]`);
          button.addEventListener("click", () => copy(input, status));
        }
        return;
      }
      if (path === "/app/callback") return await completeSignIn();
      const invite = /^\/invite\/([^/]+)$/.exec(path);
      if (invite) return await invitePage(decodeURIComponent(invite[1]));
      if (!tokens()) {
        signInPrompt("Sign in", "Sign in to see your agents, the agents shared with you, your shares and your devices.");
        return;
      }
      const chat = /^\/app\/chat\/([^/]+)$/.exec(path);
      if (chat) return await chatPage(decodeURIComponent(chat[1]));
      if (path === "/app/shares") return await sharesPage();
      if (path === "/app/devices") return await devicesPage();
      return await agentsPage();
    } catch (error) {
      failure(error);
    } finally {
      renderAccount();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", route);
  else route();
})();
