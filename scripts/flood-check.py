#!/usr/bin/env python3
"""Bounded flood checks against a gateway binary, on loopback only.

Usage: python3 scripts/flood-check.py [--cases all|base|issue22] [gateway-binary]
       (default: all cases, .build/debug/gateway)

Needs redis-server and a Postgres server on loopback that accepts user postgres without a
password (FLOOD_PG_PORT, default 5432; scripts/test.sh starts one on a free port). Starts its
own redis-server on a free port, creates a fresh database (dropped at the end), starts the
gateway on 127.0.0.1 and runs
each case with at most 2,000 requests or sockets and at most 60 s. Every process the
script starts is stopped by its PID in a finally block.

Per-IP budgets are keyed by the peer address, so each case connects from its own
loopback source address (127.0.0.2, 127.0.0.3, ...) so that one case's budget does not
spill into the next. Everything stays on 127.0.0.0/8.

The issue-22 cases (third-party clients: registrations, metadata documents that drip, one
user's long MCP and OpenAI responses) run on a second gateway, started after the first one is
stopped, on the same Redis and database with ISSUE22_ENV added (loopback metadata documents,
raised authorize/session/message budgets, a 20 s host wait), so that the first cases keep the
default limits. The metadata documents come from a small drip server inside this script.
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
import select
import signal
import socket
import string
import subprocess
import sys
import threading
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
DB = None
REGISTRATIONS_T0 = None
SUMMARY = []

# Added to the second gateway's environment for the issue-22 cases.
ISSUE22_ENV = {
    # Metadata documents from the drip server on 127.0.0.1, over http (development switch).
    "OAUTH_CLIENT_METADATA_ALLOW_LOOPBACK": "true",
    # 200 sign-in starts per drip case from one address: past the default 30 / 600 a minute.
    "AUTHORIZE_RATE_LIMIT_PER_MINUTE": "1000", "AUTHORIZE_GLOBAL_RATE_LIMIT_PER_MINUTE": "2000",
    # Every tool call and completion opens a session and posts a message: the default 30
    # sessions / 120 messages a minute would refuse them before MAX_STREAMS_PER_USER does.
    "SESSION_RATE_LIMIT_PER_MINUTE": "1000", "MESSAGE_RATE_LIMIT_PER_MINUTE": "1000",
    # No host is online: admitted calls wait this long, longer than the measurement. (20 s is
    # also the stream-lease renewal period, so calls end while their first renewal is under way.)
    "COMPLETION_HOST_WAIT": "20s",
}


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


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def snapshot():
    return {"redis": redis_mb(), "rss": rss_mb(GW_PID), "keys": redis_keys(), "fds": fd_count(GW_PID)}


def stream_leases():
    """Live stream leases (MAX_STREAMS_PER_USER) of all users, from Redis."""
    out = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(REDIS_PORT), "--scan", "--pattern", "*lease:streams:user:*"],
                         capture_output=True, text=True, timeout=10).stdout.split()
    now_ms = int(time.time() * 1000)
    total = 0
    for key in out:
        n = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(REDIS_PORT), "ZCOUNT", key, f"({now_ms}", "+inf"],
                           capture_output=True, text=True, timeout=10).stdout.strip()
        total += int(n) if n.isdigit() else 0
    return total


def pg_scalar(sql):
    out = subprocess.run(["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-d", DB, "-tAc", sql],
                         capture_output=True, text=True, timeout=10)
    return out.stdout.strip() if out.returncode == 0 else f"psql-error:{out.stderr.strip()[:80]}"


class Sampler:
    """Samples the gateway's open file descriptors and RSS every 50 ms in a thread; keeps the peaks."""

    def __init__(self):
        self.max_fds, self.max_rss = -1, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            self.max_fds = max(self.max_fds, fd_count(GW_PID))
            self.max_rss = max(self.max_rss, rss_mb(GW_PID))
            self._stop.wait(0.05)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()


def fmt_counts(c):
    def key(k):
        return (0, k, "") if isinstance(k, int) else (1, 0, str(k))
    return "{" + ", ".join(f"{k!r}: {c[k]}" for k in sorted(c, key=key)) + "}"


