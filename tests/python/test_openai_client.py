"""The OpenAI-compatible API with the official `openai` Python client (docs/clients.md).

A hosts a command agent with `gatewayctl host` and shares it; B accepts, makes a personal API
key and uses a friend's agent from the `openai` client: the model list, a streamed completion
and a plain one whose earlier turns reach the agent as context. A revoked key, a revoked share
and an offline host each fail with the documented error; a stranger's agent never appears; a
key opens nothing else.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import time
import uuid

import httpx
import openai
import pytest

from conftest import HTTP_TIMEOUT
from get_token import access_token
from test_web_browser import Gatewayctl

# Answers with how many earlier turns it was given (GATEWAY_CONTEXT) and what was said, a few
# characters at a time.
CONTEXT_AGENT = """
import json, os, sys, time
text = sys.stdin.read().rstrip("\\n")
turns = json.loads(os.environ.get("GATEWAY_CONTEXT", "[]"))
reply = f"{len(turns)} earlier turns, the first by {turns[0]['role'] if turns else 'nobody'}; you said: {text}"
for start in range(0, len(reply), 5):
    sys.stdout.write(reply[start:start + 5])
    sys.stdout.flush()
    time.sleep(0.005)
"""


def api(gateway_url: str, token: str, method: str, path: str, body: dict | None = None) -> httpx.Response:
    return httpx.request(method, f"{gateway_url}{path}", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=HTTP_TIMEOUT)


def test_a_friends_agent_from_the_openai_client(gateway_url, tmp_path) -> None:
    binary = os.environ.get("GATEWAYCTL_BINARY", "")
    assert binary and os.access(binary, os.X_OK), "GATEWAYCTL_BINARY must point at the built gatewayctl (scripts/python-tests.sh sets it)"
    owner = Gatewayctl(gateway_url, binary, str(tmp_path / "owner"))
    script = tmp_path / "context_agent.py"
    script.write_text(CONTEXT_AGENT)
    agent = f"ctx-{uuid.uuid4().hex[:6]}"
    try:
        owner.login(f"Ada {uuid.uuid4().hex[:4]}")
        owner.host(f"{agent}=command:{shlex.quote(sys.executable)} {shlex.quote(str(script))}")
        share_id, invite_url = owner.share(agent)
        code = invite_url.rsplit("/", 1)[-1]

        guest = access_token(gateway_url, f"Bea {uuid.uuid4().hex[:4]}")
        accepted = api(gateway_url, guest, "POST", f"/v1/invites/{code}/accept")
        assert accepted.status_code in (200, 201), accepted.text
        agent_id = accepted.json()["agent"]["id"]

        # A stranger's agent exists but is not B's to use.
        stranger = access_token(gateway_url, f"Sam {uuid.uuid4().hex[:4]}")
        assert api(gateway_url, stranger, "PUT", "/v1/devices/sams-laptop", {"name": "S", "platform": "linux"}).status_code in (200, 201)
        strangers_agent = api(gateway_url, stranger, "PUT", "/v1/devices/sams-laptop/agents/secret", {"name": "Secret"}).json()["id"]

        created = api(gateway_url, guest, "POST", "/v1/api-keys", {"name": "openai client"})
        assert created.status_code == 201, created.text
        key, key_id = created.json()["key"], created.json()["api_key"]["id"]
        assert key.startswith("gwk_")
        listed = api(gateway_url, guest, "GET", "/v1/api-keys").json()
        assert [k["id"] for k in listed] == [key_id] and "key" not in listed[0] and key.startswith(listed[0]["prefix"])

        client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=key, max_retries=0, timeout=30)
        models = [model.id for model in client.models.list()]
        # Readable ids (the name made safe and the start of the agent's id), as model pickers show them.
        readable = f"{agent}-{agent_id.replace('-', '')[:8]}"
        assert readable in models and not any(strangers_agent[:8] in m for m in models), models
        # The agent's id, which model ids were before, still names it.
        by_uuid = client.chat.completions.create(model=agent_id, messages=[{"role": "user", "content": "by id"}])
        assert by_uuid.choices[0].message.content.endswith("you said: by id"), by_uuid

        conversation = [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "What did I say?"},
        ]
        # B is a guest: a system turn is the owner's to give, so B's reaches the agent as B's own.
        expected = "3 earlier turns, the first by user; you said: What did I say?"
        pieces = []
        finish = None
        for chunk in client.chat.completions.create(model=readable, messages=conversation, stream=True):
            assert chunk.object == "chat.completion.chunk" and chunk.model == readable
            pieces.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
        assert "".join(pieces) == expected and len([p for p in pieces if p]) > 2, pieces
        assert finish == "stop"

        plain = client.chat.completions.create(model=readable, messages=[{"role": "user", "content": "once"}])
        assert plain.choices[0].message.role == "assistant"
        assert plain.choices[0].message.content == "0 earlier turns, the first by nobody; you said: once"
        # One after another, completions reuse one open session (no new session per request); each
        # message still carries its own conversation, so nothing of the earlier one leaks in.
        sessions = [s for s in api(gateway_url, guest, "GET", "/v1/sessions").json() if s["agent_id"] == agent_id]
        assert len(sessions) == 1 and "closed_at" not in sessions[0], sessions

        # Not a model of B's: the stranger's agent and a made-up one.
        for model in (strangers_agent, "no-such-agent"):
            with pytest.raises(openai.NotFoundError) as missing:
                client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
            assert missing.value.body["code"] == "model_not_found", missing.value.body
        with pytest.raises(openai.BadRequestError):
            client.chat.completions.create(model=agent_id, messages=[])

        # A key opens the OpenAI-compatible routes only.
        assert api(gateway_url, key, "GET", "/v1/me").status_code == 401
        assert api(gateway_url, key, "POST", "/v1/api-keys", {"name": "more"}).status_code == 401

        # The host goes away: a completion waits COMPLETION_HOST_WAIT (3 s here), then 503.
        owner.stop()
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as offline:
            client.chat.completions.create(model=agent_id, messages=[{"role": "user", "content": "anyone?"}])
        assert offline.value.status_code == 503 and offline.value.body["code"] == "host_offline", offline.value.body
        assert 2.5 < time.monotonic() - started < 15

        # A revoked key fails at once.
        assert api(gateway_url, guest, "DELETE", f"/v1/api-keys/{key_id}").status_code == 204
        with pytest.raises(openai.AuthenticationError):
            client.models.list()

        # A revoked share: the model is gone and using it is not found.
        second = api(gateway_url, guest, "POST", "/v1/api-keys", {"name": "second", "expires_in": 3600}).json()["key"]
        client = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=second, max_retries=0, timeout=30)
        assert readable in [model.id for model in client.models.list()]
        owner.revoke(share_id)
        assert readable not in [model.id for model in client.models.list()]
        for model in (agent_id, readable):
            with pytest.raises(openai.NotFoundError):
                client.chat.completions.create(model=model, messages=[{"role": "user", "content": "still there?"}])

        # The owner's keys from gatewayctl: made, listed, used, revoked.
        made = json.loads(owner.run("api-key", "create", "from the cli", "--expires-in-days", "7", "--json"))
        assert made["key"].startswith("gwk_") and made["api_key"]["expires_at"]
        assert made["api_key"]["id"] in owner.run("api-key", "list")
        own = openai.OpenAI(base_url=f"{gateway_url}/v1", api_key=made["key"], max_retries=0, timeout=30)
        assert readable in [model.id for model in own.models.list()], "the owner's own agent is a model too"
        owner.run("api-key", "revoke", made["api_key"]["id"])
        with pytest.raises(openai.AuthenticationError):
            own.models.list()
    finally:
        owner.stop()
