#!/usr/bin/env bash
# Times a cold build (empty build cache) and a warm build after a one-line change (the second
# `git push`) of a Rust app with the builder and the built-in rust buildpack, using hyperfine.
#
#   bench/build-cache.sh [APP_DIR]     # default: examples/hello-rust
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source_dir=${1:-$root/examples/hello-rust}
[ -f "$source_dir/Cargo.toml" ] || { echo "no Cargo.toml in $source_dir" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/paas-target-builder}
cargo build --quiet --example build -p paas-builder --manifest-path "$root/Cargo.toml"
build="$CARGO_TARGET_DIR/debug/examples/build"

cp -r "$source_dir" "$work/app"
rm -rf "$work/app/target"
main=$(find "$work/app/src" -name '*.rs' | sort | head -n1)

hyperfine --style basic --time-unit second --export-markdown "$work/results.md" \
  --runs 3 --prepare "rm -rf '$work/data/cache'" --command-name "cold build (empty cache)" \
  "'$build' '$work/data' bench-app '$work/app' >/dev/null"
hyperfine --style basic --time-unit second --export-markdown "$work/warm.md" \
  --warmup 1 --runs 5 --prepare "echo '// a small change' >> '$main'" --command-name "warm build (cache, one-line change)" \
  "'$build' '$work/data' bench-app '$work/app' >/dev/null"
tail -n +3 "$work/warm.md" >>"$work/results.md"
cat "$work/results.md"
