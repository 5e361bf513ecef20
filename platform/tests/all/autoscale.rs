//! Autoscaling (the policies in the ledger are tested in paas-ledger's conformance suite): the
//! API routes and their permissions in-process, the autoscaler's decisions against a real ledger, one app's
//! failure not stopping the round, and on a grid: one decider, measuring every node.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use paas_metrics::Metrics;
use paas_platform::Ledger;
use paas_platform::autoscale::{Autoscaler, Policy};
use paas_platform::model::NewRelease;
use serde_json::{Value, json};

use crate::api::{Api, error, setup_with};

/// An app `name` of `key`'s with a release whose process types are web and worker.
async fn app_with_web(api: &Api, key: &str, name: &str) -> uuid::Uuid {
    let app = api.create_app(key, name).await;
    let app_id = app["id"].as_str().unwrap().parse().unwrap();
    let owner = app["owner"]["id"].as_str().unwrap().parse().unwrap();
    let process_types = [("web".to_string(), "./server".to_string()), ("worker".to_string(), "./work".to_string())].into();
    let release = NewRelease { slug_id: uuid::Uuid::new_v4(), process_types, description: "Deploy".into() };
    api.state.ledger.create_release(app_id, owner, release).await.unwrap();
    app_id
}

#[tokio::test]
async fn autoscaling_is_enabled_shown_and_disabled_by_those_who_may_scale() {
    let api = setup_with(Default::default()).await;
    let (alice, bob) = (api.user("alice@example.com").await, api.user("bob@example.com").await);
    app_with_web(&api, &alice, "shop").await;
    let path = "/apps/shop/formation/web/autoscaling";
    let api = &api;
    let put = |key: String, body: Value| async move { api.send(Method::PUT, path, Some(&key), Some(body), &[]).await };

    let shown = api.get(path, &alice).await;
    assert_eq!((shown.status, shown.body["enabled"].clone()), (StatusCode::OK, json!(false)), "{}", shown.body);
    let on = put(alice.clone(), json!({"min_quantity": 1, "max_quantity": 10, "p95_ms": 200})).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.body);
    assert_eq!((on.body["enabled"].clone(), on.body["max_quantity"].clone(), on.body["ceiling"].clone()), (json!(true), json!(10), json!(32)));
    assert_eq!(api.get(path, &alice).await.body["p95_ms"], 200);

    for (body, wanted) in [
        (json!({"min_quantity": 0, "max_quantity": 10, "p95_ms": 200}), "Invalid bounds"),
        (json!({"min_quantity": 3, "max_quantity": 2, "p95_ms": 200}), "Invalid bounds"),
        (json!({"min_quantity": 1, "max_quantity": 2, "p95_ms": 0}), "Invalid p95 target"),
    ] {
        let reply = put(alice.clone(), body).await;
        let (status, id, message) = error(&reply);
        assert_eq!((status, id), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_params"), "{message}");
        assert!(message.contains(wanted), "{message}");
    }
    let worker = api.send(Method::PUT, "/apps/shop/formation/worker/autoscaling", Some(&alice), Some(json!({"min_quantity": 1, "max_quantity": 2, "p95_ms": 100})), &[]).await;
    assert_eq!(worker.status, StatusCode::UNPROCESSABLE_ENTITY, "only web dynos have response times");
    let missing = api.get("/apps/shop/formation/clock/autoscaling", &alice).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    // Another user: no access is a 404; a collaborator who may only view gets 403 on a change.
    assert_eq!(api.get(path, &bob).await.status, StatusCode::NOT_FOUND);
    let added = api.send(Method::POST, "/apps/shop/collaborators", Some(&alice), Some(json!({"user": "bob@example.com", "permissions": ["view"]})), &[]).await;
    assert!(added.status.is_success(), "{}", added.body);
    assert_eq!(api.get(path, &bob).await.status, StatusCode::OK);
    let refused = put(bob.clone(), json!({"min_quantity": 1, "max_quantity": 2, "p95_ms": 100})).await;
    assert_eq!(error(&refused).0, StatusCode::FORBIDDEN, "{}", refused.body);
    assert_eq!(api.send(Method::DELETE, path, Some(&bob), None, &[]).await.status, StatusCode::FORBIDDEN);

    let off = api.send(Method::DELETE, path, Some(&alice), None, &[]).await;
    assert_eq!((off.status, off.body["enabled"].clone(), off.body["max_quantity"].clone()), (StatusCode::OK, json!(false), json!(10)));
    let log = api.state.logs.app("shop").with_ring(|ring| ring.tail(100, |_| true).iter().map(|l| l.to_string()).collect::<Vec<_>>());
    assert!(log.iter().any(|l| l.contains("app[api]: Enabled autoscaling of web (1..10 dynos, p95 target 200 ms) by alice@example.com")), "{log:?}");
    assert!(log.iter().any(|l| l.contains("app[api]: Disabled autoscaling of web by alice@example.com")), "{log:?}");
}

