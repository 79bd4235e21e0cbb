#!/usr/bin/env python3
"""Bounded flood checks against a gateway binary, on loopback only.

Usage: python3 scripts/flood-check.py [gateway-binary]   (default .build/debug/gateway)

Needs redis-server and a Postgres server on loopback that accepts user postgres without a
password (FLOOD_PG_PORT, default 5432; scripts/test.sh starts one on a free port). Starts its
own redis-server on a free port, creates a fresh database (dropped at the end), starts the
gateway on 127.0.0.1 and runs
each case with at most 2,000 requests or sockets and at most 60 s. Every process the
script starts is stopped by its PID in a finally block.

Per-IP budgets are keyed by the peer address, so each case connects from its own
loopback source address (127.0.0.2, 127.0.0.3, ...) so that one case's budget does not
spill into the next. Everything stays on 127.0.0.0/8.
"""

import base64
import collections
import concurrent.futures
import hashlib
import http.client
import json
import os
import re
import secrets
import signal
import socket
import string
import subprocess
import sys
import time
import urllib.parse

PG = dict(host="127.0.0.1", port=os.environ.get("FLOOD_PG_PORT", "5432"), user="postgres")
JWT_KEY = "tK8vQ2mX9pL4zR7wY1bB6nC5dF0gH3jS_eUiOoPqZxV"
REDIRECT = "http://127.0.0.1:4321/cb"
MAX_REQUESTS = 2000
CASE_SECONDS = 60
SOCK_TIMEOUT = 10

GW_HOST = "127.0.0.1"
GW_PORT = None
REDIS_PORT = None
GW_PID = None
SUMMARY = []


# ---------------------------------------------------------------- helpers

def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        return float("nan")
    return float("nan")


def redis_mb():
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(REDIS_PORT), "INFO", "memory"],
                         capture_output=True, text=True, timeout=10).stdout
    m = re.search(r"^used_memory:(\d+)", out, re.M)
    return int(m.group(1)) / (1024.0 * 1024.0) if m else float("nan")


def redis_keys():
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(REDIS_PORT), "DBSIZE"],
                         capture_output=True, text=True, timeout=10).stdout.strip()
    return out


def snapshot():
    return {"redis": redis_mb(), "rss": rss_mb(GW_PID), "keys": redis_keys()}


def fmt_counts(c):
    def key(k):
        return (0, k, "") if isinstance(k, int) else (1, 0, str(k))
    return "{" + ", ".join(f"{k!r}: {c[k]}" for k in sorted(c, key=key)) + "}"


def report(name, before, after, counts, extra=""):
    print(f"  Redis used_memory: {before['redis']:.2f} MB -> {after['redis']:.2f} MB"
          f"  (keys {before['keys']} -> {after['keys']})")
    print(f"  gateway VmRSS:     {before['rss']:.1f} MB -> {after['rss']:.1f} MB")
    print(f"  statuses: {fmt_counts(counts)}")
    if extra:
        print(f"  {extra}")
    SUMMARY.append((name, before, after, counts, extra))
    sys.stdout.flush()


def conn(src_ip, timeout=SOCK_TIMEOUT):
    return http.client.HTTPConnection(GW_HOST, GW_PORT, timeout=timeout, source_address=(src_ip, 0))


