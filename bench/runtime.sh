#!/usr/bin/env bash
# Benchmark: the hello-rust component served by paas-runtime (behind a minimal hyper front,
# runtime/examples/serve.rs) and by `wasmtime serve` (same wasmtime version, same component,
# same machine, same load tool), with and without instance reuse, one run side by side.
# Prints requests/s and p99 latency for each pair and their ratio, then the cold start and the
# cost of one instantiation.
#
#   bash bench/runtime.sh            # DURATION=10s CONNECTIONS=32 THREADS=1 to change the load
set -euo pipefail
cd "$(dirname "$0")/.."

root=$(pwd)
. bench/lib.sh
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-1}"

need wrk

# wasmtime serve, the same version paas-runtime links, built once.
wasmtime_cli
WASMTIME=$wasmtime

# The component and the paas-runtime front.
hello_component
COMPONENT=$component
cargo build --release --quiet -p paas-runtime --example serve
SERVE="$CARGO_TARGET_DIR/release/examples/serve"
DATA="$(mktemp -d)"
trap 'rm -rf "$DATA"; [ -n "${PID:-}" ] && kill "$PID" 2>/dev/null || true' EXIT

# Runs wrk against URL (after a short warm-up); prints "req_per_s p99_ms".
load() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$URL" >/dev/null
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$URL")
    local rps p99
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "$out" | grep -q 'Non-2xx' && { echo "bench: non-2xx responses" >&2; echo "$out" >&2; exit 1; }
    echo "$rps $(to_ms "$p99" 3)"
}

printf '%-14s %-15s %12s %10s\n' mode server req/s p99_ms
for mode in reuse no-reuse; do
    if [ "$mode" = reuse ]; then
        paas_flags=(); wt_flags=(--max-instance-reuse-count 1000000000)
    else
        paas_flags=(--no-reuse); wt_flags=(--max-instance-reuse-count 1)
    fi
    serve_start 10 "$SERVE" "$COMPONENT" --addr 127.0.0.1:0 --data-dir "$DATA/paas" "${paas_flags[@]}"
    read -r paas_rps paas_p99 < <(load)
    serve_stop
    serve_start 10 "$WASMTIME" serve -Scli --addr 127.0.0.1:0 "${wt_flags[@]}" "$COMPONENT"
    read -r wt_rps wt_p99 < <(load)
    serve_stop
    printf '%-14s %-15s %12s %10s\n' "$mode" paas-runtime "$paas_rps" "$paas_p99"
    printf '%-14s %-15s %12s %10s\n' "$mode" "wasmtime serve" "$wt_rps" "$wt_p99"
    awk -v a="$paas_rps" -v b="$wt_rps" -v c="$paas_p99" -v d="$wt_p99" -v m="$mode" \
        'BEGIN {printf "%-14s %-15s %11.2fx %9.2fx\n", m, "ratio paas/wt", a/b, c/d}'
done

echo
"$SERVE" "$COMPONENT" --measure --data-dir "$DATA/measure"
