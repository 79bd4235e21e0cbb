"""Prepares a schemathesis run against the gateway at GATEWAY_URL (scripts/python-tests.sh).

Usage: python tests/python/schemathesis_seed.py CONFIG_PATH

Signs in three demo users through the authorization-code + PKCE flow (get_token.py), creates
real data through the /v1 API so fuzzing reaches past 404s, and writes a schemathesis.toml to
CONFIG_PATH that feeds the ids of that data to the generated requests (as dictionaries used with
some probability, so fully generated values are still tried too), plus a few inputs known to
break servers. Prints the fuzzing user's access token on stdout; errors go to stderr.

The fuzzing user ("host") owns a device with an agent, a share of it, a session with it holding
a message and a reply, and is the guest of another user's agent (an accepted invite, a session);
its personal API key is the credential of the /mcp operations.
The operations that destroy data run as a third user ("janitor") on its own throw-away data, so
they cannot take away what the other operations are fuzzing.
"""

from __future__ import annotations

import json
import os
import sys
import uuid

import httpx

from conftest import HTTP_TIMEOUT
from get_token import access_token, fail


class API:
    def __init__(self, gateway_url: str, token: str) -> None:
        self.http = httpx.Client(
            base_url=gateway_url, timeout=HTTP_TIMEOUT, headers={"Authorization": f"Bearer {token}"}
        )

    def call(self, method: str, path: str, expected: set[int], body: dict | None = None) -> dict:
        response = self.http.request(method, path, json=body)
        if response.status_code not in expected:
            fail(f"seeding: {method} {path} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else {}


def toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string for these ids


def toml_array(values: list[str]) -> str:
    return "[" + ", ".join(toml_string(value) for value in values) + "]"


def main() -> None:
    if len(sys.argv) != 2:
        fail("usage: schemathesis_seed.py CONFIG_PATH")
    config_path = sys.argv[1]
    gateway_url = os.environ.get("GATEWAY_URL", "").strip().rstrip("/")
    if not gateway_url:
        fail("GATEWAY_URL is not set")

    host_token = access_token(gateway_url, "schemathesis host")
    other_token = access_token(gateway_url, "schemathesis other")
    janitor_token = access_token(gateway_url, "schemathesis janitor")
    host = API(gateway_url, host_token)
    other = API(gateway_url, other_token)
    janitor = API(gateway_url, janitor_token)
    # Device ids are global; a suffix keeps runs against the same database apart.
    run = uuid.uuid4().hex[:8]
    device, other_device = f"st-device-{run}", f"st-other-{run}"
    janitor_device, doomed_device = f"st-janitor-{run}", f"st-doomed-{run}"

    # The host's own device, agent, share and session (with a message and its reply).
    host.call("PUT", f"/v1/devices/{device}", {201}, {"name": "Schemathesis host", "platform": "linux"})
    agent = host.call("PUT", f"/v1/devices/{device}/agents/st-agent", {201}, {"name": "Echo", "capabilities": ["chat"]})
    own_share = host.call("POST", f"/v1/agents/{agent['id']}/shares", {201}, {"label": "fuzzed", "max_uses": 100})
    session = host.call("POST", "/v1/sessions", {201}, {"agent_id": agent["id"]})
    posted = host.call("POST", f"/v1/sessions/{session['id']}/messages", {201}, {"text": "hello"})
    host.call(
        "POST",
        f"/v1/devices/{device}/sessions/{session['id']}/replies",
        {202},
        {"kind": "done", "reply_to": posted["message"]["id"], "text": "hello back"},
    )

    # Another user's agent, shared with the host (and with the janitor, who gives it up).
    other.call("PUT", f"/v1/devices/{other_device}", {201}, {"name": "Other host"})
    other_agent = other.call("PUT", f"/v1/devices/{other_device}/agents/st-other-agent", {201}, {"name": "Guest agent"})
    guest_share = other.call("POST", f"/v1/agents/{other_agent['id']}/shares", {201}, {})
    host.call("POST", f"/v1/invites/{guest_share['code']}/accept", {201})
    guest_session = host.call("POST", "/v1/sessions", {201}, {"agent_id": other_agent["id"]})
    host.call("POST", f"/v1/sessions/{guest_session['id']}/messages", {201}, {"text": "hi, guest here"})

    # The janitor runs the operations that delete, close, revoke or leave, on its own data: as
    # schemathesis also feeds ids it saw in responses into later requests, those operations would
    # otherwise take away what the rest is fuzzing. The host's ids are simply not found for it.
    janitor.call("PUT", f"/v1/devices/{janitor_device}", {201}, {"name": "Janitor"})
    janitor_agent = janitor.call("PUT", f"/v1/devices/{janitor_device}/agents/st-janitor-agent", {201}, {"name": "Kept"})
    janitor.call("PUT", f"/v1/devices/{janitor_device}/agents/st-unpublish", {201}, {"name": "To unpublish"})
    janitor.call("PUT", f"/v1/devices/{doomed_device}", {201}, {"name": "To delete"})
    janitor.call("PUT", f"/v1/devices/{doomed_device}/agents/st-doomed-agent", {201}, {"name": "Deleted with its device"})
    janitor_session = janitor.call("POST", "/v1/sessions", {201}, {"agent_id": janitor_agent["id"]})
    janitor_share = janitor.call("POST", f"/v1/agents/{janitor_agent['id']}/shares", {201}, {"label": "to revoke"})
    left_share = other.call("POST", f"/v1/agents/{other_agent['id']}/shares", {201}, {})
    janitor.call("POST", f"/v1/invites/{left_share['code']}/accept", {201})

    # /mcp takes a personal API key (an API access token is refused there by design).
    mcp_key = host.call("POST", "/v1/api-keys", {201}, {"name": "schemathesis mcp"})["key"]
    mcp_headers = f'headers = {{ Authorization = {toml_string("Bearer " + mcp_key)} }}'

    probability = 0.7
    edge_bindings = "\n".join(
        f'"body.{field}" = {{ dictionary = "edge_strings", probability = 0.2 }}'
        for field in ["name", "platform", "description", "label", "text", "client_message_id", "reply_to"]
    )
    janitor_headers = f'headers = {{ Authorization = {toml_string("Bearer " + janitor_token)} }}'
    config = f"""# Written by tests/python/schemathesis_seed.py for one run; ids of data it created.

[dictionaries.devices]
values = {toml_array([device])}

[dictionaries.agent_keys]
values = {toml_array(["st-agent"])}

[dictionaries.agents]
values = {toml_array([agent["id"], other_agent["id"]])}

[dictionaries.sessions]
values = {toml_array([session["id"], guest_session["id"]])}

[dictionaries.codes]
values = {toml_array([guest_share["code"], own_share["code"]])}

[dictionaries.janitor_devices]
values = {toml_array([janitor_device])}

[dictionaries.doomed_devices]
values = {toml_array([doomed_device])}

[dictionaries.unpublished_agent_keys]
values = {toml_array(["st-unpublish"])}

[dictionaries.janitor_sessions]
values = {toml_array([janitor_session["id"]])}

[dictionaries.revoked_shares]
values = {toml_array([janitor_share["share"]["id"]])}

[dictionaries.left_shares]
values = {toml_array([left_share["share"]["id"]])}

# Strings known to break naive storage (PostgreSQL rejects U+0000 in text), used now and then
# for the text fields the gateway stores, so such a bug is found on every run, not by chance.
[dictionaries.edge_strings]
values = ["\\u0000", "nul\\u0000inside"]

# A form field larger than the 64 KiB the form endpoints accept: must be refused with a 4xx.
[dictionaries.oversized]
values = [{toml_string("x" * 70_000)}]

[parameters]
"path.deviceID" = {{ dictionary = "devices", probability = {probability} }}
"path.agentKey" = {{ dictionary = "agent_keys", probability = {probability} }}
"path.agentID" = {{ dictionary = "agents", probability = {probability} }}
"path.sessionID" = {{ dictionary = "sessions", probability = {probability} }}
"path.code" = {{ dictionary = "codes", probability = {probability} }}
{edge_bindings}
"body.token" = {{ dictionary = "oversized", probability = 0.2 }}

[[operations]]
include-operation-id = "openSession"
parameters = {{ "body.agent_id" = {{ dictionary = "agents", probability = {probability} }} }}

[[operations]]
include-operation-id = "deleteDevice"
{janitor_headers}
parameters = {{ "path.deviceID" = {{ dictionary = "doomed_devices", probability = {probability} }} }}

[[operations]]
include-operation-id = "unpublishAgent"
{janitor_headers}
parameters = {{ "path.deviceID" = {{ dictionary = "janitor_devices", probability = {probability} }}, "path.agentKey" = {{ dictionary = "unpublished_agent_keys", probability = {probability} }} }}

[[operations]]
include-operation-id = "closeSession"
{janitor_headers}
parameters = {{ "path.sessionID" = {{ dictionary = "janitor_sessions", probability = {probability} }} }}

[[operations]]
include-operation-id = "revokeShare"
{janitor_headers}
parameters = {{ "path.shareID" = {{ dictionary = "revoked_shares", probability = {probability} }} }}

[[operations]]
include-operation-id = "mcpMessage"
{mcp_headers}

[[operations]]
include-operation-id = "mcpEndSession"
{mcp_headers}

[[operations]]
include-operation-id = "leaveShare"
{janitor_headers}
parameters = {{ "path.shareID" = {{ dictionary = "left_shares", probability = {probability} }} }}
"""
    # The file holds an access token: readable by its owner only.
    descriptor = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        os.fchmod(file.fileno(), 0o600)
        file.write(config)
    print(host_token)


if __name__ == "__main__":
    main()
