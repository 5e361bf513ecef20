//! Pipelines, app webhooks and app setups end to end, driven by the official `heroku` CLI 11
//! (and curl for `POST /app-setups`, which the CLI has no plain command for) against one server
//! whose egress policy allows loopback (`--egress-allow 127.0.0.0/8`), so that the webhook
//! receiver this test binds on 127.0.0.1 is reachable. One build: an app setup of a Procfile app
//! with an `app.json`, whose slug is then promoted down the pipeline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::heroku_cli::{Heroku, curl_api, has_row, heroku_bin, hex_sha256, lines};
use crate::support::TestServer;

/// A webhook receiver on 127.0.0.1: each request's headers (lowercased names) and body.
type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, String)>>>;

fn receiver() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen: Seen = Arc::default();
    let kept = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line.trim_end() != "" {
                if let Some((name, value)) = line.trim_end().split_once(':') {
                    headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
                }
                line.clear();
            }
            let length = headers.iter().find(|(n, _)| n == "content-length").and_then(|(_, v)| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            kept.lock().unwrap().push((headers, String::from_utf8_lossy(&body).into_owned()));
            let _ = stream.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, seen)
}

/// A tarball of a Procfile app (python's file server, on the stack) with `app_json`, on the
/// server's blob store: its `source_blob`.
fn source(server: &TestServer, app_json: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app");
    std::fs::create_dir(&app).unwrap();
    std::fs::write(app.join("Procfile"), "web: python3 -m http.server $PORT\n").unwrap();
    std::fs::write(app.join("app.json"), app_json.to_string()).unwrap();
    let tarball = dir.path().join("source.tgz");
    assert!(Command::new("tar").arg("czf").arg(&tarball).arg("-C").arg(&app).arg(".").status().unwrap().success());
    let (code, sources) = curl_api(server, "POST", &format!("{}/sources", server.api_url), None);
    assert_eq!(code, 201, "{sources}");
    let put = Command::new("curl").args(["-sS", "-f", "-T"]).arg(&tarball).arg(sources["source_blob"]["put_url"].as_str().unwrap()).status();
    assert!(put.unwrap().success());
    let checksum = format!("SHA256:{}", hex_sha256(&std::fs::read(&tarball).unwrap()));
    json!({"url": sources["source_blob"]["get_url"], "checksum": checksum, "version": "0123456789ab"})
}

