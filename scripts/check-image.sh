#!/usr/bin/env bash
# Checks the container image without a Docker engine: builds the release binaries exactly as the
# Dockerfile does, assembles a root filesystem equivalent to its runtime stage, and runs the
# gateway there against a real Redis and Postgres.
#
#   1. a Debian 12 root filesystem: `debootstrap --variant=minbase bookworm` plus the packages of
#      scripts/runtime-packages.txt, then scripts/image-runtime-setup.sh run inside it (the
#      Dockerfile's runtime stage runs the same script on debian:bookworm-slim), cached under
#      .build/image/ and keyed by those two files, the suite and the mirror
#      (`check-image.sh --base-only` stops after this step, e.g. to warm the cache);
#   2. scripts/build-release.sh --install STAGE   (the Dockerfile's builder stage runs the same);
#      with `--prebuilt BIN_DIR` instead, the `gateway` and `gatewayctl` already in BIN_DIR, laid
#      out the same way (scripts/test.sh passes the debug build it tested, relinked with the Swift
#      runtime inside by scripts/link-static.sh: one build instead of two; the optimised build
#      itself is the release workflow's and CI's `release build` job);
#   3. a fresh copy of it with STAGE and scripts/healthcheck.sh copied to the image's paths;
#   4. inside it (chroot): ldd on both binaries (any "not found" fails), `gatewayctl --version`,
#      `gateway --version`, then `gateway serve` as the image's unprivileged user with nothing but
#      the variables of .env.example's quick-start block (REDIS_URL and DATABASE_URL pointing at
#      TEST_REDIS_URL and a fresh database on TEST_DATABASE_URL, a random JWT_SIGNING_KEY, a free
#      PORT): /readyz must answer 200 (cold start from exec is measured), /openapi.yaml must be
#      the repository's docs/openapi.yaml, the image's HEALTHCHECK command must pass, and SIGTERM
#      must stop it with status 0. The example's placeholder signing key must be refused (78).
#
# Needs root (debootstrap, chroot, mounting /proc) or sudo, TEST_REDIS_URL and TEST_DATABASE_URL
# (scripts/test.sh sets them; TEST_DATABASE_URL must be allowed to CREATE DATABASE). Installs
# debootstrap with apt-get when missing. Figures go to stdout and .build/image/last-check.txt.
# Environment: DEBIAN_MIRROR (default: the mirror this machine's apt uses, else deb.debian.org),
# GATEWAY_IMAGE_CACHE (default .build/image).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

log() { printf '\n==> check-image: %s\n' "$*"; }
die() { printf 'check-image: %s\n' "$*" >&2; exit 1; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
now_ms() { date +%s%3N; }

: "${TEST_REDIS_URL:?TEST_REDIS_URL must be set (redis://127.0.0.1:PORT)}"
: "${TEST_DATABASE_URL:?TEST_DATABASE_URL must be set (postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable)}"

SUITE=bookworm
RUNTIME_USER=10001:10001   # the Dockerfile's USER
CACHE="${GATEWAY_IMAGE_CACHE:-$REPO/.build/image}"
STAGE="$CACHE/stage"
ROOTFS="$CACHE/rootfs"
SUMMARY="$CACHE/last-check.txt"
started_ms="$(now_ms)"
PREBUILT=""
case "${1:-}" in
  --prebuilt)
    PREBUILT="${2:?--prebuilt needs the directory holding gateway and gatewayctl}"
    for binary in gateway gatewayctl; do
      [ -x "$PREBUILT/$binary" ] || die "--prebuilt: $PREBUILT/$binary is not an executable"
    done
    ;;
  --base-only | "") ;;
  *) die "unknown argument $1 (expected --prebuilt BIN_DIR or --base-only)" ;;
esac

# The Dockerfile must still do what this script reproduces; if it changes shape, so must this.
grep -q '^RUN bash scripts/build-release.sh --install /staging$' Dockerfile || die "the Dockerfile no longer runs scripts/build-release.sh --install /staging"
grep -q 'image-runtime-setup.sh' Dockerfile || die "the Dockerfile no longer runs scripts/image-runtime-setup.sh"
grep -q '^COPY scripts/healthcheck.sh /usr/local/bin/gateway-healthcheck$' Dockerfile || die "the Dockerfile no longer installs scripts/healthcheck.sh as gateway-healthcheck"
grep -q '^FROM ${RUNTIME_IMAGE}' Dockerfile && grep -q '^ARG RUNTIME_IMAGE=debian:bookworm-slim$' Dockerfile || die "the runtime stage is no longer debian:bookworm-slim; update SUITE here"
grep -q "^USER $RUNTIME_USER$" Dockerfile || die "the Dockerfile's USER is no longer $RUNTIME_USER"

