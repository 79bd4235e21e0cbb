"""A stand-in for the gateway, for checking the web app's modules in Chromium without a build.

It serves what the browser needs and nothing else, on 127.0.0.1:
  - the app shell page (the app frame of Sources/GatewayWeb/Templates/frame.mustache, with the
    demo banner a demo-mode gateway shows) for /app, /app/chat/{agentID} (any query),
    /app/shares, /app/devices and /invite/{code}, and at / the landing page as
    Templates/landing.mustache renders it for a demo gateway on Redis and Postgres;
  - /assets/web/{file} straight from Sources/GatewayWeb/Assets, and /tests/js/{file} (the harness
    page and fixtures) from tests/js, every response with the app's Content-Security-Policy;
  - a small in-memory /v1 API shaped like docs/openapi.yaml for one signed-in user: two agents (one
    shared with the user, one of the user's own, on the user's one device), sessions, messages, invites, and the session
    stream (SSE with ids and Last-Event-ID resume) on which a built-in agent echoes every message
    back in small deltas, then `reply.done`; the shares the user created here (revoked with
    DELETE /v1/shares/{id}, each such request recorded in State.revoked_shares), their guests
    (State.accept, which also tells the user stream `share.accepted`) and one share the user
    accepted (Alice's agent); personal API keys (/v1/api-keys: list, create, revoke, with the
    gateway's checks of name and expiry and its limit of 20), and /v1/models, which takes a key
    (a known one answers the agents and records its last use, a revoked or unknown one 401).

It is not the gateway: authentication is not checked (any Bearer token that is not an API key is
the user), nothing is stored, and only what the web app calls is there. test_web_browser.py runs the same pages against
the real gateway; this lets the app be checked while the Swift build is unavailable or busy.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

REPO = Path(__file__).resolve().parents[2]
ASSETS = REPO / "Sources" / "GatewayWeb" / "Assets"
HARNESS = REPO / "tests" / "js"

# The same policy as WebApp.contentSecurityPolicy.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
    ".json": "application/json",
    ".md": "text/plain; charset=utf-8",
}

# The app frame of every page (Templates/frame.mustache), with the demo banner as a demo-mode
# gateway shows it. Keep the markup in step with the templates (a test compares them).
FRAME = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta name="gateway-base-url" content="{base}">
<meta name="gateway-auth-mode" content="demo">
<title>Gateway</title>
<link rel="icon" href="/assets/web/icon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/web/app.css">
<script type="module" src="/assets/web/app.js"></script>
</head>
<body data-page="{page}">
<a class="skip" href="#main">Skip to content</a>
<div class="banner" role="alert" id="demo-banner"><strong>Demo mode — not for production.</strong> Anyone can \
sign in with any display name on this gateway. Do not share anything sensitive.</div>
<header class="top">
<a class="brand" href="/">Gateway</a>
<nav aria-label="Main">
<a href="/app">My agents</a>
<a href="/app/shares">Shares</a>
<a href="/app/devices">Devices</a>
</nav>
<div id="account" class="account"></div>
</header>
<main id="main" tabindex="-1">
{main}
</main>
</body>
</html>
"""

# Templates/shell.mustache.
SHELL_MAIN = """<noscript><p>This page needs JavaScript. The API is described in <a href="/openapi.yaml">/openapi.yaml</a>.</p></noscript>
<p class="muted" id="loading">Loading…</p>"""

