#!/usr/bin/env bash
# The one release build of the gateway image. The Dockerfile's builder stage and
# scripts/check-image.sh both run this script, so the image and the CI check cannot drift.
#
#   scripts/build-release.sh                 build `gateway` and `gatewayctl` (release, static Swift stdlib)
#   scripts/build-release.sh --install DIR   ...then lay them out under DIR exactly as the runtime image does:
#       DIR/usr/local/bin/gateway
#       DIR/usr/local/bin/gatewayctl
#       DIR/usr/share/gateway/openapi.yaml   (the server serves it from there in images)
#   scripts/build-release.sh --install-only BIN_DIR DIR
#                                            ...no build: lay out the gateway and gatewayctl of BIN_DIR
#                                            (scripts/check-image.sh --prebuilt uses it)
#
# Extra arguments after the options go to `swift build` (e.g. `--jobs 2`).
set -euo pipefail
cd "$(dirname "$0")/.."

install_dir=""
bin_path=""
if [ "${1:-}" = "--install-only" ]; then
  [ -n "${2:-}" ] && [ -n "${3:-}" ] || { echo "build-release: --install-only needs BIN_DIR and DIR" >&2; exit 2; }
  bin_path="$2"
  install_dir="$3"
  shift 3
elif [ "${1:-}" = "--install" ]; then
  [ -n "${2:-}" ] || { echo "build-release: --install needs a directory" >&2; exit 2; }
  install_dir="$2"
  shift 2
fi

# The Swift standard library and Foundation are linked into the binaries, so the runtime image
# needs no Swift toolchain, only a few Debian libraries (see scripts/runtime-packages.txt).
SWIFT_BUILD=(swift build -c release --static-swift-stdlib "$@")

if [ -z "$bin_path" ]; then
  for product in gateway gatewayctl; do
    echo "build-release: ${SWIFT_BUILD[*]} --product $product"
    "${SWIFT_BUILD[@]}" --product "$product"
  done
fi

if [ -n "$install_dir" ]; then
  [ -n "$bin_path" ] || bin_path="$("${SWIFT_BUILD[@]}" --show-bin-path)"
  install -d "$install_dir/usr/local/bin" "$install_dir/usr/share/gateway"
  install -m 0755 "$bin_path/gateway" "$bin_path/gatewayctl" "$install_dir/usr/local/bin/"
  # Without DWARF debug info the binaries are about a third smaller; the symbol table stays, so
  # crash backtraces still name functions. (strip is binutils', which the Swift toolchain needs.)
  command -v strip >/dev/null 2>&1 || { echo "build-release: strip (binutils) is required" >&2; exit 1; }
  strip --strip-debug "$install_dir/usr/local/bin/gateway" "$install_dir/usr/local/bin/gatewayctl"
  install -m 0644 docs/openapi.yaml "$install_dir/usr/share/gateway/openapi.yaml"
  echo "build-release: installed into $install_dir"
fi