def report(name, before, after, counts, extra=""):
    print(f"  Redis used_memory: {before['redis']:.2f} MB -> {after['redis']:.2f} MB"
          f"  (keys {before['keys']} -> {after['keys']})")
    print(f"  gateway VmRSS:     {before['rss']:.1f} MB -> {after['rss']:.1f} MB")
    print(f"  gateway open fds:  {before['fds']} -> {after['fds']}")
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


# ------------------------------------------------- issue 22: third-party clients

def raw_answer(buf):
    """(status, headers, body so far) of a raw HTTP/1.1 answer once its head is complete, else None."""
    head, sep, rest = buf.partition(b"\r\n\r\n")
    if not sep:
        return None
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else f"bad-status-line:{lines[0][:40]!r}"
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b":")
        headers[k.strip().lower().decode(errors="replace")] = v.strip().decode(errors="replace")
    return status, headers, rest


def open_raw(src, data):
    """A connected, non-blocking socket from src that has sent `data`, or an error string."""
    s = socket.socket()
    s.settimeout(SOCK_TIMEOUT)
    try:
        s.bind((src, 0))
        s.connect((GW_HOST, GW_PORT))
        s.sendall(data)
        s.setblocking(False)
        return s
    except OSError as e:
        s.close()
        return f"error:{type(e).__name__}"


def collect(entries, until, done):
    """Reads the answers of raw sockets (entries: dicts with "sock") until `until` (monotonic) or
    until done(entry) holds for each; fills entry["buf"], "eof", "answered_at" (when done first held)."""
    waiting = {e["sock"]: e for e in entries if not isinstance(e["sock"], str)}
    for e in entries:
        e.setdefault("buf", b"")
        e.setdefault("eof", False)
        e.setdefault("answered_at", None)
    while waiting and time.monotonic() < until:
        readable, _, _ = select.select(list(waiting), [], [], min(0.2, max(0.0, until - time.monotonic())))
        for s in readable:
            e = waiting[s]
            try:
                d = s.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                d = b""
            if d:
                e["buf"] += d
            else:
                e["eof"] = True
            if done(e) or e["eof"]:
                e["answered_at"] = e["answered_at"] or time.monotonic()
                del waiting[s]


def body_complete(e):
    """Whether a raw answer's head and whole Content-Length body are in."""
    a = raw_answer(e["buf"])
    if a is None:
        return False
    _, headers, rest = a
    n = headers.get("content-length")
    return n is not None and len(rest) >= int(n)


def server_holds(sock):
    """Whether the server still holds a non-blocking socket open (reads and drops what is pending)."""
    try:
        while True:
            if sock.recv(65536) == b"":
                return False
    except BlockingIOError:
        return True
    except OSError:
        return False


def quantiles(values):
    if not values:
        return "n/a"
    v = sorted(values)
    return f"min {v[0]:.2f} s, median {v[len(v) // 2]:.2f} s, max {v[-1]:.2f} s"


def registration_label(status, data):
    if not isinstance(status, int) or status in (200, 201):
        return status
    try:
        return f"{status} {json.loads(data).get('error')}"
    except ValueError:
        return f"{status} (not JSON)"


def case_registration_flood(src):
    global REGISTRATIONS_T0
    name = "6a POST /oauth/register x2000, one address"
    print(f"\n== {name}")
    REGISTRATIONS_T0 = time.monotonic()
    body = json.dumps({"redirect_uris": ["http://127.0.0.1:4000/cb"]})
    headers = {"Content-Type": "application/json"}
    before = snapshot()
    rows_before = pg_scalar("SELECT count(*) FROM oauth_clients")
    counts = collections.Counter()
    retry_after = collections.Counter()
    order = []
    stop_at = time.monotonic() + CASE_SECONDS
    t0 = time.monotonic()

    def one(i):
        if time.monotonic() > stop_at:
            return "skipped(deadline)", {}, b""
        st, h, data, _ = request(src, "POST", "/oauth/register", body, headers)
        return st, h, data

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        for st, h, data in pool.map(one, range(MAX_REQUESTS)):
            label = registration_label(st, data)
            counts[label] += 1
            if st == 429:
                retry_after[h.get("retry-after")] += 1
            if not order or order[-1][0] != label:
                order.append([label, 0])
            order[-1][1] += 1
    dt = time.monotonic() - t0
    after = snapshot()
    rows_after = pg_scalar("SELECT count(*) FROM oauth_clients")
    extra = (f"{sum(counts.values())} requests in {dt:.1f} s; sequence: " + ", ".join(f"{n} x {s}" for s, n in order)
             + f"\n  registrations stored (oauth_clients rows): {rows_before} -> {rows_after}"
             + f"\n  Retry-After on 429: {dict(retry_after)}")
    report(name, before, after, counts, extra)


