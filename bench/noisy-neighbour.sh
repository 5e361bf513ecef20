#!/usr/bin/env bash
# Noisy neighbour (issue 19): one `paas server` (release build), two apps. App B ("quiet") is
# examples/hello-rust's component; app A ("noisy") is the runtime's test guests (http_probe as
# web, cli_probe as worker), built through the API's wasm buildpack, scaled to web=10. B's
# throughput and latency are measured with wrk through the router alone (quiet baseline), then
# while A, in turn: spins (CONNECTIONS_A CPU-bound requests of 200 ms at once), runs ten spinning
# workers, floods (FLOOD connections of slow requests, more than A's share of the instance pool),
# hogs memory (requests allocating and touching 100 MiB each), and all of it at once. One table,
# side by side.
#
#   bash bench/noisy-neighbour.sh                 # LOAD=15s per phase
#   LOAD=5s bash bench/noisy-neighbour.sh         # a quick run
#   PROFILE=debug bash bench/noisy-neighbour.sh   # skip the (long) release build
#   LIMITS=off bash bench/noisy-neighbour.sh      # the server without the per-app instance and
#                                                 # memory shares and with a CPU slice of an hour
#
# Results go to stdout and to OUT (default bench/results/noisy-neighbour-<time>.txt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

LOAD=${LOAD:-15s}
CONNECTIONS=${CONNECTIONS:-16}
CONNECTIONS_A=${CONNECTIONS_A:-10}
FLOOD=${FLOOD:-400}
LIMITS=${LIMITS:-on}
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$root/bench/results/noisy-neighbour-$stamp.txt}
mkdir -p "$(dirname "$OUT")"
: >"$OUT"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
need wrk
need curl
paas_build "${PROFILE:-release}"
hello_component
(cd "$root/runtime/tests/guests" && cargo build --release --quiet --target wasm32-wasip2 \
  --target-dir "$CARGO_TARGET_DIR/wasm-guests")
guests="$CARGO_TARGET_DIR/wasm-guests/wasm32-wasip2/release"
work_dir

say() { echo "$*" | tee -a "$OUT"; }
flags=()
[ "$LIMITS" = on ] || flags=(--cpu-slice 1h --max-instances-per-app 100000 --max-memory-per-app 1000000)
# Both apps are wasm: no container network (another paas server on this host may hold the range).
"$paas" server --help | grep -q -- --dyno-network && flags+=(--dyno-network host)
paas_server "${flags[@]}"
server=$server_pid
key=$(cat "$work/data/operator-api-key")
H=(-H "Authorization: Bearer $key" -H "Accept: application/vnd.heroku+json; version=3")

# deploy APP DIR: creates APP and builds DIR (a Procfile and its components) through the API.
deploy() {
  tar -czf "$work/$1.tgz" -C "$2" .
  curl -sf "${H[@]}" -H 'Content-Type: application/json' -d "{\"name\":\"$1\"}" "$api/apps" >/dev/null
  curl -sf "${H[@]}" -H 'Content-Type: application/gzip' --data-binary "@$work/$1.tgz" "$api/apps/$1/builds" \
    >"$work/build-$1.out" || { echo "bench: the build of $1 failed" >&2; cat "$work/build-$1.out" >&2; exit 1; }
}
mkdir -p "$work/quiet" "$work/noisy"
cp "$component" "$work/quiet/hello.wasm"
echo "web: hello.wasm" >"$work/quiet/Procfile"
cp "$guests/http_probe.wasm" "$work/noisy/probe.wasm"
cp "$guests/cli_probe.wasm" "$work/noisy/cli.wasm"
printf 'web: probe.wasm\nworker: cli.wasm loop\n' >"$work/noisy/Procfile"
deploy quiet "$work/quiet"
deploy noisy "$work/noisy"
"$paas" ps:scale web=10 -a noisy >/dev/null
app_up quiet 20
app_up noisy 20

