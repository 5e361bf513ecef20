#!/usr/bin/env bash
# Autoscaling under increasing load: a slow native app (one request at a time, 20 ms each, so its
# response time grows with the requests waiting) with `ps:autoscale:enable web --min 1 --max MAX
# --p95 TARGET`, then wrk at 4, 8, 16, 32 connections for STEP each, then no load. Prints, every
# step the throughput and p90..p99 wrk saw and the web quantity after it, each
# `Scaled to` decision of the log, and how long it took to get back to 1 dyno.
#
#   bench/autoscale.sh [STEP] [EVERY] [MAX] [TARGET_MS]     # default: 15s 5s 8 100
#   EVERY is the server's --autoscale-every (60s in production; Heroku decides within a minute).
#   PAAS_BENCH_PROFILE=debug uses a debug build of paas (with CARGO_TARGET_DIR=<tree>/target: no
#   release build of wasmtime); the app is native and 20 ms slow, so the profile barely shows.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
source "$root/bench/lib.sh"
step=${1:-15s} every=${2:-5s} max=${3:-8} target=${4:-100}
need wrk
need runc "native dynos"
paas_build "${PAAS_BENCH_PROFILE:-release}"
work_dir
paas_server --autoscale-every "$every" --dyno-network "$(free_dyno_network)"

mkdir "$work/slow" && cd "$work/slow"
cat >slow.py <<'PY'
import os, time
from http.server import BaseHTTPRequestHandler, HTTPServer
class Slow(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.02)
        self.send_response(200); self.send_header("Content-Length", "5"); self.end_headers(); self.wfile.write(b"slow\n")
    def log_message(self, *args):
        pass
HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Slow).serve_forever()
PY
echo 'web: python3 slow.py' >Procfile
git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
"$paas" apps:create slow >/dev/null
push
app_up slow 120
"$paas" ps:autoscale:enable web --min 1 --max "$max" --p95 "$target" -a slow
# The decisions, as they come (the log's buffer keeps only the newest lines, router lines among them).
"$paas" logs -a slow --tail -s app -d api >"$work/decisions.log" 2>/dev/null &
pids+=("$!")

quantity() { "$paas" ps:scale -a slow --json | python3 -c 'import json,sys; print([f["quantity"] for f in json.load(sys.stdin) if f["type"]=="web"][0])'; }
echo "# bench/autoscale.sh step $step, --autoscale-every $every, max $max, p95 target ${target} ms, ${PAAS_BENCH_PROFILE:-release} build  $(date -u '+%Y-%m-%d %H:%M UTC')  $(git -C "$root" rev-parse --short HEAD 2>/dev/null)"
echo "# $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
for c in 4 8 16 32; do
  out=$(wrk -t1 -c"$c" -d"$step" --latency -H "Host: slow.localhost" "http://$router/")
  p95=$(echo "$out" | awk '$1=="90%"{p90=$2} $1=="99%"{p99=$2} END{print p90 ".." p99}')
  rps=$(echo "$out" | awk '/Requests\/sec/{print $2}')
  printf '%6.1f s  %2d connections: %8s req/s, p90..p99 %s, web=%s\n' "$(awk -v a="$(date +%s.%N)" -v b="$start" 'BEGIN { print a - b }')" "$c" "$rps" "$p95" "$(quantity)"
done
stopped=$(date +%s.%N)
while [ "$(quantity)" != 1 ]; do sleep 0.5; done
printf 'back to web=1 %.1f s after the load stopped\n' "$(awk -v a="$(date +%s.%N)" -v b="$stopped" 'BEGIN { print a - b }')"
sleep 1
grep "by autoscaling" "$work/decisions.log" | sed "s/^[^ ]* //"