def case_registration_text(src):
    name = "6b POST /oauth/register x200, text/plain"
    print(f"\n== {name}")
    body = json.dumps({"redirect_uris": ["http://127.0.0.1:4000/cb"]})
    before = snapshot()
    rows_before = pg_scalar("SELECT count(*) FROM oauth_clients")
    counts = collections.Counter()
    samples = {}
    t0 = time.monotonic()
    for _ in range(200):
        if time.monotonic() - t0 > CASE_SECONDS:
            counts["skipped(deadline)"] += 1
            continue
        st, _, data, _ = request(src, "POST", "/oauth/register", body, {"Content-Type": "text/plain"})
        label = registration_label(st, data)
        counts[label] += 1
        samples.setdefault(label, data[:200])
    after = snapshot()
    rows_after = pg_scalar("SELECT count(*) FROM oauth_clients")
    extra = f"registrations stored: {rows_before} -> {rows_after}"
    for k, v in samples.items():
        extra += f"\n  sample {k}: {v!r}"
    report(name, before, after, counts, extra)


def case_registration_spread(srcs, per_source=10):
    name = f"6c POST /oauth/register {per_source} each from {len(srcs)} more addresses"
    print(f"\n== {name}")
    body = json.dumps({"redirect_uris": ["http://127.0.0.1:4000/cb"]})
    before = snapshot()
    rows_before = pg_scalar("SELECT count(*) FROM oauth_clients")
    counts = collections.Counter()
    per_src = []
    for src in srcs:
        c = collections.Counter()
        for _ in range(per_source):
            st, _, data, _ = request(src, "POST", "/oauth/register", body, {"Content-Type": "application/json"})
            c[registration_label(st, data)] += 1
        counts.update(c)
        per_src.append(f"{src} {fmt_counts(c)}")
    after = snapshot()
    rows_after = pg_scalar("SELECT count(*) FROM oauth_clients")
    extra = (f"registrations stored: {rows_before} -> {rows_after}; last answer {time.monotonic() - REGISTRATIONS_T0:.1f} s"
             f" after 6a's first request (budgets are token buckets: 60 a minute overall refill one a second)"
             f"\n  per address: " + "; ".join(per_src))
    report(name, before, after, counts, extra)


