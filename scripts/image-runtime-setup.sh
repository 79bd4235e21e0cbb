#!/bin/sh
# Prepares the runtime root filesystem of the gateway image: installs the packages listed in
# runtime-packages.txt (next to this script) and creates the unprivileged `gateway` user.
# Run as root inside the Dockerfile's runtime stage (debian:bookworm-slim) and, by
# scripts/check-image.sh, inside a debootstrapped bookworm root filesystem: one definition,
# so the CI check tests what the image holds.
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
packages="$(sed -e 's/#.*//' "$here/runtime-packages.txt" | tr -s ' \t\n' ' ')"

missing=""
for package in $packages; do
  if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $package"
  fi
done
if [ -n "$missing" ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # shellcheck disable=SC2086
  apt-get install -y --no-install-recommends $missing
fi
# No package lists or downloaded .debs in the image.
apt-get clean
rm -rf /var/lib/apt/lists/*

# A fixed uid/gid so volumes and Kubernetes securityContext settings can name it.
if ! getent passwd gateway >/dev/null; then
  groupadd --system --gid 10001 gateway
  useradd --system --uid 10001 --gid gateway --home-dir /nonexistent --no-create-home \
    --shell /usr/sbin/nologin gateway
fi
