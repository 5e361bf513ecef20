#!/usr/bin/env bash
# What the build sandbox costs: `git push` times of examples/hello-rust and
# examples/flask-gunicorn with builds in containers (the default: runc, the app's disk image
# loop-mounted, a network namespace per step) and without (`paas server --insecure-builds`), side
# by side in one run. Each app is pushed twice: cold (empty build cache) and warm (a one-line
# change, the cache kept). Prints seconds per push.
#
#   bench/build-sandbox.sh [PROFILE]    # release (default) or debug: how paas itself is built
#   PAAS_BIN=path/to/paas bench/build-sandbox.sh   # that binary, built already
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-release}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
paas_bench "$profile" runc git

# timed_push APP EXAMPLE: cold push of a new app, then a warm one after a one-line change;
# prints "cold warm" in seconds.
timed_push() {
  local app=$1 example=$2 started cold warm
  (example_app "$app" "$example" >/dev/null)
  cd "$work/$app"
  started=$(date +%s.%N); push; cold=$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN {printf "%.1f", a - b}')
  if [ -f Cargo.toml ]; then echo "// a small change" >>"$(find src -name '*.rs' | sort | head -n1)"; else echo "# a small change" >>app.py; fi
  git -c user.name=b -c user.email=b@b commit --quiet -am change
  started=$(date +%s.%N); push; warm=$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN {printf "%.1f", a - b}')
  cd "$work"
  echo "$cold $warm"
}

declare -A result
real_home=$HOME
for mode in sandbox insecure; do
  flags=()
  [ "$mode" = insecure ] && flags=(--insecure-builds)
  # paas_server gives the clients a HOME of their own; each server keeps the real one (rustup).
  export HOME=$real_home
  # A container network of its own each time (another server of this host may hold a range).
  paas_server "${flags[@]}" --dyno-network "10.241.$((RANDOM % 250)).0/24"
  grep -o 'builds run [^"]*' "$work/server.err" | head -n1 >&2 || true
  for example in hello-rust flask-gunicorn; do
    result[$mode-$example]=$(timed_push "$mode-${example%%-*}" "$example")
    echo "$mode $example: cold / warm ${result[$mode-$example]} s" >&2
  done
  kill "$server_pid" && wait "$server_pid" 2>/dev/null || true
  pids=()
  rm -rf "$work/data" "$work"/sandbox-* "$work"/insecure-*
done

printf '\n%-16s %-22s %-22s %s\n' "example" "sandboxed cold / warm" "insecure cold / warm" "sandbox cost (cold, warm)"
for example in hello-rust flask-gunicorn; do
  read -r sc sw <<<"${result[sandbox-$example]}"
  read -r ic iw <<<"${result[insecure-$example]}"
  printf '%-16s %-22s %-22s %+.1f s, %+.1f s\n' "$example" "$sc s / $sw s" "$ic s / $iw s" \
    "$(awk -v a="$sc" -v b="$ic" 'BEGIN {print a - b}')" "$(awk -v a="$sw" -v b="$iw" 'BEGIN {print a - b}')"
done