class DripServer:
    """A loopback HTTP server for metadata documents that never finish: GET /<name>.json is
    answered 200 with its head and `{`, then one space every `interval` for up to `limit`
    seconds. Counts requests per path, connections open at once, and when the peer closed each."""

    def __init__(self, interval=0.2, limit=30.0):
        self.interval, self.limit = interval, limit
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(512)
        self.listener.settimeout(0.2)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.requests = collections.Counter()
        self.connections = []  # dicts: path, accepted, closed_by_peer, finished
        self.open_now = 0
        self.max_open = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def url(self, name):
        return f"http://127.0.0.1:{self.port}/{name}.json"

    def reset_peak(self):
        with self.lock:
            self.max_open = self.open_now

    def _accept(self):
        while not self.stopping.is_set():
            try:
                c, _ = self.listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        record = {"path": None, "accepted": time.monotonic(), "closed_by_peer": None, "finished": None}
        with self.lock:
            self.connections.append(record)
            self.open_now += 1
            self.max_open = max(self.max_open, self.open_now)
        try:
            c.settimeout(5)
            buf = b""
            while b"\r\n\r\n" not in buf and len(buf) < 16384:
                d = c.recv(4096)
                if not d:
                    record["closed_by_peer"] = time.monotonic()
                    return
                buf += d
            parts = buf.split(b"\r\n", 1)[0].split(b" ")
            record["path"] = parts[1].decode(errors="replace") if len(parts) > 1 else "?"
            with self.lock:
                self.requests[record["path"]] += 1
            c.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{")
            c.setblocking(False)
            start = time.monotonic()
            while not self.stopping.is_set() and time.monotonic() - start < self.limit:
                readable, _, _ = select.select([c], [], [], self.interval)
                if readable:
                    try:
                        d = c.recv(4096)
                    except BlockingIOError:
                        d = b"x"
                    except OSError:
                        d = b""
                    if not d:
                        record["closed_by_peer"] = time.monotonic()
                        return
                    continue
                try:
                    c.send(b" ")
                except BlockingIOError:
                    pass
                except OSError:
                    record["closed_by_peer"] = time.monotonic()
                    return
        except OSError:
            record["closed_by_peer"] = record["closed_by_peer"] or time.monotonic()
        finally:
            record["finished"] = time.monotonic()
            c.close()
            with self.lock:
                self.open_now -= 1

    def stop(self):
        self.stopping.set()
        self.listener.close()
        self.thread.join(2)


def drip_authorize(drip, name):
    query = urllib.parse.urlencode({
        "response_type": "code", "client_id": drip.url(name), "redirect_uri": "http://127.0.0.1:4000/cb",
        "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", "code_challenge_method": "S256", "state": "s"})
    return f"GET /oauth/authorize?{query} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode()


def drip_label(e):
    """What a sign-in with a dripping metadata document was answered."""
    a = raw_answer(e["buf"])
    if a is None:
        return "no answer before leaving" if not e["eof"] else "closed without answer"
    status, _, body = a
    text = body.decode(errors="replace")
    for phrase, short in (("did not arrive within 5 seconds", "did not arrive within 5 s"),
                          ("too many client metadata documents", "too many fetches, try again"),
                          ("Too many attempts", "rate limited")):
        if phrase in text:
            return f"{status} {short}"
    m = re.search(r"<p>(.*?)</p>", text, re.S)
    return f"{status} {m.group(1)[:80] if m else text[:80]!r}"


def case_drip_distinct(src, drip, n=200, linger=1.0):
    name = f"7a GET /oauth/authorize x{n}, {n} dripping metadata URLs, leave after {linger:.0f} s"
    print(f"\n== {name}")
    before = snapshot()
    requests_before = sum(drip.requests.values())
    first_conn = len(drip.connections)
    drip.reset_peak()
    entries = []
    with Sampler() as sampler:
        t0 = time.monotonic()
        for i in range(n):
            if time.monotonic() - t0 > CASE_SECONDS / 2:
                break
            entries.append({"i": i, "sock": open_raw(src, drip_authorize(drip, f"drip-{i}")), "opened": time.monotonic()})
        # Each caller reads what arrives and leaves `linger` seconds after it sent its request.
        pending = collections.deque(e for e in entries if not isinstance(e["sock"], str))
        while pending:
            due = pending[0]["opened"] + linger
            collect([e for e in pending if not e.get("answered_at")], due, body_complete)
            time.sleep(max(0.0, due - time.monotonic()))
            while pending and pending[0]["opened"] + linger <= time.monotonic():
                e = pending.popleft()
                e["sock"].close()
                e["left"] = time.monotonic()
        left = time.monotonic()
        fds_at_leave = fd_count(GW_PID)
        # How long until the drip server sees every fetch closed (cut-off 30 s).
        while time.monotonic() - left < 30:
            with drip.lock:
                if drip.open_now == 0:
                    break
            time.sleep(0.05)
        drained = time.monotonic() - left
        time.sleep(max(0.0, 3 - (time.monotonic() - left)))
        fds_after_3s = fd_count(GW_PID)
    after = snapshot()
    counts = collections.Counter()
    for e in entries:
        counts[e["sock"] if isinstance(e["sock"], str) else drip_label(e)] += 1
    conns = drip.connections[first_conn:]
    left_at = {f"/drip-{e['i']}.json": e.get("left") for e in entries}
    after_accept = [c["closed_by_peer"] - c["accepted"] for c in conns if c["closed_by_peer"]]
    after_leave = [c["closed_by_peer"] - left_at[c["path"]] for c in conns
                   if c["closed_by_peer"] and left_at.get(c["path"])]
    never = sum(1 for c in conns if not c["closed_by_peer"])
    answered = [e["answered_at"] - e["opened"] for e in entries
                if not isinstance(e["sock"], str) and e.get("answered_at") and raw_answer(e["buf"])]
    extra = (f"{len(entries)} callers opened in {entries[-1]['opened'] - t0:.2f} s; last one left at t={left - t0:.2f} s"
             f"\n  answers received before leaving came after: {quantiles(answered)}"
             f"\n  drip server: {sum(drip.requests.values()) - requests_before} requests on {len(conns)} connections,"
             f" at most {drip.max_open} open at once; {len(conns) - never} closed by the gateway, {never} not"
             f"\n  drip connection closed by the gateway after its accept: {quantiles(after_accept)}"
             f"\n  ... after its caller left: {quantiles(after_leave)}"
             f"\n  all drip connections closed {drained:.2f} s after the last caller left"
             f"\n  gateway fds: before {before['fds']}, peak {sampler.max_fds}, when the last caller left {fds_at_leave},"
             f" 3 s after {fds_after_3s}; RSS peak {sampler.max_rss:.1f} MB")
    report(name, before, after, counts, extra)


def case_drip_shared(src, drip, n=200):
    name = f"7b GET /oauth/authorize x{n} concurrent, one dripping metadata URL"
    print(f"\n== {name}")
    path = "/drip-shared.json"
    before = snapshot()
    drip.reset_peak()
    first_conn = len(drip.connections)
    with Sampler() as sampler:
        t0 = time.monotonic()
        entries = [{"sock": open_raw(src, drip_authorize(drip, "drip-shared")), "opened": time.monotonic()} for _ in range(n)]
        opened = time.monotonic() - t0
        collect(entries, t0 + min(CASE_SECONDS, 20), body_complete)
        for e in entries:
            if not isinstance(e["sock"], str):
                e["sock"].close()
        time.sleep(3)
        fds_after_3s = fd_count(GW_PID)
    after = snapshot()
    counts = collections.Counter()
    waited = []
    for e in entries:
        counts[e["sock"] if isinstance(e["sock"], str) else drip_label(e)] += 1
        if e.get("answered_at"):
            waited.append(e["answered_at"] - e["opened"])
    conns = drip.connections[first_conn:]
    closed = [c["closed_by_peer"] - c["accepted"] for c in conns if c["closed_by_peer"]]
    extra = (f"{n} callers opened in {opened:.2f} s; answer after each caller's request: {quantiles(waited)}"
             f"\n  drip server: {drip.requests[path]} requests for {path} ({len(conns)} connections in all,"
             f" at most {drip.max_open} open at once); closed by the gateway after its accept: {quantiles(closed)}"
             f"\n  gateway fds: before {before['fds']}, peak {sampler.max_fds}, 3 s after {fds_after_3s};"
             f" RSS peak {sampler.max_rss:.1f} MB")
    report(name, before, after, counts, extra)


def mcp_call_request(key, n, tool, progress=True):
    params = {"name": tool, "arguments": {"message": "hi"}}
    if progress:
        params["_meta"] = {"progressToken": "p"}
    body = json.dumps({"jsonrpc": "2.0", "id": n, "method": "tools/call", "params": params})
    return (f"POST /mcp HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
            f"Content-Length: {len(body)}\r\n\r\n{body}").encode()


def completion_request(key, agent_id, stream=True):
    body = json.dumps({"model": agent_id, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
    return (f"POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n{body}").encode()


def long_label(e):
    """Admitted (its answer is an event stream that keeps waiting) or why it was refused."""
    if isinstance(e["sock"], str):
        return e["sock"]
    a = raw_answer(e["buf"])
    if a is None:
        return f"{e['kind']}: closed without answer" if e["eof"] else f"{e['kind']}: no head yet (waiting)"
    status, headers, body = a
    if status == 200 and headers.get("content-type", "").startswith("text/event-stream"):
        return f"{e['kind']}: admitted (200 event stream)"
    text = body.decode(errors="replace")
    try:
        doc = json.loads(text)
    except ValueError:
        return f"{e['kind']}: {status} {text[:60]!r}"
    if e["kind"] == "mcp":
        result = doc.get("result") or {}
        said = " ".join(c.get("text", "") for c in result.get("content", []))
        if result.get("isError") and "Too many calls and streams" in said:
            return "mcp: refused, isError 'Too many calls and streams'"
        return f"mcp: {status} isError={result.get('isError')} {said[:70]!r}" if result else f"mcp: {status} {text[:80]!r}"
    err = doc.get("error") or {}
    return f"openai: {status} {err.get('code') or err.get('type')}"


def settled(e):
    a = raw_answer(e["buf"])
    return a is not None and (a[1].get("content-type", "").startswith("text/event-stream") or body_complete(e))


def long_responses_setup(src):
    print("\n== 8 setup: signing in, API key, device, agent, tools/list")
    token = sign_in(src, "Flood MCP")
    _, created = api(src, token, "POST", "/v1/api-keys", {"name": "flood"}, expect=(200, 201))
    key = created["key"]
    # Its own device id: case 5's user registered flood-dev in the same database.
    api(src, token, "PUT", "/v1/devices/flood-mcp-dev", {"name": "D", "platform": "linux"}, expect=(200, 201))
    _, agent = api(src, token, "PUT", "/v1/devices/flood-mcp-dev/agents/echo", {"name": "Echo"}, expect=(200, 201))
    agent_id = agent["id"]
    st, _, data, _ = request(src, "POST", "/mcp", json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
                             {"Authorization": f"Bearer {key}", "Content-Type": "application/json",
                              "Accept": "application/json, text/event-stream"})
    tools = json.loads(data)["result"]["tools"] if st == 200 else []
    if not tools:
        raise RuntimeError(f"tools/list -> {st}: {data[:300]!r}")
    print(f"  agent {agent_id}, tool {tools[0]['name']}")
    return key, agent_id, tools[0]["name"]


def interleaved(mcp_calls, completions):
    """Three tool calls, then a completion, until both counts are reached."""
    kinds = []
    m = c = 0
    while m < mcp_calls or c < completions:
        for _ in range(3):
            if m < mcp_calls:
                kinds.append("mcp")
                m += 1
        if c < completions:
            kinds.append("openai")
            c += 1
    return kinds


def case_long_responses(src, key, agent_id, tool, mcp_calls=300, completions=100):
    name = f"8a {mcp_calls} MCP tool calls (progress) + {completions} streamed completions, one user"
    print(f"\n== {name}")
    kinds = interleaved(mcp_calls, completions)
    before = snapshot()
    leases_before = stream_leases()
    with Sampler() as sampler:
        t0 = time.monotonic()
        entries = []
        for n, kind in enumerate(kinds):
            data = mcp_call_request(key, n + 10, tool) if kind == "mcp" else completion_request(key, agent_id)
            entries.append({"kind": kind, "sock": open_raw(src, data), "opened": time.monotonic()})
        collect(entries, t0 + 10, settled)
        opened = time.monotonic() - t0
        mid = snapshot()
        leases_held = stream_leases()
        # Which sockets does the server still hold open (no end of stream)?
        still_open = sum(1 for e in entries if not isinstance(e["sock"], str) and server_holds(e["sock"]))
        counts = collections.Counter(long_label(e) for e in entries)
        for e in entries:
            if not isinstance(e["sock"], str):
                e["sock"].close()
        closed_at = time.monotonic()
        time.sleep(3)
        after = snapshot()
        leases_3s = stream_leases()
        # When do the fds and leases come back (bounded by COMPLETION_HOST_WAIT=20s plus a margin)?
        # fds count as back within 10 of the baseline (the Redis and Postgres pools may have grown).
        fds_back = leases_back = None
        timeline = []
        next_mark = closed_at + 4
        while time.monotonic() - t0 < min(CASE_SECONDS / 2, 26):
            fds, leases, now = fd_count(GW_PID), stream_leases(), time.monotonic()
            if now >= next_mark:
                timeline.append(f"t={now - t0:.0f}s fds {fds} leases {leases}")
                next_mark += 2
            fds_back = fds_back or (now if fds <= before["fds"] + 10 else None)
            leases_back = leases_back or (now if leases <= leases_before else None)
            if fds_back and leases_back:
                break
            time.sleep(0.5)
        fds_end, leases_end = fd_count(GW_PID), stream_leases()
    extra = (f"{len(entries)} requests opened and sorted in {opened:.1f} s (all closed at t={closed_at - t0:.1f} s);"
             f" server-side still open before closing: {still_open}"
             f"\n  stream leases (Redis): before {leases_before}, while held {leases_held}, 3 s after closing {leases_3s}"
             f"\n  gateway fds: before {before['fds']}, while held {mid['fds']} (peak {sampler.max_fds}), 3 s after closing {after['fds']}"
             f"\n  gateway RSS: before {before['rss']:.1f} MB, while held {mid['rss']:.1f} MB (peak {sampler.max_rss:.1f} MB),"
             f" 3 s after closing {after['rss']:.1f} MB; Redis while held {mid['redis']:.2f} MB"
             f"\n  after closing: " + ", ".join(timeline))
    for what, at in (("fds", fds_back), ("leases", leases_back)):
        extra += (f"\n  {what} back {at - closed_at:.1f} s after closing ({at - t0:.1f} s after the first request)" if at
                  else f"\n  {what} NOT back by t={time.monotonic() - t0:.1f} s")
    extra += f" (at the end: fds {fds_end}, leases {leases_end})"
    # One more tool call afterwards (it leaves at once): admitted when the budget came back.
    probe = {"kind": "mcp", "sock": open_raw(src, mcp_call_request(key, 99999, tool)), "opened": time.monotonic()}
    collect([probe], time.monotonic() + 5, settled)
    extra += f"\n  one more tool call afterwards: {long_label(probe)}"
    if not isinstance(probe["sock"], str):
        probe["sock"].close()
    report(name, before, after, counts, extra)


def case_long_responses_unstreamed(src, key, agent_id, tool, mcp_calls=20, completions=20, linger=2.0):
    name = f"8b {mcp_calls} MCP calls (no progress) + {completions} unstreamed completions, leave at {linger:.0f} s"
    print(f"\n== {name}")
    kinds = interleaved(mcp_calls, completions)
    before = snapshot()
    leases_before = stream_leases()
    t0 = time.monotonic()
    entries = []
    for n, kind in enumerate(kinds):
        data = (mcp_call_request(key, n + 10, tool, progress=False) if kind == "mcp"
                else completion_request(key, agent_id, stream=False))
        entries.append({"kind": kind, "sock": open_raw(src, data), "opened": time.monotonic()})
    collect(entries, t0 + linger, settled)
    mid = snapshot()
    leases_held = stream_leases()
    counts = collections.Counter(long_label(e) for e in entries)
    for e in entries:
        if not isinstance(e["sock"], str):
            e["sock"].close()
    time.sleep(3)
    after = snapshot()
    leases_after = stream_leases()
    extra = (f"stream leases (Redis): before {leases_before}, while held {leases_held}, 3 s after closing {leases_after}"
             f"\n  gateway fds: before {before['fds']}, while held {mid['fds']}, 3 s after closing {after['fds']}")
    report(name, before, after, counts, extra)


def start_gateway(binary, db, log, extra_env=None):
    """Starts `binary serve` on a free loopback port and waits until it is ready; sets GW_PORT, GW_PID."""
    global GW_PORT, GW_PID
    GW_PORT = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PORT": str(GW_PORT), "BIND_ADDRESS": "127.0.0.1",
        "PUBLIC_BASE_URL": f"http://localhost:{GW_PORT}", "JWT_SIGNING_KEY": JWT_KEY,
        "REDIS_URL": f"redis://127.0.0.1:{REDIS_PORT}",
        "DATABASE_URL": f"postgres://postgres@127.0.0.1:{PG['port']}/{db}?sslmode=disable",
        "AUTH_MODE": "demo", "LOG_LEVEL": "warning", "SIGNIN_RATE_LIMIT_PER_MINUTE": "100",
    }
    env.update(extra_env or {})
    gw = subprocess.Popen([binary, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    GW_PID = gw.pid
    for _ in range(600):
        if gw.poll() is not None:
            raise RuntimeError(f"gateway exited with {gw.returncode}; log {log.name}")
        st, _, _, _ = request("127.0.0.1", "GET", "/readyz", timeout=2)
        if st == 200:
            break
        time.sleep(0.2)
    else:
        stop_process(gw)
        raise RuntimeError("gateway never became ready")
    print(f"gateway {binary} pid {GW_PID} on 127.0.0.1:{GW_PORT}; log {log.name}")
    if extra_env:
        print("  with " + " ".join(f"{k}={v}" for k, v in extra_env.items()))
    sys.stdout.flush()
    return gw


def stop_process(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def base_cases():
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


def issue22_cases():
    # Sources 127.0.0.10 and up: the Redis budgets of the first gateway's cases are still there.
    case_registration_flood("127.0.0.10")
    case_registration_text("127.0.0.10")
    case_registration_spread([f"127.0.0.{i}" for i in range(21, 28)])
    drip = DripServer()
    print(f"\n   drip server on 127.0.0.1:{drip.port}")
    try:
        case_drip_distinct("127.0.0.11", drip)
        case_drip_shared("127.0.0.12", drip)
    finally:
        drip.stop()
    key, agent_id, tool = long_responses_setup("127.0.0.13")
    case_long_responses("127.0.0.13", key, agent_id, tool)
    case_long_responses_unstreamed("127.0.0.13", key, agent_id, tool)


def main():
    global REDIS_PORT, DB
    args = sys.argv[1:]
    selection = "all"
    if args and args[0].startswith("--cases"):
        selection = args[0].split("=", 1)[1] if "=" in args[0] else args[1]
        args = args[1:] if "=" in args[0] else args[2:]
    if selection not in ("all", "base", "issue22"):
        sys.exit("--cases must be all, base or issue22")
    binary = args[0] if args else os.path.join(os.path.dirname(__file__), "..", ".build", "debug", "gateway")
    procs = []
    DB = db = "flood_" + secrets.token_hex(4)
    db_created = False
    logs = []
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
        print(f"redis pid {redis.pid} on :{REDIS_PORT}; db {db}")
        runs = [("base", None, base_cases), ("issue22", ISSUE22_ENV, issue22_cases)]
        for label, extra_env, cases in runs:
            if selection not in ("all", label):
                continue
            log = open(f"/tmp/{db}-gateway-{label}.log", "wb")
            logs.append(log)
            print(f"\n######## {label} cases")
            gw = start_gateway(binary, db, log, extra_env)
            procs.append(gw)
            try:
                cases()
            finally:
                if gw.poll() is not None:
                    print(f"\n!! gateway exited during the run with code {gw.returncode}")
                stop_process(gw)
    except Exception:  # noqa: BLE001 - print, clean up, still print the summary
        import traceback
        print("\n!! run aborted:")
        traceback.print_exc(file=sys.stdout)
    finally:
        for p in reversed(procs):
            stop_process(p)
        if db_created:
            subprocess.run(["psql", "-h", PG["host"], "-p", PG["port"], "-U", PG["user"], "-qc", f"DROP DATABASE IF EXISTS {db}"],
                           capture_output=True)
        for log in logs:
            log.close()

    print("\n== Summary")
    print(f"{'case':<72} {'redis MB before->after':>24} {'RSS MB before->after':>22} {'fds':>11}  statuses")
    for name, b, a, c, _ in SUMMARY:
        print(f"{name:<72} {b['redis']:>10.2f} -> {a['redis']:<10.2f} {b['rss']:>8.1f} -> {a['rss']:<8.1f}"
              f" {b['fds']:>4} -> {a['fds']:<4}  {fmt_counts(c)}")


if __name__ == "__main__":
    main()