# shellcheck source=scripts/test-lib.sh
. scripts/test-lib.sh
PSQL="$(find_psql)" || die "psql is required to create the test database"

if ! command -v debootstrap >/dev/null 2>&1; then
  log "installing debootstrap"
  as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get -o DPkg::Lock::Timeout=600 install -y -qq debootstrap >/dev/null
fi

# MARK: cleanup

GATEWAY_PID=""
DATABASE_NAME=""
PROC_MOUNTED=""
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gateway-check-image.XXXXXX")"
cleanup() {
  local status=$?
  set +e
  [ -n "$GATEWAY_PID" ] && stop_child "$GATEWAY_PID" 100
  [ -n "$PROC_MOUNTED" ] && as_root umount "$ROOTFS/proc"
  [ -n "$DATABASE_NAME" ] && drop_test_database "$PSQL" "$TEST_DATABASE_URL" "$DATABASE_NAME"
  rm -rf "$WORK"
  exit "$status"
}
on_exit cleanup

# MARK: 1. base root filesystem (the Dockerfile's runtime stage), cached

mirror="${DEBIAN_MIRROR:-}"
if [ -z "$mirror" ]; then
  # The first Debian (not -security) archive this machine's apt uses, deb822 or one-line format.
  mirror="$(cat /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i ~ /\/debian\/?$/) { print $i; exit } }')"
  [ -n "$mirror" ] || mirror="$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '$1 == "deb" && $2 ~ /\/debian\/?$/ { print $2; exit }')"
  [ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
fi
packages="$(sed -e 's/#.*//' scripts/runtime-packages.txt | tr -s ' \t\n' ' ' | sed -e 's/^ //' -e 's/ $//')"
[ -n "$packages" ] || die "scripts/runtime-packages.txt lists no package"
key="$( { echo "$SUITE minbase $mirror"; cat scripts/runtime-packages.txt scripts/image-runtime-setup.sh; } | sha256sum | cut -c1-16)"
BASE="$CACHE/base-$SUITE-$key"
base_seconds=0
if [ -f "$BASE/.complete" ]; then
  log "base root filesystem: cached at $BASE"
else
  log "base root filesystem: debootstrap --variant=minbase $SUITE from $mirror, plus: $packages"
  base_started="$(now_ms)"
  mkdir -p "$CACHE"
  as_root rm -rf "$BASE" "$BASE.partial"
  as_root debootstrap --variant=minbase --include="${packages// /,}" "$SUITE" "$BASE.partial" "$mirror" \
    >"$WORK/debootstrap.log" 2>&1 || { tail -n 40 "$WORK/debootstrap.log" >&2; die "debootstrap failed"; }
  # What the runtime stage runs: checks the packages (installing any missing) and adds the user.
  as_root mkdir -p "$BASE.partial/tmp/image-setup"
  as_root cp scripts/runtime-packages.txt scripts/image-runtime-setup.sh "$BASE.partial/tmp/image-setup/"
  as_root chroot "$BASE.partial" sh /tmp/image-setup/image-runtime-setup.sh
  as_root rm -rf "$BASE.partial/tmp/image-setup"
  # Stale bases of other keys go; only the current one is kept.
  for old in "$CACHE"/base-*; do
    [ "$old" = "$BASE.partial" ] || as_root rm -rf "$old"
  done
  as_root touch "$BASE.partial/.complete"
  as_root mv "$BASE.partial" "$BASE"
  base_seconds=$(( ($(now_ms) - base_started) / 1000 ))
fi

if [ "${1:-}" = "--base-only" ]; then
  log "base root filesystem ready at $BASE (--base-only: stopping here)"
  exit 0
fi

# MARK: 2. the binaries: the release build (the Dockerfile's builder stage), or prebuilt ones

build_started="$(now_ms)"
rm -rf "$STAGE"
if [ -n "$PREBUILT" ]; then
  log "prebuilt binaries from $PREBUILT, laid out as scripts/build-release.sh --install does"
  bash scripts/build-release.sh --install-only "$PREBUILT" "$STAGE"
else
  log "release build: scripts/build-release.sh --install $STAGE"
  bash scripts/build-release.sh --install "$STAGE"
fi
build_seconds=$(( ($(now_ms) - build_started) / 1000 ))

# MARK: 3. the image's root filesystem: base + the builder stage's output

log "assembling $ROOTFS"
# A run killed before its cleanup may have left /proc mounted there.
if mountpoint -q "$ROOTFS/proc" 2>/dev/null; then as_root umount "$ROOTFS/proc"; fi
as_root rm -rf --one-file-system "$ROOTFS"
as_root cp -a "$BASE" "$ROOTFS"
as_root rm -f "$ROOTFS/.complete"
as_root cp -a "$STAGE/." "$ROOTFS/"
as_root install -m 0755 scripts/healthcheck.sh "$ROOTFS/usr/local/bin/gateway-healthcheck"
as_root mount -t proc proc "$ROOTFS/proc"
PROC_MOUNTED=1
# A command in the image as its USER, with an empty environment but for PATH (and what is passed).
IMAGE_RUN=(chroot --userspec="$RUNTIME_USER" "$ROOTFS" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin)
[ "$(id -u)" = 0 ] || IMAGE_RUN=(sudo "${IMAGE_RUN[@]}")
in_image() { "${IMAGE_RUN[@]}" "$@"; }

# GET on the gateway from this machine (python3: the CI machine need not have curl).
http_get() { # URL [OUTPUT_FILE]; prints the status code
  python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
try:
    with urllib.request.urlopen(sys.argv[1], timeout=5) as response:
        body = response.read()
        status = response.status
except urllib.error.HTTPError as error:
    body, status = error.read(), error.code
except Exception:
    body, status = b"", 0
if len(sys.argv) > 2:
    open(sys.argv[2], "wb").write(body)
print(status)
PY
}

# MARK: 4. inside the root filesystem

log "ldd inside the root filesystem"
for binary in gateway gatewayctl; do
  ldd_output="$(as_root chroot "$ROOTFS" ldd "/usr/local/bin/$binary" 2>&1)" || { echo "$ldd_output" >&2; die "ldd failed on $binary"; }
  echo "$binary:"
  echo "$ldd_output" | sed 's/^/  /'
  if echo "$ldd_output" | grep -q "not found"; then
    die "$binary needs a library the runtime image lacks (add its package to scripts/runtime-packages.txt)"
  fi
done

log "gatewayctl --version / gateway --version (as uid ${RUNTIME_USER%%:*})"
gatewayctl_version="$(in_image gatewayctl --version)" || die "gatewayctl --version failed in the root filesystem"
gateway_version="$(in_image gateway --version)" || die "gateway --version failed in the root filesystem"
echo "gatewayctl $gatewayctl_version, gateway $gateway_version"

# .env.example's quick-start block: the `KEY=value` lines between "### quick start" and the next "###".
quick_start="$(awk '/^### /{ inside = ($0 ~ /^### quick start/) ; next } inside && /^[A-Z_][A-Z0-9_]*=/' .env.example)"
[ -n "$quick_start" ] || die ".env.example has no '### quick start' block with KEY=value lines"
echo "$quick_start" | grep -q '^AUTH_MODE=demo$' || die ".env.example's quick-start block must set AUTH_MODE=demo"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
PORT="$(free_port)"
DATABASE_NAME="gateway_image_$(date +%s)_$$"
DATABASE_URL="$(create_test_database "$PSQL" "$TEST_DATABASE_URL" "$DATABASE_NAME")" || die "could not create database $DATABASE_NAME"
SIGNING_KEY="$(python3 -c 'import base64, os; print(base64.b64encode(os.urandom(48)).decode())')"

# The block's variables, with the values only this machine knows substituted.
env_args=()
while IFS='=' read -r name value; do
  value="${value%\"}"; value="${value#\"}"
  case "$name" in
    PORT) value="$PORT" ;;
    PUBLIC_BASE_URL) value="http://localhost:$PORT" ;;
    REDIS_URL) value="$TEST_REDIS_URL" ;;
    DATABASE_URL) value="$DATABASE_URL" ;;
    JWT_SIGNING_KEY) value="$SIGNING_KEY" ;;
  esac
  env_args+=("$name=$value")