def request(src_ip, method, path, body=None, headers=None, timeout=SOCK_TIMEOUT):
    """One request on a fresh connection. Returns (status or error string, headers dict, body bytes)."""
    c = conn(src_ip, timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data, r.msg
    except Exception as e:  # noqa: BLE001 - reported, never hidden
        return f"error:{type(e).__name__}", {}, str(e).encode(), None
    finally:
        c.close()


def flood(src_ip, n, make_request, workers=4, deadline=CASE_SECONDS):
    """Runs up to n requests (make_request(i) -> (method, path, body, headers)) with a few
    threads, for at most `deadline` seconds. Returns (Counter of statuses, sample bodies by status)."""
    counts = collections.Counter()
    samples = {}
    stop_at = time.monotonic() + deadline

    def one(i):
        if time.monotonic() > stop_at:
            return "skipped(deadline)", b""
        method, path, body, headers = make_request(i)
        status, _, data, _ = request(src_ip, method, path, body, headers)
        return status, data

    with concurrent.futures.ThreadPoolExecutor(workers) as pool:
        for status, data in pool.map(one, range(n)):
            counts[status] += 1
            samples.setdefault(status, data[:300])
    return counts, samples


def hidden(html, name):
    m = re.search(r'name="%s" value="([^"]*)"' % re.escape(name), html)
    return m.group(1) if m else None


def cookies_from(msg):
    jar = {}
    if msg is None:
        return jar
    for v in msg.get_all("Set-Cookie") or []:
        first = v.split(";", 1)[0]
        if "=" in first:
            k, val = first.split("=", 1)
            jar[k.strip()] = val.strip()
    return jar


def cookie_header(jar):
    return "; ".join(f"{k}={v}" for k, v in jar.items())


def form(d):
    return urllib.parse.urlencode(d)


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def problem_limit(data):
    try:
        return json.loads(data).get("limit")
    except Exception:  # noqa: BLE001
        return None


# ---------------------------------------------------------------- cases

def authorize_query(state, challenge="E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"):
    return "/oauth/authorize?" + urllib.parse.urlencode({
        "client_id": "desktop", "redirect_uri": REDIRECT, "response_type": "code",
        "code_challenge_method": "S256", "code_challenge": challenge, "scope": "gateway", "state": state})


def case_authorize(name, src, state):
    print(f"\n== {name}")
    path = authorize_query(state)
    print(f"  request-target length: {len(path)} bytes, source {src}")
    before = snapshot()
    t0 = time.monotonic()
    counts, samples = flood(src, MAX_REQUESTS, lambda i: ("GET", path, None, {"Host": "localhost"}))
    dt = time.monotonic() - t0
    after = snapshot()
    extra = f"{sum(counts.values())} requests in {dt:.1f} s"
    for k, v in samples.items():
        if not isinstance(k, int) or k >= 500:
            extra += f"\n  sample {k}: {v[:200]!r}"
    report(name, before, after, counts, extra)


def case_device_authorization(src):
    name = "2 POST /oauth/device_authorization x2000"
    print(f"\n== {name}")
    body = form({"client_id": "gatewayctl"})
    before = snapshot()
    t0 = time.monotonic()
    counts, samples = flood(src, MAX_REQUESTS, lambda i: ("POST", "/oauth/device_authorization", body, FORM))
    dt = time.monotonic() - t0
    after = snapshot()
    extra = f"{sum(counts.values())} requests in {dt:.1f} s"
    for k, v in samples.items():
        if isinstance(k, int) and k >= 400:
            extra += f"\n  sample {k}: {v[:200]!r}"
        if not isinstance(k, int):
            extra += f"\n  sample {k}: {v[:200]!r}"
    report(name, before, after, counts, extra)


def case_device_guessing(src):
    name = "3 POST /device user-code guessing x200"
    print(f"\n== {name}")
    status, _, data, msg = request(src, "GET", "/device")
    jar = cookies_from(msg)
    csrf = hidden(data.decode(errors="replace"), "csrf")
    print(f"  GET /device -> {status}, cookies {sorted(jar)}, csrf {'found' if csrf else 'MISSING'}")
    letters = "BCDFGHJKLMNPQRSTVWXZ"

    def make(i):
        code = "".join(secrets.choice(letters) for _ in range(4)) + "-" + "".join(secrets.choice(letters) for _ in range(4))
        headers = dict(FORM, Cookie=cookie_header(jar))
        return "POST", "/device", form({"csrf": csrf or "", "user_code": code, "action": "lookup"}), headers

    before = snapshot()
    counts = collections.Counter()
    order = []
    for i in range(200):  # sequential, so the order of statuses is meaningful
        m, p, b, h = make(i)
        st, _, _, _ = request(src, m, p, b, h)
        counts[st] += 1
        if not order or order[-1][0] != st:
            order.append([st, 0])
        order[-1][1] += 1
    after = snapshot()
    report(name, before, after, counts, "sequence: " + ", ".join(f"{n} x {s}" for s, n in order))


def case_slow_headers(src, n=500):
    name = f"4 slow headers x{n} (one header line / 10 s)"
    print(f"\n== {name}")
    before = snapshot()
    socks = []
    connect_errors = collections.Counter()
    for _ in range(n):
        s = socket.socket()
        s.settimeout(SOCK_TIMEOUT)
        try:
            s.bind((src, 0))
            s.connect((GW_HOST, GW_PORT))
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)
            socks.append(s)
        except OSError as e:
            connect_errors[type(e).__name__] += 1
            s.close()
    opened = len(socks)
    mid = snapshot()
    print(f"  opened {opened} sockets (connect errors {dict(connect_errors)}); RSS with all open {mid['rss']:.1f} MB")
    alive = {s: True for s in socks}
    got_data = collections.Counter()
    closed_at = []
    t0 = time.monotonic()
    checkpoints = [10, 20, 30, 40, 50, 60]
    open_at = {}
    next_send = 10

    def poll():
        now = time.monotonic() - t0
        for s in socks:
            if not alive[s]:
                continue
            try:
                d = s.recv(65536)
                if d == b"":
                    alive[s] = False
                    closed_at.append(now)
                else:
                    got_data[d.split(b"\r\n", 1)[0].decode(errors="replace")] += 1
            except BlockingIOError:
                pass
            except OSError:
                alive[s] = False
                closed_at.append(now)

    while True:
        now = time.monotonic() - t0
        poll()
        if checkpoints and now >= checkpoints[0]:
            open_at[checkpoints.pop(0)] = sum(alive.values())
            print(f"    t={int(now):>2}s open={sum(alive.values())}")
            sys.stdout.flush()
        if now >= next_send and now < CASE_SECONDS:
            for s in socks:
                if alive[s]:
                    try:
                        s.send(b"X-a: b\r\n")
                    except (BlockingIOError, InterruptedError):
                        pass
                    except OSError:
                        alive[s] = False
                        closed_at.append(now)
            next_send += 10
        if not checkpoints or not any(alive.values()) and now > 41:
            if checkpoints:
                for c in checkpoints:
                    open_at[c] = 0
                    print(f"    t={c:>2}s open=0 (all closed already)")
            break
        time.sleep(0.5)
    for s in socks:
        s.close()
    time.sleep(1)
    after = snapshot()
    counts = collections.Counter({"closed-by-server": len(closed_at), "still-open-at-end": opened - len(closed_at)})
    extra = "open at " + ", ".join(f"{k}s={v}" for k, v in sorted(open_at.items()))
    if closed_at:
        extra += f"; server closes between t={min(closed_at):.1f}s and t={max(closed_at):.1f}s"
    if got_data:
        extra += f"; data received before close: {dict(got_data)}"
    report(name, before, after, counts, extra)


