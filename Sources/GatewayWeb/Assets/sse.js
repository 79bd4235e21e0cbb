// Event streams (text/event-stream) read with fetch().
//
// EventSource cannot send an Authorization header, and access tokens never go in URLs (they
// would end up in logs and history), so streams are read with fetch() and a small parser of the
// WHATWG format: `id:` is remembered and sent back as Last-Event-ID when reconnecting, `retry:`
// sets the reconnection delay, comments (`: heartbeat`) only prove the connection alive, and
// the server ending the stream (its maximum lifetime) is followed by a reconnect from the last
// id. A 401 refreshes the token first; 403/404/410 are final.

import { APIError, authorizedFetch } from "./api.js";

export class EventStream {
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
