#!/usr/bin/env bash
# The many-core figures of issue #22 on a lent machine (the `device` tool: 16 cores, no cargo,
# no runc, nothing fetched there), in two steps:
#
#   bench/devbench.sh pack     # here: target/devbench/kit.tar.gz, with the stripped release
#                              # `paas`, `wasmtime` 49.0.x, wrk and its libluajit, the hello
#                              # component, the router and hello_server examples; prints the size (the tree and the kit travel in 64 MiB)
#   bench/devbench.sh run      # there, from the repository root, with target/devbench carried:
#                              # unpacks the kit, checks the tools the bench needs (git, curl,
#                              # taskset, python3; without runc, builds run on the host, and
#                              # without ip(8) the dyno network is any 10.2xx.0.0/16), then runs
#                              # bench/scaling.sh (and one unpinned paas-vs-wasmtime.sh), then
#                              # bench/router.sh (native: the router on half the cores) and
#                              # copies the result files to $OUT
#
# The device call: run(command="bash bench/devbench.sh run", carry=["target/devbench"],
# timeout_s=560). DURATION (4s), CORES ("1 2 4 8 12 16") and CONNECTIONS (256) go through to
# bench/scaling.sh; the run takes about 6 x (4 pairs x (DURATION + 2 s) + 20 s), and 30 s more
# for the native figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
kit_dir="$root/target/devbench"

pack() {
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$root/target}
  . "$root/bench/lib.sh"
  need wrk
  command -v strip >/dev/null || { echo "bench: strip is needed (apt-get install -y binutils)" >&2; exit 1; }
  paas_build
  wasmtime_serve_cli
  hello_component
  local stage
  stage=$(mktemp -d)
  mkdir -p "$stage/bin" "$stage/lib"
  strip -o "$stage/bin/paas" "$paas"
  cp "$wasmtime_serve" "$stage/bin/wasmtime"
  cp "$(command -v wrk)" "$stage/bin/wrk"
  # wrk's LuaJIT (the one shared library it has that a bare machine may lack).
  ldd "$(command -v wrk)" | awk '/luajit/ {print $3}' | xargs -r -I{} cp -L {} "$stage/lib/"
  cp "$component" "$stage/greeter.wasm"
  # bench/router.sh's native hello server and the router as a library (no runc needed).
  cargo build --quiet --release -p paas-router --example router --example hello_server --manifest-path "$root/Cargo.toml"
  mkdir -p "$stage/examples"
  for example in router hello_server; do
    strip -o "$stage/examples/$example" "$CARGO_TARGET_DIR/release/examples/$example"
  done
  mkdir -p "$kit_dir"
  tar -C "$stage" -czf "$kit_dir/kit.tar.gz" .
  rm -rf "$stage"
  echo "kit: ${kit_dir#"$root"/}/kit.tar.gz, $(du -m "$kit_dir/kit.tar.gz" | cut -f1) MiB (paas $(git -C "$root" rev-parse --short HEAD))"
}

run() {
  local kit=/tmp/devbench tool missing=()
  [ -f "$kit_dir/kit.tar.gz" ] || { echo "no $kit_dir/kit.tar.gz: run 'bench/devbench.sh pack' here and carry target/devbench" >&2; exit 2; }
  rm -rf "$kit" && mkdir -p "$kit"
  tar -C "$kit" -xzf "$kit_dir/kit.tar.gz"
  export PATH="$kit/bin:$PATH" LD_LIBRARY_PATH="$kit/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  export PAAS="$kit/bin/paas" WASMTIME="$kit/bin/wasmtime" COMPONENT="$kit/greeter.wasm"
  for tool in git curl taskset python3; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  [ ${#missing[@]} = 0 ] || { echo "devbench: this machine lacks ${missing[*]}; the bench needs them" >&2; exit 2; }
  # Without runc, paas refuses builds unless told to run them on the host: the push of the
  # prebuilt component is a build. A bench machine has one tenant, the bench.
  if ! command -v runc >/dev/null; then
    echo "devbench: no runc here: builds run unsandboxed (PAAS_INSECURE_BUILDS=true)"
    export PAAS_INSECURE_BUILDS=true
  fi
  echo "machine: $(nproc) cores, $(uname -sr); $("$PAAS" --version); $("$WASMTIME" --version); $(wrk --version 2>&1 | head -1)"
  local out=${OUT:-/tmp/devbench-out}
  mkdir -p "$out"
  CORES=${CORES:-1 2 4 8 12 16} CONNECTIONS=${CONNECTIONS:-256} bash "$root/bench/scaling.sh" "${DURATION:-4s}" 2>&1 | tee "$out/scaling.log"
  WEB=1 bash "$root/bench/paas-vs-wasmtime.sh" "${DURATION:-4s}" 2>&1 | tee "$out/paas-vs-wasmtime.log"
  # Native: the router on half the cores, wrk and the hello server on the other half.
  local half=$(( $(nproc) / 2 ))
  EXAMPLES="$kit/examples" PROXY_CPUS="0-$((half - 1))" OTHER_CPUS="$half-$(( $(nproc) - 1 ))" NGINX=0 SPLICE=0 \
    CALLGRIND=0 ROUNDS=2 bash "$root/bench/router.sh" "${DURATION:-4s}" 256 "$half" 2>&1 | tee "$out/router.log"
  # The newest scaling and side-by-side results (what comes back from $OUT is 8 files at most).
  for kind in scaling paas-vs-wasmtime; do
    cp "$(ls -t "$root"/bench/results/"$kind"-*.txt | head -1)" "$out/"
  done
}

case "${1:-}" in
  pack) pack ;;
  run) run ;;
  *) echo "usage: bench/devbench.sh pack|run" >&2; exit 2 ;;
esac
