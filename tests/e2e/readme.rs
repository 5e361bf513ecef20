//! README's quick start, run as written: whenever README's quick-start commands change, this
//! test changes with them.
//!
//! A newcomer's session, command by command: `paas server` with no flags in a fresh folder (so
//! the data dir is the relative `./paas-data`: a native dyno's overlay mounts once failed on it),
//! `paas login` with the key file the server printed, then for a wasm app (examples/hello-rust)
//! and a native one (examples/express-node): copy it, `git init`, `paas apps:create`,
//! `git push paas main`, and `curl -H 'Host: <app>.localhost'` through the router. The only
//! departures from the README: the ports come from `PAAS_API_LISTEN` / `PAAS_ROUTER_LISTEN`
//! (`127.0.0.1:0`, free ones, read back from what the server prints) instead of 5000 and 8080,
//! `paas` on PATH is the binary under test rather than the one `cargo install` puts in
//! `~/.cargo/bin`, and HOME is a fresh folder.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::native::runc_available;
use crate::support::{TestServer, eventually_get, git, ok, paas_bin, repo_root};

/// A command as the newcomer types it in `cwd`: `paas` is the binary under test, found on PATH;
/// HOME is theirs; no `PAAS_*` variable of whoever runs the tests reaches it.
fn typed(program: &str, home: &Path, cwd: &Path) -> Command {
    let bin = Path::new(paas_bin()).parent().expect("the binary's folder");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new(program);
    command.env("PATH", path).env("HOME", home).current_dir(cwd).stdin(Stdio::null());
    for (name, _) in std::env::vars_os().filter(|(name, _)| name.to_string_lossy().starts_with("PAAS_")) {
        command.env_remove(name);
    }
    command
}

#[test]
fn readme_quick_start_as_written_serves_a_wasm_and_a_native_app_from_the_default_data_dir() {
    if !runc_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (home, work) = (dir.path().join("home"), dir.path().join("work"));
    std::fs::create_dir_all(&work).unwrap();

    // $ paas server
    let mut command = typed("paas", &home, &work);
    command.arg("server").env("PAAS_API_LISTEN", "127.0.0.1:0").env("PAAS_ROUTER_LISTEN", "127.0.0.1:0");
    let server = TestServer::spawn(command, dir, work.join("paas-data"));
    let key_file = std::fs::canonicalize(&work).unwrap().join("paas-data/operator-api-key");
    let printed = server.stdout.lock().unwrap().clone();
    let told = format!("Created operator operator@localhost; API key written to {}", key_file.display());
    assert!(printed.contains(&told), "the server did not print {told:?}: {printed:?}");

    // $ paas login --api-url http://127.0.0.1:5000 < paas-data/operator-api-key
    let key = std::fs::File::open(work.join("paas-data/operator-api-key")).unwrap();
    let said = ok(typed("paas", &home, &work).args(["login", "--api-url", &server.api_url]).stdin(key));
    assert!(said.contains("Logged in as operator@localhost"), "{said}");

    for (example, native, answer) in
        [("hello-rust", false, "Hello, world!\n"), ("express-node", true, "Hello, world, from Express!\n")]
    {
        // $ cp -r examples/hello-rust ~/hello-rust && cd ~/hello-rust
        let app = home.join(example);
        ok(typed("cp", &home, &work).arg("-r").arg(repo_root().join("examples").join(example)).arg(&app));
        // $ git init -b main && git add -A && git commit -m First
        git(&home, &app, &["init", "-b", "main"]);
        git(&home, &app, &["add", "-A"]);
        git(&home, &app, &["commit", "-m", "First"]);
        // $ paas apps:create hello-rust
        ok(typed("paas", &home, &app).args(["apps:create", example]));
        // $ git push paas main
        let pushed = git(&home, &app, &["push", "paas", "main"]);
        let output = format!("{}{}", String::from_utf8_lossy(&pushed.stdout), String::from_utf8_lossy(&pushed.stderr));
        assert_eq!(output.contains("Building a native app"), native, "{example}: the push said:\n{output}");
        // $ curl -H 'Host: hello-rust.localhost' http://127.0.0.1:8080/
        eventually_get(&server, example, "/", (200, answer), Duration::from_secs(90));
    }
}
