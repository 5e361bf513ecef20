#!/usr/bin/env bash
# Router overhead: wrk against a native hyper "hello" server directly, then through the router
# (app hello.localhost → that server over TCP), same settings, side by side.
#
#   bench/router.sh [DURATION] [CONNECTIONS] [THREADS]     # default: 10s 64 2
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10s}
connections=${2:-64}
threads=${3:-2}
command -v wrk >/dev/null || { echo "wrk not found" >&2; exit 2; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/paas-target-router}
cargo build --quiet --release -p paas-router --example hello_server --example router --manifest-path "$root/Cargo.toml"
bin="$CARGO_TARGET_DIR/release/examples"
work=$(mktemp -d)
cleanup() {
  # start() runs in a command substitution (a subshell), so it leaves the pids in a file.
  [ -f "$work/pids" ] && while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$work/pids"
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

native=$(start native "$bin/hello_server")
router=$(start router "$bin/router" "$native")

run() { # label url
  wrk --latency -t"$threads" -c"$connections" -d2s -H 'Host: hello.localhost' "$2" >/dev/null # warm-up
  wrk --latency -t"$threads" -c"$connections" -d"$duration" -H 'Host: hello.localhost' "$2" >"$work/$1.wrk"
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec/ {print $2}' "$work/$1.wrk")
  p50=$(awk '$1 == "50%" {print $2}' "$work/$1.wrk")
  p99=$(awk '$1 == "99%" {print $2}' "$work/$1.wrk")
  errors=$(grep -E 'Non-2xx|Socket errors' "$work/$1.wrk" | tr '\n' ' ' || true)
  printf '%-28s %12s req/s   p50 %-9s p99 %-9s %s\n' "$1" "$rps" "$p50" "$p99" "$errors"
  echo "$rps" >"$work/$1.rps"
}

echo "wrk -t$threads -c$connections -d$duration on $(nproc) cores; native $native, router $router"
run "native (direct)" "http://$native/"
router_pid=$(sed -n 2p "$work/pids")
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, in clock ticks
before=$(cpu "$router_pid")
run "native through router" "http://$router/"
after=$(cpu "$router_pid")
awk -v a="$(cat "$work/native (direct).rps")" -v b="$(cat "$work/native through router.rps")" \
  'BEGIN { printf "router throughput = %.2f of direct (%.1f%% overhead)\n", b / a, (a / b - 1) * 100 }'
# CPU the router process used per proxied request (warm-up included in both counts).
wrk_requests=$(awk '/requests in/ {print $1}' "$work/native through router.wrk")
awk -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" -v n="$wrk_requests" -v d="${duration%s}" -v r="$(cat "$work/native through router.rps")" \
  'BEGIN { printf "router CPU: %.1f us per request (%.2f cores busy)\n", t / hz * 1e6 / (n + r * 2), t / hz / (d + 2) }'

# Instructions the router executes per proxied request, under callgrind (a count, repeatable on a
# loaded machine): two runs of N requests in a row on one keep-alive connection; the difference of
# the totals over the difference of N cancels start-up and shutdown.
if command -v valgrind >/dev/null; then
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
  awk -v a="$small" -v b="$large" 'BEGIN { printf "router instructions per request (callgrind, 1 connection): %d\n", (b - a) / 1000 }'
fi
