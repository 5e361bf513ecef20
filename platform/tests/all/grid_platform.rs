//! One platform across the grid's nodes, in process: two nodes sharing a ledger, each with its
//! own logplex and its real API on a real listener. A log session made on b reads a's lines too
//! (the newest N of both, in time order), follows both, and resumes on every node after a
//! reconnect; a node that does not answer is named. Builds are failed at start only for their
//! own node, restart requests are numbered in order, and a fenced node claims no scheduled run.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use paas_platform::Ledger;
use paas_platform::api::limits::{ApiLimits, Limits};
use paas_platform::api::{self, AppState, PlatformConfig};
use paas_platform::grid::agent::{Agent, GridConfig};
use paas_platform::grid::peers::Peers;
use paas_platform::grid::{Capacity, NodeRegistration};
use paas_platform::logplex::{Logplex, Source};
use uuid::Uuid;

use crate::backends;

fn registration(name: &str, api_url: &str) -> NodeRegistration {
    NodeRegistration {
        name: name.into(),
        api_url: api_url.into(),
        router_url: format!("http://{name}:8080"),
        capacity: Capacity { memory_mib: 8192, millicores: 4000, wasm: true, native: true },
        version: "test".into(),
    }
}

/// A node's API on a real listener, with its own logplex; its agent joined with `token`.
struct TestNode {
    url: String,
    logs: Logplex,
    _dir: tempfile::TempDir,
}

async fn node(ledger: &Arc<dyn Ledger>, name: &str, join: Option<String>) -> TestNode {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let grid = GridConfig { join, lease: Duration::from_secs(60), placing: true };
    let agent = Agent::start(ledger.clone(), dir.path(), registration(name, &url), grid).await.unwrap();
    let logs = Logplex::default();
    let config = PlatformConfig { domain: "localhost".into(), router_port: None, api_url: url.clone() };
    let state = AppState {
        ledger: ledger.clone(),
        config: Arc::new(config),
        deploys: None,
        logs: logs.clone(),
        limits: Arc::new(Limits::new(ApiLimits::default())),
    };
    let app = api::app(state).layer(axum::Extension(Peers::new(ledger.clone(), agent)));
    tokio::spawn(async move { axum::serve(listener, app).await });
    TestNode { url, logs, _dir: dir }
}

/// Makes a log session on `node` and gives its URL.
async fn session(http: &reqwest::Client, node: &TestNode, key: &str, body: serde_json::Value) -> String {
    let reply: serde_json::Value = http
        .post(format!("{}/apps/gridded/log-sessions", node.url))
        .bearer_auth(key)
        .header("accept", "application/vnd.heroku+json; version=3")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    reply["logplex_url"].as_str().unwrap().to_string()
}

/// The `data:` lines and the last `id:` of SSE text.
fn events(text: &str) -> (Vec<String>, Option<String>) {
    let data = text.lines().filter_map(|l| l.strip_prefix("data: ")).map(str::to_string).collect();
    let id = text.lines().rev().find_map(|l| l.strip_prefix("id: ")).map(str::to_string);
    (data, id)
}

