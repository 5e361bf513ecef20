//! Serving end to end: `git push` of `examples/hello-rust` to a real `paas server`, then requests
//! to `<app>.localhost` through its router: config changes, scaling (requests spread over the
//! dynos `paas ps` lists), rollback, no web dynos (H14), maintenance (H80), and a restarted
//! server serving the app again; with `--sleep-after 1s` an app with feature `sleep` goes idle
//! and wakes on the next request.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::{self, TestServer, eventually_get, ok, run};

/// A `paas` client command as the operator, with the test's HOME.
fn paas(server: &TestServer, args: &[&str]) -> String {
    ok(server.paas().args(args).env("TZ", "UTC").env_remove("PAAS_APP"))
}

/// GET `path` of `app` through the router (`Host: <app>.localhost`): status and body.
fn get(server: &TestServer, app: &str, path: &str) -> (u16, String) {
    let host = format!("Host: {app}.localhost");
    let url = format!("{}{path}", server.router_url);
    let output = run(Command::new("curl").args(["-sS", "-o", "-", "-w", "\n%{http_code}", "-H", &host]).arg(&url));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or_else(|| panic!("curl printed {text:?}"));
    (status.parse().unwrap_or_else(|_| panic!("no status in {text:?}")), body.to_string())
}

/// Waits for the server to print a router line of `app` with `code` (`at=error code=H14`).
fn router_logged(server: &TestServer, app: &str, at_code: &str) {
    let prefix = format!(" {app} heroku[router]: {at_code} ");
    for _ in 0..100 {
        if server.stdout.lock().unwrap().iter().any(|l| l.contains(&prefix)) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let printed = server.stdout.lock().unwrap().clone();
    panic!("no `{at_code}` router line for {app}: {printed:?}");
}

/// `paas ps`'s dyno lines as (name, state).
fn ps(server: &TestServer, app: &str) -> Vec<(String, String)> {
    paas(server, &["ps", "-a", app])
        .lines()
        .filter(|l| !l.starts_with("===") && !l.starts_with("No dynos") && !l.trim().is_empty())
        .map(|l| {
            let (name, rest) = l.split_once(": ").unwrap_or_else(|| panic!("a dyno line: {l:?}"));
            (name.to_string(), rest.split_whitespace().next().unwrap_or_default().to_string())
        })
        .collect()
}

#[test]
fn pushed_app_is_served_scaled_rolled_back_and_comes_back_after_a_restart() {
    let server = TestServer::start();
    let repo = support::app_repo(&server, "hello-rust", "hello-xyz");
    // Routed but nothing released: H14.
    let (status, body) = get(&server, "hello-xyz", "/");
    assert_eq!(status, 503);
    assert!(body.contains("Application error"), "{body}");
    router_logged(&server, "hello-xyz", "at=error code=H14");

    support::push(&server, repo.path());
    eventually_get(&server, "hello-xyz", "/", (200, "Hello, world!\n"), Duration::from_secs(20));
    assert_eq!(ps(&server, "hello-xyz"), [("web.1".to_string(), "up".to_string())]);

    paas(&server, &["config:set", "GREETING_NAME=paas", "-a", "hello-xyz"]);
    eventually_get(&server, "hello-xyz", "/", (200, "Hello, paas!\n"), Duration::from_secs(20));

    paas(&server, &["ps:scale", "web=3", "-a", "hello-xyz"]);
    let want: Vec<(String, String)> = (1..=3).map(|n| (format!("web.{n}"), "up".to_string())).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ps(&server, "hello-xyz") != want {
        assert!(Instant::now() < deadline, "paas ps: {:?}", ps(&server, "hello-xyz"));
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut seen = BTreeSet::new();
    for _ in 0..60 {
        let (status, body) = get(&server, "hello-xyz", "/config/DYNO");
        assert_eq!(status, 200);
        seen.insert(body.trim().to_string());
    }
    assert_eq!(seen, BTreeSet::from(["web.1".to_string(), "web.2".to_string(), "web.3".to_string()]));

    // The API lists the dynos with Heroku's fields.
    let dynos: serde_json::Value = serde_json::from_str(&paas(&server, &["ps", "--json", "-a", "hello-xyz"])).unwrap();
    let dynos = dynos.as_array().unwrap();
    assert_eq!(dynos.len(), 3);
    let web2 = dynos.iter().find(|d| d["name"] == "web.2").expect("web.2 listed");
    assert_eq!(web2["type"], "web");
    assert_eq!(web2["state"], "up");
    assert_eq!(web2["size"], "Basic");
    assert_eq!(web2["release"]["version"], 3);
    assert_eq!(web2["command"], dynos[0]["command"]);
    assert!(web2["updated_at"].as_str().unwrap().ends_with('Z'), "{web2}");

    // ps:restart web.2 replaces that dyno only (the API answers once it is done).
    std::thread::sleep(Duration::from_millis(1100));
    paas(&server, &["ps:restart", "web.2", "-a", "hello-xyz"]);
    let after: serde_json::Value = serde_json::from_str(&paas(&server, &["ps", "--json", "-a", "hello-xyz"])).unwrap();
    let updated = |dynos: &serde_json::Value, name: &str| {
        dynos.as_array().unwrap().iter().find(|d| d["name"] == name).unwrap()["updated_at"].clone()
    };
    let before = serde_json::Value::Array(dynos.clone());
    assert_ne!(updated(&after, "web.2"), updated(&before, "web.2"), "web.2 restarted");
    assert_eq!(updated(&after, "web.1"), updated(&before, "web.1"), "web.1 untouched");
    assert_eq!(get(&server, "hello-xyz", "/"), (200, "Hello, paas!\n".to_string()));

    // Rollback to the deploy (v2): its config, the old answer; the formation stays.
    paas(&server, &["rollback", "v2", "-a", "hello-xyz"]);
    eventually_get(&server, "hello-xyz", "/", (200, "Hello, world!\n"), Duration::from_secs(20));
    assert_eq!(ps(&server, "hello-xyz").len(), 3);

    // The API answers once the change is applied: no polling needed from here on.
    server.stdout.lock().unwrap().clear();
    paas(&server, &["ps:scale", "web=0", "-a", "hello-xyz"]);
    let (status, body) = get(&server, "hello-xyz", "/");
    assert_eq!(status, 503, "{body}");
    router_logged(&server, "hello-xyz", "at=error code=H14");
    assert_eq!(ps(&server, "hello-xyz"), []);

    paas(&server, &["ps:scale", "web=1", "-a", "hello-xyz"]);
    eventually_get(&server, "hello-xyz", "/", (200, "Hello, world!\n"), Duration::from_secs(20));
    paas(&server, &["maintenance:on", "-a", "hello-xyz"]);
    let (status, body) = get(&server, "hello-xyz", "/");
    assert_eq!(status, 503);
    assert!(body.contains("Offline for maintenance"), "{body}");
    router_logged(&server, "hello-xyz", "at=info code=H80");
    paas(&server, &["maintenance:off", "-a", "hello-xyz"]);
    assert_eq!(get(&server, "hello-xyz", "/"), (200, "Hello, world!\n".to_string()));

    // A restarted server brings the app back as it was.
    let dir = server.stop();
    let server = TestServer::start_in(dir);
    eventually_get(&server, "hello-xyz", "/", (200, "Hello, world!\n"), Duration::from_secs(20));
    assert_eq!(ps(&server, "hello-xyz"), [("web.1".to_string(), "up".to_string())]);
}

/// Polls `paas ps` until the app's dynos are `want`.
fn until_ps(server: &TestServer, app: &str, want: &[(&str, &str)]) {
    let want: Vec<(String, String)> = want.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while ps(server, app) != want {
        assert!(Instant::now() < deadline, "paas ps: wanted {want:?}, still {:?}", ps(server, app));
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn with_sleep_after_1s_a_sleeping_app_goes_idle_and_the_next_request_wakes_it() {
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &["--sleep-after", "1s"]);
    let repo = support::app_repo(&server, "hello-rust", "napper");
    paas(&server, &["features:enable", "sleep", "-a", "napper"]);
    support::push(&server, repo.path());
    eventually_get(&server, "napper", "/", (200, "Hello, world!\n"), Duration::from_secs(20));
    // The dyno has been idle at least since here (its last request was answered before).
    let served = Instant::now();
    assert_eq!(ps(&server, "napper"), [("web.1".to_string(), "up".to_string())]);

    // Idle for 1 s (checked every 0.5 s): asleep, and the app's log stream says so.
    until_ps(&server, "napper", &[("web.1", "idle")]);
    let slept = served.elapsed();
    assert!(slept >= Duration::from_secs(1), "asleep after {slept:?}, before --sleep-after");
    let logs = paas(&server, &["logs", "-a", "napper"]);
    assert!(logs.contains("paas[web.1]: State changed from up to idle"), "{logs}");

    // The next request wakes it and is answered.
    assert_eq!(get(&server, "napper", "/config/DYNO"), (200, "web.1\n".to_string()));
    assert_eq!(ps(&server, "napper"), [("web.1".to_string(), "up".to_string())]);
    let logs = paas(&server, &["logs", "-a", "napper"]);
    assert!(logs.contains("paas[web.1]: State changed from idle to up"), "{logs}");
}

#[test]
fn a_nonsense_sleep_after_is_a_usage_error_that_names_the_formats() {
    for (value, says) in [("5x", "expected a number followed by ms, s, m or h"), ("0s", "must be more than 0")] {
        let output = run(Command::new(support::paas_bin()).args(["server", "--sleep-after", value]));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(&format!("invalid value '{value}' for '--sleep-after <SLEEP_AFTER>': {says}")), "{stderr}");
    }
}
