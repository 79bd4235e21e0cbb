#!/usr/bin/env bash
# Start / stop a real OpenID Provider (LemonLDAP::NG 2.16 from Debian) on
# 127.0.0.1 for tests of the gateway's OIDC relying-party mode.
#
#   scripts/idp/lemonldap.sh start <workdir> <port> <client_id> <client_secret> <redirect_uri...>
#   scripts/idp/lemonldap.sh stop  <workdir>
#   scripts/idp/lemonldap.sh install          (only the Debian packages; start does it too)
#
# <redirect_uri...> is one or more exact redirect URIs (several arguments, or
# one argument with space-separated URIs). LemonLDAP compares them exactly
# (string equality, no prefix/port wildcards), so register every gateway
# callback URL you will use.
#
# Keep client_id and client_secret to [A-Za-z0-9._-]: LemonLDAP 2.16 reads
# client_secret_basic with /^Basic (\w+)/ (a '+' or '/' in the base64 cuts
# it), splits the decoded pair on every ':' and does not URL-decode it.
#
# start installs missing Debian packages (as root, idempotent), writes the
# whole configuration under <workdir> (nothing outside it is changed), runs
# plackup in the background (PID in <workdir>/pid, log in <workdir>/log),
# waits for the discovery document, and prints the issuer on stdout:
#   http://127.0.0.1:<port>          (no trailing slash)
# Discovery: <issuer>/.well-known/openid-configuration
#
# Users (demo backend, password = login): dwho, rtyler, msmith. The ID token
# carries email (mail), name (cn), preferred_username (uid) and
# email_verified=true. Signing: RS256 with a key generated once per workdir
# (kid "llng-test"). PKCE (S256 or plain) is required for the RP; consent is
# bypassed.
#
# Environment: IDP_START_TIMEOUT (seconds, default 30).
set -euo pipefail

die() { echo "lemonldap.sh: $*" >&2; exit 1; }

LLNG_PACKAGES=(
  lemonldap-ng lemonldap-ng-fastcgi-server libplack-perl
  libgd-securityimage-perl libimage-magick-perl libstring-random-perl
  libemail-sender-perl libcrypt-openssl-bignum-perl libconvert-base32-perl
  libio-string-perl libipc-run-perl libmime-tools-perl libunicode-string-perl
  libio-socket-timeout-perl starman openssl python3 curl
)

install_packages() {
  local missing=() p
  for p in "${LLNG_PACKAGES[@]}"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then
      missing+=("$p")
    fi
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages (${missing[*]}) and not root"
  echo "lemonldap.sh: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get -o DPkg::Lock::Timeout=900 -q -y) log
  log=$(mktemp)
  if ! "${apt[@]}" install --no-install-recommends "${missing[@]}" >"$log" 2>&1; then
    "${apt[@]}" update >/dev/null 2>&1 || true
    "${apt[@]}" install --no-install-recommends "${missing[@]}" >"$log" 2>&1 \
      || { tail -20 "$log" >&2; rm -f "$log"; die "apt-get install failed"; }
  fi
  rm -f "$log"
}

# shellcheck source=scripts/idp/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

start_idp() {
  local wd=$1 port=$2 client_id=$3 client_secret=$4; shift 4
  local redirect_uris="$*"
  [ -n "$redirect_uris" ] || die "need at least one redirect URI"
  case "$port" in ''|*[!0-9]*) die "bad port: $port";; esac

  install_packages

  mkdir -p "$wd"
  wd=$(cd "$wd" && pwd)
  stop_idp "$wd"
  rm -rf "$wd/conf" "$wd/sessions" "$wd/psessions" "$wd/cache" "$wd/notifications"
  mkdir -p "$wd/conf" "$wd/sessions/lock" "$wd/psessions/lock" "$wd/cache" "$wd/notifications"

  if [ ! -s "$wd/sig.key" ] || [ ! -s "$wd/sig.pub" ]; then
    openssl genrsa -out "$wd/sig.key" 2048 2>/dev/null
    openssl rsa -in "$wd/sig.key" -pubout -out "$wd/sig.pub" 2>/dev/null
  fi

  local issuer="http://127.0.0.1:$port"
  WD="$wd" ISSUER="$issuer" CLIENT_ID="$client_id" \
  CLIENT_SECRET="$client_secret" REDIRECT_URIS="$redirect_uris" python3 - <<'PY'
import json, os
wd = os.environ["WD"]
with open("/var/lib/lemonldap-ng/conf/lmConf-1.json") as f:
    c = json.load(f)