# ------------------------------------------------- signed-in helpers

def sign_in(src, display_name):
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    status, _, data, msg = request(src, "GET", authorize_query("x", challenge))
    if status != 200:
        raise RuntimeError(f"GET /oauth/authorize -> {status}: {data[:300]!r}")
    jar = cookies_from(msg)
    html = data.decode(errors="replace")
    req, csrf = hidden(html, "request"), hidden(html, "csrf")
    body = form({"request": req, "csrf": csrf, "display_name": display_name, "action": "allow"})
    status, headers, data, _ = request(src, "POST", "/oauth/authorize", body, dict(FORM, Cookie=cookie_header(jar)))
    if status != 302:
        raise RuntimeError(f"POST /oauth/authorize -> {status}: {data[:300]!r}")
    q = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)
    code = q["code"][0]
    body = form({"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT, "client_id": "desktop",
                 "code_verifier": verifier})
    status, _, data, _ = request(src, "POST", "/oauth/token", body, FORM)
    if status != 200:
        raise RuntimeError(f"POST /oauth/token -> {status}: {data[:300]!r}")
    return json.loads(data)["access_token"]


def api(src, token, method, path, obj=None, expect=None):
    headers = {"Authorization": f"Bearer {token}"}
    body = None
    if obj is not None:
        body = json.dumps(obj)
        headers["Content-Type"] = "application/json"
    status, _, data, _ = request(src, method, path, body, headers)
    if expect and status not in expect:
        raise RuntimeError(f"{method} {path} -> {status}: {data[:300]!r}")
    try:
        return status, json.loads(data) if data else None
    except ValueError:
        return status, data