#[tokio::test]
async fn a_slow_web_process_scales_up_then_back_down_when_requests_stop() {
    let api = setup_with(Default::default()).await;
    let app_id = app_with_web(&api, &api.operator, "busy").await;
    let now = chrono::Utc::now();
    let policy = Policy { app_id, process_type: "web".into(), enabled: true, min: 1, max: 5, p95_ms: 100, created_at: now, updated_at: now };
    api.state.ledger.set_autoscaling(&policy).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let (changes, mut changed) = paas_platform::serving::Changes::channel();
    let scaler = Autoscaler {
        ledger: api.state.ledger.clone(),
        metrics: metrics.clone(),
        logs: api.state.logs.clone(),
        changes,
        every: Duration::from_secs(1),
        grid: None,
    };
    let web = |ledger: Arc<dyn Ledger>| async move {
        ledger.list_formation(app_id).await.unwrap().into_iter().find(|f| f.process_type == "web").unwrap().quantity
    };
    let slow = paas_metrics::Request { status: 200, code: None, took: Duration::from_millis(250), bytes_in: 0, bytes_out: 2 };
    let mut before = HashMap::new();
    // The first round only takes the baseline (what came before it is no window).
    scaler.tick(&mut before).await.unwrap();
    assert_eq!(web(api.state.ledger.clone()).await, 1);
    for _ in 0..50 {
        metrics.app("busy").web.record(slow);
    }
    scaler.tick(&mut before).await.unwrap();
    assert_eq!(web(api.state.ledger.clone()).await, 3, "ceil(1 × p95 ≈ 280 ms (250 ms, read from its bucket) / 100 ms)");
    assert!(changed.try_recv().is_ok(), "the serving side is told");
    // The next window has only what came after: nothing, so one dyno fewer each time, down to min.
    for expected in [2, 1, 1] {
        scaler.tick(&mut before).await.unwrap();
        assert_eq!(web(api.state.ledger.clone()).await, expected);
    }
    let log = api.state.logs.app("busy").with_ring(|ring| ring.tail(100, |_| true).iter().map(|l| l.to_string()).collect::<Vec<_>>());
    let scaled: Vec<&String> = log.iter().filter(|l| l.contains("by autoscaling")).collect();
    assert_eq!(scaled.len(), 3, "{log:?}");
    assert!(scaled[0].contains("app[api]: Scaled to web@3:Basic worker@0:Basic by autoscaling (p95 "), "{}", scaled[0]);
    assert!(scaled[0].contains("> target 100 ms)"), "{}", scaled[0]);
    assert!(scaled[2].contains("Scaled to web@1:Basic worker@0:Basic by autoscaling (no requests)"), "{}", scaled[2]);
}

fn scaler(api: &Api, metrics: Arc<Metrics>, grid: Option<paas_platform::autoscale::GridScope>) -> Autoscaler {
    Autoscaler {
        ledger: api.state.ledger.clone(),
        metrics,
        logs: api.state.logs.clone(),
        changes: paas_platform::serving::Changes::channel().0,
        every: Duration::from_secs(1),
        grid,
    }
}

async fn web_quantity(ledger: &Arc<dyn Ledger>, app_id: uuid::Uuid) -> i64 {
    ledger.list_formation(app_id).await.unwrap().into_iter().find(|f| f.process_type == "web").unwrap().quantity
}

