#!/usr/bin/env bash
# Benchmark: what running in a native dyno (bundle, runc, namespaces, cgroups, seccomp,
# teardown) adds to a command, against the same command run directly on the host, side by side
# in one run (runtime/examples/native.rs): a one-off `true`, and Debian's python3 web server's
# boot to its first accepted connection. Needs root and runc.
#
#   bash bench/native-overhead.sh            # RUNS=20 to change the number of runs of each
set -euo pipefail
cd "$(dirname "$0")/.."

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/paas-target}"
RUNS="${RUNS:-20}"
command -v runc >/dev/null || { echo "bench: runc is needed (apt-get install -y runc)" >&2; exit 1; }
cargo build --release --quiet -p paas-runtime --example native
"$CARGO_TARGET_DIR/release/examples/native" --runs "$RUNS"
