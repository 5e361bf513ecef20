#!/usr/bin/env bash
# The reschedule time after a node loss (issue 21): three `paas server` nodes on one PostgreSQL
# (tests/e2e/grid.rs, `every_nodes_router_serves_any_app…`), hello-wasm at web=3, 8 keep-alive
# clients looping through the router of a node that runs none of the app's dynos; `kill -9` of a
# node that does. Prints, per run, the time from the kill until all three web dynos are up on the
# other nodes, and how many requests failed (and when). RUNS runs per lease in LEASES.
#
#   bench/grid-reschedule.sh                 # RUNS=3 LEASES="2s 10s"
#
# It runs the e2e test (the debug `paas` binary, the tree's own target dir) as root, with
# PostgreSQL 15 installed (as .ci/setup does).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${RUNS:-3}
for lease in ${LEASES:-2s 10s}; do
  for run in $(seq "$runs"); do
    PAAS_E2E_NODE_LEASE=$lease cargo test --quiet -p paas-cli --manifest-path "$root/Cargo.toml" --test e2e -- \
      --exact --nocapture grid::every_nodes_router_serves_any_app_and_a_node_killed_under_load_fails_requests_only_until_its_dynos_are_back \
      2>&1 | grep -E '^kill -9 of node b' | sed "s/^/run $run: /"
  done
done