# wrk_summary FILE → "req/s p50_ms p99_ms failed"
wrk_summary() {
  local rps p50 p99 bad
  rps=$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$1")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$1")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$1")")
  bad=$(wrk_failed <"$1")
  echo "${rps:-0} $p50 $p99 $bad"
}
# noisy_wrk NAME CONNECTIONS PATH: A's load for the phase, in the background.
noisy_pids=()
noisy_wrk() {
  wrk -t1 -c"$2" -d"$((${LOAD%s} + 1))s" --timeout 35s --latency -H "Host: noisy.localhost" "http://$router$3" >"$work/noisy-$1.wrk" 2>&1 &
  noisy_pids+=($!)
}
rss_mib() { awk '$1 == "VmRSS:" {printf "%.0f", $2 / 1024}' "/proc/$server/status"; }
printf '%-30s %9s %8s %8s %7s   %-28s %8s\n' "phase (app A)" "B_req/s" "B_p50ms" "B_p99ms" "B_fail" "A: req/s p99ms failed" "RSS_MiB" >"$work/table"
# phase NAME: B's wrk while A's load (started before) runs; one row of the table.
phases=0
phase() {
  local peak=0 rss out
  phases=$((phases + 1))
  out="$work/quiet-$phases.wrk"
  sleep 1
  wrk -t1 -c"$CONNECTIONS" -d"$LOAD" --latency -H "Host: quiet.localhost" "http://$router/" >"$out" 2>&1 &
  local b=$!
  while kill -0 "$b" 2>/dev/null; do
    rss=$(rss_mib); [ "$rss" -gt "$peak" ] && peak=$rss
    sleep 0.5
  done
  wait "$b"
  for pid in "${noisy_pids[@]}"; do wait "$pid" || true; done
  local a="-"
  if [ ${#noisy_pids[@]} -gt 0 ]; then
    a=$(for f in "$work"/noisy-*.wrk; do wrk_summary "$f"; done | awk '{r += $1; if ($3 > p) p = $3; f += $4} END {printf "%d %.0f %d", r, p, f}')
  fi
  read -r rps p50 p99 bad <<<"$(wrk_summary "$out")"
  printf '%-30s %9s %8s %8s %7s   %-28s %8s\n' "$1" "$rps" "$p50" "$p99" "$bad" "$a" "$peak" >>"$work/table"
  rm -f "$work"/noisy-*.wrk
  noisy_pids=()
}
# workers N: scales A's spinning workers to N; down to 0, waits out the stop grace (30 s: they
# ignore the stop file and are killed after it), so the next phase does not have them.
workers() {
  "$paas" ps:scale "worker=$1" -a noisy >/dev/null 2>&1
  [ "$1" != 0 ] || sleep 31
  sleep 2
}

say "== noisy neighbour: paas server (${PROFILE:-release}, limits $LIMITS), $(nproc) cores, wrk -t1 -c$CONNECTIONS -d$LOAD on B per phase"
phase "quiet (A idle)"
noisy_wrk spin "$CONNECTIONS_A" "/spin?ms=200"
phase "spins: $CONNECTIONS_A x /spin?ms=200"
workers 10
phase "10 spinning workers"
workers 0
noisy_wrk flood "$FLOOD" "/sleep?ms=1000"
phase "floods: $FLOOD x /sleep?ms=1000"
noisy_wrk memory 8 "/alloc?mib=100"
phase "hogs memory: 8 x /alloc?mib=100"
workers 10
noisy_wrk spin "$CONNECTIONS_A" "/spin?ms=200"
noisy_wrk flood "$FLOOD" "/sleep?ms=1000"
noisy_wrk memory 8 "/alloc?mib=100"
phase "all at once"
workers 0
tee -a "$OUT" <"$work/table"
say "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
say "(A's columns: its wrk runs of the phase summed: requests/s, the worst p99, failed requests;"
say " RSS: the peak of paas server's resident memory during the phase)"