# Templates/landing.mustache for a demo gateway on Redis and Postgres, every dependency up.
LANDING_MAIN = """<h1>Your gateway is running</h1>
<section aria-labelledby="gateway-url-heading">
<h2 id="gateway-url-heading">Gateway URL</h2>
<p>Paste this into the desktop app's settings (<strong>Gateway URL</strong>), or give it to \
<code>gatewayctl login</code>:</p>
<div class="copy-row">
<input id="gateway-url" type="text" readonly value="{base}" aria-label="Gateway URL">
<button type="button" class="copy" data-copy="gateway-url">Copy</button>
</div>
<p class="muted" role="status" aria-live="polite" data-copy-status="gateway-url"></p>
</section>
<section aria-labelledby="status-heading">
<h2 id="status-heading">Status</h2>
<ul class="checks" id="checks">
<li class="check up" data-check="redis"><span class="label">Redis</span> <span class="state">ready</span> <span class="muted">0.4 ms</span></li>
<li class="check up" data-check="live events"><span class="label">Live events</span> <span class="state">ready</span> <span class="muted">0.6 ms</span></li>
<li class="check up" data-check="store"><span class="label">Store</span> <span class="state">ready</span> <span class="muted">Postgres, 1.2 ms</span></li>
<li class="check up" data-check="sign-in"><span class="label">Sign-in</span> <span class="state">demo</span> <span class="muted">not for production: anyone can sign in with any name</span></li>
</ul>
<p class="muted">Version 0.0.0-standin. Machine-readable: <a href="/readyz">/readyz</a>.</p>
</section>
<section aria-labelledby="start-heading">
<h2 id="start-heading">Get started</h2>
<p><a class="button" href="/app" id="open-app">Sign in to the web app</a></p>
<p>Then share an agent from your desktop and send the invite link to a friend; they open it here, \
sign in and chat with your agent.</p>
</section>
<section aria-labelledby="docs-heading">
<h2 id="docs-heading">Docs</h2>
<ul>
<li>The README and <code>docs/</code> of the gateway's source repository: deploying, configuration, \
sign-in, the relay protocol and the web app (<code>docs/web.md</code>).</li>
<li><a href="/openapi.yaml">/openapi.yaml</a>: the API (OpenAPI 3.1).</li>
<li><a href="/.well-known/oauth-authorization-server">OAuth metadata</a> for clients.</li>
</ul>
</section>"""


def page(base: str, name: str, main: str) -> bytes:
    return FRAME.format(base=base, page=name, main=main.format(base=base)).encode()


