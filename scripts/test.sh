#!/usr/bin/env bash
# Runs the whole test suite against real, throw-away services:
#   - lints the GitHub Actions workflows (scripts/lint-workflows.sh),
#   - installs what is missing (scripts/install-test-tools.sh: redis-server, PostgreSQL, chromium,
#     chromium-driver, zbar-tools, nodejs, LemonLDAP::NG) with apt-get,
#   - starts one redis-server and one Postgres cluster on free loopback ports in a temp dir,
#   - builds, runs `swift test` with TEST_REDIS_URL / TEST_DATABASE_URL pointing at them and
#     GATEWAY_TEST_SERVICES=required, so no service-backed test can skip,
#   - fails on formatting findings (swift format lint --strict) and on compiler warnings in the
#     project's own code,
#   - checks the container image in a Debian 12 root filesystem (scripts/check-image.sh) with the
#     binaries the tests ran, relinked with the Swift runtime inside (scripts/link-static.sh),
#   - stops exactly the processes it started.
# Extra arguments go to `swift test` (e.g. `--filter Config`).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

log() { printf '\n==> [%s, +%ss] %s\n' "$(date +%H:%M:%S)" "$SECONDS" "$*"; }

# shellcheck source=scripts/test-lib.sh
. scripts/test-lib.sh

# The GitHub Actions workflows: GitHub's workflow schema (check-jsonschema) and a security audit
# (zizmor, offline). The first run fills .build/lint-venv from PyPI (about 10 s); later runs take
# under a second.
log "linting the workflows (scripts/lint-workflows.sh)"
bash scripts/lint-workflows.sh

log "installing what is missing (scripts/install-test-tools.sh)"
bash scripts/install-test-tools.sh
PG_BIN="$(pg_bin_dir)"
export PG_BIN

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

WORK="$(mktemp -d /tmp/gateway-test.XXXXXX)"
chmod 755 "$WORK"
REDIS_PID=""
IMAGE_BASE_PID=""
PYTHON_PREPARE_PID=""
PYTHON_TESTS_PID=""
NODE_TESTS_PID=""
IMAGE_CHECK_PID=""
PG_DATA="$WORK/pg"
PG_STARTED=""
as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

