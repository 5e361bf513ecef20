#!/usr/bin/env bash
# Side by side, one run: a native web dyno reached over its own network namespace (a veth pair
# and the nftables table: the default, --dyno-network CIDR) and over the host's network
# (loopback: --dyno-network host, as before namespaces). One paas server per mode, each with
# examples/threaded-rust pushed; wrk through the router (router → dyno is the path that changed)
# and straight to the dyno's $PORT from the node (the network path alone).
#
#   bench/dyno-network.sh [DURATION] [CONNECTIONS] [THREADS]   # default: 10s 8 2
#   PROFILE=debug bench/dyno-network.sh                        # the debug build of paas
#   DYNO_NETWORK=10.198.0.0/24 bench/dyno-network.sh           # the namespaced mode's range
#   ROUNDS=3 bench/dyno-network.sh                             # both modes, alternating, 3 times
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-10s}
connections=${2:-8}
threads=${3:-2}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"

# One mode (a child run of this script): prints "MODE ROUTER_RPS ROUTER_P99 DIRECT_RPS DIRECT_P99".
if [ "${1:-}" = --one ]; then
  mode=$2 duration=$3 connections=$4 threads=$5
  paas="$PAAS"
  work_dir
  paas_server --dyno-network "$mode"
  example_app web threaded-rust
  push
  app_up web
  # The dyno's address: its container's PORT, and eth0's address in its namespace (or loopback).
  pid=$(runc --root "$work/data/runtime/runc" list --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["pid"])')
  port=$(tr '\0' '\n' <"/proc/$pid/environ" | sed -n 's/^PORT=//p')
  ip=127.0.0.1
  if [ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ]; then
    ip=$(nsenter -t "$pid" -n ip -4 -o addr show eth0 | awk '{split($4, a, "/"); print a[1]}')
  fi
  dyno="$ip:$port"
  measure() { # URL [HOST]
    local out
    wrk -t"$threads" -c"$connections" -d2s ${2:+-H "Host: $2"} "$1" >/dev/null
    out=$(wrk -t"$threads" -c"$connections" -d"$duration" --latency ${2:+-H "Host: $2"} "$1")
    echo "$(echo "$out" | awk '/^Requests\/sec:/ {print $2}') $(echo "$out" | awk '$1 == "99%" {print $2}')"
  }
  echo "$mode $dyno $(measure "http://$router/" web.localhost) $(measure "http://$dyno/")"
  exit 0
fi

need wrk
need runc
need nft
need nsenter
paas_build "${PROFILE:-release}"
printf '%-26s %-22s %12s %10s %12s %10s\n' "mode (wrk -t$threads -c$connections -d$duration)" "dyno" \
  router_req/s router_p99 direct_req/s direct_p99
errors=$(mktemp)
for mode in $(for _ in $(seq "${ROUNDS:-1}"); do echo "${DYNO_NETWORK:-10.199.0.0/16} host"; done); do
  read -r m dyno rrps rp99 drps dp99 < <(PAAS="$paas" bash "$0" --one "$mode" "$duration" "$connections" "$threads" 2>"$errors" ||
    cat "$errors" >&2)
  label=$([ "$m" = host ] && echo "host (loopback)" || echo "namespace ($m)")
  printf '%-26s %-22s %12s %10s %12s %10s\n' "$label" "$dyno" "$rrps" "$rp99" "$drps" "$dp99"
done
rm -f "$errors"