fn slow_requests(metrics: &Metrics, app: &str, n: usize) {
    let slow = paas_metrics::Request { status: 200, code: None, took: Duration::from_millis(250), bytes_in: 0, bytes_out: 2 };
    for _ in 0..n {
        metrics.app(app).web.record(slow);
    }
}

/// One app whose change the ledger refuses (a policy stored past the ledger's 100 dynos) used to
/// end the whole round with `?`, so apps decided after it were never scaled. Now it is logged
/// and skipped, whichever order the apps come in.
#[tokio::test]
async fn one_apps_ledger_error_does_not_stop_the_round() {
    let api = setup_with(Default::default()).await;
    let broken = app_with_web(&api, &api.operator, "broken").await;
    let fine = app_with_web(&api, &api.operator, "fine").await;
    let now = chrono::Utc::now();
    let policy = |app_id, min, max| Policy { app_id, process_type: "web".into(), enabled: true, min, max, p95_ms: 100, created_at: now, updated_at: now };
    api.state.ledger.set_autoscaling(&policy(broken, 500, 500)).await.unwrap();
    api.state.ledger.set_autoscaling(&policy(fine, 1, 5)).await.unwrap();
    let metrics = Arc::new(Metrics::new());
    let scaler = scaler(&api, metrics.clone(), None);
    let mut before = HashMap::new();
    scaler.tick(&mut before).await.expect("the baselines");
    slow_requests(&metrics, "broken", 50);
    slow_requests(&metrics, "fine", 50);
    scaler.tick(&mut before).await.expect("the round itself goes through");
    assert_eq!(web_quantity(&api.state.ledger, fine).await, 3, "the other app is still decided");
    assert_eq!(web_quantity(&api.state.ledger, broken).await, 1, "the refused change is not made");
}

