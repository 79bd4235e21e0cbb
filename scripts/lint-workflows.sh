#!/usr/bin/env bash
# Lints the GitHub Actions workflows (.github/workflows/*.yml) with two third-party tools:
#   - check-jsonschema --builtin-schema vendor.github-workflows: every file against the
#     SchemaStore schema of workflow files (unknown keys, wrong types, misspelt events);
#   - zizmor --offline: static security analysis (template injection, unpinned actions,
#     excessive permissions, credentials persisted by checkout, cache poisoning in releases, ...)
#     at its default ("regular") persona. Findings are fixed in the workflows; the few that are
#     inherent carry a `# zizmor: ignore[audit]` comment on the line, with the reason next to it.
# Any finding, or tools that cannot be installed, fails the run with a message saying which.
#
# The tools live in a virtualenv at .build/lint-venv (LINT_VENV overrides it), created on the
# first run with `python3 -m venv` (Python 3.11 or newer, Debian's python3-venv) and filled from
# PyPI with the pinned versions below; later runs reuse it without calling pip.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO="$(pwd)"

# Bump both here; the virtualenv is refilled when this line changes.
PINS=(zizmor==1.32.0 check-jsonschema==0.39.0)

die() { printf '\nlint-workflows: FAILED: %s\n' "$*" >&2; exit 1; }

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
shopt -u nullglob
[ ${#workflows[@]} -gt 0 ] || die "no workflow files under .github/workflows"

# MARK: virtualenv

VENV="${LINT_VENV:-$REPO/.build/lint-venv}"
STAMP="$VENV/.lint-workflows-pins"
venv_ready() {
  [ -x "$VENV/bin/zizmor" ] && [ -x "$VENV/bin/check-jsonschema" ] \
    && [ "$(cat "$STAMP" 2>/dev/null)" = "${PINS[*]}" ]
}

if ! venv_ready; then
  mkdir -p "$(dirname "$VENV")"
  (
    # Serialize concurrent runs sharing the virtualenv (the test script and a developer's shell).
    if command -v flock >/dev/null 2>&1; then
      exec 9>"$VENV.lock"
      timeout 300 flock 9 || die "timed out waiting for $VENV.lock"
    fi
    venv_ready && exit 0
    command -v python3 >/dev/null 2>&1 || die "python3 is required (Python 3.11 or newer)"
    python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
      || die "Python 3.11 or newer is required (zizmor and check-jsonschema need it); python3 is $(python3 -V 2>&1)"
    echo "lint-workflows: installing ${PINS[*]} into $VENV"
    rm -rf "$VENV"
    python3 -m venv "$VENV" >/dev/null 2>&1 \
      || die "python3 -m venv $VENV failed (on Debian and Ubuntu: apt-get install python3-venv)"
    PIP_DISABLE_PIP_VERSION_CHECK=1 timeout 600 "$VENV/bin/python" -m pip install -q "${PINS[@]}" \
      || die "could not install ${PINS[*]} (pip's error is above; the tools come from PyPI)"
    if [ ! -x "$VENV/bin/zizmor" ] || [ ! -x "$VENV/bin/check-jsonschema" ]; then
      die "pip finished but $VENV/bin has no zizmor or check-jsonschema"
    fi
    printf '%s' "${PINS[*]}" >"$STAMP"
  )
fi

# MARK: lint

status=0
failed=()

echo "lint-workflows: check-jsonschema (vendor.github-workflows) on ${workflows[*]}"
if ! "$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows "${workflows[@]}"; then
  status=1
  failed+=("check-jsonschema: a workflow file is not valid YAML or does not match the GitHub workflow schema (above)")
fi

echo "lint-workflows: zizmor --offline on ${workflows[*]}"
# --no-config: the findings depend on the workflows alone, not on a zizmor.yml somewhere or
# ZIZMOR_CONFIG; exceptions are the ignore comments in the workflow files themselves.
# RUST_BACKTRACE=0: a workflow zizmor cannot load is reported in a few lines, without a backtrace.
zizmor_status=0
RUST_BACKTRACE=0 "$VENV/bin/zizmor" --offline --no-config --no-progress --color=never --strict-collection \
  "${workflows[@]}" || zizmor_status=$?
if [ "$zizmor_status" -ne 0 ]; then
  status=1
  if [ "$zizmor_status" -ge 10 ]; then
    failed+=("zizmor: findings in the workflows (listed above; exit status $zizmor_status)")
  else
    failed+=("zizmor: could not audit the workflows (exit status $zizmor_status; its error is above)")
  fi
fi

if [ "$status" -ne 0 ]; then
  printf '\nlint-workflows: FAILED:\n' >&2
  printf '  - %s\n' "${failed[@]}" >&2
  exit 1
fi
echo "lint-workflows: ${#workflows[@]} workflow files pass check-jsonschema and zizmor (no findings)"
