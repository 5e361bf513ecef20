//! The release phase end to end: hello-rust with a `release` binary (a wasi:cli component, so the
//! `release` process type) that exits with `$RELEASE_EXIT_CODE` (a wasm component exits 0 or 1). Pushes and rollbacks run it as
//! `release.N`; a failing one rejects the push (or the rollback) with its output, is recorded as a
//! failed release, and the previous release keeps serving.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::support::{TestServer, app_repo, eventually_get, git, ok, router_get, run, try_git};

const RELEASE_BIN: &str = r#"//! The release phase of the e2e app: says what it does, exits with $RELEASE_EXIT_CODE (0).
fn main() {
    let code: i32 = std::env::var("RELEASE_EXIT_CODE").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    println!("release phase: migrating the database");
    eprintln!("release phase: exiting with {code}");
    std::process::exit(code);
}
"#;

/// (version, description, status, current) of each release, oldest first.
fn releases(server: &TestServer, app: &str) -> Vec<(i64, String, String, bool)> {
    let json: Value = serde_json::from_str(&ok(server.paas().args(["releases", "-a", app, "--json"]))).unwrap();
    let mut releases: Vec<_> = json
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let text = |f: &str| r[f].as_str().unwrap_or_default().to_string();
            (r["version"].as_i64().unwrap(), text("description"), text("status"), r["current"].as_bool().unwrap())
        })
        .collect();
    releases.sort_by_key(|r| r.0);
    releases
}

fn commit(server: &TestServer, repo: &Path, message: &str) {
    git(&server.home(), repo, &["add", "-A"]);
    git(&server.home(), repo, &["commit", "--quiet", "-m", message]);
}

/// The served body stays `want` for a while (a failed release must not go live).
fn keeps_serving(server: &TestServer, app: &str, want: &str) {
    for _ in 0..8 {
        assert_eq!(router_get(server, app, "/"), (200, want.to_string()));
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_failing_release_phase_blocks_the_push_and_the_rollback_and_the_previous_release_keeps_serving() {
    let server = TestServer::start();
    let app = "phased";
    let repo = app_repo(&server, "hello-rust", app);
    std::fs::create_dir_all(repo.path().join("src/bin")).unwrap();
    std::fs::write(repo.path().join("src/bin/release.rs"), RELEASE_BIN).unwrap();
    commit(&server, repo.path(), "Add a release phase");

    // A release phase that succeeds: the push says so and releases v2.
    let pushed = git(&server.home(), repo.path(), &["push", "paas", "main"]);
    let said = String::from_utf8_lossy(&pushed.stderr).into_owned();
    assert!(said.contains("Running release command"), "{said}");
    assert!(said.contains("release phase: migrating the database"), "{said}");
    assert!(said.contains("Launching... done, v2"), "{said}");
    eventually_get(&server, app, "/", (200, "Hello, world!\n"), Duration::from_secs(60));
    let formation = ok(server.paas().args(["ps", "-a", app]));
    assert!(!formation.contains("release."), "the release phase is not a dyno once it is done:\n{formation}");
    let scale = run(server.paas().args(["ps:scale", "release=1", "-a", app]));
    assert!(!scale.status.success());
    assert!(String::from_utf8_lossy(&scale.stderr).contains("cannot be scaled"), "{scale:?}");

    // It fails (exit 1): the push is rejected with its output; v4 is recorded as failed.
    ok(server.paas().args(["config:set", "RELEASE_EXIT_CODE=1", "-a", app]));
    let main = std::fs::read_to_string(repo.path().join("src/main.rs")).unwrap();
    std::fs::write(repo.path().join("src/main.rs"), main.replace("Hello, {who}!", "Howdy, {who}!")).unwrap();
    commit(&server, repo.path(), "Howdy");
    let rejected = try_git(&server.home(), repo.path(), &["push", "paas", "main"]);
    let said = String::from_utf8_lossy(&rejected.stderr).into_owned();
    assert!(!rejected.status.success(), "{said}");
    assert!(said.contains("release phase: exiting with 1"), "{said}");
    assert!(said.contains("Release phase failed: exit code 1"), "{said}");
    keeps_serving(&server, app, "Hello, world!\n");
    let listed = releases(&server, app);
    assert_eq!(listed[3].2, "failed", "{listed:?}");
    assert!(!listed[3].3 && listed[2].3, "v3 (the config change) stays current: {listed:?}");

    // A rollback runs the target's release phase too: v3 has RELEASE_EXIT_CODE=1, so it fails.
    let rollback = run(server.paas().args(["rollback", "v3", "-a", app]));
    let said = String::from_utf8_lossy(&rollback.stderr).into_owned();
    assert!(!rollback.status.success(), "{said}");
    assert!(said.contains("Release phase failed: exit code 1") && said.contains("release phase: exiting with 1"), "{said}");
    let listed = releases(&server, app);
    assert_eq!((listed[4].1.as_str(), listed[4].2.as_str(), listed[4].3), ("Rollback to v3", "failed", false));
    keeps_serving(&server, app, "Hello, world!\n");

    // Fixed: the same commit pushes, and a rollback to v2 runs its release phase and goes live.
    ok(server.paas().args(["config:unset", "RELEASE_EXIT_CODE", "-a", app]));
    let pushed = git(&server.home(), repo.path(), &["push", "paas", "main"]);
    assert!(String::from_utf8_lossy(&pushed.stderr).contains("Launching... done, v7"));
    eventually_get(&server, app, "/", (200, "Howdy, world!\n"), Duration::from_secs(60));
    ok(server.paas().args(["rollback", "v2", "-a", app]));
    eventually_get(&server, app, "/", (200, "Hello, world!\n"), Duration::from_secs(60));
    let listed = releases(&server, app);
    assert_eq!((listed[7].1.as_str(), listed[7].2.as_str(), listed[7].3), ("Rollback to v2", "succeeded", true));
    let logs = ok(server.paas().args(["logs", "-n", "1500", "-a", app]));
    assert!(logs.contains("app[release.1]: release phase: migrating the database"), "{logs}");
    assert!(logs.contains("Release v4 failed: release phase exit code 1"), "{logs}");

    // The official CLI: `releases:retry` finds the release phase in the formation, releases the
    // latest slug again (v9) and streams the phase's output from its output_stream_url;
    // `releases:output` shows it again.
    let Some(bin) = crate::heroku_cli::heroku_bin() else { return };
    let heroku = crate::heroku_cli::Heroku { bin, home: tempfile::tempdir().unwrap(), api_url: server.api_url.clone() };
    let retry = heroku.ok(&server.operator_key, &["releases:retry", "-a", app]);
    assert!(retry.stderr.contains("Retrying v8 on phased... done, v9"), "{}", retry.stderr);
    assert!(retry.stdout.contains("Running release command...") && retry.stdout.contains("release phase: migrating the database"), "{}", retry.stdout);
    let output = heroku.ok(&server.operator_key, &["releases:output", "-a", app]);
    assert!(output.stdout.contains("release phase: migrating the database"), "{}", output.stdout);
}