/// Grid nodes on `api`'s ledger, registered in order (the first makes the grid): each its agent,
/// its metrics, its API (with its metrics) on a real listener; a name in `hanging` gets a
/// listener that accepts connections and never answers. The temporary folders must outlive them.
async fn grid_nodes(api: &Api, names: &[&str], hanging: &[&str]) -> (Vec<(Autoscaler, Arc<Metrics>)>, Vec<tempfile::TempDir>) {
    use paas_platform::autoscale::GridScope;
    use paas_platform::grid::agent::{Agent, GridConfig};
    use paas_platform::grid::peers::Peers;
    use paas_platform::grid::{Capacity, NodeRegistration};

    let ledger = api.state.ledger.clone();
    let lease = Duration::from_secs(60);
    let operator = ledger.authenticate_key(&api.operator).await.unwrap().unwrap().0;
    let mut nodes = Vec::new();
    let mut dirs = Vec::new();
    for &name in names {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let join = match nodes.is_empty() {
            true => None,
            false => Some(ledger.create_join_token(operator.id, Duration::from_secs(60)).await.unwrap().0),
        };
        let registration = NodeRegistration {
            name: name.into(),
            api_url: url,
            router_url: format!("http://{name}:8080"),
            capacity: Capacity { memory_mib: 8192, millicores: 4000, wasm: true, native: true },
            version: "test".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let agent = Agent::start(ledger.clone(), dir.path(), registration, GridConfig { join, lease, placing: true }).await.unwrap();
        dirs.push(dir);
        let metrics = Arc::new(Metrics::new());
        if hanging.contains(&name) {
            tokio::spawn(async move {
                let mut held = Vec::new();
                while let Ok((stream, _)) = listener.accept().await {
                    held.push(stream);
                }
            });
        } else {
            let app = paas_platform::api::app(api.state.clone()).layer(axum::Extension(metrics.clone()));
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
        let grid = GridScope { peers: Peers::new(ledger.clone(), agent), lease };
        nodes.push((scaler(api, metrics.clone(), Some(grid)), metrics));
    }
    (nodes, dirs)
}

/// Two nodes on one ledger: only the grid's leader decides a round (it was every node, so a
/// round scaled once per node), and its window holds the requests the other node's router
/// measured (read over `GET /grid/apps/{id}/latency` with the node key), so load that reaches
/// only the other node still scales the app; the first round of a lead only takes baselines.
#[tokio::test]
async fn on_a_grid_one_node_decides_from_every_nodes_measurements() {
    let api = setup_with(Default::default()).await;
    let ledger = api.state.ledger.clone();
    let app_id = app_with_web(&api, &api.operator, "spread").await;
    let now = chrono::Utc::now();
    let policy = Policy { app_id, process_type: "web".into(), enabled: true, min: 1, max: 5, p95_ms: 100, created_at: now, updated_at: now };
    ledger.set_autoscaling(&policy).await.unwrap();
    let (nodes, dirs) = grid_nodes(&api, &["a", "b"], &[]).await;
    // a registered first; whoever takes the lease first leads, and the other then does not.
    let leads: Vec<bool> = vec![nodes[0].0.leads().await, nodes[1].0.leads().await];
    assert_eq!(leads, [true, false], "one node leads the grid's autoscaling");
    assert!(nodes[0].0.leads().await, "and keeps leading while its lease runs");
    // Load from before a's lead (b's router measured it): a's first round as leader (`run`
    // starts it with no baselines) takes it as the baseline, not as the window. It was the
    // window (every node's histogram since it started), so hours-old load scaled the app.
    slow_requests(&nodes[1].1, "spread", 50);
    slow_requests(&nodes[0].1, "spread", 50);
    let mut before = HashMap::new();
    nodes[0].0.tick(&mut before).await.unwrap();
    assert_eq!(web_quantity(&ledger, app_id).await, 1, "load older than the lead does not scale the app");
    // The load reaches only b's router: a, deciding, sees it through b.
    slow_requests(&nodes[1].1, "spread", 50);
    nodes[0].0.tick(&mut before).await.unwrap();
    assert_eq!(web_quantity(&ledger, app_id).await, 3, "b's slow requests scaled the app up");
    // The next window is only what came after, on either node: none, so one fewer.
    nodes[0].0.tick(&mut before).await.unwrap();
    assert_eq!(web_quantity(&ledger, app_id).await, 2);
    // A node that did not answer a round (here: a's baseline of b lost) is left out of the next
    // window, not counted whole: b's old load does not scale the app up again.
    before.retain(|key, _| key.starts_with(&nodes[0].0.grid.as_ref().unwrap().peers.agent().id.to_string()));
    nodes[0].0.tick(&mut before).await.unwrap();
    assert_eq!(web_quantity(&ledger, app_id).await, 1, "decided from a's window alone: no requests");
    drop(dirs);
}

/// A peer whose API accepts connections and never answers (its heartbeats still reach the ledger,
/// so it is listed as up) was asked about one app after another, 2 s each: a round of many apps
/// took minutes. It is asked about all at once: a round costs one 2 s timeout, and the apps are
/// still decided from the nodes that answered.
#[tokio::test]
async fn a_hanging_peer_costs_one_timeout_a_round_not_one_per_app() {
    use paas_platform::autoscale::latency::FETCH_TIMEOUT;

    let api = setup_with(Default::default()).await;
    let ledger = api.state.ledger.clone();
    let now = chrono::Utc::now();
    let mut apps = Vec::new();
    for name in ["hang-1", "hang-2", "hang-3", "hang-4"] {
        let app_id = app_with_web(&api, &api.operator, name).await;
        let policy = Policy { app_id, process_type: "web".into(), enabled: true, min: 1, max: 5, p95_ms: 100, created_at: now, updated_at: now };
        ledger.set_autoscaling(&policy).await.unwrap();
        apps.push((name, app_id));
    }
    let (nodes, dirs) = grid_nodes(&api, &["a", "stuck"], &["stuck"]).await;
    let leader = &nodes[0];
    assert!(leader.0.leads().await);
    let mut before = HashMap::new();
    leader.0.tick(&mut before).await.unwrap();
    for (name, _) in &apps {
        slow_requests(&leader.1, name, 50);
    }
    let started = std::time::Instant::now();
    leader.0.tick(&mut before).await.unwrap();
    let took = started.elapsed();
    assert!(took < FETCH_TIMEOUT * 2, "one timeout for the round, not one per app: {took:?}");
    for (name, app_id) in &apps {
        assert_eq!(web_quantity(&ledger, *app_id).await, 3, "{name} is decided from the node that answered");
    }
    drop(dirs);
}