SHELL_PATHS = re.compile(r"^/(app|app/shares|app/devices|app/callback|app/chat/[^/]+|invite/[^/]+)/?$")


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class State:
    """The stand-in's data: one user, two agents, sessions with their messages and event streams."""

    def __init__(self, base: str, chunk: int, delay: float) -> None:
        self.base = base
        self.chunk = chunk
        self.delay = delay
        self.lock = threading.Condition()
        self.user = {"id": "user-bea", "display_name": "Bea"}
        self.agents = {
            "agent-md": {
                "id": "agent-md", "device_id": "device-alice", "key": "md", "name": "Markdown helper",
                "description": "Echoes what you send, a few characters at a time.", "capabilities": [],
                "owner_id": "user-alice", "owner_name": "Alice", "access": "guest", "share_id": "share-in",
                "host_online": True,
            },
            "agent-own": {
                "id": "agent-own", "device_id": "device-bea", "key": "mine", "name": "My helper",
                "description": "", "capabilities": [], "owner_id": "user-bea", "owner_name": "Bea",
                "access": "owner", "host_online": True,
            },
        }
        # The device that hosts the user's own agent (DeviceView).
        self.devices = [{
            "id": "device-bea", "name": "Bea's laptop", "platform": "macOS", "online": True, "created_at": now(), "updated_at": now(),
        }]
        self.sessions: dict[str, dict] = {}
        self.messages: dict[str, list[dict]] = {}
        self.events: dict[str, list[tuple[str, str, dict]]] = {}  # session id -> (id, type, data)
        self.shares: list[dict] = []
        self.revoked_shares: list[str] = []  # the share id of every DELETE /v1/shares/{id}, in order
        self.user_events: list[tuple[str, dict]] = []  # (type, data) for the user stream
        self.user_streams = 0  # user stream connections so far
        # The share of Alice's agent that the user accepted (ShareView without guests).
        self.incoming = [{
            "id": "share-in", "agent_id": "agent-md", "agent_name": "Markdown helper", "use_count": 1, "max_uses": 5,
            "created_at": now(), "status": "active",
        }]
        self.clock = 0
        self.api_keys: list[dict] = []  # APIKeyView, newest first
        self.api_key_ids: dict[str, str] = {}  # key -> its id (the gateway keeps only a hash)

    def working_keys(self) -> list[dict]:
        moment = now()
        return [key for key in self.api_keys if key.get("expires_at", "9999") > moment]

    def create_api_key(self, name: str, expires_in: int | None) -> dict:
        """CreatedAPIKey: the view and the key, this once."""
        self.clock += 1
        key = "gwk_" + secrets.token_urlsafe(32)
        view = {
            "id": f"key-{secrets.token_hex(4)}", "name": name, "prefix": key[:10],
            "created_at": (datetime.now(UTC) + timedelta(milliseconds=self.clock)).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        }
        if expires_in:
            view["expires_at"] = (datetime.now(UTC) + timedelta(seconds=expires_in)).strftime("%Y-%m-%dT%H:%M:%SZ")
        self.api_keys.insert(0, view)
        self.api_key_ids[key] = view["id"]
        return {"api_key": view, "key": key}

    def accept(self, share_id: str, display_name: str) -> dict:
        """A guest accepts the user's share: listed among its guests (GuestView), and the user
        stream says `share.accepted`, as the gateway tells the owner."""
        with self.lock:
            share = next(share for share in self.shares if share["id"] == share_id)
            self.clock += 1
            guest = {"user_id": f"user-guest-{self.clock}", "display_name": display_name, "accepted_at": now(), "left": False}
            share["guests"].append(guest)
            share["use_count"] += 1
            data = {"share_id": share_id, "agent_id": share["agent_id"], "guest": {"id": guest["user_id"], "display_name": display_name}}
            self.user_events.append(("share.accepted", data))
            self.lock.notify_all()
            return guest

    def position(self, session_id: str) -> str:
        events = self.events[session_id]
        return events[-1][0] if events else f"{session_id}-0"

    def view(self, session: dict) -> dict:
        return {**session, "stream_position": self.position(session["id"])}

    def open_session(self, agent_id: str) -> dict:
        # Strictly increasing creation times, so "newest first" is well defined within a second.
        self.clock += 1
        created = (datetime.now(UTC) + timedelta(milliseconds=self.clock)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        session = {
            "id": f"session-{secrets.token_hex(4)}", "agent_id": agent_id, "agent_name": self.agents[agent_id]["name"],
            "user_id": self.user["id"], "created_at": created, "host_online": True,
        }
        if "share_id" in self.agents[agent_id]:
            session["share_id"] = self.agents[agent_id]["share_id"]
        self.sessions[session["id"]] = session
        self.messages[session["id"]] = []
        self.events[session["id"]] = []
        return session

    def append(self, session_id: str, kind: str, data: dict) -> None:
        with self.lock:
            events = self.events[session_id]
            events.append((f"{session_id}-{len(events) + 1}", kind, data))
            self.lock.notify_all()

    def post(self, session_id: str, text: str) -> dict:
        message = {
            "id": f"message-{secrets.token_hex(4)}", "session_id": session_id, "role": "user",
            "author_id": self.user["id"], "text": text, "created_at": now(),
        }
        self.messages[session_id].append(message)
        self.append(session_id, "message.created", {"message": message, "session_id": session_id})
        threading.Thread(target=self.answer, args=(message,), daemon=True).start()
        return message

    def answer(self, message: dict) -> None:
        """The built-in agent: the message back, `chunk` characters per delta."""
        session_id = message["session_id"]
        text = message["text"]
        for index, start in enumerate(range(0, len(text), self.chunk)):
            time.sleep(self.delay)
            self.append(session_id, "reply.delta", {"index": index, "reply_to": message["id"], "session_id": session_id, "text": text[start : start + self.chunk]})
        reply = {
            "id": f"message-{secrets.token_hex(4)}", "session_id": session_id, "role": "agent",
            "reply_to": message["id"], "text": text.rstrip("\n"), "created_at": now(),
        }
        self.messages[session_id].append(reply)
        self.append(session_id, "reply.done", {"message": reply, "session_id": session_id})


class Handler(BaseHTTPRequestHandler):
    server: StandInServer

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    # MARK: Responses

    def send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("Cache-Control", "no-store")
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def json(self, status: int, value) -> None:  # noqa: ANN001
        self.send(status, json.dumps(value).encode(), "application/json")

    def problem(self, status: int, kind: str, detail: str) -> None:
        body = {"type": f"urn:agent-gateway:problem:{kind}", "title": kind, "status": status, "detail": detail}
        self.send(status, json.dumps(body).encode(), "application/problem+json")

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    # MARK: Routes

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        path = url.path
        state = self.server.state
        if path == "/":
            self.send(200, page(state.base, "landing", LANDING_MAIN), "text/html; charset=utf-8")
        elif SHELL_PATHS.match(path):
            self.send(200, page(state.base, "app", SHELL_MAIN), "text/html; charset=utf-8")
        elif path.startswith("/assets/web/") or path.startswith("/tests/js/"):
            root, name = (ASSETS, path[len("/assets/web/") :]) if path.startswith("/assets/web/") else (HARNESS, path[len("/tests/js/") :])
            file = (root / name).resolve()
            if root not in file.parents or not file.is_file():
                self.send(404, b"no such file\n", "text/plain; charset=utf-8")
            else:
                self.send(200, file.read_bytes(), TYPES.get(file.suffix, "application/octet-stream"))
        elif path == "/v1/me":
            self.json(200, state.user)
        elif path == "/v1/agents":
            self.json(200, list(state.agents.values()))
        elif match := re.fullmatch(r"/v1/agents/([^/]+)", path):
            agent = state.agents.get(match.group(1))
            self.json(200, agent) if agent else self.problem(404, "not-found", "no such agent")
        elif path == "/v1/sessions":
            with state.lock:
                self.json(200, [state.view(session) for session in state.sessions.values()])
        elif match := re.fullmatch(r"/v1/sessions/([^/]+)", path):
            session = state.sessions.get(match.group(1))
            self.json(200, state.view(session)) if session else self.problem(404, "not-found", "no such session")
        elif match := re.fullmatch(r"/v1/sessions/([^/]+)/messages", path):
            if match.group(1) not in state.sessions:
                return self.problem(404, "not-found", "no such session")
            self.json(200, {"messages": state.messages[match.group(1)]})
        elif match := re.fullmatch(r"/v1/sessions/([^/]+)/events", path):
            if match.group(1) not in state.sessions:
                return self.problem(404, "not-found", "no such session")
            last = self.headers.get("Last-Event-ID") or parse_qs(url.query).get("last_event_id", [""])[0]
            self.session_stream(match.group(1), last)
        elif path == "/v1/events":
            self.user_stream()
        elif path == "/v1/shares":
            self.json(200, state.shares)
        elif path == "/v1/shares/incoming":
            self.json(200, state.incoming)
        elif path == "/v1/devices":
            self.json(200, state.devices)
        elif path == "/v1/api-keys":
            with state.lock:
                self.json(200, state.working_keys())
        elif path == "/v1/models":
            self.models()
        else:
            self.problem(404, "not-found", f"{path} is not part of the stand-in")

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        state = self.server.state
        if path == "/v1/sessions":
            agent_id = self.body().get("agent_id")
            if agent_id not in state.agents:
                return self.problem(404, "not-found", "no such agent")
            with state.lock:
                self.json(201, state.view(state.open_session(agent_id)))
        elif match := re.fullmatch(r"/v1/sessions/([^/]+)/messages", path):
            session = state.sessions.get(match.group(1))
            if not session:
                return self.problem(404, "not-found", "no such session")
            if session.get("closed_at"):
                return self.problem(409, "session-closed", "the session is closed")
            message = state.post(session["id"], self.body()["text"])
            self.json(201, {"created": True, "host_online": True, "message": message, "queued": False})
        elif match := re.fullmatch(r"/v1/agents/([^/]+)/shares", path):
            agent = state.agents.get(match.group(1))
            if not agent or agent["access"] != "owner":
                return self.problem(404, "not-found", "no such agent")
            body = self.body()
            code = secrets.token_urlsafe(24)  # 32 characters, like the gateway's codes
            share = {
                "id": f"share-{secrets.token_hex(4)}", "agent_id": agent["id"], "agent_name": agent["name"], "use_count": 0,
                "created_at": now(), "status": "active", "guests": [],
            }
            if body.get("label"):
                share["label"] = body["label"]
            if body.get("expires_in"):
                share["expires_at"] = (datetime.now(UTC) + timedelta(seconds=body["expires_in"])).strftime("%Y-%m-%dT%H:%M:%SZ")
            if body.get("max_uses"):
                share["max_uses"] = body["max_uses"]
            state.shares.append(share)
            self.json(201, {"share": share, "code": code, "invite_url": f"{state.base}/invite/{code}"})
        elif path == "/v1/api-keys":
            self.create_api_key()
        else:
            self.problem(404, "not-found", f"{path} is not part of the stand-in")

    def do_DELETE(self) -> None:
        path = urlsplit(self.path).path
        state = self.server.state
        if match := re.fullmatch(r"/v1/sessions/([^/]+)", path):
            session = state.sessions.get(match.group(1))
            if not session:
                return self.problem(404, "not-found", "no such session")
            session["closed_at"] = now()
            state.append(session["id"], "session.closed", {"reason": "closed_by_user", "session_id": session["id"]})
            self.send(204, b"", "text/plain")
        elif match := re.fullmatch(r"/v1/shares/([^/]+)", path):
            # RelayService.revokeShare: the owner's share, revoked at once (again is harmless),
            # answered without its guests.
            with state.lock:
                state.revoked_shares.append(match.group(1))
                share = next((share for share in state.shares if share["id"] == match.group(1)), None)
                if share is None:
                    return self.problem(404, "not-found", "share not found")
                if share["status"] == "active":
                    share.update(status="revoked", revoked_at=now())
                self.json(200, {key: value for key, value in share.items() if key != "guests"})
        elif match := re.fullmatch(r"/v1/api-keys/([^/]+)", path):
            with state.lock:
                found = [key for key in state.working_keys() if key["id"] == match.group(1)]
                if not found:
                    return self.problem(404, "not-found", "API key not found")
                state.api_keys.remove(found[0])
                state.api_key_ids = {key: id for key, id in state.api_key_ids.items() if id != match.group(1)}
            self.send(204, b"", "text/plain")
        else:
            self.problem(404, "not-found", f"{path} is not part of the stand-in")

    # MARK: API keys and the OpenAI-compatible models

    def create_api_key(self) -> None:
        """POST /v1/api-keys with the gateway's checks (APIKeyService.create)."""
        state = self.server.state
        body = self.body()
        name = body.get("name").strip() if isinstance(body.get("name"), str) else ""
        expires_in = body.get("expires_in")
        if not 1 <= len(name) <= 100 or any(ord(c) < 32 or 127 <= ord(c) < 160 for c in name):
            return self.problem(400, "invalid-request", "name must be 1-100 characters without control characters")
        if expires_in is not None and (type(expires_in) is not int or not 60 <= expires_in <= 366 * 24 * 3600):
            return self.problem(400, "invalid-request", "expires_in must be between 60 seconds and 366 days")
        with state.lock:
            if len(state.working_keys()) >= 20:
                return self.problem(409, "conflict", "you have 20 API keys already; revoke one first")
            self.json(201, state.create_api_key(name, expires_in))

    def models(self) -> None:
        """GET /v1/models: an API key must be a working one (its use is recorded); any other
        bearer token is the user."""
        state = self.server.state
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ").strip()
        if token.startswith("gwk_"):
            with state.lock:
                key = next((key for key in state.working_keys() if key["id"] == state.api_key_ids.get(token)), None)
                if key is None:
                    error = {"message": "invalid API key", "type": "authentication_error", "param": None, "code": "invalid_api_key"}
                    return self.json(401, {"error": error})
                key["last_used_at"] = now()
        created = int(time.time())
        models = [{"id": agent["id"], "object": "model", "created": created, "owned_by": agent["owner_name"]} for agent in state.agents.values()]
        self.json(200, {"object": "list", "data": models})

    # MARK: Streams

    def start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Security-Policy", CSP)
        self.end_headers()
        self.wfile.write(b"retry: 1000\n\n")
        self.wfile.flush()

    def session_stream(self, session_id: str, last: str) -> None:
        state = self.server.state
        self.start_stream()
        deadline = time.monotonic() + self.server.stream_lifetime
        with state.lock:
            events = state.events[session_id]
            ids = [event[0] for event in events]
            sent = ids.index(last) + 1 if last in ids else 0
        try:
            while time.monotonic() < deadline and not self.server.stopping:
                with state.lock:
                    events = state.events[session_id]
                    if sent >= len(events):
                        state.lock.wait(timeout=1.0)
                    pending = events[sent:]
                    sent = len(events)
                if not pending:
                    self.wfile.write(b": heartbeat\n\n")
                for event_id, kind, data in pending:
                    self.wfile.write(f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
                if any(kind in ("session.closed", "share.revoked") for _, kind, _ in pending):
                    return
        except (BrokenPipeError, ConnectionResetError):
            return

    def user_stream(self) -> None:
        """The events of State.user_events from the moment it connects (no replay), and heartbeats."""
        state = self.server.state
        self.start_stream()
        deadline = time.monotonic() + self.server.stream_lifetime
        with state.lock:
            sent = len(state.user_events)
            state.user_streams += 1
        beat = time.monotonic()
        try:
            while time.monotonic() < deadline and not self.server.stopping:
                with state.lock:
                    if sent >= len(state.user_events):
                        state.lock.wait(timeout=1.0)  # session events wake it too
                    pending = state.user_events[sent:]
                    sent = len(state.user_events)
                if not pending and time.monotonic() - beat >= 1.0:
                    beat = time.monotonic()
                    self.wfile.write(b": heartbeat\n\n")
                for kind, data in pending:
                    self.wfile.write(f"event: {kind}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            return


class StandInServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, chunk: int = 3, delay: float = 0.004, stream_lifetime: float = 20.0) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server_address[1]}"
        self.state = State(self.url, chunk, delay)
        self.stream_lifetime = stream_lifetime
        self.stopping = False
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> StandInServer:
        self.thread.start()
        return self

    def __exit__(self, *_) -> None:
        self.stopping = True
        with self.state.lock:
            self.state.lock.notify_all()
        self.shutdown()
        self.server_close()
