#!/usr/bin/env bash
# Third-party conformance against a real gateway over HTTP: Python's authlib drives the OAuth
# flows (pytest), then schemathesis fuzzes every route against docs/openapi.yaml.
#
# Expects (scripts/test.sh sets them, after `swift build`):
#   GATEWAY_BINARY     the built `gateway` executable
#   TEST_REDIS_URL     redis://127.0.0.1:PORT
#   TEST_DATABASE_URL  postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable (superuser)
#   GATEWAYCTL_BINARY  the built `gatewayctl` (default: next to GATEWAY_BINARY), for the web
#                      app's browser test, which also needs chromium, chromium-driver and
#                      zbarimg (zbar-tools, to decode the share dialog's QR code)
#
# Creates (or reuses) a virtualenv, installs tests/python/requirements.txt, creates a fresh
# database, starts ONE `gateway serve` on a free loopback port, waits for /readyz, runs
# `pytest tests/python` with GATEWAY_URL set, then schemathesis against the same gateway (see
# "schemathesis" below), stops the gateway (by PID) and drops the database.
# Exits with pytest's status if it failed ("no tests collected" (5) is a failure like any
# non-zero status), else with schemathesis's. Extra arguments go to pytest (e.g. `-k device`).
# GATEWAY_SCHEMATHESIS=0 skips the schemathesis run.
#
# `scripts/python-tests.sh --prepare` only creates (or updates) the virtualenvs, which needs the
# network and the disk but neither the gateway nor the services: scripts/test.sh runs it while
# the package builds.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"
PREPARE_ONLY=""
if [ "${1:-}" = "--prepare" ]; then
  PREPARE_ONLY=1
  shift
fi

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'python-tests: %s\n' "$*" >&2; exit 1; }

if [ -z "$PREPARE_ONLY" ]; then
  : "${GATEWAY_BINARY:?GATEWAY_BINARY must point at the built gateway executable}"
  : "${TEST_REDIS_URL:?TEST_REDIS_URL must be set (redis://127.0.0.1:PORT)}"
  : "${TEST_DATABASE_URL:?TEST_DATABASE_URL must be set (postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable)}"
  export GATEWAYCTL_BINARY="${GATEWAYCTL_BINARY:-$(dirname "$GATEWAY_BINARY")/gatewayctl}"
  [ -x "$GATEWAY_BINARY" ] || die "GATEWAY_BINARY=$GATEWAY_BINARY is not an executable file"
fi
command -v python3 >/dev/null 2>&1 || die "python3 is required"

# shellcheck source=scripts/test-lib.sh
. scripts/test-lib.sh
PSQL="$(find_psql)" || die "psql is required to create the test database"

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gateway-python-tests.XXXXXX")"
GATEWAY_PID=""
DATABASE_NAME=""

cleanup() {
  local status=$?
  set +e
  [ -n "$GATEWAY_PID" ] && stop_child "$GATEWAY_PID"
  [ -n "$DATABASE_NAME" ] && drop_test_database "$PSQL" "$TEST_DATABASE_URL" "$DATABASE_NAME"
  rm -rf "$WORK"
  exit "$status"
}
on_exit cleanup

# MARK: virtualenv

VENV="${GATEWAY_PYTHON_VENV:-$REPO/.build/python-venv}"
log "python virtualenv at $VENV"
mkdir -p "$(dirname "$VENV")"
(
  # Serialize concurrent runs sharing the virtualenv.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$VENV.lock"
    timeout 300 flock 9 || { echo "python-tests: timed out waiting for $VENV.lock" >&2; exit 1; }
  fi
  if ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$VENV"
    python3 -m venv "$VENV" || { echo "python-tests: python3 -m venv failed (install python3-venv)" >&2; exit 1; }
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 timeout 600 "$VENV/bin/python" -m pip install -q -r tests/python/requirements.txt
)
PYTHON="$VENV/bin/python"

