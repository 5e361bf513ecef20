//! Crash consistency: the real `paas server` killed with SIGKILL during a build, its release
//! phase, a config change, a scale, with a one-off attached and while a native dyno boots, then
//! started again on the same data dir. Each time: the ledger is consistent (every release's slug
//! is in the store, versions have no gaps, no build is left pending, a build's release exists), no
//! process of the killed run is left (nothing in `runc list` of its root from before, no process
//! that worked under the data dir), every app serves its current release, and a push, a config
//! change and a one-off of the app succeed. A graceful stop (SIGTERM) with a build, a one-off and
//! a booting dyno exits 0 within its grace periods and leaves nothing running.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{self, TestServer, eventually_get, git, login, ok, push, run};

/// A buildpack of the test's own (named by the operator with `buildpacks:set`): its compile
/// refuses a cache a killed build wrote to (`half`), counts successful builds in the cache, and
/// with a `slow` file in the app writes `half` and sleeps, to be killed there.
const COMPILE: &str = r#"#!/bin/sh
set -e
BUILD_DIR=$1 CACHE_DIR=$2
if [ -e "$CACHE_DIR/half" ]; then echo "poisoned: a killed build's cache reached this build"; exit 1; fi
n=$(cat "$CACHE_DIR/count" 2>/dev/null || echo 0)
echo "-----> the cache has seen $n successful builds"
echo $((n + 1)) > "$CACHE_DIR/count"
if [ -e "$BUILD_DIR/slow" ]; then
  echo half > "$CACHE_DIR/half"
  echo "-----> compiling slowly"
  sleep 300
fi
"#;

/// The test's buildpack ([`COMPILE`]).
fn buildpack() -> tempfile::TempDir {
    support::buildpack(&[("detect", "#!/bin/sh\necho Crashy\n"), ("compile", COMPILE)])
}

/// An app whose web dyno (native) serves `index.html`, with a release phase running `release`.
fn write_app(repo: &Path, body: &str, release: &str, web: &str) {
    std::fs::write(repo.join("Procfile"), format!("web: {web}python3 -m http.server $PORT --bind 0.0.0.0\nrelease: {release}\n"))
        .unwrap();
    std::fs::write(repo.join("index.html"), body).unwrap();
}

fn commit(server: &TestServer, repo: &Path) {
    git(&server.home(), repo, &["add", "-A"]);
    git(&server.home(), repo, &["commit", "--quiet", "--allow-empty", "-m", "change"]);
}

/// A new app `app` built with the test's buildpack, its first release serving `body`.
fn create_app(server: &TestServer, pack: &Path, app: &str, body: &str) -> tempfile::TempDir {
    login(server, &server.home(), &server.operator_key);
    let repo = tempfile::tempdir().unwrap();
    write_app(repo.path(), body, "true", "");
    git(&server.home(), repo.path(), &["init", "--quiet", "--initial-branch=main"]);
    commit(server, repo.path());
    ok(server.paas().args(["apps:create", app]).current_dir(repo.path()).env_remove("PAAS_APP"));
    ok(server.paas().args(["buildpacks:set", &pack.display().to_string(), "-a", app]));
    push(server, repo.path());
    eventually_get(server, app, "/index.html", (200, body), Duration::from_secs(60));
    repo
}

