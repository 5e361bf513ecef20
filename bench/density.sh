#!/usr/bin/env bash
# Density benchmark (issue #9): N apps on one `paas server` (release build, temp data dir), and
# the same N apps as N `wasmtime serve` processes (or as many as fit in memory), side by side in
# one run.
#
#   bash bench/density.sh                  # N=1000
#   N=100 LOAD=10s bash bench/density.sh   # a quick run
#   PAAS_BIN=/tmp/paas WT_MAX=0 bash bench/density.sh   # a built binary, the paas side only
#
# paas side: K (default 3) apps are built through the API (`POST /apps/{app}/builds`, the wasm
# buildpack) from examples/hello-rust's component, each with a different custom section (so K
# distinct components); the other N-K apps are real releases of the first app's slug
# (`POST /apps`, then `POST /apps/{app}/releases {"slug": id}`). Then: every app is hit once in
# random order; a random 10% of the apps (at least 1, at most 100) take `wrk` load for LOAD
# (30 s) with a Lua script (bench/density.lua) that varies the `Host`, and one app takes the same
# load alone; the apps are given the `sleep` feature, fall asleep (`paas server --sleep-after`)
# and each one is woken by one request (cold start: asleep → first byte).
#
# wasmtime side: one `wasmtime serve` per app of the first component (compiled once into
# wasmtime's own cache, ~/.cache/wasmtime) (fresh instance per request, as the apps' manifests say) until N or
# until MemAvailable falls under MIN_AVAILABLE_MB; each is hit once (its first request); wrk
# load across the same share of them, one wrk thread per process (same wrk shape on both sides).
#
# Memory: RSS of the `paas server` process (VmRSS; PSS from smaps_rollup beside it) with 0 apps,
# with N apps deployed and idle, after each served once, and asleep; per app = (RSS with N apps −
# RSS with 0 apps) / N. For wasmtime: the sum over its processes.
#
# Results go to stdout and to OUT (default bench/results/density-N<N>-<time>.txt).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

N=${N:-1000}
K=${K:-3}
LOAD=${LOAD:-30s}
SLEEP_AFTER=${SLEEP_AFTER:-5s}
MIN_AVAILABLE_MB=${MIN_AVAILABLE_MB:-6144}
WT_MAX=${WT_MAX:-$N}   # 0: the paas side only
[ "$N" -ge "$K" ] || { echo "bench: N ($N) must be at least K ($K)" >&2; exit 2; }
stamp=$(date -u +%Y%m%dT%H%M%SZ)
OUT=${OUT:-$root/bench/results/density-N$N-$stamp.txt}
mkdir -p "$(dirname "$OUT")"
: >"$OUT"

# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
need wrk
need python3 "to make the component variants"
if [ -n "${PAAS_BIN:-}" ]; then paas=$PAAS_BIN; else paas_build; fi
[ "$WT_MAX" -eq 0 ] || wasmtime_cli
hello_component
work_dir

