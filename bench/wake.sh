#!/usr/bin/env bash
# Wake-up time: a real `paas server --sleep-after 500ms` (release build), examples/hello-rust
# pushed with git and feature `sleep` enabled; WAKES times: wait until `ps` says the web dyno is
# idle, then time one request through the router, asleep → first byte (and the same request to
# the awake dyno right after, for comparison). Side by side, the cold start of `wasmtime serve`
# (wasmtime-cli 48.0.8, the version paas links) on the same component: process start → first
# byte, compiling the component at each start (`-C cache=n`) and with wasmtime's compilation
# cache warm (`-C cache=y`; paas likewise keeps a compiled .cwasm per slug). Prints p50/p99 in
# milliseconds.
#
#   bash bench/wake.sh            # WAKES=50 to change the number of wake-ups
#   WASMTIME=0 bash bench/wake.sh # paas only (no wasmtime-cli build)
#   PAAS=/path/to/paas bash bench/wake.sh   # that binary, not a fresh release build
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
wakes=${WAKES:-50}
if [ -n "${PAAS:-}" ]; then paas=$PAAS; else paas_build; fi
wasmtime= component=
if [ "${WASMTIME:-1}" = 1 ]; then
  wasmtime_cli
  hello_component
fi

work_dir

# A dyno network of its own: another paas server on this host (a test, another bench) holds
# the default one.
paas_server --sleep-after 500ms --dyno-network "$(free_dyno_network)"
key=$(cat "$work/data/operator-api-key")
app=wake-hello
example_app "$app"
"$paas" features:enable sleep -a "$app" 2>/dev/null
push

echo "== $wakes wake-ups of $app (paas server --sleep-after 500ms, release build)${wasmtime:+ and $wakes cold starts of wasmtime serve}, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(date -u '+%Y-%m-%d %H:%M UTC'), $(git -C "$root" rev-parse --short HEAD)"
python3 - "$api" "$key" "$router" "$app" "$wakes" "$wasmtime" "$component" <<'EOF'
import json, re, socket, subprocess, sys, time, urllib.request

api, key, router, app, wakes, wasmtime, component = sys.argv[1:]
wakes = int(wakes)

def first_byte(addr, host, since=None):
    """Connects to addr, sends GET / for host; returns (seconds to the first byte, the whole
    response, seconds from `since` to the first byte)."""
    h, p = addr.rsplit(":", 1)
    started = time.perf_counter()
    with socket.create_connection((h, int(p))) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = s.recv(65536)
        at = time.perf_counter()
        while chunk := s.recv(65536):
            data += chunk
    return at - started, data.decode(errors="replace"), at - (since or started)

def state():
    req = urllib.request.Request(f"{api}/apps/{app}/dynos", headers={
        "Authorization": f"Bearer {key}", "Accept": "application/vnd.heroku+json; version=3"})
    dynos = json.load(urllib.request.urlopen(req))
    return dynos[0]["state"] if dynos else None

def check(response):
    if not response.startswith("HTTP/1.1 200") or "Hello, world!" not in response:
        sys.exit(f"unexpected answer: {response!r}")

asleep, awake = [], []
deadline = time.time() + 60
while (state(), first_byte(router, f"{app}.localhost")[1].startswith("HTTP/1.1 200")) != ("up", True):
    if time.time() > deadline:
        sys.exit(f"the web dyno never answered: {state()}")
    time.sleep(0.1)
for _ in range(wakes):
    deadline = time.time() + 30
    while state() != "idle":
        if time.time() > deadline:
            sys.exit("the web dyno never went idle")
        time.sleep(0.05)
    t, response, _ = first_byte(router, f"{app}.localhost")
    check(response)
    asleep.append(t)
    t, response, _ = first_byte(router, f"{app}.localhost")
    check(response)
    awake.append(t)
    if state() != "up":
        sys.exit("the woken dyno is not up")

def cold_start(args):
    """wasmtime serve: process start → first byte of the first response."""
    started = time.perf_counter()
    proc = subprocess.Popen([wasmtime, "serve", "-Scli", "--addr", "127.0.0.1:0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        printed = ""
        while not (m := re.search(r"http://([0-9.:]+)/", printed)):
            line = proc.stdout.readline()
            if not line:
                sys.exit(f"wasmtime serve printed {printed!r}")
            printed += line
        _, response, first = first_byte(m.group(1), "localhost", since=started)
        check(response)
        return first
    finally:
        proc.kill()
        proc.wait()

wasm, cached = [], []
if wasmtime:
    wasm = [cold_start(["-C", "cache=n", component]) for _ in range(wakes)]
    cold_start(["-C", "cache=y", component])  # fills wasmtime's compilation cache
    cached = [cold_start(["-C", "cache=y", component]) for _ in range(wakes)]

def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))] * 1000

print(f"{'':52} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
for label, values in [
    ("paas: asleep → first byte (through the router)", asleep),
    ("paas: awake → first byte (the next request)", awake),
    ("wasmtime serve, compiling: start → first byte", wasm),
    ("wasmtime serve, compile cache: start → first byte", cached),
]:
    if values:
        print(f"{label:52} {pct(values, 50):8.2f} {pct(values, 99):8.2f} {max(values) * 1000:8.2f}")
EOF
