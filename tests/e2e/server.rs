//! End-to-end tests of `paas server` itself: start-up, operator key, restart, shutdown, the
//! placeholder router, and the API's answers to bad requests, over real HTTP (`curl`).

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::support::{TestServer, paas_bin, run};

/// An HTTP request with curl: gives back the status and the body.
fn curl(args: &[&str], url: &str) -> (u16, String) {
    let output = run(Command::new("curl").args(["-sS", "-o", "-", "-w", "\n%{http_code}"]).args(args).arg(url));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or_else(|| panic!("curl printed {text:?}"));
    (status.parse().unwrap_or_else(|_| panic!("no status in {text:?}")), body.to_string())
}

/// The first `n` lines the server printed (they reach the harness a moment after the addresses).
fn printed(server: &TestServer, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let lines = server.stdout.lock().unwrap().clone();
        if lines.len() >= n {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("the server printed fewer than {n} lines: {:?}", server.stdout.lock().unwrap());
}

/// A Platform API request as `key`.
fn api(server: &TestServer, key: &str, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let auth = format!("Authorization: Bearer {key}");
    let mut args = vec!["-X", method, "-H", &auth, "-H", "Accept: application/vnd.heroku+json; version=3"];
    if let Some(body) = body {
        args.extend(["-H", "Content-Type: application/json", "-d", body]);
    }
    curl(&args, &format!("{}{path}", server.api_url))
}

#[test]
fn first_start_creates_the_operator_and_a_private_key_file() {
    let server = TestServer::start();
    let key_file = server.data_dir().join("operator-api-key");
    let stdout = printed(&server, 3);
    assert_eq!(stdout[0], format!("Created operator operator@localhost; API key written to {}", key_file.display()));
    assert!(stdout[1].starts_with("API listening on http://127.0.0.1:") && stdout[1].ends_with('/'), "{stdout:?}");
    assert!(stdout[2].starts_with("Router listening on http://127.0.0.1:"), "{stdout:?}");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(server.operator_key.len(), 64);
    let (status, body) = api(&server, &server.operator_key, "GET", "/account", None);
    assert_eq!(status, 200);
    assert!(body.contains("\"email\":\"operator@localhost\""), "{body}");
    assert!(body.contains("\"operator\":true"), "{body}");
    let (status, body) = api(&server, "wrong-key", "GET", "/apps", None);
    assert_eq!((status, body.as_str()), (401, r#"{"id":"unauthorized","message":"Invalid credentials provided."}"#));
    let (status, body) = curl(&[], &format!("{}/openapi.json", server.api_url));
    assert_eq!(status, 200);
    assert!(body.contains("\"openapi\":\"3.1.0\""));
}

#[test]
fn a_restarted_server_brings_back_every_app_and_its_releases() {
    let server = TestServer::start();
    let key = server.operator_key.clone();
    assert_eq!(api(&server, &key, "POST", "/apps", Some(r#"{"name":"durable"}"#)).0, 201);
    assert_eq!(api(&server, &key, "PATCH", "/apps/durable/config-vars", Some(r#"{"FOO":"bar"}"#)).0, 200);
    let dir = server.stop();
    let server = TestServer::start_in(dir);
    assert_eq!(server.operator_key, key, "the operator keeps their key");
    let stdout = printed(&server, 3);
    assert!(stdout[0].starts_with("Operator operator@localhost; API key in "), "{stdout:?}");
    let (status, body) = api(&server, &key, "GET", "/apps/durable/config-vars", None);
    assert_eq!((status, body.as_str()), (200, r#"{"FOO":"bar"}"#));
    let (_, releases) = api(&server, &key, "GET", "/apps/durable/releases", None);
    assert!(releases.contains("\"description\":\"Set FOO config vars\""), "{releases}");
    assert!(releases.contains("\"version\":2"), "{releases}");
}

#[test]
fn sigterm_stops_the_server_gracefully() {
    let mut server = TestServer::start();
    let status = server.terminate();
    assert!(status.success(), "paas server exited with {status}");
    assert_eq!(server.stdout.lock().unwrap().last().map(String::as_str), Some("paas server stopped"));
}

#[test]
fn the_router_answers_no_such_app_and_h14_until_dynos_run() {
    let server = TestServer::start();
    assert_eq!(api(&server, &server.operator_key, "POST", "/apps", Some(r#"{"name":"web-app"}"#)).0, 201);
    let (status, body) = curl(&["-H", "Host: nope.localhost"], &server.router_url);
    assert_eq!(status, 404);
    assert!(body.contains("No such app"), "{body}");
    let (status, body) = curl(&["-H", "Host: web-app.localhost"], &format!("{}/some/path", server.router_url));
    assert_eq!(status, 503);
    assert!(body.contains("Application error"), "{body}");
    let logged = |code: &str| {
        server.stdout.lock().unwrap().iter().any(|l| l.contains("web-app heroku[router]: at=error") && l.contains(code))
    };
    for _ in 0..50 {
        if logged("code=H14 desc=\"No web processes running\"") {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("no H14 router line: {:?}", server.stdout.lock().unwrap());
}

#[test]
fn bad_requests_get_clear_errors_and_write_nothing() {
    let server = TestServer::start();
    let key = server.operator_key.clone();
    let (status, body) = api(&server, &key, "POST", "/apps", Some(r#"{"name":"Bad_Name"}"#));
    assert_eq!(status, 422);
    assert!(body.contains(r#""id":"invalid_params""#) && body.contains("Bad_Name"), "{body}");
    assert_eq!(api(&server, &key, "GET", "/apps", None).1, "[]");

    assert_eq!(api(&server, &key, "POST", "/apps", Some(r#"{"name":"target"}"#)).0, 201);
    let big = server.dir.path().join("big.json");
    std::fs::write(&big, format!("{{\"FOO\": \"{}\"}}", "x".repeat(10 * 1024 * 1024))).unwrap();
    let auth = format!("Authorization: Bearer {key}");
    let data = format!("@{}", big.display());
    let (status, body) = curl(
        &["-X", "PATCH", "-H", &auth, "-H", "Content-Type: application/json", "--data-binary", &data],
        &format!("{}/apps/target/config-vars", server.api_url),
    );
    assert_eq!(status, 413);
    assert_eq!(body, r#"{"id":"request_too_large","message":"Request body too large: the limit is 1048576 bytes."}"#);
    let (status, body) = curl(&["-H", &auth, "-H", "Range: version ]..x; max=banana"], &format!("{}/apps/target/releases", server.api_url));
    assert_eq!(status, 416);
    assert!(body.contains("requested_range_not_satisfiable") && body.contains("Invalid Range header"), "{body}");
    let (status, body) = api(&server, &key, "PATCH", "/apps/target/formation", Some(r#"{"updates":[{"type":"worker","quantity":1}]}"#));
    assert_eq!(status, 422);
    assert!(body.contains("No such process type worker: this app has no process types yet; push code first."), "{body}");
    let (_, releases) = api(&server, &key, "GET", "/apps/target/releases", None);
    assert_eq!(releases.matches("\"version\"").count(), 1, "only v1: {releases}");
    assert_eq!(api(&server, &key, "GET", "/apps/target/config-vars", None).1, "{}");
}

/// A PostgreSQL server for one test, on a unix socket in a temp dir (no TCP port); stopped when
/// dropped. `None` (after saying so) when PostgreSQL is not installed and `CI` is not set.
pub struct Postgres {
    dir: std::path::PathBuf,
    pg_ctl: std::path::PathBuf,
}

impl Postgres {
    pub fn start() -> Option<Postgres> {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .into_iter()
            .flatten()
            .filter_map(|entry| Some(entry.ok()?.path().join("bin")))
            .find(|bin| bin.join("initdb").exists());
        let Some(bin) = bin else {
            assert!(std::env::var_os("CI").is_none(), "PostgreSQL is not installed; CI must test it (run .ci/setup)");
            eprintln!("skipping: PostgreSQL is not installed under /usr/lib/postgresql");
            return None;
        };
        let dir = tempfile::Builder::new().prefix("paas-e2e-pg-").tempdir().unwrap().keep();
        let root = run(Command::new("id").arg("-u")).stdout == b"0\n";
        let as_postgres = |program: &std::path::Path| {
            let mut command = if root { Command::new("runuser") } else { Command::new(program) };
            if root {
                command.args(["-u", "postgres", "--"]).arg(program);
            }
            command
        };
        if root {
            assert!(run(Command::new("chown").arg("postgres").arg(&dir)).status.success());
        }
        let data = dir.join("data");
        let initdb = run(as_postgres(&bin.join("initdb")).arg("-D").arg(&data).args(["-U", "postgres", "--auth=trust", "--no-sync"]));
        assert!(initdb.status.success(), "initdb: {}", String::from_utf8_lossy(&initdb.stderr));
        let options = format!("-c listen_addresses='' -c unix_socket_directories={} -c fsync=off", dir.display());
        let started = run(as_postgres(&bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(dir.join("log"))
            .args(["-o", &options, "-w", "start"]));
        assert!(started.status.success(), "pg_ctl start: {}", String::from_utf8_lossy(&started.stderr));
        Some(Postgres { dir, pg_ctl: bin.join("pg_ctl") })
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@localhost/postgres?host={}", self.dir.display())
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        let mut stop = Command::new("runuser");
        stop.args(["-u", "postgres", "--"]).arg(&self.pg_ctl);
        if run(Command::new("id").arg("-u")).stdout != b"0\n" {
            stop = Command::new(&self.pg_ctl);
        }
        let _ = stop.arg("-D").arg(&data).args(["-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn with_database_url_the_ledger_lives_in_postgresql() {
    let Some(postgres) = Postgres::start() else { return };
    let url = postgres.url();
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &["--database-url", &url]);
    let key = server.operator_key.clone();
    assert_eq!(api(&server, &key, "POST", "/apps", Some(r#"{"name":"in-postgres"}"#)).0, 201);
    assert_eq!(api(&server, &key, "PATCH", "/apps/in-postgres/config-vars", Some(r#"{"FOO":"bar"}"#)).0, 200);
    drop(server);
    // A new data dir on the same database: the operator exists, so only a new key is written,
    // and the app is there.
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &["--database-url", &url]);
    let stdout = printed(&server, 3);
    assert!(stdout[0].starts_with("Made a new API key for operator operator@localhost; API key written to "), "{stdout:?}");
    assert_ne!(server.operator_key, key);
    let (status, body) = api(&server, &server.operator_key, "GET", "/apps/in-postgres/config-vars", None);
    assert_eq!((status, body.as_str()), (200, r#"{"FOO":"bar"}"#));
    assert_eq!(api(&server, &key, "GET", "/account", None).0, 200, "the first key still works");
}

#[test]
fn a_data_dir_that_cannot_be_created_or_written_stops_the_server_at_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("file"), "in the way").unwrap();
    let in_the_way = dir.path().join("file/paas-data");
    for (data_dir, said) in [
        // Relative, as typed: the message names the absolute path.
        ("file/paas-data", format!("error: cannot create the data dir {} (--data-dir): ", in_the_way.display())),
        ("/proc", "error: the data dir /proc is not writable (--data-dir): ".to_string()),
    ] {
        let output = run(Command::new(paas_bin())
            .args(["server", "--data-dir", data_dir, "--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"])
            .current_dir(dir.path()));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{data_dir}: {stderr}");
        assert!(stderr.lines().any(|line| line.starts_with(&said)), "{data_dir}: wanted {said:?} in:\n{stderr}");
    }
}

#[test]
fn an_egress_allow_range_overlapping_the_dyno_network_stops_the_server_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let output = run(Command::new(paas_bin())
        .args(["server", "--data-dir", "data", "--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"])
        .args(["--dyno-network", "10.199.0.0/16", "--egress-allow", "10.0.0.0/8"])
        .current_dir(dir.path()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let said = "error: --egress-allow 10.0.0.0/8 overlaps the dyno network 10.199.0.0/16 (--dyno-network)";
    assert!(stderr.lines().any(|line| line.starts_with(said)), "wanted {said:?} in:\n{stderr}");
}
