//! A crash of `paas server` (SIGKILL): its watchdog kills and deletes its native dynos'
//! containers at once; the next `paas server` on the same data directory removes what is left
//! (bundles, network namespaces and veth pairs) before it runs the app again.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::support::{TestServer, eventually_get, git, login, ok, push};

/// The containers under the server's runc root.
fn containers(data_dir: &Path) -> BTreeSet<String> {
    let listed = ok(Command::new("runc").arg("--root").arg(data_dir.join("runtime/runc")).args(["list", "--quiet"]));
    listed.lines().map(str::to_string).collect()
}

/// The bundles under the server's state directory.
fn bundles(data_dir: &Path) -> BTreeSet<String> {
    let dir = std::fs::read_dir(data_dir.join("runtime/containers")).expect("bundles dir");
    dir.map(|e| e.expect("bundle").file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn a_restarted_server_removes_the_containers_its_crashed_run_left() {
    let found = Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found || std::env::var("CI").as_deref() != Ok("true"), "runc is missing: .ci/setup installs it");
    if !found {
        eprintln!("skipped: runc is not installed (apt-get install runc)");
        return;
    }
    let server = TestServer::start();
    login(&server, &server.home(), &server.operator_key);
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("Procfile"), "web: python3 -m http.server $PORT --bind 0.0.0.0\n").unwrap();
    std::fs::write(repo.path().join("hello.txt"), "native and crashed\n").unwrap();
    for args in [&["init", "--quiet", "--initial-branch=main"][..], &["add", "-A"], &["commit", "--quiet", "-m", "First"]] {
        git(&server.home(), repo.path(), args);
    }
    ok(server.paas().args(["apps:create", "crashy"]).current_dir(repo.path()).env_remove("PAAS_APP"));
    push(&server, repo.path());
    eventually_get(&server, "crashy", "/hello.txt", (200, "native and crashed\n"), Duration::from_secs(60));
    let data_dir = server.data_dir();
    let before = containers(&data_dir);
    assert_eq!(before.len(), 1, "{before:?}");
    let range = std::fs::read_to_string(data_dir.parent().unwrap().join("dyno-network")).expect("the server's range");
    assert_eq!(namespaces(&range), 1, "the dyno's network namespace");

    let dir = server.crash();
    // Its watchdog kills and deletes the container at once; the bundle and the network namespace
    // wait for the next start.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !containers(&data_dir).is_empty() {
        assert!(std::time::Instant::now() < deadline, "the crashed server's container still runs");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(bundles(&data_dir), before, "its bundle is left for the next start");

    let server = TestServer::start_in(dir);
    eventually_get(&server, "crashy", "/hello.txt", (200, "native and crashed\n"), Duration::from_secs(60));
    let after = containers(&data_dir);
    assert_eq!(after.len(), 1, "one web dyno again: {after:?}");
    assert!(after.is_disjoint(&before), "the old container is gone: {before:?} → {after:?}");
    assert_eq!(bundles(&data_dir), after, "only the new dyno's bundle remains");
    assert_eq!(namespaces(&range), 1, "only the new dyno's network namespace remains");
}

/// How many network namespaces of the server's range (`/run/netns/paas-<owner>-<address>`, the
/// owner being the id the server recorded in the range's lock file) there are.
fn namespaces(range: &str) -> usize {
    let prefix = range.rsplit_once('.').expect("a /24").0.to_string() + ".";
    let entries = std::fs::read_dir("/run/netns").map(|d| d.flatten().collect::<Vec<_>>()).unwrap_or_default();
    entries
        .iter()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("paas-")
                .and_then(|rest| rest.rsplit_once('-'))
                .is_some_and(|(_, address)| address.starts_with(&prefix))
        })
        .count()
}
