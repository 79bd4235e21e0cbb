#!/usr/bin/env bash
# Start / stop oidc-provider-mock (PyPI) on 127.0.0.1 as a second, real
# OpenID Provider for tests of the gateway's OIDC relying-party mode.
#
#   scripts/idp/oidc-mock.sh start <workdir> <port>
#   scripts/idp/oidc-mock.sh stop  <workdir>
#   scripts/idp/oidc-mock.sh prepare      (only the virtualenv, $IDP_VENV; scripts/python-tests.sh --prepare)
#
# The virtualenv is <workdir>/../venv-oidc-mock, or $IDP_VENV; it is created
# once and reused. start runs the provider in the background (PID in
# <workdir>/pid, log in <workdir>/log), waits for discovery and prints the
# issuer on stdout:  http://127.0.0.1:<port>   (no trailing slash)
#
# Behaviour worth knowing (0.3.4):
#  * no client registration: any client_id / client_secret / redirect_uri is
#    accepted (so a wrong secret is NOT refused);
#  * PKCE is not enforced (code_verifier is ignored, even a wrong one);
#  * the login form posts sub=<subject>, no password;
#  * the issuer is derived from the request's Host header: always use
#    127.0.0.1, never "localhost", or iss changes;
#  * a new RSA signing key on every start; the ID token header has NO kid
#    (the JWKS key has one: its thumbprint) - verifiers must cope;
#  * discovery has no token_endpoint_auth_methods_supported (default:
#    client_secret_basic) and no code_challenge_methods_supported.
# Predefined users (claims for scopes profile/email): alice (email_verified
# true), bob (email_verified false). Any other sub gets {"email": <sub>} only.
#
# Environment: IDP_VENV, IDP_START_TIMEOUT (seconds, default 30),
#              OIDC_MOCK_VERSION (default 0.3.4; 0.4.x needs Python >= 3.12).
set -euo pipefail

die() { echo "oidc-mock.sh: $*" >&2; exit 1; }

# shellcheck source=scripts/idp/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ensure_venv() {
  local venv=$1 version=${OIDC_MOCK_VERSION:-0.3.4}
  if [ -x "$venv/bin/oidc-provider-mock" ] \
      && "$venv/bin/python" -c "import importlib.metadata as m,sys; sys.exit(m.version('oidc-provider-mock')!='$version')" 2>/dev/null; then
    return 0
  fi
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    [ "$(id -u)" = 0 ] || die "python3-venv missing and not root"
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 -q -y \
      install --no-install-recommends python3-venv >/dev/null 2>&1 \
      || die "could not install python3-venv"
  fi
  [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
  echo "oidc-mock.sh: installing oidc-provider-mock==$version into $venv" >&2
  "$venv/bin/pip" install -q --disable-pip-version-check \
    "oidc-provider-mock==$version" "authlib>=1.5,<2" >"$venv.pip.log" 2>&1 \
    || { tail -20 "$venv.pip.log" >&2; die "pip install failed"; }
}

start_idp() {
  local wd=$1 port=$2
  case "$port" in ''|*[!0-9]*) die "bad port: $port";; esac
  mkdir -p "$wd"
  wd=$(cd "$wd" && pwd)
  local venv=${IDP_VENV:-$(dirname "$wd")/venv-oidc-mock}
  ensure_venv "$venv"
  stop_idp "$wd"

  if curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$port/"; then
    die "something already answers on 127.0.0.1:$port"
  fi
  local t0; t0=$(date +%s.%N)
  PYTHONWARNINGS=ignore setsid "$venv/bin/oidc-provider-mock" \
    --host 127.0.0.1 --port "$port" \
    --user-claims '{"sub":"alice","email":"alice@example.com","email_verified":true,"name":"Alice Example","preferred_username":"alice"}' \
    --user-claims '{"sub":"bob","email":"bob@example.com","email_verified":false,"name":"Bob Example","preferred_username":"bob"}' \
    >"$wd/log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$wd/pid"

  local issuer="http://127.0.0.1:$port" timeout=${IDP_START_TIMEOUT:-30}
  local url="$issuer/.well-known/openid-configuration"
  while :; do
    if curl -fsS --max-time 2 "$url" -o "$wd/discovery.json" 2>/dev/null \
        && grep -q '"issuer"' "$wd/discovery.json"; then
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "oidc-mock.sh: provider exited; log tail:" >&2; tail -30 "$wd/log" >&2
      rm -f "$wd/pid"; exit 1
    fi
    if awk -v e="$(elapsed "$t0")" -v t="$timeout" 'BEGIN{exit !(e >= t)}'; then
      echo "oidc-mock.sh: no discovery at $url after ${timeout}s; log tail:" >&2
      tail -30 "$wd/log" >&2
      stop_idp "$wd"; exit 1
    fi
    sleep 0.2
  done
  echo "oidc-mock.sh: up in $(elapsed "$t0")s (pid $pid)" >&2
  echo "$issuer"
}

case "${1:-}" in
  start) [ $# -eq 3 ] || die "usage: $0 start <workdir> <port>"; start_idp "$2" "$3" ;;
  stop)  [ $# -eq 2 ] || die "usage: $0 stop <workdir>"; stop_idp "$2" ;;
  prepare) [ -n "${IDP_VENV:-}" ] || die "prepare needs IDP_VENV"; ensure_venv "$IDP_VENV" ;;
  *) die "usage: $0 start <workdir> <port> | stop <workdir> | prepare" ;;
esac
