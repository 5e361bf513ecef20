#!/usr/bin/env bash
# How long placement takes (platform/src/grid/placement.rs): `plan()` for 10,000 dynos of 2,500
# apps (web=3 Basic and worker=1 Standard-1X each) on 100 nodes, from nothing and again after one
# node is lost; each the mean of 10 runs, in a release build.
#
#   bench/placement.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=bench/lib.sh
source "$root/bench/lib.sh"
cargo test --quiet --release -p paas-platform --lib --manifest-path "$root/Cargo.toml" \
  -- --ignored --nocapture --exact grid::placement::tests::plan_of_10000_dynos_on_100_nodes 2>&1 | grep '^plan()'