done <<<"$quick_start"
printf '%s\n' "${env_args[@]}" | grep -q '^PORT=' || env_args+=("PORT=$PORT")
echo "quick-start variables: $(printf '%s ' "${env_args[@]%%=*}")"

log "the example's placeholder signing key is refused"
placeholder_key="$(echo "$quick_start" | sed -n 's/^JWT_SIGNING_KEY=//p')"
[ -n "$placeholder_key" ] || die ".env.example's quick-start block has no JWT_SIGNING_KEY"
placeholder_args=()
for assignment in "${env_args[@]}"; do
  case "$assignment" in
    JWT_SIGNING_KEY=*) placeholder_args+=("JWT_SIGNING_KEY=$placeholder_key") ;;
    *) placeholder_args+=("$assignment") ;;
  esac
done
status=0
in_image "${placeholder_args[@]}" gateway serve --check-config >"$WORK/placeholder.log" 2>&1 || status=$?
[ "$status" = 78 ] || { cat "$WORK/placeholder.log" >&2; die "gateway serve accepted .env.example's placeholder JWT_SIGNING_KEY (exit $status, expected 78)"; }
grep -q "JWT_SIGNING_KEY" "$WORK/placeholder.log" || die "the refusal does not name JWT_SIGNING_KEY"

log "gateway serve in the root filesystem (uid ${RUNTIME_USER%%:*}, port $PORT)"
GATEWAY_LOG="$WORK/gateway.log"
exec_ms="$(now_ms)"
# Started directly (not through a function) so $! is the gateway itself: chroot and env exec it.
"${IMAGE_RUN[@]}" "${env_args[@]}" gateway serve >"$GATEWAY_LOG" 2>&1 &
GATEWAY_PID=$!
# Polls /readyz every 10 ms; prints the epoch milliseconds of the first 200, or fails.
ready_ms="$(python3 - "http://127.0.0.1:$PORT/readyz" "$GATEWAY_PID" <<'PY'
import os, sys, time, urllib.request
url, pid = sys.argv[1], int(sys.argv[2])
deadline = time.time() + 60
while time.time() < deadline:
    if not os.path.exists(f"/proc/{pid}"):
        sys.exit("exited")
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            if response.status == 200:
                print(int(time.time() * 1000))
                sys.exit(0)
    except Exception:
        pass
    time.sleep(0.01)
