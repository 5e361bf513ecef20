#!/usr/bin/env bash
# Router overhead, side by side in one run: wrk against a native hyper "hello" server directly,
# then through the router (app hello.localhost → that server over TCP), same settings; and, as the
# floor any proxy has, through a TCP splice proxy that parses nothing (router/examples/splice_proxy.rs).
#
# The hello server runs where a native dyno runs: in a network namespace of its own behind a
# veth pair with a /30 (as paas-sandbox sets up native dynos), and the router on the host
# connects to the namespace's address. "Direct" is wrk on the host to that same address, so both
# figures cross the same veth. `NET=loopback` puts the server on the host's loopback instead
# (as before namespaces; also the fallback when not root or without `ip`).
#
#   bench/router.sh [DURATION] [CONNECTIONS] [THREADS]     # default: 10s 64 2
#   ROUNDS=3 bench/router.sh                               # direct/router alternating, 3 times
#   NET=loopback bench/router.sh
#   PERF=router.svg bench/router.sh                        # + a flamegraph of the router (perf, inferno)
#   PIN=1 bench/router.sh     # the proxy on CPU 0, wrk and the hello server on CPU 1 (cores of its own
#                             # for the proxy, as on a many-core node; needs 2 cores or more)
#   PROXY_CPUS=0-7 OTHER_CPUS=8-15 bench/router.sh   # the same with other CPU lists (taskset -c)
#   EXAMPLES=dir bench/router.sh   # prebuilt router, hello_server (and splice_proxy) in dir: no cargo
#   BODY_BYTES=1024 bench/router.sh   # POSTs with a body of that many bytes (Content-Length)
#   SPLICE=0 CALLGRIND=0 bench/router.sh                   # skip the splice floor, the instruction count
#   BEFORE=path/to/router bench/router.sh   # + an earlier build of the router example, measured
#                             # right after the router in every round (a change's effect, side by side)
#   NGINX=0 bench/router.sh    # skip nginx (a lean HTTP reverse proxy: keep-alive upstream, no
#                             # access log), measured as a third proxy when nginx(8) is installed
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10s}
connections=${2:-64}
threads=${3:-2}
rounds=${ROUNDS:-1}
command -v wrk >/dev/null || { echo "wrk not found" >&2; exit 2; }

if [ -n "${EXAMPLES:-}" ]; then
  bin=$EXAMPLES
else
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/paas-target-router}
  cargo build --quiet --release -p paas-router --example hello_server --example router --example splice_proxy \
    --manifest-path "$root/Cargo.toml"
  bin="$CARGO_TARGET_DIR/release/examples"