/// Base64 of HMAC-SHA256 of `body` keyed by `key`, computed by Python's hmac module (not by
/// the code under test).
fn python_hmac(key: &str, body: &str) -> String {
    let script = "import base64,hashlib,hmac,sys; print(base64.b64encode(hmac.new(sys.argv[1].encode(), sys.stdin.buffer.read(), hashlib.sha256).digest()).decode())";
    let mut child = Command::new("python3").args(["-c", script, key]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
    String::from_utf8(child.wait_with_output().unwrap().stdout).unwrap().trim().to_string()
}

#[test]
fn heroku_pipelines_webhooks_and_app_setups_work_unchanged() {
    let Some(bin) = heroku_bin() else { return };
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &["--egress-allow", "127.0.0.0/8"]);
    let heroku = Heroku { bin, home: tempfile::tempdir().unwrap(), api_url: server.api_url.clone() };
    let op = server.operator_key.as_str();
    let api = server.api_url.as_str();

    // An app.json that breaks a rule: a 422 naming it, and no app made.
    let app_json = json!({
        "env": {"GREETING": "hello", "SECRET_KEY": {"generator": "secret"}, "ADMIN_EMAIL": {"required": true}},
        "formation": {"web": {"quantity": 0}},
        "scripts": {"postdeploy": "echo seeded with $GREETING"},
    });
    let blob = source(&server, &app_json);
    let body = |overrides: Value| json!({"app": {"name": "shop-staging"}, "source_blob": blob, "overrides": {"env": overrides}}).to_string();
    let (code, refused) = curl_api(&server, "POST", &format!("{api}/app-setups"), Some(&body(json!({}))));
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["message"], "app.json is invalid, so nothing was made: env.ADMIN_EMAIL is required and has no value: give it in overrides.env.");
    assert_eq!(heroku.ok(op, &["apps"]).stdout, "You have no apps.\n");

    // The setup: config vars, the build, the formation, then postdeploy as a one-off.
    let (code, setup) = curl_api(&server, "POST", &format!("{api}/app-setups"), Some(&body(json!({"ADMIN_EMAIL": "ops@example.com"}))));
    assert_eq!(code, 202, "{setup}");
    assert_eq!((&setup["status"], &setup["app"]["name"]), (&json!("pending"), &json!("shop-staging")));
    let setup_url = format!("{api}/app-setups/{}", setup["id"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(300);
    let setup = loop {
        let (_, setup) = curl_api(&server, "GET", &setup_url, None);
        if setup["status"] != "pending" {
            break setup;
        }
        assert!(Instant::now() < deadline, "the setup never finished: {setup}");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(setup["status"], "succeeded", "{setup}");
    assert_eq!(setup["postdeploy"]["exit_code"], 0, "{setup}");
    assert!(setup["postdeploy"]["output"].as_str().unwrap().contains("seeded with hello"), "{setup}");
    let config = lines(&heroku.ok(op, &["config", "-a", "shop-staging"]).stdout).join("\n");
    assert!(config.contains("ADMIN_EMAIL: ops@example.com") && config.contains("GREETING:    hello"), "{config}");
    let secret = config.lines().find_map(|l| l.strip_prefix("SECRET_KEY:")).unwrap().trim();
    assert!(secret.len() == 64 && secret.bytes().all(|b| b.is_ascii_hexdigit()), "{config}");
    let (_, formation) = curl_api(&server, "GET", &format!("{api}/apps/shop-staging/formation/web"), None);
    assert_eq!(formation["quantity"], 0, "{formation}");

    // A webhook on the production app, then the pipeline.
    heroku.ok(op, &["apps:create", "shop-prod"]);
    let (url, seen) = receiver();
    let added = heroku.ok(op, &["webhooks:add", "-i", "api:release,dyno", "-l", "sync", "-s", "s3cret", "-u", &url, "-a", "shop-prod"]);
    assert!(added.stdout.contains("=== Webhooks Signing Secret") && added.stdout.contains("s3cret"), "{}", added.stdout);
    let hooks = heroku.ok(op, &["webhooks", "-a", "shop-prod"]).stdout;
    // Rows: id, URL, include, level.
    assert!(hooks.lines().any(|l| l.split_whitespace().skip(1).eq([url.as_str(), "api:release,dyno", "sync"])), "{hooks}");

    let created = heroku.ok(op, &["pipelines:create", "shop", "-a", "shop-staging", "-s", "staging"]);
    assert!(created.stderr.contains("Creating shop pipeline... done"), "{}", created.stderr);
    assert!(created.stderr.contains("Adding shop-staging to shop pipeline as staging... done"), "{}", created.stderr);
    let added = heroku.ok(op, &["pipelines:add", "shop", "-a", "shop-prod", "-s", "production"]);
    assert!(added.stderr.contains("Adding shop-prod to shop pipeline as production... done"), "{}", added.stderr);
    let info = heroku.ok(op, &["pipelines:info", "shop"]).stdout;
    assert!(info.contains("=== shop") && info.contains("owner: operator@localhost"), "{info}");
    assert!(has_row(&info, &["shop-staging", "staging"]) && has_row(&info, &["shop-prod", "production"]), "{info}");

    let promoted = heroku.ok(op, &["pipelines:promote", "-a", "shop-staging"]);
    assert!(promoted.stdout.contains("Starting promotion to production...") && promoted.stdout.contains("Promotion successful"), "{}", promoted.stdout);
    assert!(has_row(&promoted.stdout, &["shop-prod:", "succeeded"]), "{}", promoted.stdout);
    let releases = heroku.ok(op, &["releases", "-a", "shop-prod"]).stdout;
    assert!(releases.lines().any(|l| l.split_whitespace().take(4).eq(["v2", "Promote", "shop-staging", "v3"])), "{releases}");

    // The promotion's release reached the webhook, signed.
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no webhook delivery");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (headers, body) = seen.lock().unwrap()[0].clone();
    let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone()).unwrap_or_default();
    assert_eq!(header("heroku-webhook-hmac-sha256"), python_hmac("s3cret", &body));
    let payload: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((&payload["resource"], &payload["data"]["description"]), (&json!("release"), &json!("Promote shop-staging v3")));
    assert_eq!(payload["data"]["app"]["name"], "shop-prod");
    let deliveries = heroku.ok(op, &["webhooks:deliveries", "-a", "shop-prod"]).stdout;
    // Rows: id, created, status, include, level, attempts, code.
    let row = ["succeeded", "api:release", "sync", "1", "200"];
    assert!(deliveries.lines().any(|l| l.split_whitespace().skip(2).eq(row)), "{deliveries}");
    let events = heroku.ok(op, &["webhooks:events", "-a", "shop-prod"]).stdout;
    let published = payload["published_at"].as_str().unwrap();
    assert!(has_row(&events, &[payload["id"].as_str().unwrap(), "release", "create", published]), "{events}");
}
