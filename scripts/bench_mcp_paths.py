"""The MCP half of scripts/bench_clients.py, run in the mcp virtualenv (.build/mcp-venv).

Times to the first reply delta, alternating, in one process and with one HTTP stack (httpx2,
which the `mcp` SDK uses), so the paths differ only by protocol:
- web: the session stream is open; POST a message; the first `reply.delta` for it on the stream;
- MCP through the `mcp` SDK: `call_tool` with a progress callback, continuing one conversation;
- MCP with httpx2: the same `tools/call` (progressToken), up to the first progress notification.

Usage: bench_mcp_paths.py URL ACCESS_TOKEN API_KEY ROUNDS; prints one JSON object of samples (ms).
"""

from __future__ import annotations

import json
import sys
import time
import uuid

import anyio
import httpx2
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def main() -> None:
    url, token, key, rounds = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    api = {"Authorization": f"Bearer {token}"}
    mcp_headers = {"Authorization": f"Bearer {key}", "Mcp-Protocol-Version": "2026-07-28", "Accept": "application/json, text/event-stream"}
    samples: dict[str, list[float]] = {"web": [], "mcp_sdk": [], "mcp_httpx": []}
    async with httpx2.AsyncClient(timeout=30) as http, httpx2.AsyncClient(timeout=None) as streaming:
        listed = (await http.post(f"{url}/mcp", headers=mcp_headers, json={"jsonrpc": "2.0", "id": 0, "method": "tools/list", "params": {}})).json()
        tool = listed["result"]["tools"][0]["name"]
        agent_id = (await http.get(f"{url}/v1/agents", headers=api)).json()[0]["id"]
        session = (await http.post(f"{url}/v1/sessions", headers=api, json={"agent_id": agent_id})).json()
        first_delta: dict[str, anyio.Event] = {}
        arrived: dict[str, float] = {}

        async def read_stream() -> None:
            headers = {**api, "Last-Event-ID": session["stream_position"]}
            async with streaming.stream("GET", f"{url}/v1/sessions/{session['id']}/events", headers=headers) as response:
                event = None
                async for line in response.aiter_lines():
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "reply.delta":
                        reply_to = json.loads(line[6:])["reply_to"]
                        if reply_to in first_delta and reply_to not in arrived:
                            arrived[reply_to] = time.perf_counter()
                            first_delta[reply_to].set()

        async with anyio.create_task_group() as tasks:
            tasks.start_soon(read_stream)
            await anyio.sleep(0.5)
            sdk_http = create_mcp_http_client(headers={"Authorization": f"Bearer {key}"})
            async with sdk_http, Client(streamable_http_client(f"{url}/mcp", http_client=sdk_http)) as client:
                warm = await client.call_tool(tool, {"message": "warm up"})
                conversation = warm.structured_content["conversation_id"]
                for round_number in range(rounds):
                    started = time.perf_counter()
                    posted = (await http.post(
                        f"{url}/v1/sessions/{session['id']}/messages", headers={**api, "Idempotency-Key": uuid.uuid4().hex},
                        json={"text": f"web {round_number}"},
                    )).json()
                    message_id = posted["message"]["id"]
                    first_delta.setdefault(message_id, anyio.Event())
                    if message_id not in arrived:
                        await first_delta[message_id].wait()
                    samples["web"].append((arrived[message_id] - started) * 1000)

                    first: list[float] = []

                    async def on_progress(value: float, total: float | None, message: str | None) -> None:
                        if not first:
                            first.append(time.perf_counter())

                    started = time.perf_counter()
                    await client.call_tool(
                        tool, {"message": f"sdk {round_number}", "conversation_id": conversation}, progress_callback=on_progress)
                    samples["mcp_sdk"].append((first[0] - started) * 1000)

                    call = {
                        "jsonrpc": "2.0", "id": round_number + 1, "method": "tools/call",
                        "params": {"name": tool, "arguments": {"message": f"raw {round_number}", "conversation_id": conversation},
                                   "_meta": {"progressToken": round_number + 1}},
                    }
                    started = time.perf_counter()
                    async with http.stream("POST", f"{url}/mcp", headers=mcp_headers, json=call) as response:
                        async for line in response.aiter_lines():
                            if line.startswith("data: ") and "notifications/progress" in line:
                                samples["mcp_httpx"].append((time.perf_counter() - started) * 1000)
                                break
            tasks.cancel_scope.cancel()
    print(json.dumps(samples))


if __name__ == "__main__":
    anyio.run(main)