/// Reads `response` until its text contains `want` (10 s at most); gives all it read.
async fn read_until(
    stream: &mut (impl futures::Stream<Item = reqwest::Result<axum::body::Bytes>> + Unpin),
    want: &str,
) -> String {
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !text.contains(want) {
        let chunk = tokio::time::timeout_at(deadline, stream.next()).await;
        match chunk {
            Ok(Some(Ok(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
            other => panic!("no {want:?} in the stream ({other:?}):\n{text}"),
        }
    }
    text
}

/// A router's hop header (`X-Paas-Hop`) carries the node's hop secret, derived from its key:
/// captured on the wire it opens no `/grid/*` endpoint and no API, and the ledger gives routers
/// the hop secrets' hashes, not the keys'.
async fn a_captured_hop_secret_opens_no_grid_endpoint_and_no_api(t: &backends::TestLedger) {
    use paas_platform::auth::hash_api_key;
    use paas_platform::grid::auth::{hop_credential, hop_secret};
    let ledger = t.ledger.clone();
    let (operator, _) = ledger.create_user("operator@localhost", None, true).await.unwrap();
    let app = ledger.create_app("hopped", operator.id).await.unwrap();
    let a = node(&ledger, "a", None).await;
    let identity = std::fs::read_to_string(a._dir.path().join(paas_platform::grid::agent::KEY_FILE)).unwrap();
    let node_key = identity.split_whitespace().nth(1).unwrap().to_string();
    let (secret, captured) = (hop_secret(&node_key), hop_credential(&node_key).unwrap());
    assert!(!captured.to_str().unwrap().contains(&node_key), "the hop header is not the node key");

    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let logs = format!("{}/grid/apps/{}/logs?lines=5", a.url, app.id);
    let status = |url: String, authorization: String| {
        let http = http.clone();
        async move { http.get(url).header("authorization", authorization).send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(logs.clone(), format!("Node {node_key}")).await, 200, "the node key opens it");
    for replayed in [captured.to_str().unwrap().to_string(), format!("Bearer {secret}")] {
        assert_eq!(status(logs.clone(), replayed.clone()).await, 401, "{replayed}");
        assert_eq!(status(format!("{}/apps", a.url), replayed.clone()).await, 401, "the API: {replayed}");
    }
    assert!(ledger.authenticate_node(&secret).await.unwrap().is_none());
    let hashes = ledger.hop_hashes().await.unwrap();
    assert!(hashes.contains(&hash_api_key(&secret)), "{hashes:?}");
    assert!(!hashes.contains(&hash_api_key(&node_key)), "a router vouches for no node key");
}

#[tokio::test]
async fn a_captured_hop_secret_opens_no_grid_endpoint_and_no_api_sqlite() {
    a_captured_hop_secret_opens_no_grid_endpoint_and_no_api(&backends::sqlite().await).await;
}

#[tokio::test]
async fn a_captured_hop_secret_opens_no_grid_endpoint_and_no_api_postgres() {
    let Some(t) = backends::postgres().await else { return };
    a_captured_hop_secret_opens_no_grid_endpoint_and_no_api(&t).await;
}

#[tokio::test]
async fn a_log_session_on_one_node_collates_every_nodes_lines_and_resumes_on_each() {
    let t = backends::sqlite().await;
    let ledger = t.ledger.clone();
    let (operator, key) = ledger.create_user("operator@localhost", None, true).await.unwrap();
    let app = ledger.create_app("gridded", operator.id).await.unwrap();
    let a = node(&ledger, "a", None).await;
    let (token, _) = ledger.create_join_token(operator.id, Duration::from_secs(60)).await.unwrap();
    let b = node(&ledger, "b", Some(token)).await;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();

    // Lines on both nodes, interleaved in time.
    a.logs.publish("gridded", Source::App, "web.1", "oldest, on a");
    tokio::time::sleep(Duration::from_millis(2)).await;
    b.logs.publish("gridded", Source::Paas, "router", "on b");
    tokio::time::sleep(Duration::from_millis(2)).await;
    a.logs.publish("gridded", Source::App, "web.1", "newest, on a");

    // The newest two of both nodes, in time order, whichever node serves the session.
    for serving in [&b, &a] {
        let url = session(&http, serving, &key, serde_json::json!({"lines": 2})).await;
        let text = http.get(&url).send().await.unwrap().text().await.unwrap();
        let (data, id) = events(&text);
        assert_eq!(data.len(), 2, "{text}");
        assert!(data[0].ends_with("paas[router]: on b") && data[1].ends_with("app[web.1]: newest, on a"), "{text}");
        assert_eq!(id.unwrap().split(',').count(), 2, "a cursor over both nodes: {text}");
    }
    // The filter applies on every node.
    let url = session(&http, &b, &key, serde_json::json!({"lines": 10, "source": "app"})).await;
    let (data, _) = events(&http.get(&url).send().await.unwrap().text().await.unwrap());
    assert_eq!(data.len(), 2, "{data:?}");
    assert!(data.iter().all(|d| d.contains("app[web.1]")), "{data:?}");

    // A tail on b follows a's new lines and b's.
    let url = session(&http, &b, &key, serde_json::json!({"lines": 0, "tail": true})).await;
    let mut stream = http.get(&url).send().await.unwrap().bytes_stream();
    a.logs.publish("gridded", Source::App, "worker.1", "later, on a");
    let text = read_until(&mut stream, "later, on a").await;
    b.logs.publish("gridded", Source::App, "web.2", "later, on b");
    let text = text + &read_until(&mut stream, "later, on b").await;
    let (_, last_id) = events(&text);
    drop(stream);

    // Reconnecting with Last-Event-ID resumes each node where it was: nothing again, all new.
    a.logs.publish("gridded", Source::App, "worker.1", "while away, on a");
    b.logs.publish("gridded", Source::App, "web.2", "while away, on b");
    let resumed = http.get(&url).header("last-event-id", last_id.unwrap()).send().await.unwrap();
    let mut stream = resumed.bytes_stream();
    let text = read_until(&mut stream, "while away, on a").await;
    let text = if text.contains("while away, on b") { text } else { text + &read_until(&mut stream, "while away, on b").await };
    assert!(!text.contains("later, on"), "nothing is sent twice after a resume:\n{text}");
    drop(stream);

    // Resuming with one node's id (b's own, plain): a, missing from it, is followed from now on.
    let at = b.logs.app("gridded").with_ring(|ring| ring.last_id());
    let resumed = http.get(&url).header("last-event-id", at.to_string()).send().await.unwrap();
    let mut stream = resumed.bytes_stream();
    a.logs.publish("gridded", Source::App, "worker.1", "after a plain resume, on a");
    let text = read_until(&mut stream, "after a plain resume, on a").await;
    assert!(!text.contains("while away, on a"), "none of a's history:\n{text}");

    // Another node's endpoint answers node keys only.
    let refused = http.get(format!("{}/grid/apps/{}/logs?lines=5", a.url, app.id)).bearer_auth(&key).send().await.unwrap();
    assert_eq!(refused.status(), 401);

    // A node that is up in the ledger but does not answer is named, and the others are read.
    let (token, _) = ledger.create_join_token(operator.id, Duration::from_secs(60)).await.unwrap();
    let grid = GridConfig { join: Some(token), lease: Duration::from_secs(60), placing: true };
    let dir = tempfile::tempdir().unwrap();
    let _c = Agent::start(ledger.clone(), dir.path(), registration("c", "http://127.0.0.1:1"), grid).await.unwrap();
    let url = session(&http, &b, &key, serde_json::json!({"lines": 1})).await;
    let text = http.get(&url).send().await.unwrap().text().await.unwrap();
    assert!(text.contains("paas[logplex]: lines of node c are not included"), "{text}");
    assert!(text.contains("after a plain resume, on a"), "{text}");
}

/// Builds are failed at start only for the node that ran them (and those no node recorded);
/// restart requests come back numbered in order.
async fn builds_and_restarts(ledger: Arc<dyn Ledger>) {
    let (owner, _) = ledger.create_user("owner@localhost", None, false).await.unwrap();
    let app = ledger.create_app("builder", owner.id).await.unwrap();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let on_a = ledger.create_build(app.id, owner.id, None, Some(a)).await.unwrap();
    let on_b = ledger.create_build(app.id, owner.id, None, Some(b)).await.unwrap();
    let unknown = ledger.create_build(app.id, owner.id, None, None).await.unwrap();
    let ids = |builds: Vec<(String, paas_platform::model::Build)>| {
        builds.into_iter().map(|(name, build)| (name, build.id)).collect::<Vec<_>>()
    };
    let interrupted = ids(ledger.interrupted_builds(a).await.unwrap());
    assert!(interrupted.contains(&("builder".to_string(), on_a.id)), "{interrupted:?}");
    assert!(interrupted.contains(&("builder".to_string(), unknown.id)), "{interrupted:?}");
    assert!(!interrupted.iter().any(|(_, id)| *id == on_b.id), "b's running build is b's: {interrupted:?}");

    let before = ledger.last_dyno_action().await.unwrap();
    ledger.record_dyno_action(app.id, owner.id, "restart", Some("web")).await.unwrap();
    ledger.record_dyno_action(app.id, owner.id, "stop", Some("run.1234")).await.unwrap();
    ledger.record_dyno_action(app.id, owner.id, "restart", None).await.unwrap();
    let actions = ledger.dyno_actions_after(before).await.unwrap();
    let seen: Vec<_> = actions.iter().map(|a| (a.action.as_str(), a.target.as_deref())).collect();
    assert_eq!(seen, [("restart", Some("web")), ("stop", Some("run.1234")), ("restart", None)]);
    assert!(actions.windows(2).all(|w| w[0].seq < w[1].seq));
    assert_eq!(ledger.last_dyno_action().await.unwrap(), actions[2].seq);
    assert!(ledger.dyno_actions_after(actions[2].seq).await.unwrap().is_empty());
}

#[tokio::test]
async fn builds_are_failed_only_for_their_node_and_restarts_are_numbered_sqlite() {
    builds_and_restarts(backends::sqlite().await.ledger).await;
}

#[tokio::test]
async fn builds_are_failed_only_for_their_node_and_restarts_are_numbered_postgres() {
    let Some(t) = backends::postgres().await else { return };
    builds_and_restarts(t.ledger.clone()).await;
}

/// A scheduled run is claimed only by a node that is up at the epoch it names: a fenced node
/// (its epoch moved on) claims nothing, and another node then can.
async fn fenced_claims(ledger: Arc<dyn Ledger>) {
    let (owner, _) = ledger.create_user("owner@localhost", None, true).await.unwrap();
    let app = ledger.create_app("cronned", owner.id).await.unwrap();
    let job = ledger.add_scheduled_job(app.id, "* * * * *", "worker").await.unwrap();
    let (a, epoch) = ledger.join_node(&registration("a", "http://a:5000"), None, "key-a", Duration::from_secs(60)).await.unwrap();
    let at = chrono::Utc::now();
    assert!(!ledger.claim_scheduled_run(job.id, None, at, Some((a, epoch - 1))).await.unwrap(), "a stale epoch claims nothing");
    assert!(!ledger.claim_scheduled_run(job.id, None, at, Some((Uuid::new_v4(), epoch))).await.unwrap(), "an unknown node neither");
    assert!(ledger.claim_scheduled_run(job.id, None, at, Some((a, epoch))).await.unwrap());
    assert!(!ledger.claim_scheduled_run(job.id, None, at, Some((a, epoch))).await.unwrap(), "once");
}

#[tokio::test]
async fn a_fenced_node_claims_no_scheduled_run_sqlite() {
    fenced_claims(backends::sqlite().await.ledger).await;
}

#[tokio::test]
async fn a_fenced_node_claims_no_scheduled_run_postgres() {
    let Some(t) = backends::postgres().await else { return };
    fenced_claims(t.ledger.clone()).await;
}
