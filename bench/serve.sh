#!/usr/bin/env bash
# Load during deploys: a real `paas server`, examples/hello-rust pushed with git and scaled to
# web=2, then wrk for DURATION at CONNECTIONS connections while the app gets new releases
# (config:set every few seconds: each replaces every dyno, new web dynos taking traffic before
# the old ones stop). Fails unless every request got a 200.
#
#   bench/serve.sh [DURATION] [CONNECTIONS] [THREADS]     # default: 30s 64 2
#   PROFILE=debug bench/serve.sh                          # skip the (long) release build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
duration=${1:-30s}
connections=${2:-64}
threads=${3:-2}
profile=${PROFILE:-release}
command -v wrk >/dev/null || { sudo apt-get install -y wrk >/dev/null 2>&1 || apt-get install -y wrk >/dev/null; }

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/paas-target}
if [ "$profile" = release ]; then
  cargo build --quiet --release -p paas-cli --manifest-path "$root/Cargo.toml"
else
  cargo build --quiet -p paas-cli --manifest-path "$root/Cargo.toml"
fi
paas="$CARGO_TARGET_DIR/$profile/paas"
[ "$profile" = debug ] && paas="$CARGO_TARGET_DIR/debug/paas"

work=$(mktemp -d)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
"$paas" server --data-dir "$work/data" --api-listen 127.0.0.1:0 --router-listen 127.0.0.1:0 \
  --buildpacks-dir "$root/buildpacks" >"$work/server.out" 2>"$work/server.err" &
server_pid=$!
for _ in $(seq 200); do
  api=$(sed -n 's|^API listening on \(http://.*\)/$|\1|p' "$work/server.out")
  router=$(sed -n 's|^Router listening on http://\(.*\)/$|\1|p' "$work/server.out")
  [ -n "$api" ] && [ -n "$router" ] && break
  sleep 0.05
done
[ -n "$router" ] || { echo "paas server did not start" >&2; cat "$work/server.err" >&2; exit 1; }
# The clients (their ~/.netrc) get a home of their own; the server keeps the real one (rustup).
export HOME="$work/home"
mkdir -p "$HOME"
"$paas" login --api-url "$api" --api-key "$(cat "$work/data/operator-api-key")" >/dev/null

app=bench-hello
cp -r "$root/examples/hello-rust" "$work/app"
rm -rf "$work/app/target"
cd "$work/app"
git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
"$paas" apps:create "$app" >/dev/null
git push --quiet paas main 2>"$work/push.err" || { cat "$work/push.err" >&2; exit 1; }
"$paas" ps:scale web=2 -a "$app" >/dev/null
curl -sf -H "Host: $app.localhost" "http://$router/" >/dev/null || { echo "the app does not answer" >&2; exit 1; }

seconds=${duration%s}
(
  sleep 3
  n=0
  while [ $((n * 4 + 6)) -lt "$seconds" ]; do
    n=$((n + 1))
    "$paas" config:set "DEPLOY=$n" -a "$app" >/dev/null
    sleep 4
  done
  echo "$n" >"$work/deploys"
) &
deployer=$!

echo "== wrk -t$threads -c$connections -d$duration through the router, deploying every 4 s ($profile build)"
wrk -t"$threads" -c"$connections" -d"$duration" --latency -H "Host: $app.localhost" "http://$router/" | tee "$work/wrk.out"
wait "$deployer"
echo "releases made during the run: $(cat "$work/deploys")"
if grep -qE 'Non-2xx or 3xx responses|Socket errors' "$work/wrk.out"; then
  echo "FAIL: some requests failed during the deploys" >&2
  exit 1
fi
echo "OK: zero failed requests"
