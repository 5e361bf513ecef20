#!/usr/bin/env bash
# Side by side, one run, same machine, same component: examples/hello-rust pushed to a real
# `paas server` (git push, one web dyno, through the router: Host routing, X-Request-Id and
# X-Forwarded-* headers, a router log line per request) vs the slug's component under
# `wasmtime serve` (same instance reuse as the slug's manifest). Prints req/s and p99.
#
#   bench/paas-vs-wasmtime.sh [DURATION] [CONNECTIONS] [THREADS]   # default: 10s 32 1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10s}
connections=${2:-32}
threads=${3:-1}
. "$root/bench/lib.sh"
need wrk
paas_build
wasmtime_cli
work_dir
paas_server
example_app hello
push

# The web dyno answers once its slug is unpacked (unpacking happens in a dot-directory).
for _ in $(seq 200); do
  curl -fsS -o /dev/null -H "Host: hello.localhost" "http://$router/" && break
  sleep 0.05
done
slug=$(dirname "$(find "$work/data/runtime/slugs" -name manifest.toml -not -path '*/.*' | head -1)")
component=$(find "$slug/app" -name '*.wasm' | head -1)
reuse=$(sed -n 's/^reuse = //p' "$slug/manifest.toml" | head -1)
[ "$reuse" = true ] && reuse_count=1000000000 || reuse_count=1
"$wasmtime" serve -Scli --addr 127.0.0.1:0 --max-instance-reuse-count "$reuse_count" "$component" >"$work/wt.out" 2>&1 &
pids+=($!)
for _ in $(seq 200); do
  wt=$(grep -o 'http://[0-9.:]*/' "$work/wt.out" | head -1 || true)
  [ -n "$wt" ] && break
  sleep 0.05
done
[ -n "$wt" ] || { echo "wasmtime serve did not start" >&2; cat "$work/wt.out" >&2; exit 1; }

to_ms() {
  case "$1" in
    *us) echo "${1%us}" | awk '{printf "%.2f", $1/1000}' ;;
    *ms) echo "${1%ms}" | awk '{printf "%.2f", $1}' ;;
    *s) echo "${1%s}" | awk '{printf "%.2f", $1*1000}' ;;
  esac
}
load() { # url [header]
  wrk -t"$threads" -c"$connections" -d2s "$@" >/dev/null
  local out
  out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency "$@")
  echo "$out" | grep -qE 'Non-2xx|Socket errors' && { echo "failed requests:" >&2; echo "$out" >&2; exit 1; }
  echo "$(echo "$out" | awk '/^Requests\/sec:/ {print $2}') $(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')")"
}
read -r wt_rps wt_p99 < <(load "$wt")
read -r paas_rps paas_p99 < <(load -H "Host: hello.localhost" "http://$router/")
echo "hello-rust (reuse=$reuse), wrk -t$threads -c$connections -d$duration"
printf '%-34s %12s %10s\n' server req/s p99_ms
printf '%-34s %12s %10s\n' "wasmtime serve (direct)" "$wt_rps" "$wt_p99"
printf '%-34s %12s %10s\n' "paas (router → web dyno)" "$paas_rps" "$paas_p99"
awk -v a="$paas_rps" -v b="$wt_rps" 'BEGIN {printf "paas / wasmtime serve: %.2f\n", a / b}'
