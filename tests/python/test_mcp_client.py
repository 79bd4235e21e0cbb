"""The remote MCP server with PyPI's `mcp` 2.x SDK as the client (docs/clients.md).

Two gateway processes share Redis and Postgres: A hosts a streaming command agent with
`gatewayctl host` on one, and B's MCP client talks to the other. The client does everything an
MCP client does on its own: it meets a 401, reads the protected resource metadata (RFC 9728)
and the authorization server metadata, identifies itself with a Client ID Metadata Document
(served over https by this test, on loopback, which the gateway is told to allow) or, where the
gateway has those turned off, registers itself (RFC 7591), then signs in with authorization code
+ PKCE for the MCP resource (RFC 8707). B lists tools, calls A's agent, gets progress while the
reply grows and the final text, continues the conversation (and streams a completion from the
same agent with the `openai` client, across the replicas too); after A revokes the share the
call fails and the tool is gone. Tokens for /mcp and for the API are not interchangeable; personal
API keys work too; an offline host is a tool error after COMPLETION_HOST_WAIT.
"""

from __future__ import annotations

import http.server
import json
import re
import os
import shlex
import ssl
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from queue import Empty, Queue

import httpx
import openai
import pytest
import trustme

from conftest import HTTP_TIMEOUT, Browser
from gateways import GatewayProcesses, free_port, require_env
from get_token import access_token
from test_web_browser import Gatewayctl

HERE = Path(__file__).parent
REDIRECT_URI = "http://127.0.0.1:33418/callback"

# Writes its reply a few characters at a time, so the call sees progress before the end.
STREAMING_AGENT = """
import sys, time
text = sys.stdin.read().rstrip("\\n")
reply = f"Agent heard: {text}"
for start in range(0, len(reply), 4):
    sys.stdout.write(reply[start:start + 4])
    sys.stdout.flush()
    time.sleep(0.01)
"""


def mcp_python() -> str:
    python = require_env("MCP_PYTHON")
    assert os.access(python, os.X_OK), f"MCP_PYTHON={python} is not executable (scripts/python-tests.sh makes the mcp virtualenv)"
    return python


