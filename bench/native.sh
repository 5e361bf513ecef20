#!/usr/bin/env bash
# Side by side, one run, one `paas server`: the same app as a WebAssembly component and as a
# native dyno (runc), through the router, with build (git push) times.
#   python: examples/hello-python with gunicorn added to its requirements, pushed twice: as a
#           component (the WSGI adapter; gunicorn recorded as its native fallback) and with
#           PAAS_NATIVE=1 (gunicorn in a container: 1 sync worker, then WEB_CONCURRENCY=4);
#   rust:   examples/hello-rust (a wasi:http component) and examples/threaded-rust (a std
#           thread-per-connection server in a container): different code, same "hello" answer.
# Prints push time, req/s, p99 and failed requests (non-2xx, socket errors) for each.
#
#   bench/native.sh [DURATION] [CONNECTIONS] [THREADS]   # default: 10s 8 1
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10s}
connections=${2:-8}
threads=${3:-1}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
need wrk
need runc
paas_build
work_dir
paas_server

# deploy APP EXAMPLE [CONFIG_VAR=VALUE...]: git push of a copy of examples/EXAMPLE; prints seconds.
deploy() {
  local app=$1 example=$2 started
  shift 2
  rm -rf "$work/$app" && cp -r "$root/examples/$example" "$work/$app" && rm -rf "$work/$app/target"
  [ "$example" = hello-python ] && printf 'flask==3.1.2\ngunicorn==23.0.0\n' >"$work/$app/requirements.txt"
  (
    cd "$work/$app"
    git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
    "$paas" apps:create "$app" >/dev/null 2>&1
    [ "$#" -eq 0 ] || "$paas" config:set "$@" -a "$app" >/dev/null 2>&1
    started=$(date +%s.%N)
    push
    awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN {printf "%.1f", a - b}'
  )
}
load() { # app
  wrk -t"$threads" -c"$connections" -d2s -H "Host: $1.localhost" "http://$router/" >/dev/null
  wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Host: $1.localhost" "http://$router/" | wrk_figures
}

printf '%-58s %7s %9s %8s %7s\n' "app (wrk -t$threads -c$connections -d$duration)" push_s req/s p99_ms errors
for row in "py-wasm hello-python" "py-native hello-python PAAS_NATIVE=1" \
  "py-native-4 hello-python PAAS_NATIVE=1 WEB_CONCURRENCY=4" "rust-wasm hello-rust" "rust-native threaded-rust"; do
  read -r app example vars <<<"$row"
  # shellcheck disable=SC2086 # vars are KEY=VALUE words
  push=$(deploy "$app" "$example" $vars)
  app_up "$app"
  read -r rps p99 errors < <(load "$app")
  printf '%-58s %7.1f %9s %8s %7s\n' "$app ($example${vars:+, $vars})" "$push" "$rps" "$p99" "$errors"
done
