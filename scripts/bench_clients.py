"""Time to the first reply delta: the web app's path against the OpenAI-compatible API and MCP.

Run it with the Python environment of scripts/python-tests.sh and built binaries:
  GATEWAY_BINARY=.build/debug/gateway GATEWAYCTL_BINARY=.build/debug/gatewayctl \
    .build/python-venv/bin/python scripts/bench_clients.py
Starts `gateway dev` on a free loopback port, signs A in with gatewayctl and hosts the echo
agent (it answers at once), shares it with B, then alternates, BENCH_ROUNDS (40) times each:

- web path: B's session stream is open (as the web app keeps it); B posts a message; the clock
  stops at the first `reply.delta` for it on the stream;
- OpenAI path: B's `openai` client sends a streamed chat completion with an API key; the clock
  stops at the first chunk with content.

Then scripts/bench_mcp_paths.py, in the mcp virtualenv (MCP_PYTHON, default .build/mcp-venv),
alternates the web path, an MCP `tools/call` through the `mcp` SDK and the same call read with
httpx2, all with the SDK's HTTP stack in one process, so they differ only by protocol.

Prints p50 / p90 / mean of each and the ratios. Loopback only; bounded in count and time.
"""

from __future__ import annotations

import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from queue import Queue

import httpx
import openai

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "python"))

from get_token import access_token  # noqa: E402
from test_web_browser import Gatewayctl  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "40"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"p50 {statistics.median(ordered):.2f} ms  p90 {p90:.2f} ms  mean {statistics.fmean(ordered):.2f} ms"


def main() -> None:
    gateway_binary = os.path.abspath(os.environ["GATEWAY_BINARY"])
    gatewayctl_binary = os.path.abspath(os.environ["GATEWAYCTL_BINARY"])
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    work = Path(tempfile.mkdtemp(prefix="bench-clients-"))
    environment = {
        "PATH": os.environ["PATH"], "HOME": str(work), "PORT": str(port), "BIND_ADDRESS": "127.0.0.1", "PUBLIC_BASE_URL": url,
        "LOG_LEVEL": "warning", "SESSION_RATE_LIMIT_PER_MINUTE": "100000", "MESSAGE_RATE_LIMIT_PER_MINUTE": "100000",
        "SIGNIN_RATE_LIMIT_PER_MINUTE": "1000", "TOKEN_RATE_LIMIT_PER_MINUTE": "1000", "AUTHORIZE_RATE_LIMIT_PER_MINUTE": "1000",
    }
    gateway = subprocess.Popen([gateway_binary, "dev"], env=environment, cwd=work, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    owner = Gatewayctl(url, gatewayctl_binary, str(work / "owner"))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        owner.login("Ada")
        # The built-in echo agent answers at once, so what is timed is the gateway's path.
        owner.host("echo")
        _, invite_url = owner.share("echo")
        token = access_token(url, "Bea")
        headers = {"Authorization": f"Bearer {token}"}
        agent_id = httpx.post(f"{url}/v1/invites/{invite_url.rsplit('/', 1)[-1]}/accept", headers=headers).json()["agent"]["id"]
        key = httpx.post(f"{url}/v1/api-keys", headers=headers, json={"name": "bench"}).json()["key"]
        client = openai.OpenAI(base_url=f"{url}/v1", api_key=key, max_retries=0, timeout=30)

        session = httpx.post(f"{url}/v1/sessions", headers=headers, json={"agent_id": agent_id}).json()
        first_delta: dict[str, Queue[float]] = {}
        stop = threading.Event()

        def read_stream() -> None:
            with httpx.stream(
                "GET", f"{url}/v1/sessions/{session['id']}/events", headers={**headers, "Last-Event-ID": session["stream_position"]},
                timeout=None,
            ) as response:
                event = None
                for line in response.iter_lines():
                    if stop.is_set():
                        return
                    if line.startswith("event: "):
                        event = line[7:]
                    elif line.startswith("data: ") and event == "reply.delta":
                        data = json.loads(line[6:])
                        waiting = first_delta.get(data["reply_to"])
                        if waiting is not None and waiting.empty():
                            waiting.put(time.perf_counter())

        threading.Thread(target=read_stream, daemon=True).start()
        time.sleep(0.5)

        # Both paths keep their connections open, as a browser and the SDK do.
        poster = httpx.Client(headers=headers, timeout=30)
        web: list[float] = []
        completions: list[float] = []
        raw: list[float] = []
        for round_number in range(ROUNDS):
            # The web app's path: post, then the first delta on the already open stream.
            text = f"web {round_number} {uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            posted = poster.post(
                f"{url}/v1/sessions/{session['id']}/messages", headers={"Idempotency-Key": uuid.uuid4().hex}, json={"text": text}
            ).json()
            waiting = first_delta.setdefault(posted["message"]["id"], Queue())
            web.append((waiting.get(timeout=30) - started) * 1000)
            # The OpenAI-compatible path: a streamed completion, up to its first content chunk.
            started = time.perf_counter()
            stream = client.chat.completions.create(
                model=agent_id, stream=True, messages=[{"role": "user", "content": f"api {round_number}"}]
            )
            for chunk in stream:
                if chunk.choices[0].delta.content:
                    completions.append((time.perf_counter() - started) * 1000)
                    break
            stream.close()
            # The same request without the SDK: httpx reading the event stream, as the web path does.
            started = time.perf_counter()
            with poster.stream(
                "POST", f"{url}/v1/chat/completions", headers={"Authorization": f"Bearer {key}"},
                json={"model": agent_id, "stream": True, "messages": [{"role": "user", "content": f"raw {round_number}"}]},
            ) as response:
                for line in response.iter_lines():
                    if line.startswith("data: {") and '"content":"' in line and '"content":""' not in line:
                        raw.append((time.perf_counter() - started) * 1000)
                        break
        stop.set()
        print(f"first reply delta, {ROUNDS} rounds each, alternating, one gateway (`gateway dev`), agent answers at once")
        print(f"  web app path (open session stream, POST message):  {summary(web)}")
        print(f"  OpenAI-compatible path (streamed completion):      {summary(completions)}")
        print(f"  the same request read with httpx (no SDK):          {summary(raw)}")
        print(f"  ratio OpenAI / web (p50): SDK {statistics.median(completions) / statistics.median(web):.2f}, "
              f"httpx {statistics.median(raw) / statistics.median(web):.2f}")

        mcp_python = os.environ.get("MCP_PYTHON", str(REPO / ".build" / "mcp-venv" / "bin" / "python"))
        measured = subprocess.run(
            [mcp_python, str(REPO / "scripts" / "bench_mcp_paths.py"), url, token, key, str(ROUNDS)],
            capture_output=True, text=True, timeout=300, check=True,
        )
        mcp = json.loads(measured.stdout)
        print(f"first reply delta with the mcp SDK's HTTP stack (httpx2), {ROUNDS} rounds each, alternating")
        print(f"  web app path (open session stream, POST message):  {summary(mcp['web'])}")
        print(f"  MCP tools/call through the mcp SDK (progress):     {summary(mcp['mcp_sdk'])}")
        print(f"  the same tools/call read with httpx2:               {summary(mcp['mcp_httpx'])}")
        print(f"  ratio MCP / web (p50): SDK {statistics.median(mcp['mcp_sdk']) / statistics.median(mcp['web']):.2f}, "
              f"httpx2 {statistics.median(mcp['mcp_httpx']) / statistics.median(mcp['web']):.2f}")
    finally:
        owner.stop()
        gateway.terminate()
        gateway.wait(timeout=15)


if __name__ == "__main__":
    main()
