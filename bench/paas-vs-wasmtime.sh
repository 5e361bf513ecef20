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
command -v wrk >/dev/null || { echo "wrk is needed (apt-get install -y wrk)" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/paas-target}
wasmtime=${WASMTIME:-$HOME/.cache/paas-bench/bin/wasmtime}
[ -x "$wasmtime" ] || { echo "wasmtime 48.0.8 is needed: run bench/runtime.sh once (it installs it)" >&2; exit 1; }
cargo build --quiet --release -p paas-cli --manifest-path "$root/Cargo.toml"
paas="$CARGO_TARGET_DIR/release/paas"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$paas" server --data-dir "$work/data" --api-listen 127.0.0.1:0 --router-listen 127.0.0.1:0 \
  --buildpacks-dir "$root/buildpacks" >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 200); do
  api=$(sed -n 's|^API listening on \(http://.*\)/$|\1|p' "$work/server.out")
  router=$(sed -n 's|^Router listening on http://\(.*\)/$|\1|p' "$work/server.out")
  [ -n "$api" ] && [ -n "$router" ] && break
  sleep 0.05
done
[ -n "$router" ] || { echo "paas server did not start" >&2; cat "$work/server.err" >&2; exit 1; }
export HOME="$work/home" # the client's ~/.netrc; the server keeps the real HOME (rustup)
mkdir -p "$HOME"
"$paas" login --api-url "$api" --api-key "$(cat "$work/data/operator-api-key")" >/dev/null
cp -r "$root/examples/hello-rust" "$work/app" && rm -rf "$work/app/target"
cd "$work/app"
git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
"$paas" apps:create hello >/dev/null 2>&1
git push --quiet paas main 2>"$work/push.err" || { cat "$work/push.err" >&2; exit 1; }

slug=$(dirname "$(find "$work/data/runtime/slugs" -name manifest.toml | head -1)")
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