def case_replies(src, tok_a, session):
    name = "5a reply deltas 300 x 256 KB"
    print(f"\n== {name}")
    body = json.dumps({"kind": "delta", "text": "x" * 262144})
    headers = {"Authorization": f"Bearer {tok_a}", "Content-Type": "application/json"}
    path = f"/v1/devices/flood-dev/sessions/{session}/replies"
    before = snapshot()
    counts = collections.Counter()
    limits = collections.Counter()
    samples = {}
    order = []
    t0 = time.monotonic()
    for i in range(300):
        if time.monotonic() - t0 > CASE_SECONDS:
            counts["skipped(deadline)"] += 300 - i
            break
        st, _, data, _ = request(src, "POST", path, body, headers, timeout=30)
        counts[st] += 1
        samples.setdefault(st, data[:300])
        if st == 429:
            limits[problem_limit(data)] += 1
        if not order or order[-1][0] != st:
            order.append([st, 0])
        order[-1][1] += 1
    dt = time.monotonic() - t0
    after = snapshot()
    extra = f"{sum(counts.values())} requests in {dt:.1f} s; sequence: " + ", ".join(f"{n} x {s}" for s, n in order)
    extra += f"\n  429 problem 'limit' values: {dict(limits)}"
    for k, v in samples.items():
        if not isinstance(k, int) or k >= 500 or k in (400, 413):
            extra += f"\n  sample {k}: {v!r}"
    report(name, before, after, counts, extra)


def case_sessions(src, tok_b, agent):
    name = "5b POST /v1/sessions x200 (user B)"
    print(f"\n== {name}")
    before = snapshot()
    counts = collections.Counter()
    limits = collections.Counter()
    order = []
    samples = {}
    for _ in range(200):
        st, data = api(src, tok_b, "POST", "/v1/sessions", {"agent_id": agent})
        counts[st] += 1
        if st == 429 and isinstance(data, dict):
            limits[data.get("limit")] += 1
        samples.setdefault(st, data)
        if not order or order[-1][0] != st:
            order.append([st, 0])
        order[-1][1] += 1
    after = snapshot()
    extra = "sequence: " + ", ".join(f"{n} x {s}" for s, n in order) + f"\n  429 problem 'limit' values: {dict(limits)}"
    for k, v in samples.items():
        if not isinstance(k, int) or k >= 500:
            extra += f"\n  sample {k}: {v!r}"
    report(name, before, after, counts, extra)


def case_streams(src, token, n=2000):
    name = f"5c GET /v1/events x{n} concurrent streams (one user)"
    print(f"\n== {name}")
    before = snapshot()
    req = (f"GET /v1/events HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n"
           f"Accept: text/event-stream\r\n\r\n").encode()
    t0 = time.monotonic()

    def open_one(_):
        if time.monotonic() - t0 > CASE_SECONDS:
            return None, "skipped(deadline)", b""
        s = socket.socket()
        s.settimeout(SOCK_TIMEOUT)
        try:
            s.bind((src, 0))
            s.connect((GW_HOST, GW_PORT))
            s.sendall(req)
            buf = b""
            while b"\r\n" not in buf:
                d = s.recv(4096)
                if not d:
                    break
                buf += d
            line = buf.split(b"\r\n", 1)[0].decode(errors="replace")
            parts = line.split(" ")
            status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else f"bad-status-line:{line[:40]!r}"
            return s, status, buf
        except OSError as e:
            s.close()
            return None, f"error:{type(e).__name__}", b""

    socks = []
    counts = collections.Counter()
    samples = {}
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        for s, st, buf in pool.map(open_one, range(n)):
            counts[st] += 1
            samples.setdefault(st, buf)
            if s is not None:
                socks.append(s)
    dt = time.monotonic() - t0
    time.sleep(1)
    mid = snapshot()
    # Which of the sockets does the server still hold open?
    still_open = 0
    for s in socks:
        s.setblocking(False)
        try:
            while True:
                d = s.recv(65536)
                if d == b"":
                    break
        except BlockingIOError:
            still_open += 1
        except OSError:
            pass
    print(f"  {n} attempts in {dt:.1f} s; with all held: RSS {mid['rss']:.1f} MB, Redis {mid['redis']:.2f} MB, "
          f"server-side still open {still_open}")
    for s in socks:
        s.close()
    time.sleep(3)
    after = snapshot()
    extra = f"while held: RSS {mid['rss']:.1f} MB, Redis {mid['redis']:.2f} MB, still open {still_open}; after close (3 s): see above"
    for k, v in samples.items():
        if k != 200:
            body = v.split(b"\r\n\r\n", 1)[-1]
            extra += f"\n  sample {k} body: {body[:250]!r}"
    report(name, before, after, counts, extra)


# ---------------------------------------------------------------- main

