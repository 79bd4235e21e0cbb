# shellcheck shell=bash
# Nchan (nginx + libnginx-mod-nchan) as the reference server of the streaming benchmark.
# Sourced by scripts/bench-streams.sh when BENCH_NCHAN=1; see docs/benchmarks.md
# ("Side by side with Nchan"). Defines:
#   nchan_install          installs libnginx-mod-nchan (and nginx-light when there is no nginx)
#                          with apt-get when missing
#   nchan_start DIR PORT REDIS_PORT
#                          writes DIR/nginx.conf, starts nginx in the foreground (in the
#                          background of this shell), sets NCHAN_PID (the master) and checks
#                          that a publish reaches a subscriber
#   nchan_stop             stops that nginx by its PID
# Nothing but 127.0.0.1 is contacted.

NCHAN_MODULE="${NCHAN_MODULE:-/usr/lib/nginx/modules/ngx_nchan_module.so}"
NCHAN_PID=""

nchan_install() {
  if command -v nginx >/dev/null 2>&1 && [ -f "$NCHAN_MODULE" ]; then return 0; fi
  # An nginx that is already installed (nginx-core, nginx-full…) is kept: only the module is added.
  local packages="libnginx-mod-nchan" run=()
  command -v nginx >/dev/null 2>&1 || packages="nginx-light $packages"
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "bench-nchan: installing $packages needs root or sudo" >&2; return 1; }
    run=(sudo)
  fi
  echo "bench-nchan: installing $packages with apt-get" >&2
  "${run[@]}" apt-get update -qq
  # shellcheck disable=SC2086
  "${run[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $packages
  if ! command -v nginx >/dev/null 2>&1 || [ ! -f "$NCHAN_MODULE" ]; then
    echo "bench-nchan: nginx or $NCHAN_MODULE missing after the install" >&2
    return 1
  fi
}

# nginx.conf for the benchmark: 2 workers (the machine's cores), everything under DIR,
# messages stored in Redis (the gateway's redis-server), /pub/<channel> to publish,
# /sub/<channel> to subscribe with EventSource. New subscribers get only new messages.
nchan_write_conf() {
  local dir="$1" port="$2" redis_port="$3" user_line="" files
  files="$(ulimit -Hn)"
  [ "$files" = unlimited ] && files=40000
  # Run as root (as the benchmark is when it installs packages), workers would otherwise drop
  # to nobody, who cannot write to DIR.
  [ "$(id -u)" = 0 ] && user_line="user root;"
  cat >"$dir/nginx.conf" <<CONF
load_module $NCHAN_MODULE;
$user_line
worker_processes ${NCHAN_WORKERS:-2};
worker_rlimit_nofile $files;
pid $dir/nginx.pid;
error_log $dir/nginx-error.log warn;
events {
  worker_connections $files;
  multi_accept on;
}
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  client_body_buffer_size 64k;
  keepalive_requests 1000000;
  keepalive_timeout 300s;

  # The same redis-server as the gateway (nchan_redis_url/nchan_use_redis are the older
  # spelling of this upstream block and nchan_redis_pass).
  upstream bench_redis {
    nchan_redis_server "redis://127.0.0.1:$redis_port";
  }

  server {
    listen 127.0.0.1:$port;
    nchan_redis_pass bench_redis;
    nchan_message_buffer_length 100000;
    nchan_message_timeout 10m;
    location ~ ^/pub/([A-Za-z0-9_-]+)$ {
      nchan_publisher http;
      nchan_channel_id \$1;
    }
    location ~ ^/sub/([A-Za-z0-9_-]+)$ {
      nchan_subscriber eventsource;
      nchan_channel_id \$1;
      nchan_subscriber_first_message newest;
      nchan_subscriber_timeout 0;
      # A comment every 15 s, as the gateway's heartbeat (SSE_HEARTBEAT_INTERVAL).
      nchan_eventsource_ping_interval 15;
    }
  }
}
CONF
}

nchan_start() {
  local dir="$1" port="$2" redis_port="$3"
  mkdir -p "$dir"
  nchan_write_conf "$dir" "$port" "$redis_port"
  nginx -p "$dir" -c "$dir/nginx.conf" -g 'daemon off;' >"$dir/nginx.out" 2>&1 &
  NCHAN_PID=$!
  local ok=""
  for _ in $(seq 1 50); do
    if curl -s -o /dev/null --max-time 1 -X POST -d '{"n":0,"t":0}' "http://127.0.0.1:$port/pub/bench-check"; then ok=1; break; fi
    kill -0 "$NCHAN_PID" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ok" ]; then
    cat "$dir/nginx.out" "$dir/nginx-error.log" >&2 2>/dev/null
    echo "bench-nchan: nginx did not start" >&2
    return 1
  fi
  # Publish → subscribe check: a subscriber must get a message published after it connected.
  local events="$dir/check.events"
  curl -s -N --max-time 3 -H 'Accept: text/event-stream' "http://127.0.0.1:$port/sub/bench-check" >"$events" &
  local curl_pid=$!
  sleep 0.5
  curl -s -o /dev/null --max-time 2 -X POST -d '{"n":1,"t":1}' "http://127.0.0.1:$port/pub/bench-check"
  wait "$curl_pid" 2>/dev/null
  if ! grep -q '^data: {"n":1,"t":1}' "$events"; then
    echo "bench-nchan: a published message did not reach the subscriber; it got:" >&2
    cat "$events" >&2
    return 1
  fi
  if grep -q '^data: {"n":0,"t":0}' "$events"; then
    echo "bench-nchan: a new subscriber got an old message (expected only new ones)" >&2
    return 1
  fi
}

nchan_stop() {
  [ -n "$NCHAN_PID" ] || return 0
  if kill -0 "$NCHAN_PID" 2>/dev/null; then
    kill -TERM "$NCHAN_PID" 2>/dev/null   # fast shutdown of the master and its workers
    for _ in $(seq 1 50); do kill -0 "$NCHAN_PID" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$NCHAN_PID" 2>/dev/null && kill -KILL "$NCHAN_PID" 2>/dev/null
    wait "$NCHAN_PID" 2>/dev/null
  fi
  NCHAN_PID=""
}