cleanup() {
  set +e
  [ -n "$IMAGE_BASE_PID" ] && kill "$IMAGE_BASE_PID" 2>/dev/null && wait "$IMAGE_BASE_PID" 2>/dev/null
  [ -n "$PYTHON_PREPARE_PID" ] && kill "$PYTHON_PREPARE_PID" 2>/dev/null && wait "$PYTHON_PREPARE_PID" 2>/dev/null
  # The background test jobs stop their own gateways and mounts on TERM.
  for pid in "$PYTHON_TESTS_PID" "$NODE_TESTS_PID" "$IMAGE_CHECK_PID"; do
    [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  done
  [ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null && wait "$REDIS_PID" 2>/dev/null
  [ -n "$PG_STARTED" ] && as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

REDIS_PORT="$(free_port)"
log "starting redis-server on 127.0.0.1:$REDIS_PORT"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 ::1 --save '' --appendonly no --dir "$WORK" \
  --logfile "$WORK/redis.log" &
REDIS_PID=$!

PG_PORT="$(free_port)"
log "starting Postgres on 127.0.0.1:$PG_PORT"
mkdir -p "$PG_DATA"
[ "$(id -u)" = 0 ] && chown postgres:postgres "$PG_DATA"
as_postgres "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
as_postgres "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 \
  -o "-p $PG_PORT -k $PG_DATA -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" start >/dev/null
PG_STARTED=1

for _ in $(seq 1 50); do
  redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$REDIS_PORT" ping >/dev/null

export TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$PG_PORT/postgres?sslmode=disable"
# Every service-backed test runs; one whose service is missing fails instead of skipping.
export GATEWAY_TEST_SERVICES=required

# finish_background PID LOG WHAT: waits for a job started in the background below, shows its log,
# and stops the run saying WHAT when it failed.
finish_background() {
  local status=0
  wait "$1" || status=$?
  cat "$2"
  [ "$status" = 0 ] || { echo "error: $3 (above)" >&2; exit "$status"; }
}

# The image check's Debian root filesystem (debootstrap, cached under .build/image) and the
# Python tests' virtualenvs are made while the package builds: they wait on the network and the
# disk, the build on the CPU.
image_check_wanted=""
if [ $# = 0 ]; then
  bash scripts/python-tests.sh --prepare >"$WORK/python-prepare.log" 2>&1 &
  PYTHON_PREPARE_PID=$!
  if [ "${GATEWAY_CHECK_IMAGE:-1}" != "0" ]; then
    image_check_wanted=1
    bash scripts/check-image.sh --base-only >"$WORK/image-base.log" 2>&1 &
    IMAGE_BASE_PID=$!
  fi
fi

# Formatting (.swift-format) with the formatter that ships with the toolchain: cheap, so it runs
# before the build and a formatting slip fails in seconds. `swift format -i -r -p Sources Tests
# Benchmarks` fixes what it reports.
log "checking formatting (swift format lint --strict)"
swift format lint --strict --recursive --parallel Sources Tests Benchmarks Package.swift

log "building"
swift build --build-tests 2>&1 | tee "$WORK/build.log"
if grep -E "^$REPO/(Sources|Tests)/.*: warning:" "$WORK/build.log"; then
  echo "error: compiler warnings in the project's code (listed above)" >&2
  exit 1
fi
# gateway and gatewayctl linked once more with the Swift runtime inside, as in the image, into
# .build/static: every test below (process tests, Python clients) and the image check run these.
log "linking gateway and gatewayctl with the Swift runtime inside (scripts/link-static.sh)"
bash scripts/link-static.sh | tee "$WORK/link-static.log"
BIN_PATH="$(tail -n 1 "$WORK/link-static.log")"
export GATEWAY_BINARY="$BIN_PATH/gateway"
export GATEWAYCTL_BINARY="$BIN_PATH/gatewayctl"

if [ $# -gt 0 ]; then
  log "running tests: $*"
  swift test --skip-build "$@"
  exit 0
fi

# The suites that time what a live gateway or client does (stream delivery and resume, presence,
# Redis outages and replicas, revocation reaching a chat, idle timeouts, gatewayctl end to end)
# are marked `.serialized` and run after the rest, one test at a time, on a machine with nothing
# else to do: on 2 cores running everything at once their figures would be about the machine.
# Whole gateway processes (start-up time, signals, readiness, a replica killed mid-reply) run
# last, on their own.
TIMED_SUITES='GatewayCtlEndToEndTests|EventStreamClientTests|ReplyLifecycleTests|DevicePresenceTests|EventStreamTests|EventStreamOutageTests|EventStreamReplicaTests|SharedChatEmbeddedTests|SecurityRegressionTests|RedisConnectionResilienceTests|RedisEventBusTests'
# Runs one `swift test` phase into a log; when it fails, the failed tests and what they recorded
# are printed again at the end, so the last lines of a CI log name them.
swift_test_phase() {
  local phase_log="$1"
  shift
  local status=0
  swift test --skip-build "$@" 2>&1 | tee "$phase_log" || status=$?
  if [ "$status" != 0 ]; then
    printf '\n==> failed (swift test %s), what the failing tests recorded:\n' "$*"
    grep -E -A6 "recorded an issue|✘ Test .* failed after" "$phase_log" | grep -vE "^[0-9T:+-]+ (info|notice|debug|trace) " | head -80
    exit "$status"
  fi
}

# Everything that does not time itself runs side by side, since much of it waits (browsers,
# timeouts, a gateway starting): the third-party clients (Python: authlib, httpx, mcp, openai,
# Chromium, then schemathesis), the JavaScript unit tests and the container-image check in the
# background, the rest of the Swift tests in front. Each background job's log is shown when it
# is waited for.
if ! command -v node >/dev/null 2>&1; then
  echo "error: node is required for the web app's JavaScript tests (apt-get install nodejs)" >&2
  exit 1
fi
finish_background "$PYTHON_PREPARE_PID" "$WORK/python-prepare.log" "the Python virtualenvs could not be made"
PYTHON_PREPARE_PID=""
if [ -n "$image_check_wanted" ]; then
  finish_background "$IMAGE_BASE_PID" "$WORK/image-base.log" "the image's base root filesystem could not be made"
  IMAGE_BASE_PID=""
fi
log "starting the third-party client tests, the JavaScript unit tests and the image check in the background"
bash scripts/python-tests.sh >"$WORK/python-tests.log" 2>&1 &
PYTHON_TESTS_PID=$!
# The web app's own JavaScript (Markdown renderer, QR encoder, palette contrast): node's test
# runner, no gateway needed. Node 18 or newer (Debian 12's nodejs is 18).
node --test tests/js/*.test.mjs >"$WORK/node-tests.log" 2>&1 &
NODE_TESTS_PID=$!
# The container image without a Docker engine: a Debian 12 root filesystem made like the
# Dockerfile's runtime stage, the binaries the tests ran laid out as the builder stage lays them
# out, `gateway serve` inside it (as the image's user, with .env.example's quick-start variables)
# answering 200 on /readyz. The optimised build itself is CI's `release build` job and the release
# workflow's. GATEWAY_CHECK_IMAGE=0 skips it (e.g. on a machine without root).
image_check="skipped (GATEWAY_CHECK_IMAGE=0)"
if [ -n "$image_check_wanted" ]; then
  bash scripts/check-image.sh --prebuilt "$BIN_PATH" >"$WORK/check-image.log" 2>&1 &
  IMAGE_CHECK_PID=$!
fi

# At most 8 tests at once: unbounded, 280 tests on 2 cores starve tasks for seconds (a Redis
# command times out); 8 keeps both cores busy and is faster than unbounded here.
log "running tests (in parallel, 8 at a time)"
SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH=8 \
  swift_test_phase "$WORK/swift-tests.log" --skip "GatewayProcessTests|$TIMED_SUITES"

log "the web app's JavaScript unit tests (node --test tests/js)"
finish_background "$NODE_TESTS_PID" "$WORK/node-tests.log" "the JavaScript unit tests failed"
NODE_TESTS_PID=""
log "third-party client tests (authlib and schemathesis against a live gateway)"
finish_background "$PYTHON_TESTS_PID" "$WORK/python-tests.log" "the third-party client tests failed"
PYTHON_TESTS_PID=""
if [ -n "$image_check_wanted" ]; then
  log "the container image check (scripts/check-image.sh --prebuilt $BIN_PATH)"
  finish_background "$IMAGE_CHECK_PID" "$WORK/check-image.log" "the container image check failed"
  IMAGE_CHECK_PID=""
  image_check="passed"
fi

log "running the suites that time things (one test at a time)"
swift_test_phase "$WORK/timed-tests.log" --no-parallel --filter "$TIMED_SUITES"
log "running gateway process tests"
swift_test_phase "$WORK/process-tests.log" --filter GatewayProcessTests

# One closing line for the whole run: every phase above stops the script when it fails.
swift_count=$(grep -hoE "Test run with [0-9]+ tests? " "$WORK/swift-tests.log" "$WORK/timed-tests.log" "$WORK/process-tests.log" | grep -oE "[0-9]+" | awk "{ s += \$1 } END { print s + 0 }")
python_count=$(grep -oE "^[0-9]+ passed" "$WORK/python-tests.log" | grep -oE "[0-9]+" | awk "{ s += \$1 } END { print s + 0 }")
node_count=$(grep -oE "^# pass [0-9]+" "$WORK/node-tests.log" | grep -oE "[0-9]+" | awk "{ s += \$1 } END { print s + 0 }")
log "summary: ${swift_count:-0} Swift tests, ${node_count:-0} JavaScript tests and ${python_count:-0} Python tests passed; schemathesis found nothing; image check $image_check"
echo "tests: $(( ${swift_count:-0} + ${node_count:-0} + ${python_count:-0} )) passed, 0 failed"
