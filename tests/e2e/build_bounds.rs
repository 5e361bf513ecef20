//! Bounded inputs against the real `paas server`: a gzip bomb POSTed to `git-receive-pack` is
//! refused with a message while the server's peak memory stays put and another app keeps serving;
//! a build printing 100 MB without a newline is cut; a second push of an app waits for the first.

use std::process::Command;
use std::time::Duration;

use crate::support::{self, TestServer, app_repo, git, ok, push_example, router_get, run, try_git};

/// The server's memory may grow this much over a bomb or a flood of output.
const GROWTH_MIB: u64 = 256;

fn serving(server: &TestServer, app: &str) -> bool {
    router_get(server, app, "/").0 == 200
}

fn wait_serving(server: &TestServer, app: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !serving(server, app) {
        assert!(std::time::Instant::now() < deadline, "{app} does not serve");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn a_gzip_bomb_on_git_receive_pack_is_refused_with_bounded_memory_and_other_apps_serve() {
    let server = TestServer::start();
    push_example(&server, "hello-wasm", "steady");
    wait_serving(&server, "steady");
    ok(server.paas().args(["apps:create", "bombed"]).env_remove("PAAS_APP"));
    let bomb = tempfile::NamedTempFile::new().unwrap();
    // 1 GiB and 1 MiB of zeros, gzip'd: about a megabyte on the wire.
    let made = run(Command::new("sh").arg("-c").arg(format!(
        "head -c {} /dev/zero | gzip -1 > {}",
        paas_builder::git::MAX_PUSH_SIZE + (1 << 20),
        bomb.path().display()
    )));
    assert!(made.status.success());
    let before = server.peak_rss_mib();
    let url = format!("{}/bombed.git/git-receive-pack", server.api_url);
    let answer = run(Command::new("curl")
        .args(["-sS", "-m", "120", "-o", "-", "-w", "\n%{http_code}", "-u", &format!("anyone:{}", server.operator_key.trim())])
        .args(["-H", "Content-Encoding: gzip", "-H", "Content-Type: application/x-git-receive-pack-request"])
        .arg("--data-binary")
        .arg(format!("@{}", bomb.path().display()))
        .arg(&url));
    let text = String::from_utf8_lossy(&answer.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    assert_eq!(status, "413", "{body}");
    assert!(body.contains("inflates to more than 1024 MiB, paas's limit"), "{body}");
    let after = server.peak_rss_mib();
    eprintln!("server peak RSS: {before} MiB before the bomb, {after} MiB after");
    assert!(after < before + GROWTH_MIB, "the server's peak RSS went from {before} to {after} MiB");
    assert!(serving(&server, "steady"), "the other app stopped serving");
}

/// A buildpack whose compile prints 100 MB without a newline, then sleeps `sleep` seconds.
fn loud_slow_buildpack(sleep: u32) -> tempfile::TempDir {
    let compile = format!("#!/bin/sh\nhead -c 100000000 /dev/zero | tr '\\0' x\necho\necho \"-----> compiled $(cat \"$1/version\")\"\nsleep {sleep}\n");
    support::buildpack(&[("compile", &compile)])
}

#[test]
fn a_second_push_of_an_app_waits_for_the_first_and_100_mb_lines_are_cut() {
    let server = TestServer::start();
    let buildpack = loud_slow_buildpack(4);
    let first = app_repo(&server, "static-site", "twice");
    ok(server.paas().args(["buildpacks:set", &buildpack.path().display().to_string(), "--app", "twice"]));
    let home = server.home();
    let second = tempfile::tempdir().unwrap();
    git(&home, second.path(), &["clone", "--quiet", first.path().to_str().unwrap(), "."]);
    git(&home, second.path(), &["remote", "add", "paas", &format!("{}/twice.git", server.api_url)]);
    for (repo, version) in [(first.path(), "one"), (second.path(), "two")] {
        std::fs::write(repo.join("version"), version).unwrap();
        git(&home, repo, &["add", "version"]);
        git(&home, repo, &["commit", "--quiet", "-m", version]);
    }
    let before = server.peak_rss_mib();
    let (home1, repo1) = (home.clone(), first.path().to_path_buf());
    let pushing = std::thread::spawn(move || try_git(&home1, &repo1, &["push", "paas", "main"]));
    std::thread::sleep(Duration::from_millis(1500));
    let later = try_git(&home, second.path(), &["push", "--force", "paas", "main"]);
    let earlier = pushing.join().unwrap();
    let (earlier, later) = (String::from_utf8_lossy(&earlier.stderr), String::from_utf8_lossy(&later.stderr));
    assert!(earlier.contains("-----> compiled one"), "{earlier}");
    assert!(!earlier.contains("Waiting for the build"), "{earlier}");
    assert!(later.contains("remote: -----> Waiting for the build of twice already running"), "{later}");
    assert!(later.contains("-----> compiled two"), "{later}");
    for output in [&earlier, &later] {
        let long = output.lines().find(|l| l.contains("xxxxxxxx")).expect("the long line");
        assert!(long.len() < 70_000 && long.trim_end().ends_with(" (line truncated)"), "{} bytes", long.len());
    }
    let after = server.peak_rss_mib();
    eprintln!("server peak RSS: {before} MiB before two 100 MB lines, {after} MiB after");
    assert!(after < before + GROWTH_MIB, "the server's peak RSS went from {before} to {after} MiB");
}
