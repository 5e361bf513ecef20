#!/usr/bin/env bash
# One-off dynos, side by side, one run, same machine: the time from `paas run` (POST
# /apps/{app}/dynos, TLS rendezvous) to the command's output and exit, for
#   - a wasm one-off: examples/worker-rust pushed to paas, `paas run -- worker-rust 0`;
#   - a native one-off: examples/threaded-rust pushed to paas (a runc container), `paas run -- 'echo done'`
#     (skipped without runc);
#   - the fixed cost of the client: `paas ps` (one API call, the same CLI start and login lookup);
#   - the same native command spawned directly (`sh -c 'echo done'`), the floor.
# With hyperfine (warm-up 3, RUNS runs each). Prints the median, mean and min of each (ms).
#
#   bench/oneoff.sh [RUNS]   # default 30
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-30}
command -v hyperfine >/dev/null || { echo "hyperfine is needed (apt-get install -y hyperfine)" >&2; exit 1; }
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/paas-target}
cargo build --quiet --release -p paas-cli --manifest-path "$root/Cargo.toml"
paas="$CARGO_TARGET_DIR/release/paas"

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$paas" server --data-dir "$work/data" --api-listen 127.0.0.1:0 --router-listen 127.0.0.1:0 \
  --buildpacks-dir "$root/buildpacks" >"$work/server.out" 2>"$work/server.err" &
pids+=($!)
for _ in $(seq 200); do
  api=$(sed -n 's|^API listening on \(http://.*\)/$|\1|p' "$work/server.out")
  [ -n "$api" ] && grep -q '^Rendezvous listening' "$work/server.out" && break
  sleep 0.05
done
[ -n "$api" ] || { echo "paas server did not start" >&2; cat "$work/server.err" >&2; exit 1; }
export HOME="$work/home" # the client's ~/.netrc and CA; the server keeps the real HOME (rustup)
mkdir -p "$HOME"
"$paas" login --api-url "$api" --api-key "$(cat "$work/data/operator-api-key")" >/dev/null

# push EXAMPLE APP
push() {
  cp -r "$root/examples/$1" "$work/$2" && rm -rf "$work/$2/target"
  (cd "$work/$2" && git init --quiet --initial-branch=main && git add -A \
    && git -c user.name=b -c user.email=b@b commit --quiet -m First \
    && "$paas" apps:create "$2" >/dev/null 2>&1 \
    && git push --quiet paas main 2>"$work/push-$2.err") || { cat "$work/push-$2.err" >&2; exit 1; }
}
push worker-rust wasm-oneoff
commands=(-n "paas run (wasm one-off)" "$paas run -a wasm-oneoff -- worker-rust 0")
if command -v runc >/dev/null && ! grep -q 'native dynos are disabled' "$work/server.err"; then
  push threaded-rust native-oneoff
  commands+=(-n "paas run (native one-off, runc)" "$paas run -a native-oneoff -- 'echo done'")
else
  echo "runc is missing: no native one-off (apt-get install -y runc)" >&2
fi
commands+=(-n "paas ps (client's fixed cost)" "$paas ps -a wasm-oneoff")
commands+=(-n "sh -c 'echo done' (spawned directly)" "sh -c 'echo done'")

# Each must work before it is timed.
"$paas" run -a wasm-oneoff -- worker-rust 0 | grep -q 'done after 0 iterations'
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
hyperfine --warmup 3 --runs "$runs" -N --style basic --export-json "$work/times.json" "${commands[@]}" >&2
python3 - "$work/times.json" <<'PY'
import json, sys
print("| command | median ms | mean ms | min ms |")
print("|---|---|---|---|")
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"| {r['command']} | {r['median'] * 1000:.1f} | {r['mean'] * 1000:.1f} | {r['min'] * 1000:.1f} |")
PY
