# Helpers shared by the bench scripts that run a real `paas server`: sourced, not run.
# They expect $root (the source tree) and $paas (the binary).

# work_dir: makes $work, removed at exit after the server paas_server started is stopped.
work_dir() {
  work=$(mktemp -d)
  server_pid=
  trap 'if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
}

# paas_server ARGS…: starts `$paas server` on $work/data with both listeners on port 0 and ARGS
# (e.g. `--sleep-after 500ms`); sets server_pid, api (http://HOST:PORT) and router (HOST:PORT).
# The clients get a HOME of their own ($work/home, for their ~/.netrc; the server keeps the real
# one, with rustup) and are logged in as the operator.
paas_server() {
  "$paas" server --data-dir "$work/data" --api-listen 127.0.0.1:0 --router-listen 127.0.0.1:0 \
    --buildpacks-dir "$root/buildpacks" "$@" >"$work/server.out" 2>"$work/server.err" &
  server_pid=$!
  api= router=
  for _ in $(seq 200); do
    api=$(sed -n 's|^API listening on \(http://.*\)/$|\1|p' "$work/server.out")
    router=$(sed -n 's|^Router listening on http://\(.*\)/$|\1|p' "$work/server.out")
    [ -n "$api" ] && [ -n "$router" ] && break
    sleep 0.05
  done
  [ -n "$router" ] || { echo "paas server did not start" >&2; cat "$work/server.err" >&2; exit 1; }
  export HOME="$work/home"
  mkdir -p "$HOME"
  "$paas" login --api-url "$api" --api-key "$(cat "$work/data/operator-api-key")" >/dev/null
}

# hello_app APP: examples/hello-rust committed in a git repo at $work/app (the current
# directory afterwards) with the `paas` remote of the new app APP.
hello_app() {
  cp -r "$root/examples/hello-rust" "$work/app"
  rm -rf "$work/app/target"
  cd "$work/app"
  git init --quiet --initial-branch=main && git add -A && git -c user.name=b -c user.email=b@b commit --quiet -m First
  "$paas" apps:create "$1" >/dev/null
}

# push: `git push paas main` of the current directory, printing git's output only on failure.
push() {
  git push --quiet paas main 2>"$work/push.err" || { cat "$work/push.err" >&2; exit 1; }
}
