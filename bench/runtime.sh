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

# Starts a server in the background; sets PID and URL from its "Serving HTTP on" line.
start() {
    # A new file per server: the shell may not have truncated a reused one yet when we read it.
    local log
    log=$(mktemp "$DATA/server.XXXXXX")
    "$@" >"$log" 2>&1 &
    PID=$!
    for _ in $(seq 1 200); do
        URL=$(grep -o 'http://[0-9.:]*/' "$log" | head -1 || true)
        [ -n "$URL" ] && return 0
        sleep 0.05
    done
    echo "bench: server did not start: $*" >&2; cat "$log" >&2; exit 1
}

stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }

# Runs wrk against URL (after a short warm-up); prints "req_per_s p99_ms".
load() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d2s "$URL" >/dev/null
    local out
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency "$URL")
    local rps p99
    rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
    p99=$(echo "$out" | awk '$1 == "99%" {print $2}')
    echo "$out" | grep -q 'Non-2xx' && { echo "bench: non-2xx responses" >&2; echo "$out" >&2; exit 1; }
    echo "$rps $(to_ms "$p99")"
}

to_ms() {
    local v=$1
    case "$v" in
        *us) echo "${v%us}" | awk '{printf "%.3f", $1/1000}' ;;
        *ms) echo "${v%ms}" | awk '{printf "%.3f", $1}' ;;
        *s) echo "${v%s}" | awk '{printf "%.3f", $1*1000}' ;;
        *) echo "$v" ;;
    esac
}

printf '%-14s %-15s %12s %10s\n' mode server req/s p99_ms
for mode in reuse no-reuse; do
    if [ "$mode" = reuse ]; then
        paas_flags=(); wt_flags=(--max-instance-reuse-count 1000000000)
    else
        paas_flags=(--no-reuse); wt_flags=(--max-instance-reuse-count 1)
    fi
    start "$SERVE" "$COMPONENT" --addr 127.0.0.1:0 --data-dir "$DATA/paas" "${paas_flags[@]}"
    read -r paas_rps paas_p99 < <(load)
    stop
    start "$WASMTIME" serve -Scli --addr 127.0.0.1:0 "${wt_flags[@]}" "$COMPONENT"
    read -r wt_rps wt_p99 < <(load)
    stop
    printf '%-14s %-15s %12s %10s\n' "$mode" paas-runtime "$paas_rps" "$paas_p99"
    printf '%-14s %-15s %12s %10s\n' "$mode" "wasmtime serve" "$wt_rps" "$wt_p99"
    awk -v a="$paas_rps" -v b="$wt_rps" -v c="$paas_p99" -v d="$wt_p99" -v m="$mode" \
        'BEGIN {printf "%-14s %-15s %11.2fx %9.2fx\n", m, "ratio paas/wt", a/b, c/d}'
done

echo
"$SERVE" "$COMPONENT" --measure --data-dir "$DATA/measure"
