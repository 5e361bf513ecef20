//! Python and JavaScript apps end to end: `git push` of examples/hello-python (Flask behind the
//! python buildpack's WSGI adapter), examples/hello-python-wasi (a direct wasi:http handler) and
//! examples/hello-js (a fetch handler) to one real `paas server`, then requests through its
//! router (`Host: <app>.localhost`): bodies, POST bodies and headers, a config var read at
//! request time, an exception's 500 and its traceback in `paas logs`, and a second push that
//! reuses the build cache.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, TestServer, eventually_get, ok, run};

/// `git push paas main`, timed; its output (the build's lines come back as `remote:` lines).
fn push(server: &TestServer, repo: &Path, what: &str) -> String {
    let started = Instant::now();
    let output = support::push(server, repo);
    println!("[languages] {what}: git push took {:.1} s", started.elapsed().as_secs_f64());
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A `paas` client command as the operator, with the test's HOME.
fn paas(server: &TestServer, args: &[&str]) -> String {
    ok(server.paas().args(args).env("TZ", "UTC").env_remove("PAAS_APP"))
}

/// A request to `app` through the router: status and body.
fn request(server: &TestServer, app: &str, method: &str, path: &str, headers: &[&str], body: Option<&str>) -> (u16, String) {
    let url = format!("{}{path}", server.router_url);
    let mut curl = Command::new("curl");
    curl.args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H", &format!("Host: {app}.localhost")]);
    for header in headers {
        curl.args(["-H", header]);
    }
    if let Some(body) = body {
        curl.args(["--data-binary", body]);
    }
    let output = run(curl.arg(&url));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or_else(|| panic!("curl printed {text:?}"));
    (status.parse().unwrap_or_else(|_| panic!("no status in {text:?}")), body.to_string())
}

fn get(server: &TestServer, app: &str, path: &str) -> (u16, String) {
    request(server, app, "GET", path, &[], None)
}

/// Polls `paas logs` of `app` until a line of its web dyno (`app[web.1]:`) contains `want`.
fn logged(server: &TestServer, app: &str, want: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let logs = paas(server, &["logs", "-a", app, "-n", "1500"]);
        if logs.lines().any(|l| l.contains("app[web.") && l.contains(want)) {
            return logs;
        }
        assert!(Instant::now() < deadline, "{app}: no {want:?} in paas logs:\n{logs}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Replaces `from` by `to` in `file` of the repo and commits it.
fn change(server: &TestServer, repo: &Path, file: &str, from: &str, to: &str) {
    let path = repo.join(file);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{file} has {from:?}");
    std::fs::write(&path, text.replace(from, to)).unwrap();
    support::git(&server.home(), repo, &["commit", "--quiet", "-am", "Change"]);
}

#[test]
fn python_and_javascript_apps_are_pushed_and_served_through_the_router() {
    let started = Instant::now();
    let server = TestServer::start();

    // --- hello-python: Flask, unchanged, behind the WSGI adapter.
    let flask = support::app_repo(&server, "hello-python", "flask-app");
    let first = push(&server, flask.path(), "hello-python (first)");
    assert!(first.contains("Installing componentize-py"), "{first}");
    eventually_get(&server, "flask-app", "/", (200, "Hello, world, from Flask!\n"), Duration::from_secs(60));
    let form = request(&server, "flask-app", "POST", "/form", &["Content-Type: application/x-www-form-urlencoded"], Some("name=Ann+Lee"));
    assert_eq!(form, (200, "Thanks, Ann Lee!\n".to_string()));
    let echo = request(&server, "flask-app", "POST", "/echo", &["Content-Type: text/plain"], Some("round trip"));
    assert_eq!(echo, (200, "round trip".to_string()));
    let (status, body) = request(&server, "flask-app", "GET", "/headers", &["X-Greeting: abc-123"], None);
    assert_eq!(status, 200);
    let headers: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(headers["x-greeting"], "abc-123", "{body}");
    assert_eq!(headers["host"], "flask-app.localhost", "{body}");
    paas(&server, &["config:set", "GREETING_NAME=paas", "-a", "flask-app"]);
    eventually_get(&server, "flask-app", "/", (200, "Hello, paas, from Flask!\n"), Duration::from_secs(60));
    assert_eq!(get(&server, "flask-app", "/boom").0, 500);
    logged(&server, "flask-app", "RuntimeError: boom");
    logged(&server, "flask-app", "Traceback (most recent call last)");
    assert_eq!(get(&server, "flask-app", "/").0, 200, "still serving after the exception");
    change(&server, flask.path(), "app.py", "from Flask!", "from Flask, again!");
    let second = push(&server, flask.path(), "hello-python (second)");
    assert!(!second.contains("Installing componentize-py"), "the tools come from the build cache: {second}");
    assert!(second.contains("Using the dependencies installed by the last build"), "{second}");
    eventually_get(&server, "flask-app", "/", (200, "Hello, paas, from Flask, again!\n"), Duration::from_secs(60));

    // --- hello-python-wasi: a direct wasi:http handler.
    let wasi = support::app_repo(&server, "hello-python-wasi", "wasi-app");
    push(&server, wasi.path(), "hello-python-wasi (first)");
    eventually_get(&server, "wasi-app", "/", (200, "Hello, world, from Python on wasi:http!\n"), Duration::from_secs(60));
    let echo = request(&server, "wasi-app", "POST", "/echo", &[], Some("round trip"));
    assert_eq!(echo, (200, "round trip".to_string()));
    paas(&server, &["config:set", "GREETING_NAME=paas", "FAVOURITE=tea", "-a", "wasi-app"]);
    eventually_get(&server, "wasi-app", "/", (200, "Hello, paas, from Python on wasi:http!\n"), Duration::from_secs(60));
    assert_eq!(get(&server, "wasi-app", "/config/FAVOURITE"), (200, "tea\n".to_string()));
    assert_eq!(get(&server, "wasi-app", "/config/NOPE").0, 404);

    // --- hello-js: a fetch handler with JSON routing.
    let js = support::app_repo(&server, "hello-js", "js-app");
    let first = push(&server, js.path(), "hello-js (first)");
    assert!(first.contains("Installing componentize-js"), "{first}");
    eventually_get(&server, "js-app", "/", (200, "Hello, world, from JavaScript!\n"), Duration::from_secs(60));
    let json = request(&server, "js-app", "POST", "/json", &["Content-Type: application/json"], Some(r#"{"a":[1,2]}"#));
    assert_eq!(json, (200, r#"{"received":{"a":[1,2]},"length":11}"#.to_string()));
    let echo = request(&server, "js-app", "POST", "/echo", &["Content-Type: text/csv"], Some("a,b\n1,2\n"));
    assert_eq!(echo, (200, "a,b\n1,2\n".to_string()));
    let (status, body) = request(&server, "js-app", "GET", "/headers", &["X-Greeting: abc-123"], None);
    assert_eq!(status, 200);
    let headers: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(headers["x-greeting"], "abc-123", "{body}");
    assert_eq!(get(&server, "js-app", "/nope"), (404, r#"{"error":"not found","path":"/nope"}"#.to_string()));
    paas(&server, &["config:set", "GREETING_NAME=paas", "-a", "js-app"]);
    eventually_get(&server, "js-app", "/", (200, "Hello, paas, from JavaScript!\n"), Duration::from_secs(60));
    assert_eq!(get(&server, "js-app", "/boom").0, 500);
    logged(&server, "js-app", "Error: boom");
    change(&server, js.path(), "index.js", "from JavaScript!", "from JavaScript, again!");
    let second = push(&server, js.path(), "hello-js (second)");
    assert!(!second.contains("Installing componentize-js"), "the tools come from the build cache: {second}");
    eventually_get(&server, "js-app", "/", (200, "Hello, paas, from JavaScript, again!\n"), Duration::from_secs(60));
    println!("[languages] the whole test took {:.1} s", started.elapsed().as_secs_f64());
}