issuer = os.environ["ISSUER"]
c.update({
    "cfgNum": 1,
    "portal": issuer + "/",
    "domain": "127.0.0.1",             # required ("no domain" otherwise); cookie gets Domain=127.0.0.1
    "securedCookie": 0,
    "logLevel": "notice",
    "globalStorageOptions": {
        "Directory": f"{wd}/sessions",
        "LockDirectory": f"{wd}/sessions/lock",
        "generateModule": "Lemonldap::NG::Common::Apache::Session::Generate::SHA256",
    },
    "persistentStorageOptions": {
        "Directory": f"{wd}/psessions",
        "LockDirectory": f"{wd}/psessions/lock",
    },
    "localSessionStorageOptions": {
        "cache_depth": 3, "cache_root": f"{wd}/cache", "default_expires_in": 600,
        "directory_umask": "007", "namespace": "lemonldap-ng-sessions",
    },
    "notificationStorageOptions": {"dirName": f"{wd}/notifications"},
    "notification": 0,
    "loginHistoryEnabled": 0,
    "reloadUrls": {},
    "issuerDBOpenIDConnectActivation": 1,
    "oidcServiceMetaDataIssuer": issuer,
    "oidcServicePrivateKeySig": open(f"{wd}/sig.key").read(),
    "oidcServicePublicKeySig": open(f"{wd}/sig.pub").read(),
    "oidcServiceKeyIdSig": "llng-test",
    "oidcServiceAllowImplicitFlow": 0,
    "oidcServiceAllowHybridFlow": 0,
    "oidcRPMetaDataOptions": {
        "gateway": {
            "oidcRPMetaDataOptionsClientID": os.environ["CLIENT_ID"],
            "oidcRPMetaDataOptionsClientSecret": os.environ["CLIENT_SECRET"],
            "oidcRPMetaDataOptionsRedirectUris": " ".join(os.environ["REDIRECT_URIS"].split()),
            "oidcRPMetaDataOptionsIDTokenSignAlg": "RS256",
            "oidcRPMetaDataOptionsRequirePKCE": 1,
            "oidcRPMetaDataOptionsBypassConsent": 1,
            "oidcRPMetaDataOptionsIDTokenForceClaims": 1,
            "oidcRPMetaDataOptionsPublic": 0,
            "oidcRPMetaDataOptionsDisplayName": "Agent gateway (test)",
        }
    },
    "oidcRPMetaDataExportedVars": {
        "gateway": {
            "email": "mail",
            "name": "cn",
            "preferred_username": "uid",
            "email_verified": "emailVerified;bool;never",
        }
    },
})
c.setdefault("macros", {})["emailVerified"] = "1"
with open(f"{wd}/conf/lmConf-1.json", "w") as f:
    json.dump(c, f, indent=1, sort_keys=True)

# ini: copy of the packaged one with every path moved under the workdir
ini = open("/etc/lemonldap-ng/lemonldap-ng.ini").read()
ini = ini.replace("/var/lib/lemonldap-ng/conf", f"{wd}/conf")
ini = ini.replace("/var/lib/lemonldap-ng/cache", f"{wd}/cache")
with open(f"{wd}/lemonldap-ng.ini", "w") as f:
    f.write(ini)
PY
  grep -q "dirName *= *$wd/conf" "$wd/lemonldap-ng.ini" || die "could not rewrite dirName in ini"

  local psgi=/usr/share/doc/liblemonldap-ng-portal-perl/examples/index.psgi
  if [ ! -f "$psgi" ]; then
    # same two lines as the packaged example (docs may be excluded by dpkg config)
    psgi="$wd/index.psgi"
    printf 'use Lemonldap::NG::Portal::Main;\nLemonldap::NG::Portal::Main->run({});\n' >"$psgi"
  fi

  if curl -s --max-time 2 -o /dev/null "http://127.0.0.1:$port/"; then
    die "something already answers on 127.0.0.1:$port"
  fi
  local t0; t0=$(date +%s.%N)
  # Starman (preforking) rather than plackup's default single-connection server: a browser's
  # idle pre-connected sockets would otherwise hold the only worker while the gateway's token
  # request waits.
  LLNG_DEFAULTCONFFILE="$wd/lemonldap-ng.ini" setsid plackup -E deployment -s Starman --workers 8 \
    --host 127.0.0.1 --port "$port" "$psgi" >"$wd/log" 2>&1 </dev/null &
  local pid=$!
  echo "$pid" >"$wd/pid"

  local url="$issuer/.well-known/openid-configuration" timeout=${IDP_START_TIMEOUT:-30}
  while :; do
    if curl -fsS --max-time 2 "$url" -o "$wd/discovery.json" 2>/dev/null \
        && grep -q '"issuer"' "$wd/discovery.json"; then
      break
    fi
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "lemonldap.sh: plackup exited; log tail:" >&2; tail -30 "$wd/log" >&2
      rm -f "$wd/pid"; exit 1
    fi
    if grep -q "Initialization failed" "$wd/log"; then
      # the portal stays up but answers 500 forever: show the first errors
      echo "lemonldap.sh: portal initialization failed; log:" >&2
      grep -v "Error 500\|\[anonymous\]" "$wd/log" | head -30 >&2
      stop_idp "$wd"; exit 1
    fi
    if awk -v e="$(elapsed "$t0")" -v t="$timeout" 'BEGIN{exit !(e >= t)}'; then
      echo "lemonldap.sh: no discovery at $url after ${timeout}s; log tail:" >&2
      tail -30 "$wd/log" >&2
      stop_idp "$wd"; exit 1
    fi
    sleep 0.2
  done
  echo "lemonldap.sh: up in $(elapsed "$t0")s (pid $pid)" >&2
  echo "$issuer"
}

case "${1:-}" in
  install)
    install_packages ;;
  start)
    [ $# -ge 6 ] || die "usage: $0 start <workdir> <port> <client_id> <client_secret> <redirect_uri...>"
    shift; start_idp "$@" ;;
  stop)
    [ $# -eq 2 ] || die "usage: $0 stop <workdir>"
    stop_idp "$2" ;;
  *) die "usage: $0 start <workdir> <port> <client_id> <client_secret> <redirect_uri...> | stop <workdir>" ;;
esac
