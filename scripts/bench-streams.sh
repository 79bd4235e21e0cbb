#!/usr/bin/env bash
# Streaming benchmark: SSE fan-out latency, throughput and idle-connection memory of the
# gateway over a real Redis. See docs/benchmarks.md for what each figure means.
#
# Starts a throw-away redis-server on a free loopback port (no persistence), builds
# `gateway-stream-bench` in release mode, runs `gateway-stream-bench run` (which starts the
# gateway as its own child process and measures it), prints the figures, and stops Redis by
# its PID. Nothing but 127.0.0.1 is contacted.
#
# Environment:
#   BENCH_BUILD=debug   build and run the debug binary instead (faster to build, slower to run)
#   BENCH_SKIP_BUILD=1  use the binary already built
#   BENCH_NCHAN=1       side by side with Nchan: installs nginx-light and libnginx-mod-nchan with
#                       apt-get when missing, starts Nchan (2 workers) on the same redis-server,
#                       and runs the side-by-side phases against both servers
#                       (scripts/bench-nchan.sh)
# Extra arguments go to `gateway-stream-bench run`, e.g.
#   scripts/bench-streams.sh --subscribers 500 --idle 2000 --phases floor,latency
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
die() { printf 'bench-streams: %s\n' "$*" >&2; exit 1; }

command -v redis-server >/dev/null 2>&1 || die "redis-server is required"
command -v python3 >/dev/null 2>&1 || die "python3 is required (to pick a free port)"
CONFIGURATION="${BENCH_BUILD:-release}"
case "$CONFIGURATION" in release|debug) ;; *) die "BENCH_BUILD must be release or debug" ;; esac

NCHAN="${BENCH_NCHAN:-0}"
if [ "$NCHAN" = 1 ]; then
  # shellcheck source=scripts/bench-nchan.sh
  . scripts/bench-nchan.sh
  command -v curl >/dev/null 2>&1 || die "curl is required with BENCH_NCHAN=1"
  nchan_install || die "could not install Nchan"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/gateway-bench.XXXXXX")"
REDIS_PID=""

cleanup() {
  local status=$?
  set +e
  [ "$NCHAN" = 1 ] && nchan_stop
  if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
    kill -TERM "$REDIS_PID" 2>/dev/null
    for _ in $(seq 1 50); do kill -0 "$REDIS_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$REDIS_PID" 2>/dev/null && kill -KILL "$REDIS_PID" 2>/dev/null
    wait "$REDIS_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 5,000 idle connections need more than the usual 1,024 descriptors (the bench also raises
# its own limit with setrlimit, up to the hard limit).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 12000 ]; then
  printf 'bench-streams: warning: open files limit is %s; 5,000 idle connections need ~11,000\n' "$(ulimit -n)" >&2
fi

log "building gateway-stream-bench ($CONFIGURATION)"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
  swift build -c "$CONFIGURATION" --product gateway-stream-bench
fi
BIN="$(swift build -c "$CONFIGURATION" --show-bin-path)/gateway-stream-bench"
[ -x "$BIN" ] || die "$BIN was not built"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

REDIS_PORT="$(free_port)"
log "starting redis-server on 127.0.0.1:$REDIS_PORT"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --maxclients 10000 \
  --dir "$WORK" >"$WORK/redis.log" 2>&1 &
REDIS_PID=$!
for _ in $(seq 1 100); do
  if redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG; then break; fi
  kill -0 "$REDIS_PID" 2>/dev/null || { cat "$WORK/redis.log" >&2; die "redis-server exited"; }
  sleep 0.1
done
redis-cli -p "$REDIS_PORT" ping 2>/dev/null | grep -q PONG || die "redis-server did not answer PING"

NCHAN_ARGS=()
if [ "$NCHAN" = 1 ]; then
  NCHAN_PORT="$(free_port)"
  log "starting Nchan (nginx) on 127.0.0.1:$NCHAN_PORT with Redis storage"
  nchan_start "$WORK/nchan" "$NCHAN_PORT" "$REDIS_PORT" || die "Nchan did not start"
  NCHAN_ARGS=(--nchan-port "$NCHAN_PORT" --nchan-pid "$NCHAN_PID")
fi

log "running the benchmark"
"$BIN" run --redis-url "redis://127.0.0.1:$REDIS_PORT" --server-log "$WORK/server.log" "${NCHAN_ARGS[@]}" "$@"
