//! Log drains under the egress policy: address literals the policy denies are refused at
//! creation (422), names resolving to them are refused at delivery (and the refusal is in the
//! app's log) without a connection, redirects are not followed, HTTPS and syslog+TLS drains
//! verify certificates, and an app has at most five drains.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use paas_platform::logplex::drains::DrainPolicy;
use paas_platform::logplex::{LogplexConfig, Source};
use paas_sandbox::egress::{EgressPolicy, parse_allow};
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::logs::{Logs, serve_one, setup};

/// Lets the drains of `logs` reach loopback (the test listeners), as `--egress-allow
/// 127.0.0.0/8 --egress-allow ::1` would.
pub(crate) fn allow_loopback(logs: &Logs) {
    let allowed = ["127.0.0.0/8", "::1"].iter().map(|r| parse_allow(r).unwrap()).collect();
    assert!(logs.state.logs.set_drain_policy(DrainPolicy::new(EgressPolicy::new(allowed, Vec::new()))));
}

async fn add(logs: &Logs, app: &str, url: &str) -> (StatusCode, Value) {
    logs.call(Method::POST, &format!("/apps/{app}/log-drains"), Some(json!({"url": url}))).await
}

/// The app's `paas[logplex]` lines, waiting up to 5 s for at least `n`.
async fn logplex_lines(logs: &Logs, app: &str, n: usize) -> Vec<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let lines: Vec<String> = logs.state.logs.app(app).with_ring(|ring| {
            ring.read_after(0, 1000)
                .lines
                .iter()
                .filter(|l| l.source == Source::Paas && l.process == "logplex")
                .map(|l| l.text.clone())
                .collect()
        });
        if lines.len() >= n || tokio::time::Instant::now() > deadline {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `listener` gets a connection within `wait`.
async fn connected(listener: &TcpListener, wait: Duration) -> bool {
    tokio::time::timeout(wait, listener.accept()).await.is_ok()
}

#[tokio::test]
async fn drains_to_denied_address_literals_are_refused_at_creation() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "ssrf"}))).await;
    for (url, why) in [
        ("http://127.0.0.1:5000/openapi.json", "127.0.0.1 denied (loopback)"),
        ("https://169.254.169.254/latest/meta-data/", "169.254.169.254 denied (link-local)"),
        ("syslog://10.0.0.1:514", "10.0.0.1 denied (private)"),
        ("syslog+tls://[::1]:6514", "::1 denied (loopback)"),
        ("http://[::ffff:10.1.2.3]/", "::ffff:10.1.2.3 denied (private)"),
        ("http://100.64.1.1/", "100.64.1.1 denied (cgnat)"),
        // The URL parser's reading of odd IPv4 forms is the one checked.
        ("http://0x7f.1:5000/", "127.0.0.1 denied (loopback)"),
        ("http://2130706433/", "127.0.0.1 denied (loopback)"),
    ] {
        let (status, body) = add(&logs, "ssrf", url).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {body}");
        let message = body["message"].as_str().unwrap();
        assert!(message.contains(why), "{url}: {message}");
    }
    let (_, list) = logs.call(Method::GET, "/apps/ssrf/log-drains", None).await;
    assert_eq!(list, json!([]));
    // Documentation ranges are not denied (some networks resolve public names there).
    let (status, body) = add(&logs, "ssrf", "syslog://198.51.100.7:514").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn a_drain_whose_name_resolves_to_a_denied_address_is_refused_at_delivery_and_says_so() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "named"}))).await;
    let syslog = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let syslog_url = format!("syslog://localhost:{}", syslog.local_addr().unwrap().port());
    let http_url = format!("http://localhost:{}/logs", http.local_addr().unwrap().port());
    // A name is resolved when delivering, not at creation.
    for url in [&syslog_url, &http_url] {
        let (status, body) = add(&logs, "named", url).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    logs.state.logs.publish("named", Source::App, "web.1", "a line for the drains");
    let lines = logplex_lines(&logs, "named", 2).await;
    for url in [&syslog_url, &http_url] {
        let prefix = format!("Log drain {url} refused: localhost resolves to ");
        assert!(
            lines.iter().any(|l| l.starts_with(&prefix) && l.ends_with("denied (loopback)")),
            "{prefix} in {lines:#?}"
        );
    }
    assert!(!connected(&syslog, Duration::from_millis(300)).await, "the syslog listener got a connection");
    assert!(!connected(&http, Duration::from_millis(300)).await, "the HTTP listener got a connection");
    // Recorded once, not at every retry.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(logplex_lines(&logs, "named", 2).await.len(), 2);
}

#[tokio::test]
async fn an_http_drain_follows_no_redirect() {
    let logs = setup(LogplexConfig::default()).await;
    allow_loopback(&logs);
    logs.call(Method::POST, "/apps", Some(json!({"name": "redirected"}))).await;
    let drain = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let elsewhere = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/logs", drain.local_addr().unwrap());
    let (status, body) = add(&logs, "redirected", &url).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let location = format!("http://{}/internal", elsewhere.local_addr().unwrap());
    let first = serve_one(&drain, &format!("302 Found\r\nLocation: {location}")).await;
    assert!(first.head.starts_with("POST /logs HTTP/1.1\r\n"), "{}", first.head);
    // A redirect is a failed delivery: the same batch comes again to the drain's own URL.
    let again = serve_one(&drain, "200 OK").await;
    assert_eq!(again.body, first.body);
    assert!(!connected(&elsewhere, Duration::from_millis(300)).await, "the redirect was followed");
}

