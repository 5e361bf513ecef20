#!/usr/bin/env bash
# The API over HTTPS (--api-tls-listen, the local CA's certificate) against the same API over
# plain HTTP, side by side in one run of one real `paas server` (release build):
# - `GET /account` under wrk (1 thread, 32 keep-alive connections, 10 s after a 2 s warm-up):
#   req/s and p99, so what TLS costs per request once connected;
# - a new connection per request (curl, one after the other, REQUESTS of them, 200 by default):
#   the mean time, so what a TLS handshake costs;
# - `git push` of examples/hello-wasm (a prebuilt component: the build is a copy) to two apps,
#   one remote http://, one https://, PUSHES times each (3): wall time of each whole push.
#
#   bash bench/https.sh
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
requests=${REQUESTS:-200}
pushes=${PUSHES:-3}
paas_build
(cd "$root/examples/hello-wasm/component" && cargo build --release --quiet --target wasm32-wasip2 \
  --target-dir "$CARGO_TARGET_DIR/wasm-examples")
component="$CARGO_TARGET_DIR/wasm-examples/wasm32-wasip2/release/hello_wasm.wasm"

work_dir
paas_server --api-tls-listen 127.0.0.1:0
https=$(sed -n 's|^API listening on \(https://.*\)/$|\1|p' "$work/server.out")
ca="$work/data/tls/ca.pem"
key=$(cat "$work/data/operator-api-key")
headers=(-H "Authorization: Bearer $key" -H "Accept: application/vnd.heroku+json; version=3")

echo "== GET /account, wrk -t1 -c32 -d10s (keep-alive)"
printf '%-8s %10s %10s\n' scheme req/s p99
for base in "$api" "$https"; do
  wrk -t1 -c32 -d2s "${headers[@]}" "$base/account" >/dev/null
  out=$(wrk -t1 -c32 -d10s --latency "${headers[@]}" "$base/account")
  printf '%-8s %10s %10s\n' "${base%%:*}" "$(awk '/Requests\/sec/ {print $2}' <<<"$out")" \
    "$(awk '$1 == "99%" {print $2}' <<<"$out")"
done

echo "== GET /account, a new connection per request ($requests one after the other)"
printf '%-8s %12s\n' scheme "mean ms"
for base in "$api" "$https"; do
  start=$(date +%s%N)
  for _ in $(seq "$requests"); do
    curl -sS -o /dev/null --cacert "$ca" "${headers[@]}" "$base/account"
  done
  awk -v ns=$(( $(date +%s%N) - start )) -v n="$requests" -v s="${base%%:*}" 'BEGIN {printf "%-8s %12.2f\n", s, ns / 1e6 / n}'
done

echo "== git push of examples/hello-wasm ($pushes pushes each, a new commit each time)"
printf '%-8s %s\n' scheme seconds
for base in "$api" "$https"; do
  scheme=${base%%:*}
  app="push-$scheme"
  rm -rf "$work/$app" && cp -r "$root/examples/hello-wasm" "$work/$app" && cp "$component" "$work/$app/hello.wasm"
  (
    cd "$work/$app"
    git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
    "$paas" apps:create "$app" >/dev/null 2>&1
    git remote set-url paas "$base/$app.git"
    times=()
    for i in $(seq "$pushes"); do
      [ "$i" = 1 ] || git -c user.name=b -c user.email=b@b commit --quiet --allow-empty -m "push $i"
      start=$(date +%s%N)
      GIT_SSL_CAINFO="$ca" git push --quiet paas main 2>"$work/push.err" || { cat "$work/push.err" >&2; exit 1; }
      times+=("$(awk -v ns=$(( $(date +%s%N) - start )) 'BEGIN {printf "%.2f", ns / 1e9}')")
    done
    printf '%-8s %s\n' "$scheme" "${times[*]}"
  )
done
