#!/usr/bin/env bash
# Load during deploys: a real `paas server`, examples/hello-rust pushed with git twice (v2 says
# "Hello, world!", v3 "Hello again, world!"), feature preboot enabled and scaled to web=2, then
# wrk for DURATION at CONNECTIONS connections while the app is deployed every 4 s: rollbacks
# alternating between the two builds (each a new release of other code: every dyno is
# replaced; with preboot the new web dynos take traffic before the old ones stop). Prints the
# failed requests (non-2xx answers and socket errors) and fails unless there are none and the
# last release's code answers at the end.
#
#   bench/serve.sh [DURATION] [CONNECTIONS] [THREADS]     # default: 30s 64 2
#   PROFILE=debug bench/serve.sh                          # skip the (long) release build
#   PREBOOT=off bench/serve.sh                            # Heroku's default: expect failures
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
duration=${1:-30s}
connections=${2:-64}
threads=${3:-2}
profile=${PROFILE:-release}
preboot=${PREBOOT:-on}
command -v wrk >/dev/null || { sudo apt-get install -y wrk >/dev/null 2>&1 || apt-get install -y wrk >/dev/null; }

paas_build "$profile"

work_dir
paas_server

app=bench-hello
example_app "$app"
push
[ "$preboot" = on ] && "$paas" features:enable preboot -a "$app" 2>/dev/null
"$paas" ps:scale web=2 -a "$app" >/dev/null
curl -sf -H "Host: $app.localhost" "http://$router/" >/dev/null || { echo "the app does not answer" >&2; exit 1; }
# v3: the same app greeting differently; rollbacks then alternate between v2's and v3's slug.
sed -i 's/Hello, {who}!/Hello again, {who}!/' src/main.rs
grep -q 'Hello again' src/main.rs || { echo "examples/hello-rust changed: no greeting to change" >&2; exit 1; }
git -c user.name=b -c user.email=b@b commit --quiet -am "Greet again"
push
for _ in $(seq 100); do
  [ "$(curl -sf -H "Host: $app.localhost" "http://$router/")" = "Hello again, world!" ] && break
  sleep 0.1
done
[ "$(curl -sf -H "Host: $app.localhost" "http://$router/")" = "Hello again, world!" ] || { echo "v3 does not answer" >&2; exit 1; }

seconds=${duration%s}
echo "Hello again, world!" >"$work/expected" # what answers if the run is too short for a deploy
(
  sleep 3
  n=0
  while [ $((n * 4 + 6)) -lt "$seconds" ]; do
    n=$((n + 1))
    if [ $((n % 2)) = 1 ]; then release=v2 body="Hello, world!"; else release=v3 body="Hello again, world!"; fi
    "$paas" rollback "$release" -a "$app" >/dev/null 2>"$work/rollback.err" || cat "$work/rollback.err" >&2
    echo "$body" >"$work/expected"
    sleep 4
  done
  echo "$n" >"$work/deploys"
) &
deployer=$!

echo "== wrk -t$threads -c$connections -d$duration through the router, preboot $preboot, a deploy (rollback to the other build) every 4 s ($profile build)"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Host: $app.localhost" "http://$router/" | tee "$work/wrk.out"
wait "$deployer"
echo "deploys during the run: $(cat "$work/deploys")"
non2xx=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' "$work/wrk.out")
socket=$(sed -n 's/^ *Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$work/wrk.out")
read -r connect read write timeout <<<"${socket:-0 0 0 0}"
failed=$((${non2xx:-0} + connect + read + write + timeout))
total=$(sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$work/wrk.out")
echo "failed requests: $failed of $total (non-2xx: ${non2xx:-0}; socket errors connect/read/write/timeout: ${socket:-0 0 0 0})"
body=$(curl -sS -H "Host: $app.localhost" "http://$router/")
[ "$body" = "$(cat "$work/expected")" ] || { echo "FAIL: after the deploys the app answers '$body'" >&2; exit 1; }
if [ "$failed" -ne 0 ]; then
  echo "FAIL: $failed requests failed during the deploys" >&2
  exit 1
fi
echo "OK: zero failed requests"
