//! Native apps end to end: `git push` of examples/flask-gunicorn (Flask on gunicorn in a
//! virtualenv: ujson has only a C extension), examples/express-node (Express on $PORT, npm ci,
//! npm start) and examples/threaded-rust (a std thread-per-connection server, cargo build
//! --release) to one real `paas server`, which runs each in a runc container. Each answers
//! through the router, its own log lines reach `paas logs`, a config var reaches it, and
//! `ps:scale web=2` gives two containers (`runc list` under the server's state root) that both
//! answer.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{TestServer, app_repo, eventually_get, ok, push, router_get};

/// The examples: directory (also the app's name), what the buildpack says, and who greets.
const APPS: [(&str, &str, &str); 3] = [
    ("flask-gunicorn", "Building a native app: ujson 5.11.0 has native extension modules", "Flask on gunicorn"),
    ("express-node", "Building a native app: server.js does not handle the fetch event", "Express"),
    ("threaded-rust", "Building natively (the app reads $PORT and does not use wasi:http: a plain server)", "a threaded Rust server"),
];

/// runc must be there (CI installs it with .ci/setup); elsewhere the test says why it skips.
pub(crate) fn runc_available() -> bool {
    let found = Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found || std::env::var("CI").as_deref() != Ok("true"), "runc is missing: .ci/setup installs it");
    if !found {
        eprintln!("skipped: runc is not installed (apt-get install runc)");
    }
    found
}

/// The ids of the server's containers of `app`'s web dynos, from runc's own state.
fn web_containers(server: &TestServer, app: &str) -> BTreeSet<String> {
    let root = server.data_dir().join("runtime/runc");
    let listed = ok(Command::new("runc").arg("--root").arg(&root).args(["list", "--quiet"]));
    listed.lines().filter(|id| id.starts_with(&format!("paas-{app}-web."))).map(str::to_string).collect()
}

/// Polls `paas logs` of `app` until one of its dynos' lines contains `want`.
pub(crate) fn logged(server: &TestServer, app: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let logs = ok(server.paas().args(["logs", "-a", app, "-n", "1500"]).env_remove("PAAS_APP"));
        if logs.lines().any(|l| l.contains("app[web.") && l.contains(want)) {
            return;
        }
        assert!(Instant::now() < deadline, "{app}: no {want:?} in paas logs:\n{logs}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Polls `GET /dyno` of `app` (the examples answer `{"dyno":"web.N"}`) through the router until
/// both web.1 and web.2 have answered (after `ps:scale web=2`), for up to 90 s.
pub(crate) fn both_web_dynos_answer(server: &TestServer, app: &str) {
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut dynos = BTreeSet::new();
    while dynos.len() < 2 {
        assert!(Instant::now() < deadline, "{app}: after ps:scale web=2 only {dynos:?} answered");
        let (status, body) = router_get(server, app, "/dyno");
        if status == 200 {
            let dyno = body.split("\"dyno\":").nth(1).and_then(|rest| rest.split('"').nth(1)).map(str::to_string);
            dynos.extend(dyno);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(dynos, BTreeSet::from(["web.1".to_string(), "web.2".to_string()]), "{app}");
}

#[test]
fn native_apps_deploy_by_git_push_answer_through_the_router_and_scale_to_two_containers() {
    if !runc_available() {
        return;
    }
    let server = TestServer::start();
    for (app, decision, greeter) in APPS {
        let started = Instant::now();
        let repo = app_repo(&server, app, app);
        let pushed = push(&server, repo.path());
        let output = format!("{}{}", String::from_utf8_lossy(&pushed.stdout), String::from_utf8_lossy(&pushed.stderr));
        assert!(output.contains(decision), "{app}: {decision:?} not in the push's output:\n{output}");
        println!("[native] {app}: git push took {:.1} s", started.elapsed().as_secs_f64());

        eventually_get(&server, app, "/", (200, &format!("Hello, world, from {greeter}!\n")), Duration::from_secs(90));
        println!("[native] {app}: answering {:.1} s after the push began", started.elapsed().as_secs_f64());
        logged(&server, app, &format!("{app}: GET /"));
        assert_eq!(web_containers(&server, app).len(), 1, "{app}: one web dyno, one container");

        ok(server.paas().args(["ps:scale", "web=2", "-a", app]).env_remove("PAAS_APP"));
        both_web_dynos_answer(&server, app);
        let containers = web_containers(&server, app);
        assert_eq!(containers.len(), 2, "{app}: two web dynos are two containers: {containers:?}");
        drop(repo);
    }

    // Config vars reach native dynos (a new release replaces them).
    ok(server.paas().args(["config:set", "GREETING_NAME=Native", "-a", "flask-gunicorn"]).env_remove("PAAS_APP"));
    eventually_get(&server, "flask-gunicorn", "/", (200, "Hello, Native, from Flask on gunicorn!\n"), Duration::from_secs(90));
}
