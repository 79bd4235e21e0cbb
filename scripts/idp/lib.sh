# Shared by the identity-provider scripts: stopping what `start` left in <workdir>/pid.

# Stops the process whose PID is in <workdir>/pid (TERM, then KILL after 5 s).
stop_idp() {
  local wd=$1 pid
  [ -f "$wd/pid" ] || return 0
  pid=$(cat "$wd/pid")
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$wd/pid"
}

# Seconds since a `date +%s.%N` stamp, one decimal.
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN{printf "%.1f", b-a}'; }