class MCPClient:
    """tests/python/mcp_client.py in the mcp virtualenv: one JSON command in, one answer out."""

    def __init__(self, *arguments: str) -> None:
        self.process = subprocess.Popen(
            [mcp_python(), str(HERE / "mcp_client.py"), *arguments], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True, cwd=HERE,
        )
        self.answers: Queue[str] = Queue()
        self.errors: list[str] = []
        threading.Thread(target=lambda: [self.answers.put(line) for line in self.process.stdout], daemon=True).start()
        threading.Thread(target=lambda: [self.errors.append(line) for line in self.process.stderr], daemon=True).start()
        self.ready = self.answer()
        assert self.ready.get("ready"), f"the MCP client did not connect: {self.ready}\n{''.join(self.errors)[-3000:]}"

    def answer(self, timeout: float = 60) -> dict:
        try:
            return json.loads(self.answers.get(timeout=timeout))
        except Empty:
            pytest.fail(f"no answer from the MCP client within {timeout} s:\n{''.join(self.errors)[-3000:]}")

    def ask(self, command: dict) -> dict:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()
        answer = self.answer()
        assert "error" not in answer, f"{command}: {answer}\n{''.join(self.errors)[-3000:]}"
        return answer

    def tools(self) -> list[dict]:
        return self.ask({"op": "list"})["tools"]

    def call(self, tool: str, **arguments: str) -> dict:
        return self.ask({"op": "call", "tool": tool, "arguments": arguments})

    def close(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.process.stdin.flush()
                self.process.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait()


class MetadataDocumentServer:
    """An https server on loopback with a certificate from a test CA, serving the client's
    metadata document at a path, as an MCP client's vendor would."""

    def __init__(self, tmp_path: Path) -> None:
        self.ca = trustme.CA()
        certificate = self.ca.issue_cert("127.0.0.1")
        self.port = free_port()
        self.client_id = f"https://127.0.0.1:{self.port}/oauth/conformance-client.json"
        document = json.dumps({
            "client_id": self.client_id, "client_name": "Conformance MCP client (metadata document)",
            "client_uri": f"https://127.0.0.1:{self.port}/", "redirect_uris": [REDIRECT_URI],
            "grant_types": ["authorization_code", "refresh_token"], "response_types": ["code"], "token_endpoint_auth_method": "none",
        }).encode()
        self.fetches = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                outer.fetches += 1
                found = self.path == "/oauth/conformance-client.json"
                body = document if found else b"{}"
                self.send_response(200 if found else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *arguments) -> None:  # noqa: ANN002
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        certificate.configure_cert(context)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.ca_pem = self.ca.cert_pem.bytes().decode()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def api(url: str, token: str, method: str, path: str, body: dict | None = None) -> httpx.Response:
    return httpx.request(method, f"{url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)


def test_a_friends_agent_from_an_mcp_client(tmp_path) -> None:
    documents = MetadataDocumentServer(tmp_path)
    gateways = GatewayProcesses(
        {
            "AUTH_MODE": "demo", "COMPLETION_HOST_WAIT": "3s", "OAUTH_CLIENT_METADATA_ALLOW_LOOPBACK": "true",
            "OAUTH_CLIENT_METADATA_CA_PEM": documents.ca_pem, "SESSION_RATE_LIMIT_PER_MINUTE": "1000",
        },
        tmp_path, [free_port(), free_port()],
    )
    public, other = gateways.urls
    owner = Gatewayctl(other, require_env("GATEWAYCTL_BINARY"), str(tmp_path / "owner"))
    client: MCPClient | None = None
    keyed: MCPClient | None = None
    browser = Browser()
    try:
        # A hosts a streaming agent through the second replica and shares it.
        script = tmp_path / "streaming_agent.py"
        script.write_text(STREAMING_AGENT)
        agent = f"helper-{uuid.uuid4().hex[:4]}"
        owner.login(f"Ada {uuid.uuid4().hex[:4]}")
        owner.host(f"{agent}=command:{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
        share_id, invite_url = owner.share(agent)

        # B accepts in the web app's way (the browser's demo identity is B).
        guest_name = f"Bea {uuid.uuid4().hex[:4]}"
        api_token = access_token(public, guest_name, browser=browser)
        accepted = api(public, api_token, "POST", f"/v1/invites/{invite_url.rsplit('/', 1)[-1]}/accept")
        assert accepted.status_code in (200, 201), accepted.text
        agent_id = accepted.json()["agent"]["id"]

        # Discovery as a client meets it: 401 pointing at the protected resource metadata.
        refused = httpx.post(f"{public}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=HTTP_TIMEOUT)
        assert refused.status_code == 401
        assert f'resource_metadata="{public}/.well-known/oauth-protected-resource/mcp"' in refused.headers["www-authenticate"]
        resource = httpx.get(f"{public}/.well-known/oauth-protected-resource/mcp", timeout=HTTP_TIMEOUT).json()
        assert resource["resource"] == f"{public}/mcp" and resource["authorization_servers"] == [public]
        server = httpx.get(f"{public}/.well-known/oauth-authorization-server", timeout=HTTP_TIMEOUT).json()
        assert server["client_id_metadata_document_supported"] is True and server["registration_endpoint"] == f"{public}/oauth/register"

        # B's MCP client: metadata document, authorization code + PKCE for the MCP resource.
        client = MCPClient(
            "--url", f"{public}/mcp", "--display-name", guest_name, f"--browser-id={browser.http.cookies['gw_browser']}",
            "--client-metadata-url", documents.client_id,
        )
        sign_in = client.ready["sign_in"]
        assert client.ready["protocol"] == "2026-07-28", client.ready
        assert sign_in["client_id"] == documents.client_id and documents.fetches >= 1
        assert sign_in["authorize"]["resource"] == f"{public}/mcp" and sign_in["authorize"]["code_challenge_method"] == "S256"
        page = sign_in["page_text"]
        assert "Conformance MCP client (metadata document)" in page and "unverified name" in page, page
        assert "sent back to 127.0.0.1" in page and documents.client_id in page, page

        # The MCP token opens /mcp only; the API's token does not open /mcp.
        mcp_token = sign_in["access_token"]
        assert api(public, mcp_token, "GET", "/v1/agents").status_code == 401
        wrong = httpx.post(
            f"{public}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
            headers={"Authorization": f"Bearer {api_token}"}, timeout=HTTP_TIMEOUT,
        )
        assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["www-authenticate"], wrong.headers

        # The friend's agent is a tool; calling it streams progress, then the text.
        tools = client.tools()
        tool = next(t for t in tools if t["title"] == agent)
        assert tool["name"].endswith("_" + "".join(c for c in agent_id.lower() if c.isalnum())[:8]), tool
        assert "Ada" in tool["description"], tool
        answer = client.call(tool["name"], message="hello over MCP")
        assert not answer["is_error"], answer
        assert answer["content"][0]["text"] == "Agent heard: hello over MCP", answer
        assert len(answer["progress"]) >= 2, answer
        assert "".join(message for _, message in answer["progress"]) == "Agent heard: hello over MCP"
        values = [value for value, _ in answer["progress"]]
        assert values == sorted(values) and len(set(values)) == len(values), values
        conversation = answer["structured"]["conversation_id"]
        # The same conversation continues: one session with both messages.
        again = client.call(tool["name"], message="and again", conversation_id=conversation)
        assert again["content"][0]["text"] == "Agent heard: and again" and again["structured"]["conversation_id"] == conversation
        messages = api(public, api_token, "GET", f"/v1/sessions/{conversation}/messages").json()["messages"]
        assert [m["text"] for m in messages if m["role"] == "user"] == ["hello over MCP", "and again"], messages
        stranger_conversation = client.call(tool["name"], message="x", conversation_id="not-a-conversation")
        assert stranger_conversation["is_error"], stranger_conversation

        # A personal API key works for /mcp too (handshake era this time).
        key = api(public, api_token, "POST", "/v1/api-keys", {"name": "mcp"}).json()["key"]
        keyed = MCPClient("--url", f"{public}/mcp", "--api-key", key, "--mode", "legacy")
        assert keyed.ready["protocol"] == "2025-11-25"
        assert tool["name"] in [t["name"] for t in keyed.tools()]
        assert keyed.call(tool["name"], message="with a key")["content"][0]["text"] == "Agent heard: with a key"
        # The OpenAI-compatible API relays across the two replicas too (client here, host there).
        completion = openai.OpenAI(base_url=f"{public}/v1", api_key=key, max_retries=0, timeout=30)
        pieces = [
            chunk.choices[0].delta.content or ""
            for chunk in completion.chat.completions.create(
                model=agent_id, stream=True, messages=[{"role": "user", "content": "from the openai client"}])
        ]
        assert "".join(pieces) == "Agent heard: from the openai client", pieces
        # Both clients listen for tool list changes: subscriptions/listen and the GET stream.
        client.ask({"op": "listen"})

        # A revokes the share: both are told the list changed, the call is a tool error and the
        # tool is gone.
        owner.revoke(share_id)
        for listener in (client, keyed):
            deadline = time.monotonic() + 10
            while "notifications/tools/list_changed" not in listener.ask({"op": "notifications"})["notifications"]:
                assert time.monotonic() < deadline, f"no tools/list_changed: {listener.ask({'op': 'notifications'})}"
                time.sleep(0.1)
        revoked = client.call(tool["name"], message="still there?")
        assert revoked["is_error"] and "no longer" in revoked["content"][0]["text"], revoked
        assert tool["name"] not in [t["name"] for t in client.tools()]
        assert tool["name"] not in [t["name"] for t in keyed.tools()]
    finally:
        if client:
            client.close()
        if keyed:
            keyed.close()
        browser.close()
        owner.stop()
        gateways.stop()
        documents.stop()


def test_dynamic_registration_when_metadata_documents_are_off(tmp_path) -> None:
    gateways = GatewayProcesses(
        {"AUTH_MODE": "demo", "COMPLETION_HOST_WAIT": "2s", "OAUTH_CLIENT_METADATA_DOCUMENTS": "false"}, tmp_path, [free_port()]
    )
    (public,) = gateways.urls
    owner = Gatewayctl(public, require_env("GATEWAYCTL_BINARY"), str(tmp_path / "owner"))
    client: MCPClient | None = None
    try:
        server = httpx.get(f"{public}/.well-known/oauth-authorization-server", timeout=HTTP_TIMEOUT).json()
        assert server["client_id_metadata_document_supported"] is False

        # Registration refuses what it must (and changes nothing); every refusal is RFC 7591's shape.
        for body, error in [
            ({"redirect_uris": ["javascript:alert(1)"]}, "invalid_redirect_uri"),
            ({"redirect_uris": ["http://example.com/callback"]}, "invalid_redirect_uri"),
            ({"client_name": "no redirect"}, "invalid_redirect_uri"),
            ({"redirect_uris": [REDIRECT_URI], "grant_types": ["client_credentials"]}, "invalid_client_metadata"),
        ]:
            refused = httpx.post(f"{public}/oauth/register", json=body, timeout=HTTP_TIMEOUT)
            assert refused.status_code == 400 and refused.json()["error"] == error, (body, refused.text)

        # A's own agent, used from an MCP client that registers itself (handshake era).
        owner.login(f"Ada {uuid.uuid4().hex[:4]}")
        script = tmp_path / "streaming_agent.py"
        script.write_text(STREAMING_AGENT)
        owner.host(f"Mine=command:{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
        client = MCPClient(
            "--url", f"{public}/mcp", "--display-name", "Ada", f"--browser-id={owner.demo_identity or ''}", "--mode", "legacy",
            "--client-metadata-url", "https://client.example/metadata.json",
        )
        sign_in = client.ready["sign_in"]
        assert sign_in["client_id"].startswith("mcp-client-"), sign_in
        assert "registered itself" in sign_in["page_text"] and "unverified name" in sign_in["page_text"], sign_in["page_text"]
        tool = next(t for t in client.tools() if t["title"] == "Mine")
        assert tool["description"].startswith("Sends a message to your agent “Mine”"), tool["description"]
        assert "written by you, not by this gateway" in tool["description"], tool["description"]
        assert client.call(tool["name"], message="mine")["content"][0]["text"] == "Agent heard: mine"

        # The host goes away: the call waits COMPLETION_HOST_WAIT (2 s here), then a tool error.
        owner.stop()
        time.sleep(0.5)
        started = time.monotonic()
        offline = client.call(tool["name"], message="anyone home?")
        assert offline["is_error"] and "offline" in offline["content"][0]["text"], offline
        # The message stays in the conversation the call opened: the error names it, to continue.
        assert re.match(r"conversation_id: [0-9a-f-]{36} ", offline["content"][1]["text"]), offline
        assert 1.5 < time.monotonic() - started < 15
    finally:
        if client:
            client.close()
        owner.stop()
        gateways.stop()