/// A command started in the background whose stdout and stderr lines are collected.
struct Background {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Background {
    fn start(mut command: Command) -> Background {
        let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        for stream in [Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>, Box::new(child.stderr.take().unwrap())] {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    lines.lock().unwrap().push(line);
                }
            });
        }
        Background { child, lines }
    }

    /// Waits until a line contains `text`.
    fn wait_for(&self, text: &str, within: Duration) {
        let deadline = Instant::now() + within;
        while !self.lines.lock().unwrap().iter().any(|l| l.contains(text)) {
            assert!(Instant::now() < deadline, "no line with {text:?} in {within:?}: {:?}", self.lines.lock().unwrap());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// Waits for it to exit (it must, once its server is gone).
    fn finish(mut self) -> String {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while self.child.try_wait().unwrap().is_none() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        std::thread::sleep(Duration::from_millis(100));
        self.text()
    }
}

/// Points the repo's `paas` remote at `server` (a restarted server listens on new ports).
fn remote(server: &TestServer, repo: &Path, app: &str) {
    git(&server.home(), repo, &["remote", "set-url", "paas", &format!("{}/{app}.git", server.api_url)]);
}

/// [`push`] to `server`.
fn push_to(server: &TestServer, repo: &Path, app: &str) -> std::process::Output {
    remote(server, repo, app);
    push(server, repo)
}

fn background_push(server: &TestServer, repo: &Path, app: &str) -> Background {
    remote(server, repo, app);
    let mut command = Command::new("git");
    command.args(["push", "paas", "main"]).current_dir(repo).env("HOME", server.home()).env("GIT_TERMINAL_PROMPT", "0");
    Background::start(command)
}

/// Commits a `slow` file (the buildpack's bin/compile then sleeps) and pushes in the background
/// until bin/compile runs.
fn slow_build(server: &TestServer, repo: &Path, app: &str) -> Background {
    std::fs::write(repo.join("slow"), "").unwrap();
    commit(server, repo);
    let pushing = background_push(server, repo, app);
    pushing.wait_for("compiling slowly", Duration::from_secs(60));
    pushing
}

/// `paas run` of a one-off that sleeps, attached, once it runs (native, in its container).
fn attached_oneoff(server: &TestServer, app: &str) -> Background {
    let mut command = server.paas();
    command.args(["run", "-a", app, "echo one-off up; sleep 300"]);
    let oneoff = Background::start(command);
    oneoff.wait_for("one-off up", Duration::from_secs(30));
    oneoff
}

/// A process: its pid and start time (`/proc/<pid>/stat`), so a reused pid is not taken for it.
type Process = (u32, u64);

/// Every live process (zombies aside) that works under `data_dir` or names it on its command
/// line: runc and the containers' processes, build steps, one-offs. `server` itself aside.
fn processes_under(data_dir: &Path, server: u32) -> BTreeSet<Process> {
    let needle = data_dir.to_string_lossy().into_owned();
    let mut found = BTreeSet::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == server {
            continue;
        }
        let Some(started) = start_time(pid) else { continue };
        let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()).replace('\0', " ");
        if cwd.starts_with(&needle) || cmdline.contains(&needle) {
            found.insert((pid, started));
        }
    }
    found
}

/// A live process's start time (none for a zombie or a process gone).
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    if fields.first() == Some(&"Z") {
        return None;
    }
    fields.get(19)?.parse().ok()
}