# The MCP SDK's own virtualenv (tests/python/mcp-requirements.txt): test_mcp_client.py runs
# tests/python/mcp_client.py with it.
MCP_VENV="${GATEWAY_MCP_VENV:-$REPO/.build/mcp-venv}"
log "mcp virtualenv at $MCP_VENV"
(
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$MCP_VENV.lock"
    timeout 300 flock 9 || { echo "python-tests: timed out waiting for $MCP_VENV.lock" >&2; exit 1; }
  fi
  if ! "$MCP_VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    rm -rf "$MCP_VENV"
    python3 -m venv "$MCP_VENV" || { echo "python-tests: python3 -m venv failed (install python3-venv)" >&2; exit 1; }
  fi
  PIP_DISABLE_PIP_VERSION_CHECK=1 timeout 600 "$MCP_VENV/bin/python" -m pip install -q -r tests/python/mcp-requirements.txt
)
export MCP_PYTHON="$MCP_VENV/bin/python"
# The OIDC tests' oidc-provider-mock (scripts/idp/); kept under .build so later runs reuse it.
export IDP_VENV="${IDP_VENV:-$REPO/.build/idp-venv}"
if [ -n "$PREPARE_ONLY" ]; then
  bash scripts/idp/oidc-mock.sh prepare
  log "virtualenvs ready (--prepare: stopping here)"
  exit 0
fi

# MARK: fresh database

free_port() { "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

DATABASE_NAME="gateway_pytest_$(date +%s)_$$_$RANDOM"
log "creating database $DATABASE_NAME"
GATEWAY_DATABASE_URL="$(create_test_database "$PSQL" "$TEST_DATABASE_URL" "$DATABASE_NAME")" || die "could not create database $DATABASE_NAME"

# A random key like `openssl rand -base64 48`, redrawn in the rare case it happens to contain
# a word the gateway's placeholder check refuses (e.g. "todo", "xxxx").
JWT_SIGNING_KEY="$("$PYTHON" - <<'PY'
import base64, os
refused = ["changeme", "change-me", "change_me", "secret", "password", "placeholder", "example", "replace",
           "your-", "your_", "todo", "xxxx", "0123456789", "123456", "abcdef", "qwerty"]
while True:
    key = base64.b64encode(os.urandom(48)).decode()
    if not any(word in key.lower() for word in refused):
        print(key)
        break
PY
)"

# MARK: gateway

PORT="$(free_port)"
GATEWAY_URL="http://127.0.0.1:$PORT"
GATEWAY_LOG="$WORK/gateway.log"
log "starting gateway serve on $GATEWAY_URL (log: json)"
# A clean environment (nothing inherited, no .env file) so the run does not depend on the caller's.
# Short stream lifetimes and heartbeats so the browser test (test_web_browser.py) sees a stream end
# and resume within seconds.
env -i PATH="$PATH" HOME="${HOME:-/tmp}" TMPDIR="${TMPDIR:-/tmp}" \
  PORT="$PORT" BIND_ADDRESS=127.0.0.1 PUBLIC_BASE_URL="$GATEWAY_URL" \
  JWT_SIGNING_KEY="$JWT_SIGNING_KEY" REDIS_URL="$TEST_REDIS_URL" DATABASE_URL="$GATEWAY_DATABASE_URL" \
  AUTH_MODE=demo LOG_FORMAT=json \
  SSE_MAX_LIFETIME=6s SSE_HEARTBEAT_INTERVAL=2s COMPLETION_HOST_WAIT=3s \
  SIGNIN_RATE_LIMIT_PER_MINUTE=1000 TOKEN_RATE_LIMIT_PER_MINUTE=1000 \
  SIGNIN_GLOBAL_RATE_LIMIT_PER_MINUTE=5000 TOKEN_GLOBAL_RATE_LIMIT_PER_MINUTE=5000 \
  AUTHORIZE_RATE_LIMIT_PER_MINUTE=1000 AUTHORIZE_GLOBAL_RATE_LIMIT_PER_MINUTE=5000 SESSION_RATE_LIMIT_PER_MINUTE=1000 MAX_STREAMS_PER_USER=1000 \
  "$GATEWAY_BINARY" serve --env-file "$WORK/no-such.env" >"$GATEWAY_LOG" 2>&1 &
GATEWAY_PID=$!

# On a failure the whole log is kept under .build (the work directory is removed on exit) and its
# last lines are printed.
show_gateway_log() {
  local kept="$REPO/.build/python-tests-gateway.log"
  cp "$GATEWAY_LOG" "$kept" 2>/dev/null || kept=""
  echo "---- gateway log: warnings and errors (last 20) ----" >&2
  grep -v '"level":"info"' "$GATEWAY_LOG" | grep -v '"level":"debug"' | tail -n 20 >&2 || true
  echo "---- gateway log (last 60 lines${kept:+; all of it: $kept}) ----" >&2
  tail -n 60 "$GATEWAY_LOG" >&2 || true
  echo "-------------------------------------" >&2
}