say() { echo "$*" | tee -a "$OUT"; }
ms() { awk '{printf "%.2f", $1 * 1000}'; }
# percentile P of the numbers on stdin (one per line)
pct() { sort -g | awk -v p="$1" '{v[NR] = $1} END {i = int(NR * p / 100 + 0.999999); if (i < 1) i = 1; printf "%.6f", v[i]}'; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
pss_kb() { awk '$1 == "Pss:" {print $2}' "/proc/$1/smaps_rollup"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
load_avg() { cut -d' ' -f1-3 /proc/loadavg; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }

# A component variant: the component with a custom section `paas-bench` holding `variant-I`
# appended (a valid component with its own sha256, so compiled and cached on its own).
variant() {
    python3 - "$component" "$1" "$2" <<'PY'
import sys
src, i, out = sys.argv[1], sys.argv[2], sys.argv[3]
def leb(n):
    b = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        b.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(b)
name, payload = b"paas-bench", f"variant-{i}".encode()
content = leb(len(name)) + name + payload
data = open(src, "rb").read()
if i != "0":
    data += b"\x00" + leb(len(content)) + content
open(out, "wb").write(data)
PY
}

# ---------------------------------------------------------------------------------------------
# paas server

"$paas" server --help | grep -q -- --sleep-after || { echo "bench: this paas server has no --sleep-after" >&2; exit 1; }
paas_server --sleep-after "$SLEEP_AFTER"
server=$server_pid
key=$(cat "$work/data/operator-api-key")
H=(-H "Authorization: Bearer $key" -H "Accept: application/vnd.heroku+json; version=3")
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

snapshot() { # label → one line of the paas memory table
    local rss pss
    rss=$(status_kb "$server" VmRSS)
    pss=$(pss_kb "$server")
    echo "$rss" >"$work/rss-$1"
    # SMAPS=1: the process's mappings at each snapshot, beside OUT (bench/smaps-diff.py compares two)
    [ -z "${SMAPS:-}" ] || cp "/proc/$server/smaps" "$OUT.smaps-${1// /-}"
    printf '%-34s %10s %10s %6s %8s\n' "$1" "$(mib "$rss")" "$(mib "$pss")" "$(fds "$server")" "$(status_kb "$server" Threads)" >>"$work/memory"
}
printf '%-34s %10s %10s %6s %8s\n' "paas server" "RSS_MiB" "PSS_MiB" "fds" "threads" >"$work/memory"
sleep 2
snapshot "0 apps"

names=()
for i in $(seq 1 "$N"); do names+=("$(printf 'd%05d' "$i")"); done

# K apps built through the API, one component variant each.
t0=$(date +%s.%N)
slugs=()
for i in $(seq 0 $((K - 1))); do
    app=${names[$i]}
    src=$work/src-$i
    mkdir -p "$src"
    variant "$i" "$src/hello.wasm"
    echo "web: hello.wasm" >"$src/Procfile"
    tar -czf "$src.tgz" -C "$src" .
    curl -sf "${H[@]}" -H 'Content-Type: application/json' -d "{\"name\":\"$app\"}" "$api/apps" >/dev/null
    curl -sf "${H[@]}" -H 'Content-Type: application/gzip' --data-binary "@$src.tgz" \
        "$api/apps/$app/builds" >"$work/build-$i.out"
    slug=$(curl -sf "${H[@]}" "$api/apps/$app/releases" | json 'd[-1]["slug"]["id"]')
    [ -n "$slug" ] && [ "$slug" != None ] || { echo "bench: build of $app made no slug" >&2; cat "$work/build-$i.out" >&2; exit 1; }
    slugs+=("$slug")
done
t1=$(date +%s.%N)

# The other apps: created and released from the first app's slug, one at a time.
: >"$work/deploys"
for i in $(seq "$K" $((N - 1))); do
    app=${names[$i]}
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' "${H[@]}" -H 'Content-Type: application/json' \
        -d "{\"name\":\"$app\"}" "$api/apps" \
        --next -s -o /dev/null -w '%{http_code} %{time_total}\n' "${H[@]}" -H 'Content-Type: application/json' \
        -d "{\"slug\":\"${slugs[0]}\"}" "$api/apps/$app/releases" >"$work/deploy.one"
    read -r c1 t_create c2 t_release <<<"$(tr '\n' ' ' <"$work/deploy.one")"
    [ "$c1" = 201 ] && [ "$c2" = 201 ] || { echo "bench: deploying $app answered $c1 / $c2" >&2; exit 1; }
    echo "$t_create $t_release" >>"$work/deploys"
done
t2=$(date +%s.%N)
deploy_s=$(awk -v a="$t1" -v b="$t2" 'BEGIN {printf "%.1f", b - a}')
build_s=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
create_p50=$(awk '{print $1}' "$work/deploys" | pct 50 | ms)
create_p99=$(awk '{print $1}' "$work/deploys" | pct 99 | ms)
release_p50=$(awk '{print $2}' "$work/deploys" | pct 50 | ms)
release_p99=$(awk '{print $2}' "$work/deploys" | pct 99 | ms)
sleep 5 # the sweep and the dynos settle
up=$(curl -sf "${H[@]}" "$api/apps/${names[$((N - 1))]}/dynos" | json 'd[0]["state"]')
snapshot "$N apps deployed, idle"
load_deployed=$(load_avg)
# CPU of the idle server over 10 s (the ledger sweep every 2 s, the sleeper, the epoch ticker).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
c0=$(cpu_ticks "$server"); sleep 10; c1=$(cpu_ticks "$server")
idle_cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {printf "%.1f", (b - a) / hz / 10 * 100}')
# The API with N apps: the app list, one app, its dynos (median of 5).
api_ms() { for _ in 1 2 3 4 5; do curl -s -o /dev/null -w '%{time_total}\n' "${H[@]}" "$api$1"; done | pct 50 | ms; }
api_list=$(api_ms /apps)
api_info=$(api_ms "/apps/${names[0]}")
api_dynos=$(api_ms "/apps/${names[0]}/dynos")

# Every app once, in random order: first request after deploy.
printf '%s\n' "${names[@]}" | shuf >"$work/order"
# hit_all OUT: one request to each app of $work/order, in that order; "status seconds-to-first-byte"
hit_all() {
    : >"$1"
    while read -r app; do
        curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}\n' -H "Host: $app.localhost" "http://$router/" >>"$1"
    done <"$work/order"
}
hit_all "$work/first"
first_bad=$(awk '$1 != 200' "$work/first" | wc -l)
first_p50=$(awk '{print $2}' "$work/first" | pct 50 | ms)
first_p99=$(awk '{print $2}' "$work/first" | pct 99 | ms)
snapshot "$N apps, each served once"

# Warm load: a random 10% of the apps (1..100) vs one app, same wrk shape.
share=$((N / 10)); [ "$share" -ge 1 ] || share=1; [ "$share" -le 100 ] || share=100
shuf -n "$share" "$work/order" | sed 's/$/.localhost/' >"$work/hosts"
head -1 "$work/hosts" >"$work/host1"
threads=$share; [ "$threads" -le 100 ] || threads=100
wrk_run() { # env assignments are the caller's; args: url → "req/s p99_ms non2xx+errors"
    wrk -t"$threads" -c"$threads" -d"$LOAD" --latency -s "$root/bench/density.lua" "$1" | tee -a "$work/wrk.log" | wrk_figures
}
load_warm=$(load_avg)
read -r many_rps many_p99 many_bad < <(DENSITY_HOSTS=$work/hosts wrk_run "http://$router/")
read -r one_rps one_p99 one_bad < <(DENSITY_HOSTS=$work/host1 wrk_run "http://$router/")
snapshot "$N apps, after the load"

# Sleep and wake: every app gets the `sleep` feature, falls asleep, and is woken by one request.
for app in "${names[@]}"; do
    curl -sf -o /dev/null "${H[@]}" -X PATCH -H 'Content-Type: application/json' -d '{"enabled":true}' \
        "$api/apps/$app/features/sleep"
done
asleep=0
for _ in $(seq 120); do
    sleep 1
    asleep=$(curl -sf "${H[@]}" "$api/apps/$(tail -1 "$work/order")/dynos" | json 'd[0]["state"]')
    [ "$asleep" = idle ] && break
done
[ "$asleep" = idle ] || echo "bench: the apps did not fall asleep (state: $asleep)" >&2
sleep 2
snapshot "$N apps asleep"
load_cold=$(load_avg)
hit_all "$work/cold"
cold_bad=$(awk '$1 != 200' "$work/cold" | wc -l)
cold_p50=$(awk '{print $2}' "$work/cold" | pct 50 | ms)
cold_p99=$(awk '{print $2}' "$work/cold" | pct 99 | ms)
snapshot "$N apps woken once"
kill "$server"; wait "$server" 2>/dev/null || true

# ---------------------------------------------------------------------------------------------
# wasmtime serve, one process per app

if [ "$WT_MAX" -gt 0 ]; then
: >"$work/wt.ports"
wt_pids=()
wt_start=$(date +%s.%N)
for i in $(seq 1 "$WT_MAX"); do
    avail=$(awk '$1 == "MemAvailable:" {print int($2 / 1024)}' /proc/meminfo)
    [ "$avail" -ge "$MIN_AVAILABLE_MB" ] || { echo "bench: stopping at $((i - 1)) wasmtime processes (MemAvailable ${avail} MiB)" >&2; break; }
: >"$work/wt-$i.out"
    "$wasmtime" serve -Scli --addr 127.0.0.1:0 --max-instance-reuse-count 1 "$component" \
        >"$work/wt-$i.out" 2>&1 &
    wt_pids+=($!)
    pids+=($!)
    port=""
    for _ in $(seq 200); do
        port=$(sed -n 's|.*http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$work/wt-$i.out" | head -1)
        [ -n "$port" ] && break
        sleep 0.02
    done
    [ -n "$port" ] || { echo "bench: wasmtime serve $i did not start" >&2; cat "$work/wt-$i.out" >&2; exit 1; }
    echo "$port" >>"$work/wt.ports"
done
wt_end=$(date +%s.%N)
wt_n=${#wt_pids[@]}
wt_sum() { # field of /proc/PID/status (or "Pss") summed over the wasmtime processes, in kB
    local total=0 v pid
    for pid in "${wt_pids[@]}"; do
        if [ "$1" = Pss ]; then v=$(pss_kb "$pid"); elif [ "$1" = fds ]; then v=$(fds "$pid"); else v=$(status_kb "$pid" "$1"); fi
        total=$((total + v))
    done
    echo "$total"
}
wt_snapshot() {
    local rss
    local rss pss
    rss=$(wt_sum VmRSS)
    pss=$(wt_sum Pss)
    echo "$rss" >"$work/wt-rss-$1"
    echo "$pss" >"$work/wt-pss-$1"
    printf '%-34s %10s %10s %6s %8s\n' "$1" "$(mib "$rss")" "$(mib "$pss")" "$(wt_sum fds)" "$(wt_sum Threads)" >>"$work/wt-memory"
}
printf '%-34s %10s %10s %6s %8s\n' "$wt_n x wasmtime serve (summed)" "RSS_MiB" "PSS_MiB" "fds" "threads" >"$work/wt-memory"
sleep 2
wt_snapshot "$wt_n processes started, idle"
shuf "$work/wt.ports" >"$work/wt.order"
: >"$work/wt-first"
while read -r port; do
    curl -s -o /dev/null -w '%{http_code} %{time_starttransfer}\n' "http://127.0.0.1:$port/" >>"$work/wt-first"
done <"$work/wt.order"
wt_first_bad=$(awk '$1 != 200' "$work/wt-first" | wc -l)
wt_first_p50=$(awk '{print $2}' "$work/wt-first" | pct 50 | ms)
wt_first_p99=$(awk '{print $2}' "$work/wt-first" | pct 99 | ms)
wt_snapshot "$wt_n processes, each served once"
wt_share=$share; [ "$wt_share" -le "$wt_n" ] || wt_share=$wt_n
head -n "$wt_share" "$work/wt.order" >"$work/wt.load"
head -1 "$work/wt.order" >"$work/wt.load1"
port1=$(head -1 "$work/wt.order")
read -r wt_many_rps wt_many_p99 wt_many_bad < <(DENSITY_PORTS=$work/wt.load wrk_run "http://127.0.0.1:$port1/")
read -r wt_one_rps wt_one_p99 wt_one_bad < <(DENSITY_PORTS=$work/wt.load1 wrk_run "http://127.0.0.1:$port1/")
wt_deploy_s=$(awk -v a="$wt_start" -v b="$wt_end" 'BEGIN {printf "%.1f", b - a}')
fi

# ---------------------------------------------------------------------------------------------
# Report

rss0=$(cat "$work/rss-0 apps")
per_app() { awk -v a="$(cat "$work/rss-$1")" -v b="$rss0" -v n="$N" 'BEGIN {printf "%.1f", (a - b) / n}'; }
wt_per() { awk -v a="$(cat "$work/wt-rss-$1")" -v n="$wt_n" 'BEGIN {printf "%.1f", a / n}'; }
say "# bench/density.sh  N=$N (K=$K distinct components)  $(date -u '+%Y-%m-%d %H:%M UTC')  $(nproc) cores, $(git -C "$root" rev-parse --short HEAD)"
say "# load average: at deploy end $load_deployed; before warm load $load_warm; before wake $load_cold; now $(load_avg)"
say ""
say "## paas server (one process)"
while read -r line; do say "$line"; done <"$work/memory"
say "per app, deployed idle:  $(per_app "$N apps deployed, idle") KiB   (RSS with N apps − RSS with 0 apps) / N"
say "per app, served once:    $(per_app "$N apps, each served once") KiB"
say "per app, asleep:         $(per_app "$N apps asleep") KiB"
say "time to deploy:          ${deploy_s} s for $((N - K)) apps released from a slug (+ ${build_s} s for $K builds); per app: create p50 ${create_p50} ms p99 ${create_p99} ms, release p50 ${release_p50} ms p99 ${release_p99} ms; last app's web.1: $up"
say "idle CPU with N apps:    ${idle_cpu} % of one core (10 s)"
say "API with N apps:         GET /apps ${api_list} ms, GET /apps/{app} ${api_info} ms, GET /apps/{app}/dynos ${api_dynos} ms"
say "first request (up):      p50 ${first_p50} ms  p99 ${first_p99} ms  ($first_bad not 200)"
say "cold start (asleep→1st byte): p50 ${cold_p50} ms  p99 ${cold_p99} ms  ($cold_bad not 200)"
say "warm, $share hosts:        ${many_rps} req/s  p99 ${many_p99} ms  ($many_bad errors)   wrk -t$threads -c$threads -d$LOAD"
say "warm, 1 host:            ${one_rps} req/s  p99 ${one_p99} ms  ($one_bad errors)"
say "many hosts / one host:   $(awk -v a="$many_rps" -v b="$one_rps" 'BEGIN {printf "%.2f", a / b}')"
if [ "$WT_MAX" -gt 0 ]; then
say ""
say "## wasmtime serve 48.0.8 (one process per app, $wt_n of $N started; fresh instance per request)"
while read -r line; do say "$line"; done <"$work/wt-memory"
say "per process, started:    $(wt_per "$wt_n processes started, idle") KiB RSS"
say "per process, served once: $(wt_per "$wt_n processes, each served once") KiB RSS, $(awk -v a="$(cat "$work/wt-pss-$wt_n processes, each served once")" -v n="$wt_n" 'BEGIN {printf "%.1f", a / n}') KiB PSS"
say "time to start:           ${wt_deploy_s} s for $wt_n processes"
say "first request:           p50 ${wt_first_p50} ms  p99 ${wt_first_p99} ms  ($wt_first_bad not 200)"
say "warm, $wt_share processes:   ${wt_many_rps} req/s  p99 ${wt_many_p99} ms  ($wt_many_bad errors)"
say "warm, 1 process:         ${wt_one_rps} req/s  p99 ${wt_one_p99} ms  ($wt_one_bad errors)"
say ""
say "## ratios (paas / wasmtime serve)"
say "memory per app, served once: $(awk -v a="$(per_app "$N apps, each served once")" -v b="$(wt_per "$wt_n processes, each served once")" 'BEGIN {printf "%.3f", a / b}') of RSS per process, $(awk -v a="$(per_app "$N apps, each served once")" -v b="$(cat "$work/wt-pss-$wt_n processes, each served once")" -v n="$wt_n" 'BEGIN {printf "%.3f", a / (b / n)}') of PSS per process"
say "warm req/s across hosts:     $(awk -v a="$many_rps" -v b="$wt_many_rps" 'BEGIN {printf "%.2f", a / b}')"
fi
echo "results written to $OUT" >&2
