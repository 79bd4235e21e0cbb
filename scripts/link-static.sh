#!/usr/bin/env bash
# Links the debug `gateway` and `gatewayctl` a second time, with the Swift standard library and
# Foundation linked in as the image's release build (scripts/build-release.sh) links them, into
# .build/static/ — so the tests and the image check (scripts/check-image.sh --prebuilt) run the
# very code `swift build --build-tests` compiled, without a second, optimised build of the whole
# package (about 9 minutes on 2 cores).
#
# Only the link runs, outside SwiftPM, over SwiftPM's own objects: SwiftPM's link command for the
# product (from its build manifest .build/debug.yaml, or else printed by `swift build -v` while it
# relinks it) is run again with -static-stdlib and another output. Asking SwiftPM itself (`swift build --static-swift-stdlib`) would recompile
# some modules with static autolink entries in the shared build directory and leave the next
# plain `swift build` unable to link.
#
# Objects compiled without -static-stdlib name only the dynamic Foundation libraries; the static
# ones need their own dependencies too. Those are what the toolchain asks for: a probe compiled
# with -static-stdlib lists them (swift-autolink-extract), passed in one linker group.
#
#   scripts/link-static.sh      prints the directory holding the two binaries on its last line
set -euo pipefail
cd "$(dirname "$0")/.."

BIN_PATH="$(swift build --show-bin-path)"
OUT="$(pwd)/.build/static"
mkdir -p "$OUT"
probe_dir="$(mktemp -d "${TMPDIR:-/tmp}/gateway-link-static.XXXXXX")"
trap 'rm -rf "$probe_dir"' EXIT

printf 'import Foundation\nimport Synchronization\nprint(Date())\n' >"$probe_dir/probe.swift"
swiftc -static-stdlib -c "$probe_dir/probe.swift" -o "$probe_dir/probe.o"
autolink_extract="$(dirname "$(command -v swiftc)")/swift-autolink-extract"
[ -x "$autolink_extract" ] || autolink_extract="$(command -v swift-autolink-extract)"
"$autolink_extract" "$probe_dir/probe.o" -o - | grep -E '^-l' >"$probe_dir/libraries" || true
[ -s "$probe_dir/libraries" ] || { echo "link-static: the toolchain named no libraries for a static probe" >&2; exit 1; }

MANIFEST="$(pwd)/.build/debug.yaml"
for product in gateway gatewayctl; do
  # SwiftPM's link command for the product: from its build manifest (llbuild's YAML, whose `args`
  # is a JSON array), or else from `swift build -v` while it relinks the product.
  python3 - "$MANIFEST" "$BIN_PATH/$product" >"$probe_dir/$product.link" <<'PY' || true
import json, re, shlex, sys
text = open(sys.argv[1]).read()
match = re.search(r'outputs: \["' + re.escape(sys.argv[2]) + r'"\]\n\s+description: "Linking[^\n]*\n\s+args: (\[.*\])\n', text)
if match:
    print(shlex.join(json.loads(match.group(1))))
PY
  if [ ! -s "$probe_dir/$product.link" ]; then
    rm -f "$BIN_PATH/$product"
    swift build --product "$product" -v >"$probe_dir/$product.log" 2>&1 || { tail -n 30 "$probe_dir/$product.log" >&2; exit 1; }
    grep -F -- "-o $BIN_PATH/$product " "$probe_dir/$product.log" | grep -F -- "-emit-executable" | tail -n 1 >"$probe_dir/$product.link"
  fi
  [ -s "$probe_dir/$product.link" ] || { echo "link-static: found no link command for $product" >&2; exit 1; }
  echo "link-static: $product -> $OUT/$product ($(wc -l <"$probe_dir/libraries") libraries from the toolchain)"
  python3 - "$probe_dir/$product.link" "$probe_dir/libraries" "$BIN_PATH/$product" "$OUT/$product" <<'PY'
import shlex, subprocess, sys
command = shlex.split(open(sys.argv[1]).read())
libraries = open(sys.argv[2]).read().split()
original, output = sys.argv[3], sys.argv[4]
result = []
index = 0
while index < len(command):
    argument = command[index]
    if argument == "-o" and command[index + 1] == original:
        result += ["-o", output]
        index += 2
        continue
    # The dynamic build's rpath to its own directory means nothing for a static binary.
    if argument == "-Xlinker" and command[index + 1].startswith("-rpath="):
        index += 2
        continue
    # `swift build -v` passed its -v on: the link itself need not echo every command.
    if argument == "-v":
        index += 1
        continue
    result.append(argument)
    index += 1
result.insert(1, "-static-stdlib")
result += ["-Xlinker", "--start-group"] + [part for library in libraries for part in ("-Xlinker", library)] + ["-Xlinker", "--end-group"]
completed = subprocess.run(result, capture_output=True, text=True)
# Static glibc's link-time notes about mktemp are Foundation's, not the project's.
for line in (completed.stdout + completed.stderr).splitlines():
    if "the use of `mktemp' is dangerous" not in line:
        print(line, file=sys.stderr)
sys.exit(completed.returncode)
PY
done
echo "$OUT"
