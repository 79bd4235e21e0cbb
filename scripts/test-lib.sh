# Helpers shared by the scripts that run a throw-away gateway against the test Redis and
# Postgres (scripts/test.sh, scripts/install-test-tools.sh, scripts/python-tests.sh,
# scripts/check-image.sh). Source it; it defines functions only.

# pg_bin_dir: prints Debian's PostgreSQL server directory (initdb, pg_ctl), or fails.
pg_bin_dir() {
  local dir
  for dir in /usr/lib/postgresql/15/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/17/bin; do
    [ -x "$dir/initdb" ] && { echo "$dir"; return 0; }
  done
  return 1
}

# find_psql: prints the path of psql (PATH, $PG_BIN, or Debian's PostgreSQL directories).
find_psql() {
  local dir
  if command -v psql >/dev/null 2>&1; then command -v psql; return 0; fi
  for dir in "${PG_BIN:-}" /usr/lib/postgresql/15/bin /usr/lib/postgresql/16/bin /usr/lib/postgresql/17/bin; do
    [ -n "$dir" ] && [ -x "$dir/psql" ] && { echo "$dir/psql"; return 0; }
  done
  return 1
}

# create_test_database PSQL SERVER_URL NAME: creates database NAME on the server of SERVER_URL
# (a superuser's postgres:// URL) and prints SERVER_URL with its path replaced by /NAME.
create_test_database() {
  "$1" "$2" -v ON_ERROR_STOP=1 -qc "CREATE DATABASE \"$3\"" >/dev/null || return 1
  python3 - "$2" "$3" <<'PY'
import sys
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(sys.argv[1])
print(urlunsplit(parts._replace(path="/" + sys.argv[2])))
PY
}

# drop_test_database PSQL SERVER_URL NAME: drops it, connections and all; never fails.
drop_test_database() {
  "$1" "$2" -v ON_ERROR_STOP=1 -qc "DROP DATABASE IF EXISTS \"$3\" WITH (FORCE)" >/dev/null 2>&1 || true
}

# stop_child PID [GRACE_TENTHS]: SIGTERM a child process of this shell, SIGKILL it if it is still
# there after GRACE_TENTHS tenths of a second (default 50), then reap it. Never fails.
stop_child() {
  local pid="$1" grace="${2:-50}"
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 "$grace"); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

# on_exit FUNCTION: runs FUNCTION when the script ends, also on SIGINT (130) and SIGTERM (143).
on_exit() {
  trap "$1" EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}
