#!/usr/bin/env bash
# A short libFuzzer run of every fuzz target (needs nightly and cargo-fuzz: `cargo install
# cargo-fuzz`): SECONDS each (default 20). New crashes are left in fuzz/artifacts/<target>/;
# copy one into fuzz/corpus/<target>/ under a name saying what broke once it is fixed, so that
# the stable replay (platform's tests/all/fuzz_corpus.rs) keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-20}"
cargo +nightly fuzz build -O
# New inputs go to a scratch corpus; the checked-in one is only read.
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for target in procfile slug_manifest cron api_body; do
    echo "fuzz: $target for ${seconds}s"
    mkdir -p "$scratch/$target"
    cargo +nightly fuzz run -O "$target" "$scratch/$target" corpus/"$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 2>&1 | grep -E "^(stat::number_of_executed_units|Done|==[0-9]+==|SUMMARY)|panicked" || true
done
