#!/usr/bin/env bash
# Issue 21's check "a copy of the binary alone, in another directory with a fresh data dir,
# deploys every example": copies the built `paas` alone into a fresh folder, starts it from
# another working directory on a fresh data dir with
# no --buildpacks-dir, none of the build's CARGO_*/PAAS_* variables and the source tree hidden
# (an empty tmpfs over it in the server's own mount namespace), then for each folder of
# examples/: apps:create, `git push` (timed), and checks it runs: a web process answers GET /
# through the router with a status under 500 within 90 s; an app without one has its process
# types scaled to 1 and must show a dyno `up`. Prints one line per example: ok / failed (why),
# seconds of the push. Exits 1 if any failed.
#
#   bench/relocatable.sh [PROFILE]    # release (default) or debug: how paas itself is built
#   PAAS_BIN=path/to/paas bench/relocatable.sh   # that binary, built already
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
profile=${1:-release}
# shellcheck source=bench/lib.sh
. "$root/bench/lib.sh"
paas_bench "$profile" runc git curl unshare

# The copy, alone; the server keeps the real HOME (rustup's toolchains, as systemd's User=root).
mkdir -p "$work/edge" "$work/elsewhere" "$work/home"
install -m 0755 "$paas" "$work/edge/paas"
# The data dir as the server makes it (0711). The add-ons' own servers run as the users postgres
# and redis, which must reach <data-dir>/addons: the work dir lets others search it too
# (DATA_DIR_MODE=0700 shows a data dir they cannot enter refusing add-ons).
chmod 0711 "$work"
[ -z "${DATA_DIR_MODE:-}" ] || install -d -m "$DATA_DIR_MODE" "$work/edge/data"
real_home=$HOME
paas=$work/edge/paas
clean_env=(env)
for name in $(env | sed -n 's/^\(\(CARGO\|PAAS\)_[A-Za-z0-9_]*\)=.*/\1/p'); do
  [ "$name" = CARGO_HOME ] || clean_env+=(-u "$name")
done
: >"$work/server.out"
# The source tree is hidden from the server: an empty tmpfs over it, in a mount namespace of its own.
hide='mount -t tmpfs -o size=1m,mode=0755 paas-hidden "$0" && exec "$@"'
(cd "$work/elsewhere" && exec unshare --mount --propagation private -- sh -c "$hide" "$root" \
  "${clean_env[@]}" "$paas" server --data-dir "$work/edge/data" \
  --api-listen 127.0.0.1:0 --router-listen 127.0.0.1:0 --dyno-network "10.242.$((RANDOM % 250)).0/24" \
  >>"$work/server.out" 2>"$work/server.err") &
server_pid=$!
pids+=("$server_pid")
# The first start unpacks the buildpacks the binary carries: up to a minute.
server_up "$work/edge/data" 60
echo "buildpacks installed: $(ls "$work/edge/data/buildpacks")" >&2

# deploy EXAMPLE: prints "ok SECONDS DETAIL" or "failed SECONDS WHY". An add-on its README or
# sources name (`addons:create PLAN`) is created after the push, as the READMEs do.
deploy() {
  local example=$1 app started took status addon types
  app=$(echo "$example" | tr -c 'a-z0-9\n' '-' | cut -c1-30)
  cp -r "$root/examples/$example" "$work/$app"
  rm -rf "$work/$app/target" "$work/$app/node_modules"
  cd "$work/$app"
  if [ "$example" = hello-wasm ]; then
    # The component is built, never checked in (examples/hello-wasm/README.md).
    HOME=$real_home cargo build --quiet --release --target wasm32-wasip2 --manifest-path component/Cargo.toml \
      --target-dir "$CARGO_TARGET_DIR/wasm-examples" 2>"$work/$app.build" \
      || { echo "failed 0 building its component: $(tail -n1 "$work/$app.build")"; return; }
    cp "$CARGO_TARGET_DIR/wasm-examples/wasm32-wasip2/release/hello_wasm.wasm" hello.wasm
  fi
  git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
  "$paas" apps:create "$app" >/dev/null 2>&1 || { echo "failed 0 apps:create"; return; }
  started=$(date +%s.%N)
  if ! git push --quiet paas main >"$work/$app.push" 2>&1; then
    took=$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN {printf "%.1f", a - b}')
    echo "failed $took push: $(grep -E '^remote: +!|error' "$work/$app.push" | head -n2 | tr '\n' ' ')"
    return
  fi
  took=$(awk -v a="$(date +%s.%N)" -v b="$started" 'BEGIN {printf "%.1f", a - b}')
  addon=$(grep -rhos 'addons:create [a-z0-9:-]*' README.md src | head -n1 | cut -d' ' -f2 || true)
  if [ -n "$addon" ]; then
    "$paas" addons:create "$addon" -a "$app" >"$work/$app.addon" 2>&1 \
      || { echo "failed $took addons:create $addon: $(tail -n1 "$work/$app.addon")"; return; }
  fi
  if "$paas" ps:scale -a "$app" | grep -q '\bweb='; then
    for _ in $(seq 360); do
      status=$(curl -s -o "$work/$app.body" -w '%{http_code}' -m 10 -H "Host: $app.localhost" "http://$router/" || true)
      [ "$status" -ge 200 ] 2>/dev/null && [ "$status" -lt 500 ] \
        && { echo "ok $took GET / $status${addon:+ (add-on $addon)}"; return; }
      sleep 0.25
    done
    echo "failed $took GET / answered $status: $(head -c 200 "$work/$app.body" | tr '\n' ' ')"
  else
    types=$("$paas" ps:scale -a "$app" | tr ' ' '\n' | sed -n 's/^\([a-z0-9_-]*\)=0.*/\1=1/p' | tr '\n' ' ')
    # shellcheck disable=SC2086
    [ -n "$types" ] && "$paas" ps:scale $types -a "$app" >/dev/null 2>&1
    for _ in $(seq 120); do
      "$paas" ps -a "$app" | grep -q ': up ' && { echo "ok $took ${types% } up"; return; }
      sleep 0.25
    done
    echo "failed $took no dyno up after scaling ${types:-nothing}: $("$paas" ps -a "$app" | tr '\n' ' ')"
  fi
}

failed=0
printf '%-22s %-7s %8s  %s\n' example result push_s detail
for dir in "$root"/examples/*/; do
  example=$(basename "$dir")
  result= took= detail=
  read -r result took detail < <(deploy "$example") || true
  [ -n "$result" ] || { result=failed detail="the script stopped (set -e): see $work/$example*"; }
  printf '%-22s %-7s %8s  %s\n' "$example" "$result" "$took" "$detail"
  [ "$result" = ok ] || failed=1
done
exit $failed
