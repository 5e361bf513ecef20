#!/usr/bin/env bash
# Throughput over cores: bench/paas-vs-wasmtime.sh (web=1, one connection count) with both
# servers pinned to the first N cores (their threads sized to them) and wrk on the cores left,
# for each N; prints req/s of paas and `wasmtime serve`, fresh and reuse, and each one's
# speed-up over its own one-core figure. Issue #22's goal: 16 cores at least 6x one core.
# Where N is every core, wrk shares them (the figure says so).
#
#   bench/scaling.sh [DURATION]                   # default 6s; CORES: 1 2 4 8 12 16 up to nproc
#   CORES="1 2" CONNECTIONS=256 ROUNDS=3 bench/scaling.sh 4s
#   PAAS=… WASMTIME=… COMPONENT=… bench/scaling.sh  # prebuilt parts (see paas-vs-wasmtime.sh)
#
# Writes bench/results/scaling-<UTC time>.txt (and each N's paas-vs-wasmtime result file).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-6s}
total=$(nproc)
cores=${CORES:-1 2 4 8 12 16}
connections=${CONNECTIONS:-256}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$root/bench/results"
results="$root/bench/results/scaling-$stamp.txt"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

{
  echo "throughput over cores, $(date -u +%Y-%m-%dT%H:%M:%SZ): bench/paas-vs-wasmtime.sh $duration, web=1, $connections connections, ROUNDS=${ROUNDS:-1} (medians)"
  echo "machine: $total cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(uname -sr)"
  echo
  printf '%-5s %-9s %16s %16s %16s %16s\n' cores wrk-cores "paas fresh" "wt fresh" "paas reuse" "wt reuse"
} | tee "$results"

# median of the numbers on stdin.
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
# figure MODE SERVER: the median req/s of the rows of MODE and SERVER in $log.
figure() { awk -v m="$1" -v s="$2" '$1 == m && index($0, s) {print $(NF - 2)}' "$log" | median; }

declare -A first
for n in $cores; do
  [ "$n" -le "$total" ] || continue
  server_cpus="0-$((n - 1))"
  if [ "$n" -lt "$total" ]; then client_cpus="$n-$((total - 1))"; else client_cpus=""; fi
  SERVER_CPUS=$server_cpus CLIENT_CPUS=$client_cpus CONNECTIONS=$connections WEB=1 \
    bash "$root/bench/paas-vs-wasmtime.sh" "$duration" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
  row=()
  for key in "fresh paas" "fresh wasmtime" "reuse paas" "reuse wasmtime"; do
    rps=$(figure $key)
    [ -n "${first[$key]:-}" ] || first[$key]=$rps
    row+=("$(awk -v r="$rps" -v f="${first[$key]}" 'BEGIN {printf "%.0f %.1fx", r, r / f}')")
  done
  printf '%-5s %-9s %16s %16s %16s %16s\n' "$n" "${client_cpus:-shared}" "${row[@]}" | tee -a "$results"
done
echo "(each figure: req/s and its speed-up over the first core count's)" | tee -a "$results"
echo "written to ${results#"$root"/}"