ready=""
deadline=$((SECONDS + 60))
while [ "$SECONDS" -lt "$deadline" ]; do
  if ! kill -0 "$GATEWAY_PID" 2>/dev/null; then
    show_gateway_log
    die "the gateway exited before becoming ready"
  fi
  if "$PYTHON" - "$GATEWAY_URL/readyz" <<'PY' 2>/dev/null
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as response:
        sys.exit(0 if response.status == 200 else 1)
except Exception:
    sys.exit(1)
PY
  then
    ready=1
    break
  fi
  sleep 0.5
done
if [ -z "$ready" ]; then
  show_gateway_log
  die "the gateway did not answer 200 on /readyz within 60 s"
fi

# MARK: pytest

log "running pytest tests/python against $GATEWAY_URL"
export GATEWAY_URL
status=0
# The OIDC tests start LemonLDAP::NG and oidc-provider-mock (scripts/idp/).
# Two workers, each taking whole files (module fixtures such as the identity providers stay in
# one process): most of the run waits on browsers, processes and timers, so two files at a time
# take about 70 s less on 2 cores. GATEWAY_PYTEST_WORKERS=0 runs everything in one process.
workers="${GATEWAY_PYTEST_WORKERS:-2}"
xdist=()
[ "$workers" != 0 ] && xdist=(-n "$workers" --dist loadfile)
PYTHONDONTWRITEBYTECODE=1 timeout 600 "$PYTHON" -m pytest -q -p no:cacheprovider "${xdist[@]}" tests/python "$@" || status=$?
case "$status" in
  0) ;;
  5) echo "python-tests: pytest collected no tests; that is a failure" >&2 ;;
  124) echo "python-tests: pytest did not finish within 600 s" >&2; show_gateway_log ;;
  *) show_gateway_log ;;
esac

# MARK: schemathesis
#
# Property-based tests of the whole HTTP surface against docs/openapi.yaml: responses must not be
# 5xx, and their status codes, content types, headers and JSON bodies must be the documented
# ones. tests/python/schemathesis_seed.py signs users in through the authorization-code + PKCE
# flow, creates real devices, agents, shares and sessions so requests get past 404s, and writes
# a config feeding their ids, and a few inputs known to break servers (NUL characters, oversized
# forms), to the generated requests; it prints the access token to send. Any failure it reports
# (with a curl command to reproduce it) fails this script.
# Not fuzzed: the event streams (they stay open), the HTML sign-in and consent pages (their forms
# need a browser's cookies) and the OIDC callback (oidc mode only; tests/python/test_oidc_providers.py), the web app's pages and assets (HTML for a browser: test_web_browser.py
# drives them in Chromium) and /metrics (plain text, and it changes with every request).

schemathesis_status=0
if [ "${GATEWAY_SCHEMATHESIS:-1}" != "0" ]; then
  log "running schemathesis against $GATEWAY_URL"
  SCHEMATHESIS_CONFIG="$WORK/schemathesis.toml"
  TOKEN=""
  if TOKEN="$(cd tests/python && PYTHONDONTWRITEBYTECODE=1 timeout 60 "$PYTHON" schemathesis_seed.py "$SCHEMATHESIS_CONFIG")" && [ -n "$TOKEN" ]; then
    # Run from $WORK so nothing it writes lands in the repository.
    (
      cd "$WORK"
      timeout 180 "$VENV/bin/schemathesis" --config-file "$SCHEMATHESIS_CONFIG" run "$REPO/docs/openapi.yaml" \
        --url "$GATEWAY_URL" \
        -H "Authorization: Bearer $TOKEN" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
        --exclude-path-regex '(/events$|^/oauth/authorize$|^/oauth/consent$|^/oauth/oidc/callback$|^/device$|^/metrics$|^/$|^/app|^/invite/|^/assets/web/)' \
        --max-examples 20 \
        --request-timeout 10 \
        --generation-database none \
        --no-color
    ) || schemathesis_status=$?
  else
    echo "python-tests: could not prepare the schemathesis run (sign-in or seeding failed)" >&2
    schemathesis_status=1
  fi
  case "$schemathesis_status" in
    0) ;;
    124) echo "python-tests: schemathesis did not finish within 180 s" >&2; show_gateway_log ;;
    *) echo "python-tests: schemathesis reported failures (each with a curl command to reproduce it above)" >&2; show_gateway_log ;;
  esac
fi

[ "$status" -ne 0 ] && exit "$status"
exit "$schemathesis_status"
