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
. "$root/bench/lib.sh"
need hyperfine
paas_build
work_dir
paas_server
for _ in $(seq 200); do
  grep -q '^Rendezvous listening' "$work/server.out" && break
  sleep 0.05
done
# push_example EXAMPLE APP: examples/EXAMPLE pushed to the new app APP.
push_example() {
  example_app "$2" "$1"
  push
}
push_example worker-rust wasm-oneoff
commands=(-n "paas run (wasm one-off)" "$paas run -a wasm-oneoff -- worker-rust 0")
if command -v runc >/dev/null && ! grep -q 'native dynos are disabled' "$work/server.err"; then
  push_example threaded-rust native-oneoff
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
