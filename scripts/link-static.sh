#!/usr/bin/env bash
# Relinks the debug `gateway` and `gatewayctl` with the Swift standard library and Foundation
# linked in, as the image's release build (scripts/build-release.sh) links them, so the image
# check (scripts/check-image.sh --prebuilt) runs the very binaries the tests ran, without a
# second, optimised build of the whole package (about 9 minutes on 2 cores). Only the link
# step runs: the objects of `swift build --build-tests` are reused.
#
# Objects compiled without -static-stdlib name only the dynamic Foundation libraries to link;
# the static ones need their own dependencies too. Those are what the toolchain itself asks
# for: a probe compiled with -static-stdlib lists them (swift-autolink-extract), and they are
# passed in one linker group so their order does not matter.
#
#   scripts/link-static.sh          relink both products in the debug build directory
set -euo pipefail
cd "$(dirname "$0")/.."

probe_dir="$(mktemp -d "${TMPDIR:-/tmp}/gateway-link-static.XXXXXX")"
trap 'rm -rf "$probe_dir"' EXIT
printf 'import Foundation\nimport Synchronization\nprint(Date())\n' >"$probe_dir/probe.swift"
swiftc -static-stdlib -c "$probe_dir/probe.swift" -o "$probe_dir/probe.o"
autolink_extract="$(dirname "$(command -v swiftc)")/swift-autolink-extract"
[ -x "$autolink_extract" ] || autolink_extract="$(command -v swift-autolink-extract)"
mapfile -t libraries < <("$autolink_extract" "$probe_dir/probe.o" -o - | grep -E '^-l')
[ ${#libraries[@]} -gt 0 ] || { echo "link-static: the toolchain named no libraries for a static probe" >&2; exit 1; }

linker_group=(-Xlinker --start-group)
for library in "${libraries[@]}"; do linker_group+=(-Xlinker "$library"); done
linker_group+=(-Xlinker --end-group)

for product in gateway gatewayctl; do
  echo "link-static: swift build --static-swift-stdlib --product $product (${#libraries[@]} libraries from the toolchain)"
  status=0
  swift build --static-swift-stdlib --product "$product" "${linker_group[@]}" >"$probe_dir/build.log" 2>&1 || status=$?
  # Static glibc's link-time notes about mktemp are Foundation's, not the project's.
  grep -vE "warning: the use of .mktemp. is dangerous" "$probe_dir/build.log" || true
  [ "$status" = 0 ] || { echo "link-static: linking $product failed" >&2; exit "$status"; }
done