sys.exit("timeout")
PY
)" || { tail -n 40 "$GATEWAY_LOG" >&2; die "gateway serve in the root filesystem did not answer 200 on /readyz within 60 s (or exited)"; }
cold_start_ms=$(( ready_ms - exec_ms ))
echo "cold start (exec to /readyz 200): ${cold_start_ms} ms"
[ "$(http_get "http://[::1]:$PORT/healthz")" = 200 ] || die "/healthz over IPv6 loopback failed (is the gateway bound to :: ?)"
[ "$(http_get "http://127.0.0.1:$PORT/openapi.yaml" "$WORK/openapi.yaml")" = 200 ] \
  || die "/openapi.yaml failed (expected /usr/share/gateway/openapi.yaml in the image)"
cmp -s "$WORK/openapi.yaml" docs/openapi.yaml || die "/openapi.yaml served from the image differs from docs/openapi.yaml"
in_image PORT="$PORT" gateway-healthcheck || die "the image's HEALTHCHECK command (gateway-healthcheck) failed"
grep -q '"gateway.started"' "$GATEWAY_LOG" || { tail -n 20 "$GATEWAY_LOG" >&2; die "no gateway.started line in the log"; }

log "SIGTERM"
kill -TERM "$GATEWAY_PID"
status=0
wait "$GATEWAY_PID" || status=$?
GATEWAY_PID=""
[ "$status" = 0 ] || { tail -n 20 "$GATEWAY_LOG" >&2; die "gateway serve exited with $status after SIGTERM (expected 0)"; }

# MARK: figures

size_of() { as_root du -sxb "$@" | awk '{ s += $1 } END { printf "%.1f MB", s / 1000000 }'; }
total_seconds=$(( ($(now_ms) - started_ms) / 1000 ))
{
  echo "check-image $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m)"
  echo "gateway binary:       $(size_of "$STAGE/usr/local/bin/gateway")"
  echo "gatewayctl binary:    $(size_of "$STAGE/usr/local/bin/gatewayctl")"
  echo "runtime root fs:      $(size_of "$ROOTFS") (minbase $SUITE + $packages + binaries; debootstrap, not the slim image)"
  echo "  of which the base:  $(size_of "$BASE")"
  echo "cold start:           ${cold_start_ms} ms (exec of gateway serve in the root filesystem to /readyz 200)"
  if [ -n "$PREBUILT" ]; then
    echo "binaries step:        ${build_seconds} s (prebuilt: $PREBUILT; sizes above are of those binaries)"
  else
    echo "binaries step:        ${build_seconds} s (release build, incremental when .build is warm)"
  fi
  echo "base root fs step:    ${base_seconds} s (0: cached)"
  echo "whole check:          ${total_seconds} s"
} | tee "$SUMMARY"
log "passed"