/// The containers under the server's runc root. `runc list` fails when a container's state goes
/// while it reads the root (the server deleting a restarted dyno's container): it is asked again.
fn containers(data_dir: &Path) -> BTreeSet<String> {
    let list = || {
        let mut command = Command::new("runc");
        command.arg("--root").arg(data_dir.join("runtime/runc")).args(["list", "--quiet"]);
        command
    };
    for _ in 0..20 {
        let listed = run(&mut list());
        if listed.status.success() {
            return String::from_utf8_lossy(&listed.stdout).lines().map(str::to_string).collect();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ok(&mut list()).lines().map(str::to_string).collect()
}

/// What a killed run left: its containers and processes, taken just before the kill.
struct Before {
    containers: BTreeSet<String>,
    processes: BTreeSet<Process>,
}

/// Kills `server` with SIGKILL, having noted what it runs, and starts another on its data dir.
fn crash_and_restart(server: TestServer) -> (TestServer, Before) {
    crash_and_restart_with(server, &[])
}

/// [`crash_and_restart`], the new server started with `args`.
fn crash_and_restart_with(server: TestServer, args: &[&str]) -> (TestServer, Before) {
    let data_dir = server.data_dir();
    let before = Before { containers: containers(&data_dir), processes: processes_under(&data_dir, server.pid()) };
    let dir = server.crash();
    let server = TestServer::start_with(dir, args);
    (server, before)
}

/// Nothing of the killed run is left once the new server is up (it ends them before it listens).
fn nothing_left(server: &TestServer, before: &Before) {
    let now = containers(&server.data_dir());
    let left: Vec<_> = before.containers.intersection(&now).collect();
    assert!(left.is_empty(), "containers of the killed run still listed by runc: {left:?}");
    all_gone(&before.processes, Duration::from_secs(5), "processes of the killed run");
}

/// Waits up to `within` until none of `processes` lives; panics naming those that do.
fn all_gone(processes: &BTreeSet<Process>, within: Duration, what: &str) {
    let deadline = Instant::now() + within;
    loop {
        let alive: Vec<String> = processes
            .iter()
            .filter(|(pid, started)| start_time(*pid) == Some(*started))
            .map(|(pid, _)| {
                let cmdline = std::fs::read_to_string(format!("/proc/{pid}/cmdline")).unwrap_or_default().replace('\0', " ");
                let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let state = status.lines().find(|l| l.starts_with("State:")).unwrap_or_default().to_string();
                let waiting = std::fs::read_to_string(format!("/proc/{pid}/wchan")).unwrap_or_default();
                format!("{pid} {cmdline}({state}, waiting in {waiting:?})")
            })
            .collect();
        if alive.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "{what} still alive: {alive:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `GET path` of the Platform API as the operator.
fn api(server: &TestServer, path: &str) -> Value {
    let output = run(Command::new("curl")
        .args(["-sSf", "-H", &format!("Authorization: Bearer {}", server.operator_key)])
        .args(["-H", "Accept: application/vnd.heroku+json; version=3"])
        .arg(format!("{}{path}", server.api_url)));
    assert!(output.status.success(), "GET {path}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// The ledger of `app` is whole: releases v1…vN without a gap, each succeeded or failed, each
/// slug's archive in the store; no build pending; each succeeded build's release there. Returns
/// the builds' statuses, oldest first.
fn ledger_consistent(server: &TestServer, app: &str) -> Vec<String> {
    let releases = api(server, &format!("/apps/{app}/releases"));
    let releases = releases.as_array().unwrap();
    let mut versions: Vec<i64> = releases.iter().map(|r| r["version"].as_i64().unwrap()).collect();
    versions.sort_unstable();
    assert_eq!(versions, (1..=versions.len() as i64).collect::<Vec<_>>(), "release versions of {app}");
    for release in releases {
        let status = release["status"].as_str().unwrap_or_default();
        assert!(["succeeded", "failed"].contains(&status), "a half release of {app}: {release}");
        if let Some(slug) = release["slug"]["id"].as_str() {
            let slug = api(server, &format!("/apps/{app}/slugs/{slug}"));
            let checksum = slug["checksum"].as_str().unwrap().trim_start_matches("SHA256:");
            let archive = server.data_dir().join("slugs").join(format!("{checksum}.tar.gz"));
            assert!(archive.is_file(), "release v{} of {app} has no slug archive", release["version"]);
        }
    }
    let ids: BTreeSet<&str> = releases.iter().filter_map(|r| r["id"].as_str()).collect();
    let mut builds: Vec<Value> = api(server, &format!("/apps/{app}/builds")).as_array().unwrap().clone();
    builds.sort_by_key(|b| b["created_at"].as_str().unwrap_or_default().to_string());
    for build in &builds {
        let status = build["status"].as_str().unwrap_or_default();
        assert_ne!(status, "pending", "a build of {app} left pending: {build}");
        if status == "succeeded" {
            let release = build["release"]["id"].as_str().unwrap_or_default();
            assert!(ids.contains(release), "a succeeded build of {app} without its release: {build}");
        }
    }
    builds.iter().map(|b| b["status"].as_str().unwrap_or_default().to_string()).collect()
}

/// A push (building from the saved cache), a config change and a one-off of `app` succeed, and it
/// then serves `body`.
fn app_works(server: &TestServer, repo: &Path, app: &str, body: &str) {
    let _ = std::fs::remove_file(repo.join("slow"));
    write_app(repo, body, "true", "");
    commit(server, repo);
    let pushed = push_to(server, repo, app);
    let said = String::from_utf8_lossy(&pushed.stderr);
    assert!(!said.contains("poisoned"), "{said}");
    eventually_get(server, app, "/index.html", (200, body), Duration::from_secs(60));
    ok(server.paas().args(["config:set", "AFTER=crash", "-a", app]));
    let out = ok(server.paas().args(["run", "-a", app, "echo one-off says $AFTER"]));
    assert!(out.contains("one-off says crash"), "{out}");
}

fn runc_found() -> bool {
    let found = Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found || std::env::var("CI").as_deref() != Ok("true"), "runc is missing: .ci/setup installs it");
    if !found {
        eprintln!("skipped: runc is not installed (apt-get install runc)");
    }
    found
}

#[test]
fn a_server_killed_during_a_build_or_its_release_phase_restarts_whole() {
    if !runc_found() {
        return;
    }
    let pack = buildpack();
    let server = TestServer::start();
    let app = "crash-build";
    let repo = create_app(&server, pack.path(), app, "v1 serving\n");

    // Killed while bin/compile runs (and has written to its cache).
    write_app(repo.path(), "never served\n", "true", "");
    let pushing = slow_build(&server, repo.path(), app);
    assert!(!processes_under(&server.data_dir(), server.pid()).is_empty(), "the build runs under the data dir");
    let (server, before) = crash_and_restart(server);
    pushing.finish();
    nothing_left(&server, &before);
    eventually_get(&server, app, "/index.html", (200, "v1 serving\n"), Duration::from_secs(60));
    assert_eq!(ledger_consistent(&server, app).last().map(String::as_str), Some("failed"), "the killed build");
    let output = ok(server.paas().args(["builds:output", "-a", app]));
    assert!(output.contains("paas server stopped while this build ran"), "{output}");
    // The next build gets the cache of the last successful one: `half` is not in it.
    app_works(&server, repo.path(), app, "v2 after a killed build\n");

    // Killed during the release phase (a native one-off): no release is made.
    write_app(repo.path(), "never released\n", "echo phase started; sleep 300", "");
    commit(&server, repo.path());
    let pushing = background_push(&server, repo.path(), app);
    pushing.wait_for("phase started", Duration::from_secs(60));
    let releases_before = api(&server, &format!("/apps/{app}/releases")).as_array().unwrap().len();
    let (server, before) = crash_and_restart(server);
    pushing.finish();
    nothing_left(&server, &before);
    eventually_get(&server, app, "/index.html", (200, "v2 after a killed build\n"), Duration::from_secs(60));
    ledger_consistent(&server, app);
    let releases_after = api(&server, &format!("/apps/{app}/releases")).as_array().unwrap().len();
    assert_eq!(releases_after, releases_before, "no release for the killed release phase");
    app_works(&server, repo.path(), app, "v3 after a killed release phase\n");
}

#[test]
fn a_server_killed_during_a_config_change_a_scale_a_one_off_or_a_boot_restarts_whole() {
    if !runc_found() {
        return;
    }
    let pack = buildpack();
    let mut server = TestServer::start();
    let app = "crash-dynos";
    let repo = create_app(&server, pack.path(), app, "serving\n");
    // The cheap crashes, a few times each: timing-dependent failures show up as flakes here.
    for round in 0..3 {
        // A one-off attached (native, in its container) while a config change and a scale are
        // in flight.
        let oneoff = attached_oneoff(&server, app);
        let mut config = server.paas();
        config.args(["config:set", &format!("ROUND={round}"), "-a", app]);
        let config = Background::start(config);
        let mut scale = server.paas();
        scale.args(["ps:scale", &format!("web={}", 1 + round % 2), "-a", app]);
        let scale = Background::start(scale);
        std::thread::sleep(Duration::from_millis(50 * round));
        let (restarted, before) = crash_and_restart(server);
        server = restarted;
        oneoff.finish();
        config.finish();
        scale.finish();
        nothing_left(&server, &before);
        ledger_consistent(&server, app);
        eventually_get(&server, app, "/index.html", (200, "serving\n"), Duration::from_secs(60));
    }
    // A web dyno that boots slowly, killed while it boots.
    write_app(repo.path(), "slow boot\n", "true", "sleep 3; ");
    commit(&server, repo.path());
    push_to(&server, repo.path(), app);
    std::thread::sleep(Duration::from_millis(500));
    let (server, before) = crash_and_restart(server);
    nothing_left(&server, &before);
    ledger_consistent(&server, app);
    eventually_get(&server, app, "/index.html", (200, "slow boot\n"), Duration::from_secs(60));
    app_works(&server, repo.path(), app, "after the crashes\n");
}

#[test]
fn the_containers_of_a_killed_server_die_with_it_without_a_restart() {
    if !runc_found() {
        return;
    }
    let pack = buildpack();
    let server = TestServer::start();
    let app = "crash-watchdog";
    let _repo = create_app(&server, pack.path(), app, "serving\n");
    let oneoff = attached_oneoff(&server, app);
    let data_dir = server.data_dir();
    let before = Before { containers: containers(&data_dir), processes: processes_under(&data_dir, server.pid()) };
    assert!(!before.containers.is_empty() && !before.processes.is_empty(), "a web dyno and a one-off run");
    // No server is started again: the watchdog alone ends what the killed one ran.
    let _dir = server.crash();
    oneoff.finish();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = containers(&data_dir);
        let alive: Vec<_> = before.processes.iter().filter(|(pid, started)| start_time(*pid) == Some(*started)).collect();
        if listed.is_empty() && alive.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "10 s after the kill, containers {listed:?} and processes {alive:?} remain");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn an_insecure_build_killed_with_its_server_is_ended_at_the_next_start() {
    if !runc_found() {
        return;
    }
    let pack = buildpack();
    let insecure = ["--insecure-builds"];
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &insecure);
    let app = "crash-insecure";
    let repo = create_app(&server, pack.path(), app, "v1\n");
    let pushing = slow_build(&server, repo.path(), app);
    // bin/compile and its sleep run on the host, in a process group of their own, in the data dir.
    let (server, before) = crash_and_restart_with(server, &insecure);
    pushing.finish();
    assert!(before.processes.len() >= 2, "the build's processes: {:?}", before.processes);
    nothing_left(&server, &before);
    assert_eq!(ledger_consistent(&server, app).last().map(String::as_str), Some("failed"));
    app_works(&server, repo.path(), app, "v2\n");
}

#[test]
fn destroying_an_app_cancels_its_running_build() {
    if !runc_found() {
        return;
    }
    let pack = buildpack();
    let server = TestServer::start();
    let data_dir = server.data_dir();
    // The server's own (its container watchdog) stay.
    let servers = processes_under(&data_dir, server.pid());
    let app = "crash-destroyed";
    let repo = create_app(&server, pack.path(), app, "serving\n");
    let pushing = slow_build(&server, repo.path(), app);
    let running: BTreeSet<Process> = processes_under(&data_dir, server.pid()).difference(&servers).copied().collect();
    assert!(running.len() >= 2, "the build's processes and the web dyno: {running:?}");
    let started = Instant::now();
    ok(server.paas().args(["apps:destroy", app, "--confirm", app]));
    let said = pushing.finish();
    assert!(said.contains("Build cancelled: the app was destroyed"), "{said}");
    assert!(started.elapsed() < Duration::from_secs(20), "the push ended {:?} after the destroy", started.elapsed());
    // The build's steps are killed with it (bin/compile sleeps 300 s), and the app's dyno stops.
    all_gone(&running, Duration::from_secs(40), "processes of the destroyed app");
    assert!(containers(&data_dir).is_empty(), "no container is left: {:?}", containers(&data_dir));
}

#[test]
fn sigterm_cancels_builds_stops_dynos_and_exits_0() {
    if !runc_found() {
        return;
    }
    let pack = buildpack();
    let mut server = TestServer::start();
    let app = "crash-stop";
    let repo = create_app(&server, pack.path(), app, "serving\n");
    let oneoff = attached_oneoff(&server, app);
    let pushing = slow_build(&server, repo.path(), app);
    let data_dir = server.data_dir();
    let started = Instant::now();
    let status = server.terminate_within(Duration::from_secs(60));
    // SIGTERM, then the one-off's and dynos' grace (10 s, 30 s at most) before SIGKILL.
    assert!(status.success(), "paas server exited with {status}");
    assert!(started.elapsed() < Duration::from_secs(45), "it took {:?}", started.elapsed());
    let said = pushing.finish();
    assert!(said.contains("Build cancelled: paas server is stopping"), "{said}");
    oneoff.finish();
    assert!(containers(&data_dir).is_empty(), "no container is left: {:?}", containers(&data_dir));
    let left = processes_under(&data_dir, 0);
    assert!(left.is_empty(), "no process is left: {left:?}");
}