#[tokio::test]
async fn an_app_has_at_most_five_drains() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "many"}))).await;
    for n in 1..=5 {
        let (status, body) = add(&logs, "many", &format!("syslog://198.51.100.{n}:514")).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = add(&logs, "many", "syslog://198.51.100.6:514").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["message"],
        "This app already has 5 log drains, the most an app may have: remove one before adding another."
    );
    let (_, list) = logs.call(Method::GET, "/apps/many/log-drains", None).await;
    assert_eq!(list.as_array().unwrap().len(), 5);
    let id = list[0]["id"].as_str().unwrap();
    let (status, _) = logs.call(Method::DELETE, &format!("/apps/many/log-drains/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = add(&logs, "many", "syslog://198.51.100.6:514").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

/// A TLS listener with a self-signed certificate for `localhost`: answers whether each
/// handshake succeeded.
async fn self_signed_listener() -> (u16, tokio::sync::mpsc::Receiver<Result<(), String>>) {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let result = acceptor.accept(stream).await.map(drop).map_err(|e| e.to_string());
            if tx.send(result).await.is_err() {
                return;
            }
        }
    });
    (port, rx)
}

#[tokio::test]
async fn https_and_syslog_tls_drains_refuse_a_self_signed_certificate() {
    let logs = setup(LogplexConfig::default()).await;
    allow_loopback(&logs);
    logs.call(Method::POST, "/apps", Some(json!({"name": "tls"}))).await;
    for url in ["https://localhost:{port}/logs", "syslog+tls://localhost:{port}"] {
        let (port, mut handshakes) = self_signed_listener().await;
        let url = url.replace("{port}", &port.to_string());
        let (status, body) = add(&logs, "tls", &url).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        logs.state.logs.publish("tls", Source::App, "web.1", "secret line");
        let handshake = tokio::time::timeout(Duration::from_secs(5), handshakes.recv()).await.unwrap().unwrap();
        let error = handshake.expect_err("the client accepted a self-signed certificate");
        assert!(error.contains("certificate") || error.contains("alert"), "{url}: {error}");
        let (status, _) = logs.call(Method::DELETE, &format!("/apps/tls/log-drains/{}", body["id"].as_str().unwrap()), None).await;
        assert_eq!(status, StatusCode::OK);
    }
}

/// Regression: a drain URL's `user:password@` (often the drain service's token) went whole into
/// the app's log on add, remove and refusal, where every viewer of the app reads it; and a
/// view-only collaborator's `GET /apps/{app}/log-drains` answered it whole (review 4b F4).
#[tokio::test]
async fn a_drain_urls_password_never_reaches_the_apps_log() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "tokened"}))).await;
    let http = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://user:s3cr3t-token@localhost:{}/logs", http.local_addr().unwrap().port());
    let (status, body) = add(&logs, "tokened", &url).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    logs.state.logs.publish("tokened", Source::App, "web.1", "a line for the drain");
    let refused = logplex_lines(&logs, "tokened", 1).await;
    assert!(refused.iter().any(|l| l.starts_with("Log drain http://***@localhost:")), "{refused:#?}");
    let id = body["id"].as_str().unwrap();
    // A view-only collaborator sees the drain, its password masked; the owner sees it whole.
    let viewer = logs.state.ledger.create_user("viewer@example.com", None, false).await.unwrap().1;
    let (status, _) = logs.call(Method::POST, "/apps/tokened/collaborators", Some(json!({"user": "viewer@example.com"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let only_view = json!({"permissions": ["view"]});
    let (status, reply) = logs.call(Method::PATCH, "/teams/apps/tokened/collaborators/viewer@example.com", Some(only_view)).await;
    assert_eq!(status, StatusCode::OK, "{reply}");
    for path in ["/apps/tokened/log-drains".to_string(), format!("/apps/tokened/log-drains/{id}")] {
        let (status, shown) = logs.call_as(&viewer, Method::GET, &path, None).await;
        assert_eq!(status, StatusCode::OK, "{shown}");
        assert!(!shown.to_string().contains("s3cr3t"), "{path}: {shown}");
        assert!(shown.to_string().contains("http://***@localhost:"), "{path}: {shown}");
        let (_, whole) = logs.call(Method::GET, &path, None).await;
        assert!(whole.to_string().contains(&url), "{path}: {whole}");
    }
    let (status, _) = logs.call(Method::DELETE, &format!("/apps/tokened/log-drains/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    let every_line: Vec<String> =
        logs.state.logs.app("tokened").with_ring(|ring| ring.read_after(0, 1000).lines.iter().map(|l| l.text.clone()).collect());
    assert!(every_line.iter().any(|l| l.starts_with("Add drain http://***@localhost:")), "{every_line:#?}");
    assert!(every_line.iter().any(|l| l.starts_with("Remove drain http://***@localhost:")), "{every_line:#?}");
    assert!(every_line.iter().all(|l| !l.contains("s3cr3t")), "{every_line:#?}");
}