def main():
    global GW_PORT, REDIS_PORT, GW_PID
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "gateway")
    procs = []
    db = "flood_" + secrets.token_hex(4)
    db_created = False
    gw_log = open(f"/tmp/{db}-gateway.log", "wb")
    try:
        REDIS_PORT = free_port()
        redis = subprocess.Popen(["redis-server", "--port", str(REDIS_PORT), "--bind", "127.0.0.1", "--save", "",
                                  "--appendonly", "no", "--daemonize", "no"],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        procs.append(redis)
        for _ in range(50):
            if subprocess.run(["redis-cli", "-p", str(REDIS_PORT), "PING"], capture_output=True, text=True).stdout.strip() == "PONG":
                break
            time.sleep(0.1)
        subprocess.run(["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-qc", f"CREATE DATABASE {db}"],
                       check=True, capture_output=True)
        db_created = True
        GW_PORT = free_port()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORT": str(GW_PORT), "BIND_ADDRESS": "127.0.0.1",
            "PUBLIC_BASE_URL": f"http://localhost:{GW_PORT}", "JWT_SIGNING_KEY": JWT_KEY,
            "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PG['port']}/{db}?sslmode=disable",
            "AUTH_MODE": "demo", "LOG_LEVEL": "warning", "SIGNIN_RATE_LIMIT_PER_MINUTE": "100",
        }
        gw = subprocess.Popen([binary, "serve"], env=env, stdout=gw_log, stderr=subprocess.STDOUT)
        procs.append(gw)
        GW_PID = gw.pid
        ready = False
        for _ in range(600):
            if gw.poll() is not None:
                raise RuntimeError(f"gateway exited with {gw.returncode}; log {gw_log.name}")
            st, _, _, _ = request("127.0.0.1", "GET", "/readyz", timeout=2)
            if st == 200:
                ready = True
                break
            time.sleep(0.2)
        if not ready:
            raise RuntimeError("gateway never became ready")
        print(f"gateway {binary} pid {GW_PID} on 127.0.0.1:{GW_PORT}; redis pid {redis.pid} on :{REDIS_PORT}; db {db}")
        print(f"gateway log: {gw_log.name}")
        sys.stdout.flush()

        state_75k = secrets.token_urlsafe(75 * 1024)[: 75 * 1024]
        case_authorize("1a GET /oauth/authorize x2000, 75 KB state", "127.0.0.2", state_75k)
        case_authorize("1b GET /oauth/authorize x2000, short state", "127.0.0.3", "short-state")
        case_device_authorization("127.0.0.4")
        case_device_guessing("127.0.0.5")
        case_slow_headers("127.0.0.6")

        src = "127.0.0.7"
        print("\n== 5 setup: signing in A and B, device, agent, share, session")
        tok_a = sign_in(src, "Flood")
        tok_b = sign_in(src, "Flood B")
        api(src, tok_a, "PUT", "/v1/devices/flood-dev", {"name": "d"}, expect=(200, 201))
        _, agent = api(src, tok_a, "PUT", "/v1/devices/flood-dev/agents/echo", {"name": "Echo"}, expect=(200, 201))
        agent_id = agent["id"]
        _, share = api(src, tok_a, "POST", f"/v1/agents/{agent_id}/shares", {}, expect=(200, 201))
        api(src, tok_b, "POST", f"/v1/invites/{share['code']}/accept", expect=(200, 201, 204))
        _, sess = api(src, tok_b, "POST", "/v1/sessions", {"agent_id": agent_id}, expect=(200, 201))
        session_id = sess["id"]
        print(f"  agent {agent_id}, session {session_id}")
        case_replies(src, tok_a, session_id)
        case_sessions(src, tok_b, agent_id)
        case_streams(src, tok_a)

        if gw.poll() is not None:
            print(f"\n!! gateway exited during the run with code {gw.returncode}")
    except Exception:  # noqa: BLE001 - print, clean up, still print the summary
        import traceback
        print("\n!! run aborted:")
        traceback.print_exc(file=sys.stdout)
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
        if db_created:
            subprocess.run(["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-qc", f"DROP DATABASE IF EXISTS {db}"],
                           capture_output=True)
        gw_log.close()

    print("\n== Summary")
    print(f"{'case':<52} {'redis MB before->after':>24} {'RSS MB before->after':>22}  statuses")
    for name, b, a, c, _ in SUMMARY:
        print(f"{name:<52} {b['redis']:>10.2f} -> {a['redis']:<10.2f} {b['rss']:>8.1f} -> {a['rss']:<8.1f}  {fmt_counts(c)}")


if __name__ == "__main__":
    main()