fi
work=$(mktemp -d)
net=${NET:-netns}
if [ "$net" = netns ] && { [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null; }; then
  echo "bench: not root or no ip(8): the hello server goes on loopback" >&2
  net=loopback
fi
ns="paas-bench-$$"
pin_proxy= pin_other=
if [ "${PIN:-0}" = 1 ]; then
  PROXY_CPUS=${PROXY_CPUS:-0} OTHER_CPUS=${OTHER_CPUS:-1}
fi
if [ -n "${PROXY_CPUS:-}" ]; then
  pin_proxy="taskset -c $PROXY_CPUS" pin_other="taskset -c ${OTHER_CPUS:?OTHER_CPUS goes with PROXY_CPUS}"
fi
cleanup() {
  # start() runs in a command substitution (a subshell), so it leaves the pids in a file.
  [ -f "$work/pids" ] && while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/pids"
  if [ "$net" = netns ]; then
    ip link del "pb$$a" 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# Starts a server printing "Serving HTTP on http://ADDR/" and echoes ADDR.
start() {
  local name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  echo $! >>"$work/pids"
  for _ in $(seq 100); do
    addr=$(sed -n 's|^Serving HTTP on http://\(.*\)/$|\1|p' "$work/$name.out")
    [ -n "$addr" ] && { echo "$addr"; return; }
    sleep 0.05
  done
  echo "$name did not start" >&2; cat "$work/$name.err" >&2; exit 1
}

if [ "$net" = netns ]; then
  # A /30 out of 10.253.0.0/16 picked by pid, host side .1, the "dyno" .2.
  n=$(( ($$ % 16000) * 4 ))
  host_ip="10.253.$((n / 256)).$((n % 256 + 1))" dyno_ip="10.253.$((n / 256)).$((n % 256 + 2))"
  ip netns add "$ns"
  ip link add "pb$$a" type veth peer name "pb$$b"
  ip link set "pb$$b" netns "$ns"
  ip addr add "$host_ip/30" dev "pb$$a"
  ip link set "pb$$a" up
  ip -n "$ns" addr add "$dyno_ip/30" dev "pb$$b"
  ip -n "$ns" link set "pb$$b" up
  ip -n "$ns" link set lo up
  native=$(start native ${pin_other:-} ip netns exec "$ns" "$bin/hello_server" "$dyno_ip:0")
else
  native=$(start native ${pin_other:-} "$bin/hello_server")
fi
router=$(start router ${pin_proxy:-} "$bin/router" "$native")
router_pid=$(sed -n 2p "$work/pids")
router_before= before_pid=
if [ -n "${BEFORE:-}" ]; then
  router_before=$(start before ${pin_proxy:-} "$BEFORE" "$native")
  before_pid=$(sed -n 3p "$work/pids")
fi
splice=
if [ "${SPLICE:-1}" = 1 ]; then
  splice=$(start splice ${pin_proxy:-} "$bin/splice_proxy" "$native")
fi

nginx=
if [ "${NGINX:-1}" = 1 ] && command -v nginx >/dev/null; then
  nginx_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$work/nginx"
  cat >"$work/nginx.conf" <<CONF
worker_processes auto;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  upstream hello { server $native; keepalive 256; }
  server {
    listen 127.0.0.1:$nginx_port;
    location / { proxy_pass http://hello; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
CONF
  ${pin_proxy:-} nginx -c "$work/nginx.conf" -p "$work/nginx" 2>"$work/nginx.err" &
  echo $! >>"$work/pids"
  for _ in $(seq 100); do
    curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/" && { nginx="127.0.0.1:$nginx_port"; break; }
    sleep 0.05
  done
  [ -n "$nginx" ] || { echo "nginx did not start" >&2; cat "$work/nginx.err" "$work/nginx/error.log" >&2; exit 1; }
fi

script=()
if [ -n "${BODY_BYTES:-}" ]; then
  printf 'wrk.method = "POST"\nwrk.body = string.rep("x", %d)\n' "$BODY_BYTES" >"$work/post.lua"
  script=(-s "$work/post.lua")
fi
run() { # label url
  $pin_other wrk --latency -t"$threads" -c"$connections" -d2s "${script[@]}" -H 'Host: hello.localhost' "$2" >/dev/null # warm-up
  $pin_other wrk --latency -t"$threads" -c"$connections" -d"$duration" "${script[@]}" -H 'Host: hello.localhost' "$2" >"$work/$1.wrk"
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$1.wrk")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$1.wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$1.wrk")
  errors=$(grep -E 'Non-2xx|Socket errors' "$work/$1.wrk" | tr '\n' ' ' || true)
  printf '%-24s %12s req/s   p50 %-9s p99 %-9s load %s %s\n' "$1" "$rps" "$p50" "$p99" \
    "$(cut -d' ' -f1 /proc/loadavg)" "$errors"
  echo "$rps" >"$work/$1.rps"
}
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
share() { awk -v a="$(cat "$work/direct.rps")" -v b="$(cat "$work/$1.rps")" 'BEGIN { printf "%.2f", b / a }'; } # label → of direct
# nginx's master and its workers, together.
nginx_cpu() { local t=0 p; for p in $(pgrep -f "nginx -c $work/nginx.conf"; pgrep -P "$(pgrep -of "nginx -c $work/nginx.conf")"); do t=$((t + $(cpu "$p"))); done; echo "$t"; }

echo "# bench/router.sh $duration $connections $threads  $(date -u '+%Y-%m-%d %H:%M UTC')  $(git -C "$root" rev-parse --short HEAD)"
echo "# $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# hello server at $native ($net), router at $router${router_before:+, router before (\$BEFORE) at $router_before}${splice:+, splice proxy at $splice}${nginx:+, nginx at $nginx}; wrk -t$threads -c$connections -d$duration (2 s warm-up each)${BODY_BYTES:+; POSTs of $BODY_BYTES bytes}${pin_proxy:+; proxies on CPUs $PROXY_CPUS, wrk and the hello server on CPUs $OTHER_CPUS}"
ratios=() floors=() nginxes=() befores=()
for round in $(seq "$rounds"); do
  run "direct" "http://$native/"
  before=$(cpu "$router_pid")
  if [ -n "${PERF:-}" ] && [ "$round" = 1 ]; then
    # 5 s of the measured run (after wrk's warm-up), with DWARF call graphs (no frame pointers).
    (sleep 4; perf record -q -F 499 --call-graph dwarf,16384 -p "$router_pid" -o "$work/perf.data" -- sleep 5 \
      >/dev/null 2>"$work/perf.err") &
    perf_job=$!
  fi
  run "through router" "http://$router/"
  after=$(cpu "$router_pid")
  if [ -n "${PERF:-}" ] && [ "$round" = 1 ]; then
    wait "$perf_job" || { cat "$work/perf.err" >&2; exit 1; }
    perf script --no-inline -i "$work/perf.data" 2>/dev/null | inferno-collapse-perf >"$work/perf.folded"
    cp "$work/perf.folded" "${PERF%.svg}.folded"
    inferno-flamegraph --title "router → native hello server, wrk -c$connections" <"$work/perf.folded" >"$PERF"
    echo "flamegraph: $PERF; the router's own time by function (self, top 25):"
    perf report --no-inline -i "$work/perf.data" --no-children -g none --percent-limit 0.5 --sort symbol --stdio 2>/dev/null | grep -E "^ +[0-9.]+%" | sed "s/ *- *- *$//" | head -25
  fi
  ratio=$(share "through router")
  ratios+=("$ratio")
  if [ -n "$router_before" ]; then
    cpu_before=$(cpu "$before_pid")
    run "through router before" "http://$router_before/"
    cpu_after=$(cpu "$before_pid")
    before_ratio=$(share "through router before")
    befores+=("$before_ratio")
    awk -v t=$((cpu_after - cpu_before)) -v hz="$(getconf CLK_TCK)" -v n="$(awk '/requests in/ {print $1}' "$work/through router before.wrk")" \
      -v r="$(cat "$work/through router before.rps")" -v ratio="$before_ratio" \
      'BEGIN { printf "router before: %s of direct, CPU %.1f us per request\n", ratio, t / hz * 1e6 / (n + r * 2) }'
  fi
  if [ -n "$splice" ]; then
    run "through splice proxy" "http://$splice/"
    floor=$(share "through splice proxy")
    floors+=("$floor")
  fi
  if [ -n "$nginx" ]; then
    nginx_before=$(nginx_cpu)
    run "through nginx" "http://$nginx/"
    nginx_after=$(nginx_cpu)
    nginx_ratio=$(share "through nginx")
    nginxes+=("$nginx_ratio")
    awk -v t=$((nginx_after - nginx_before)) -v hz="$(getconf CLK_TCK)" -v n="$(awk '/requests in/ {print $1}' "$work/through nginx.wrk")" \
      -v r="$(cat "$work/through nginx.rps")" 'BEGIN { printf "nginx CPU %.1f us per request\n", t / hz * 1e6 / (n + r * 2) }'
  fi
  # CPU the router process used per proxied request (warm-up included in both counts).
  wrk_requests=$(awk '/requests in/ {print $1}' "$work/through router.wrk")
  awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$wrk_requests" -v d="${duration%s}" \
    -v r="$(cat "$work/through router.rps")" -v ratio="$ratio" -v round="$round" \
    -v floor="${floor:-}" -v nginx="${nginx_ratio:-}" \
    'BEGIN { printf "round %d: router throughput = %s of direct%s%s; router CPU %.1f us per request (%.2f cores busy)\n", round, ratio, floor == "" ? "" : " (splice proxy: " floor ")", nginx == "" ? "" : " (nginx: " nginx ")", t / hz * 1e6 / (n + r * 2), t / hz / (d + 2) }'
done
if [ "$rounds" -gt 1 ]; then echo "ratios: ${ratios[*]}${befores[*]:+; router before: ${befores[*]}}${floors[*]:+; splice proxy: ${floors[*]}}${nginxes[*]:+; nginx: ${nginxes[*]}}"; fi

# Instructions the router executes per proxied request, under callgrind (a count, repeatable on a
# loaded machine): two runs of N requests in a row on one keep-alive connection; the difference of
# the totals over the difference of N cancels start-up and shutdown.
if command -v valgrind >/dev/null && [ "${CALLGRIND:-1}" = 1 ]; then
  instructions() { # requests → total instructions of the router process
    local out="$work/callgrind.$1" addr=
    valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$bin/router" "$native" >"$out.stdout" 2>"$out.log" &
    local pid=$!
    for _ in $(seq 600); do
      addr=$(sed -n 's|^Serving HTTP on http://\(.*\)/$|\1|p' "$out.stdout")
      [ -n "$addr" ] && break
      sleep 0.1
    done
    [ -n "$addr" ] || { echo "the router did not start under valgrind" >&2; cat "$out.log" >&2; exit 1; }
    curl -sf -H 'Host: hello.localhost' "http://$addr/?[1-$1]" >/dev/null
    kill -TERM "$pid"
    wait "$pid" || true
    sed -n 's/.*Collected : \([0-9]*\).*/\1/p' "$out.log"
  }
  small=$(instructions 200)
  large=$(instructions 1200)
  if grep -q "Process terminating" "$work"/callgrind.*.log; then
    # rustix finds the vDSO (the router's coarse clock) through the process's auxiliary vector,
    # which under valgrind names a vDSO valgrind does not map: the router dies at its first clock read.
    echo "router instructions per request: not counted, the router died under valgrind:" >&2
    grep -m1 -A3 "Process terminating" "$work"/callgrind.*.log >&2
  else
    awk -v a="$small" -v b="$large" 'BEGIN { printf "router instructions per request (callgrind, 1 connection): %d\n", (b - a) / 1000 }'
  fi
fi
