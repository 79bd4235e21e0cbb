"""User A of the browser test driven through the HTTP API instead of gatewayctl.

A development aid (WEB_TEST_OWNER=api) from before gatewayctl had its login/host/share/revoke
commands; the browser test uses gatewayctl. Same interface as test_web_browser.Gatewayctl:
the device stream is read in a thread and every guest message is answered like an echo agent,
in three deltas and a final `done`.
"""

from __future__ import annotations

import json
import threading
import time
import uuid

import httpx

from get_token import access_token


class OwnerViaAPI:
    def __init__(self, gateway_url: str) -> None:
        self.gateway_url = gateway_url
        self.http: httpx.Client | None = None
        self.device_id = f"web-test-{uuid.uuid4().hex[:8]}"
        self.agent_ids: dict[str, str] = {}
        self.stopped = threading.Event()
        self.connected = threading.Event()

    def login(self, display_name: str) -> None:
        token = access_token(self.gateway_url, display_name)
        self.http = httpx.Client(base_url=self.gateway_url, headers={"Authorization": f"Bearer {token}"}, timeout=10)

    def host(self, agent: str) -> None:
        assert self.http is not None
        self.http.put(f"/v1/devices/{self.device_id}", json={"name": "Test desktop", "platform": "linux"}).raise_for_status()
        response = self.http.put(f"/v1/devices/{self.device_id}/agents/{agent}", json={"name": agent, "description": "Echoes."})
        response.raise_for_status()
        self.agent_ids[agent] = response.json()["id"]
        threading.Thread(target=self.serve, daemon=True).start()
        assert self.connected.wait(10), "the device stream did not open"

    def serve(self) -> None:
        assert self.http is not None
        with self.http.stream("GET", f"/v1/devices/{self.device_id}/events", timeout=httpx.Timeout(10, read=None)) as stream:
            event, data = "", []
            for line in stream.iter_lines():
                if self.stopped.is_set():
                    return
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].lstrip())
                elif line == "":
                    if event == "stream.open":
                        self.connected.set()
                    elif event == "message.created":
                        self.answer(json.loads("\n".join(data)))
                    event, data = "", []

    def answer(self, payload: dict) -> None:
        assert self.http is not None
        message = payload["message"]
        reply = f"echo: {message['text']}"
        path = f"/v1/devices/{self.device_id}/sessions/{payload['session_id']}/replies"
        third = max(1, len(reply) // 3)
        for index, start in enumerate(range(0, len(reply), third)):
            self.http.post(path, json={"kind": "delta", "reply_to": message["id"], "index": index, "text": reply[start : start + third]})
            time.sleep(0.15)
        self.http.post(path, json={"kind": "done", "reply_to": message["id"], "text": reply})

    def share(self, agent: str) -> tuple[str, str]:
        assert self.http is not None
        response = self.http.post(f"/v1/agents/{self.agent_ids[agent]}/shares", json={})
        response.raise_for_status()
        created = response.json()
        return created["share"]["id"], created["invite_url"]

    def revoke(self, share_id: str) -> None:
        assert self.http is not None
        self.http.delete(f"/v1/shares/{share_id}").raise_for_status()

    def stop(self) -> None:
        self.stopped.set()
        if self.http is not None:
            self.http.close()
