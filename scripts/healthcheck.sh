#!/bin/bash
# Container health check: GET /readyz on the gateway's own port, healthy on 200 only.
# Uses bash's /dev/tcp so the runtime image needs no curl or wget.
# The gateway binds `::` (dual stack) by default, so 127.0.0.1 reaches it.
set -u
port="${PORT:-8080}"
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /readyz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
IFS= read -r -t 5 status_line <&3 || exit 1
exec 3<&-
case "$status_line" in
  "HTTP/1.1 200"*|"HTTP/1.0 200"*) exit 0 ;;
  *) echo "readyz: ${status_line%$'\r'}" >&2; exit 1 ;;
esac
