#!/usr/bin/env bash
# Installs what the whole suite needs beyond Swift, with apt-get (as root or through sudo), only
# when it is missing:
#   - redis-server and PostgreSQL (the services scripts/test.sh starts),
#   - chromium and chromium-driver (the web app's browser tests),
#   - zbar-tools (zbarimg, the independent QR decoder of the web app's and gatewayctl's tests),
#   - nodejs (the web app's JavaScript unit tests),
#   - LemonLDAP::NG and the Perl modules its portal loads (the OIDC tests' identity provider,
#     scripts/idp/lemonldap.sh).
# scripts/test.sh runs it first; run it alone to prepare a machine. A plain `swift test` needs
# none of it: it runs the in-memory tests and skips the service-backed ones, saying so.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\n==> %s\n' "$*"; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# shellcheck source=scripts/test-lib.sh
. scripts/test-lib.sh

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
pg_bin_dir >/dev/null || missing+=(postgresql)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v chromedriver >/dev/null 2>&1 || missing+=(chromium-driver)
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
fi
bash scripts/idp/lemonldap.sh install
