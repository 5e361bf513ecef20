#!/usr/bin/env bash
# Server CPU per request, alternating: one or more `paas` binaries (each its own `paas server`,
# examples/hello-rust as a prebuilt `greeter.wasm` as in bench/paas-vs-wasmtime.sh, through the
# router) and `wasmtime serve` (49.0.x) on the same component, in turn, ROUNDS times: req/s and
# the server's CPU (utime + stime from /proc, so the kernel's TCP work is in it) per request.
# On a shared machine req/s swings with the load of others; CPU per request holds steadier, and
# comparing two builds in one run (a before and an after) shows what a change did.
#
#   bench/cpu-per-request.sh ROUNDS DURATION CONNECTIONS PAAS_BINARY…
#   bench/cpu-per-request.sh 4 6s 64 /tmp/paas-before /tmp/paas-after
#   MODE=fresh bench/cpu-per-request.sh …          # fresh instances (default: reuse)
#   BROWSER=1 bench/cpu-per-request.sh …           # requests with a browser's headers
#   bench/cpu-per-request.sh 3 6s 64 "/tmp/paas#2" "/tmp/paas@--cpu-slice 10s#2"
#        # BINARY[@SERVER FLAGS][#WEB DYNOS]: the same binary with other flags or web=N
set -euo pipefail
unset RUST_BACKTRACE RUST_LIB_BACKTRACE
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:?rounds} duration=${2:?duration} conns=${3:?connections}
shift 3
[ $# -gt 0 ] || { echo "name at least one paas binary" >&2; exit 2; }
. "$root/bench/lib.sh"
need wrk
wasmtime_serve_cli
if [ -n "${COMPONENT:-}" ]; then component=$COMPONENT; else hello_component; fi
mode=${MODE:-reuse}
top=$(mktemp -d)
all=()
trap 'for p in "${all[@]}"; do kill "$p" 2>/dev/null || true; done; sleep 0.5; rm -rf "$top"' EXIT
declare -A url pid_of
real_home=$HOME
i=0
for spec in "$@"; do
  i=$((i + 1))
  web=1
  if [[ $spec == *#* ]]; then web=${spec#*#}; spec=${spec%%#*}; fi
  paas=${spec%%@*} flags=
  if [[ $spec == *@* ]]; then flags=${spec#*@}; fi
  work=$top/s$i
  mkdir -p "$work"
  export HOME=$real_home
  # A dyno network of its own (chosen before the server starts: server_up reads its output).
  net=$(free_dyno_network)
  # shellcheck disable=SC2086 # the flags are words
  "$paas" server --data-dir "$work/data" --api-listen 127.0.0.1:0 --router-listen 127.0.0.1:0 \
    --buildpacks-dir "$root/buildpacks" --dyno-network "$net" $flags >"$work/server.out" 2>"$work/server.err" &
  all+=("$!")
  pid_of[p$i]=$!
  server_up "$work/data" 20
  component_app greeter
  push
  [ "$mode" = reuse ] && "$paas" config:set PAAS_INSTANCE_REUSE=1 -a greeter >/dev/null
  [ "$web" != 1 ] && "$paas" ps:scale web="$web" -a greeter >/dev/null
  app_up greeter 10
  url[p$i]="http://$router/"
  echo "p$i: $paas${flags:+ $flags}, web=$web"
  cd "$top"
done
count=1
[ "$mode" = reuse ] && count=1000000000
"$wasmtime_serve" serve -Scli --addr 127.0.0.1:0 --max-instance-reuse-count "$count" "$component" >"$top/wt.out" 2>&1 &
all+=("$!")
pid_of[wt]=$!
for _ in $(seq 100); do
  url[wt]=$(grep -so 'http://[0-9.:]*/' "$top/wt.out" | head -1 || true)
  [ -n "${url[wt]}" ] && break
  sleep 0.05
done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# BROWSER=1: each request carries a browser's headers too (wrk alone sends Host only).
browser=()
if [ "${BROWSER:-0}" = 1 ]; then
  browser=(-H "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"
    -H "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    -H "Accept-Language: en-US,en;q=0.5" -H "Accept-Encoding: gzip, deflate, br, zstd"
    -H "Cookie: session=8f14e45fceea167a5a36dedd4bea2543; theme=dark")
fi
hz=$(getconf CLK_TCK)
names=wt
for j in $(seq "$i"); do names="$names p$j"; done
echo "# $(date -u +%FT%TZ) $(nproc) cores, mode=$mode${BROWSER:+, BROWSER=$BROWSER}, wrk -t2 -c$conns -d$duration (1 s warm-up each), load $(cut -d' ' -f1-3 /proc/loadavg), tree $(git -C "$root" rev-parse --short HEAD)"
for _ in $(seq "$rounds"); do
  for n in $names; do
    host=("${browser[@]}")
    [ "$n" != wt ] && host+=(-H "Host: greeter.localhost")
    wrk -t2 -c"$conns" -d1s "${host[@]}" "${url[$n]}" >/dev/null
    load1=$(cut -d' ' -f1 /proc/loadavg)
    before=$(cpu "${pid_of[$n]}")
    # wrk's own CPU too (user + system seconds, from GNU time): on two cores the client takes
    # what the server leaves, so a server whose responses cost the client more serves fewer.
    out=$(/usr/bin/time -f 'client-cpu %U %S' wrk -t2 -c"$conns" -d"$duration" "${host[@]}" "${url[$n]}" 2>&1)
    after=$(cpu "${pid_of[$n]}")
    errors=$(echo "$out" | grep -E 'Non-2xx|Socket errors' | tr '\n' ' ' || true)
    awk -v n="$n" -v r="$(echo "$out" | awk '/^Requests\/sec/ {print $2}')" -v t=$((after - before)) -v hz="$hz" \
      -v q="$(echo "$out" | awk '/requests in/ {print $1}')" -v l="$load1" -v e="$errors" \
      -v c="$(echo "$out" | awk '/^client-cpu/ {print $2 + $3}')" \
      'BEGIN { printf "%-4s %9.0f req/s  %5.1f us CPU/request  %5.1f us client CPU/request  load %s %s\n", n, r, t / hz * 1e6 / q, c * 1e6 / q, l, e }'
  done
done
