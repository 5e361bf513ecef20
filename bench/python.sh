#!/usr/bin/env bash
# Benchmark: the examples/hello-python component (built by the python buildpack: CPython, Flask
# and the WSGI adapter in one wasi:http component) served by paas-runtime (behind the minimal
# hyper front, runtime/examples/serve.rs) and by `wasmtime serve` (same wasmtime 48.0.8, same
# component, same load tool), with and without instance reuse. Prints requests/s and p99
# latency for each, then the cold start and the cost of one instantiation.
#
#   bash bench/python.sh        # DURATION=10s CONNECTIONS=8 THREADS=1 to change the load;
#                               # EXAMPLE=hello-python-wasi for the direct-handler example
# wasmtime serve is installed by bench/runtime.sh into ~/.cache/paas-bench (run it once first).
set -euo pipefail
cd "$(dirname "$0")/.."

root=$(pwd)
. bench/lib.sh
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-8}"
THREADS="${THREADS:-1}"
EXAMPLE="${EXAMPLE:-hello-python}"
BENCH_ROOT="${BENCH_ROOT:-$HOME/.cache/paas-bench}"
WASMTIME="$BENCH_ROOT/bin/wasmtime"

need wrk
"$WASMTIME" --version 2>/dev/null | grep -q '^wasmtime 48\.0\.8' \
    || { echo "bench: run bench/runtime.sh once first (it installs wasmtime serve 48.0.8)" >&2; exit 1; }

# The component, built by the buildpack (its cache, componentize-py and site-packages, is kept).
WORK="$BENCH_ROOT/$EXAMPLE"
rm -rf "$WORK/app" && mkdir -p "$WORK/app" "$WORK/cache" "$WORK/env"
cp -a "examples/$EXAMPLE/." "$WORK/app/"
PIP_CACHE_DIR="$HOME/.cache/paas-buildpacks/pip" buildpacks/python/bin/compile "$WORK/app" "$WORK/cache" "$WORK/env" >&2
COMPONENT="$WORK/app/.paas/python/web.wasm"
if [ -z "${SERVE:-}" ]; then   # SERVE=path skips the build (e.g. while the tree is being edited)
    cargo build --release --quiet -p paas-runtime --example serve
    SERVE="$CARGO_TARGET_DIR/release/examples/serve"
fi
DATA="$(mktemp -d)"
trap 'rm -rf "$DATA"; [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true' EXIT

# Runs wrk against URL (after a short warm-up); prints "req_per_s p99_ms non_2xx".
load() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$URL" >/dev/null
    local out rps p99 errors
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$URL")
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    errors=$(echo "$out" | awk '/Non-2xx/ {print $NF}')
    echo "$rps $(to_ms "$p99" 3) ${errors:-0}"
}

echo "$EXAMPLE: $(( $(stat -c %s "$COMPONENT") / 1048576 )) MiB component, $CONNECTIONS connections, $DURATION"
printf '%-14s %-15s %12s %10s %8s\n' mode server req/s p99_ms non-2xx
for mode in reuse no-reuse; do
    if [ "$mode" = reuse ]; then
        paas_flags=(); wt_flags=(--max-instance-reuse-count 1000000000)
    else
        paas_flags=(--no-reuse); wt_flags=(--max-instance-reuse-count 1)
    fi
    serve_start 120 "$SERVE" "$COMPONENT" --addr 127.0.0.1:0 --data-dir "$DATA/paas" "${paas_flags[@]}"
    read -r paas_rps paas_p99 paas_errors < <(load)
    serve_stop
    serve_start 120 "$WASMTIME" serve -Scli --addr 127.0.0.1:0 "${wt_flags[@]}" "$COMPONENT"
    read -r wt_rps wt_p99 wt_errors < <(load)
    serve_stop
    printf '%-14s %-15s %12s %10s %8s\n' "$mode" paas-runtime "$paas_rps" "$paas_p99" "$paas_errors"
    printf '%-14s %-15s %12s %10s %8s\n' "$mode" "wasmtime serve" "$wt_rps" "$wt_p99" "$wt_errors"
done

echo
"$SERVE" "$COMPONENT" --measure --data-dir "$DATA/measure"
