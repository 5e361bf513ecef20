#!/usr/bin/env bash
# Where a request's CPU goes: a real `paas server` serving examples/hello-rust as a prebuilt
# `greeter.wasm` (as bench/paas-vs-wasmtime.sh does) under wrk, sampled by `perf record -g`
# for DURATION, folded with inferno into an SVG flamegraph plus the top functions (self time)
# and the top callers by thread. Output in $OUT (default bench/results/flamegraph-<UTC time>/).
#
#   bench/flamegraph.sh [DURATION] [CONNECTIONS] [MODE]   # default: 10 64 fresh (or reuse)
#   PAAS=/path/to/paas bench/flamegraph.sh                # a prebuilt paas (no cargo)
#
# Needs perf (apt-get install -y linux-perf) and inferno (cargo install inferno).
set -euo pipefail
# Neither server captures backtraces for errors (RUST_BACKTRACE=1 in a shell made paas capture
# one at every instance's end: wasmtime builds an error while dropping a store, 7% of its CPU).
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10}
connections=${2:-64}
mode=${3:-fresh}
. "$root/bench/lib.sh"
need wrk
need perf "apt-get install -y linux-perf"
need inferno-flamegraph "cargo install inferno"
if [ -n "${PAAS:-}" ]; then paas=$PAAS; else paas_build; fi
if [ -n "${COMPONENT:-}" ]; then component=$COMPONENT; else hello_component; fi
out=${OUT:-$root/bench/results/flamegraph-$(date -u +%Y%m%dT%H%M%SZ)}
mkdir -p "$out"
work_dir
real_home=$HOME   # paas_server gives the clients a HOME of their own; perf keeps its cache here
# A dyno network of its own: another paas server on this host (a test, another bench) holds
# the default one.
paas_server --dyno-network "$(free_dyno_network)"
app=greeter
component_app "$app"
push
[ "$mode" = reuse ] && "$paas" config:set PAAS_INSTANCE_REUSE=1 -a "$app" >/dev/null
app_up "$app" 10
wrk -t2 -c"$connections" -d2s -H "Host: $app.localhost" "http://$router/" >/dev/null
wrk -t2 -c"$connections" -d"$((duration + 2))s" -H "Host: $app.localhost" "http://$router/" >"$out/wrk.txt" &
wrk_pid=$!
sleep 1
HOME=$real_home perf record -F 499 --call-graph dwarf,32768 -p "$server_pid" -o "$out/perf.data" -- sleep "$duration" 2>"$out/perf-record.txt"
wait "$wrk_pid" || true
# --no-inline: without it perf runs addr2line over the (300 MB) release binary for every frame
# and takes many minutes at near-zero CPU; inlined frames are left out of the graph.
HOME=$real_home perf script --no-inline -i "$out/perf.data" 2>"$out/perf-script.err" | inferno-collapse-perf >"$out/folded.txt"
inferno-flamegraph <"$out/folded.txt" >"$out/flamegraph.svg"
HOME=$real_home perf report --no-inline -i "$out/perf.data" --no-children --sort symbol --stdio 2>/dev/null | grep -v "^#" | grep "%" | head -60 >"$out/top-self.txt" || true
HOME=$real_home perf report --no-inline -i "$out/perf.data" --no-children --sort comm --stdio 2>/dev/null | grep -v "^#" | grep "%" | head -20 >"$out/threads.txt" || true
rm -f "$out/perf.data"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >>"$out/wrk.txt"
cat "$out/wrk.txt" "$out/threads.txt"
head -40 "$out/top-self.txt"
echo "written to ${out#"$root"/}"
