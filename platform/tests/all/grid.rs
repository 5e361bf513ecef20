//! The dyno grid on the ledger: joining with tokens, leases and heartbeats, the coordinator's
//! fenced writes, and (on a real PostgreSQL shared by two in-process nodes, each with its own
//! connection pool) a lost node's dynos placed on the other within its lease, and the lost node
//! fenced when it comes back.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use paas_platform::Ledger;
use paas_platform::grid::agent::{Agent, GridConfig};
use paas_platform::grid::placement::DynoKey;
use paas_platform::grid::{Capacity, NodeRegistration};
use paas_platform::model::{FormationUpdate, NewRelease, NewSlug, Quantity};
use uuid::Uuid;

use crate::backends::{self, TestLedger};

fn registration(name: &str) -> NodeRegistration {
    NodeRegistration {
        name: name.into(),
        api_url: format!("http://{name}:5000"),
        router_url: format!("http://{name}:8080"),
        capacity: Capacity { memory_mib: 8192, millicores: 4000, wasm: true, native: true },
        version: "test".into(),
    }
}

const LEASE: Duration = Duration::from_secs(2);

/// An app `name` running `web=quantity` from a wasm slug.
async fn app_with_web(ledger: &dyn Ledger, owner: Uuid, name: &str, quantity: i64) -> Uuid {
    let app = ledger.create_app(name, owner).await.unwrap();
    let types: BTreeMap<String, String> = [("web".to_string(), "./web".to_string())].into();
    let slug = NewSlug {
        checksum: format!("{:064x}", app.id.as_u128()),
        size: 1,
        stack: "wasi-p2".into(),
        commit: None,
        buildpack: None,
        process_types: types.clone(),
    };
    let slug = ledger.create_slug(app.id, slug).await.unwrap();
    ledger
        .create_release(app.id, owner, NewRelease { slug_id: slug.id, process_types: types, description: "Deploy".into() })
        .await
        .unwrap();
    let scale = FormationUpdate { process_type: "web".into(), quantity: Some(Quantity::Absolute(quantity)), size: None };
    ledger.update_formation(app.id, vec![scale]).await.unwrap();
    app.id
}

async fn joining_takes_a_token_once(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let (operator, _) = ledger.create_user("op@example.com", None, true).await.unwrap();
    // The first node needs no token.
    let (a, epoch) = ledger.join_node(&registration("a"), None, "key-a", LEASE).await.unwrap();
    assert_eq!(epoch, 1);
    // A second one does.
    let refused = ledger.join_node(&registration("b"), None, "key-b", LEASE).await.unwrap_err().to_string();
    assert!(refused.contains("--join TOKEN"), "{refused}");
    for bad in ["nonsense", "paasjoin_0000"] {
        let refused = ledger.join_node(&registration("b"), Some(bad), "key-b", LEASE).await.unwrap_err().to_string();
        assert!(refused.contains("paas nodes:token"), "{refused}");
    }
    let (token, expires) = ledger.create_join_token(operator.id, Duration::from_secs(3600)).await.unwrap();
    assert!(token.starts_with("paasjoin_") && expires > chrono::Utc::now());
    let (b, _) = ledger.join_node(&registration("b"), Some(&token), "key-b", LEASE).await.unwrap();
    // Used once.
    let reused = ledger.join_node(&registration("c"), Some(&token), "key-c", LEASE).await.unwrap_err().to_string();
    assert!(reused.contains("used already"), "{reused}");
    // An expired one.
    let (old, _) = ledger.create_join_token(operator.id, Duration::ZERO).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let expired = ledger.join_node(&registration("c"), Some(&old), "key-c", LEASE).await.unwrap_err().to_string();
    assert!(expired.contains("expired"), "{expired}");

    // Keys authenticate their node only; nothing else does.
    assert_eq!(ledger.authenticate_node("key-b").await.unwrap().map(|n| n.id), Some(b));
    assert_eq!(ledger.authenticate_node("key-c").await.unwrap(), None);
    let nodes = ledger.list_nodes().await.unwrap();
    assert_eq!(nodes.iter().map(|n| (n.name.as_str(), n.up)).collect::<Vec<_>>(), [("a", true), ("b", true)]);
    assert_eq!(nodes[0].capacity.memory_mib, 8192);
    // The machine named `a` comes back with a new data dir: it takes its node back, fenced
    // (next epoch), with the new key.
    let (again, epoch) = ledger.join_node(&registration("a"), None, "key-a2", LEASE).await.unwrap();
    assert_eq!((again, epoch), (a, 2));
    assert_eq!(ledger.authenticate_node("key-a").await.unwrap(), None);
    assert!(!ledger.heartbeat_node(a, 1, LEASE).await.unwrap(), "the old epoch is fenced");
    assert!(ledger.heartbeat_node(a, 2, LEASE).await.unwrap());
}

#[tokio::test]
async fn joining_takes_a_token_once_sqlite() {
    joining_takes_a_token_once(&backends::sqlite().await).await;
}

#[tokio::test]
async fn joining_takes_a_token_once_postgres() {
    let Some(t) = backends::postgres().await else { return };
    joining_takes_a_token_once(&t).await;
}

/// The coordinator's writes are fenced by its term: once another node took the lead, the old
/// coordinator's writes change nothing.
async fn a_stale_coordinator_cannot_write(t: &TestLedger) {
    let ledger = t.ledger.as_ref();
    let (owner, _) = ledger.create_user("owner@example.com", None, false).await.unwrap();
    let app = app_with_web(ledger, owner.id, "fenced", 1).await;
    let (a, _) = ledger.join_node(&registration("a"), None, "key-a", LEASE).await.unwrap();
    let lead_a = ledger.acquire_leadership(a, Duration::from_millis(300)).await.unwrap().unwrap();
    let (operator, _) = ledger.create_user("op@example.com", None, true).await.unwrap();
    let (token, _) = ledger.create_join_token(operator.id, Duration::from_secs(60)).await.unwrap();
    let (b, _) = ledger.join_node(&registration("b"), Some(&token), "key-b", LEASE).await.unwrap();
    assert_eq!(ledger.acquire_leadership(b, LEASE).await.unwrap(), None, "a leads until its lease ends");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let lead_b = ledger.acquire_leadership(b, LEASE).await.unwrap().unwrap();
    assert!(lead_b.term > lead_a.term);
    let web1 = DynoKey { app, process_type: "web".into(), index: 1 };
    assert!(!ledger.write_assignments(a, lead_a.term, &[(web1.clone(), a)].into()).await.unwrap());
    assert!(ledger.list_assignments().await.unwrap().is_empty());
    assert!(ledger.write_assignments(b, lead_b.term, &[(web1.clone(), b)].into()).await.unwrap());
    assert_eq!(ledger.assignments_of(b, 1).await.unwrap(), std::slice::from_ref(&web1));

    // b's lease runs out: once fenced, its assignment reads as nothing, though the row still
    // names b at epoch 1 (the coordinator has not moved it yet), and its heartbeat is refused.
    assert!(ledger.heartbeat_node(b, 1, Duration::from_millis(100)).await.unwrap());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(ledger.fence_expired_nodes().await.unwrap(), [b]);
    assert_eq!(ledger.list_assignments().await.unwrap()[0].node_id, b);
    assert!(ledger.assignments_of(b, 1).await.unwrap().is_empty());
    assert!(!ledger.heartbeat_node(b, 1, LEASE).await.unwrap());
}

#[tokio::test]
async fn a_stale_coordinator_cannot_write_sqlite() {
    a_stale_coordinator_cannot_write(&backends::sqlite().await).await;
}

#[tokio::test]
async fn a_stale_coordinator_cannot_write_postgres() {
    let Some(t) = backends::postgres().await else { return };
    a_stale_coordinator_cannot_write(&t).await;
}

/// Which node runs each dyno, by node name.
async fn placement(ledger: &dyn Ledger) -> BTreeMap<String, String> {
    let names: BTreeMap<Uuid, String> = ledger.list_nodes().await.unwrap().into_iter().map(|n| (n.id, n.name)).collect();
    let nodes = ledger.list_nodes().await.unwrap();
    ledger
        .list_assignments()
        .await
        .unwrap()
        .into_iter()
        .filter(|a| nodes.iter().any(|n| n.id == a.node_id && n.epoch == a.epoch && n.up))
        .map(|a| (a.dyno.name(), names[&a.node_id].clone()))
        .collect()
}

async fn wait_for<T>(within: Duration, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Two nodes, each its own process's view of the ledger (its own pool); an app at web=4 spreads
/// over both; node b stops heartbeating (as after kill -9): within its lease and two coordinator
/// rounds every dyno is on a, and b, coming back with its old epoch, is fenced: it runs nothing
/// of what it had, and registers again. Then a stops (as on SIGTERM): its dynos go to b at once.
#[tokio::test]
async fn a_lost_nodes_dynos_move_within_its_lease_and_it_is_fenced_when_it_comes_back() {
    let Some(t) = backends::postgres().await else { return };
    let ledger = t.ledger.clone();
    let (owner, _) = ledger.create_user("owner@example.com", None, true).await.unwrap();
    let app = app_with_web(ledger.as_ref(), owner.id, "spread", 4).await;
    let config = GridConfig { join: None, lease: LEASE, placing: true };
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    // a's lease is long: only b is lost, and a leaves by stopping.
    let config_a = GridConfig { lease: Duration::from_secs(60), ..config.clone() };
    let node_a = Agent::start(ledger.clone(), dir_a.path(), registration("a"), config_a).await.unwrap();
    let (token, _) = ledger.create_join_token(owner.id, Duration::from_secs(60)).await.unwrap();
    let ledger_b: Arc<dyn Ledger> = paas_platform::ledger::open(&t.url).await.unwrap();
    let joining = GridConfig { join: Some(token), ..config.clone() };
    let node_b = Agent::start(ledger_b.clone(), dir_b.path(), registration("b"), joining).await.unwrap();
    assert!(std::fs::read_to_string(dir_b.path().join("node-key")).unwrap().starts_with(&node_b.id.to_string()));
    // The header b sends to other nodes authenticates b.
    let header = node_b.authorization().unwrap();
    let key = header.to_str().unwrap().strip_prefix("Node ").unwrap();
    assert_eq!(ledger.authenticate_node(key).await.unwrap().map(|n| n.id), Some(node_b.id));
    let (stop_a, stopping_a) = tokio::sync::oneshot::channel::<()>();
    node_a.spawn(async move {
        let _ = stopping_a.await;
    });
    let tasks_b = node_b.spawn(std::future::pending());

    // Spread: two on each.
    let spread = wait_for(Duration::from_secs(10), "web=4 on both nodes", async || {
        let placed = placement(ledger.as_ref()).await;
        let on_b = placed.values().filter(|n| *n == "b").count();
        (placed.len() == 4 && on_b == 2).then_some(placed)
    })
    .await;
    // Node b's serving side sees its two.
    let placements = node_b.placements();
    let b_runs = wait_for(Duration::from_secs(5), "b's assignments published", async || {
        let assigned = placements.current()?;
        let dynos = assigned.get(&app)?.clone();
        (dynos.len() == 2).then_some(dynos)
    })
    .await;
    let expected: BTreeSet<String> = spread.iter().filter(|(_, n)| *n == "b").map(|(d, _)| d.clone()).collect();
    assert_eq!(b_runs, expected);
    let epoch_b = node_b.epoch().unwrap();

    // b stops heartbeating, as if killed (it does not say it leaves).
    tasks_b.abort();
    let lost = Instant::now();
    wait_for(LEASE * 3, "every dyno on a", async || {
        let placed = placement(ledger.as_ref()).await;
        (placed.len() == 4 && placed.values().all(|n| n == "a")).then_some(())
    })
    .await;
    let took = lost.elapsed();
    eprintln!("a lost node's dynos were placed on the other node {took:?} after its last heartbeat task stopped (lease {LEASE:?})");
    // The dynos that were on a did not move.
    for (dyno, node) in &spread {
        if node == "a" {
            assert_eq!(placement(ledger.as_ref()).await[dyno], "a");
        }
    }

    // b comes back with its old epoch: fenced.
    assert!(!ledger_b.heartbeat_node(node_b.id, epoch_b, LEASE).await.unwrap());
    assert!(ledger_b.assignments_of(node_b.id, epoch_b).await.unwrap().is_empty());
    let nodes = ledger.list_nodes().await.unwrap();
    let b = nodes.iter().find(|n| n.name == "b").unwrap();
    assert!(!b.up && b.epoch > epoch_b, "{b:?}");
    // It registers again (a restart with its data dir) and is a member, with nothing moved back.
    let restarted = Agent::start(ledger_b.clone(), dir_b.path(), registration("b"), config).await.unwrap();
    assert_eq!(restarted.id, node_b.id);
    assert!(restarted.epoch().unwrap() > b.epoch);
    restarted.spawn(std::future::pending());
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(placement(ledger.as_ref()).await.values().all(|n| n == "a"), "no dyno moves back");
    assert!(ledger.list_nodes().await.unwrap().iter().all(|n| n.up));

    // A node that stops (SIGTERM) hands its dynos over at once, not after its lease (a's is 60 s).
    stop_a.send(()).unwrap();
    let stopped = Instant::now();
    wait_for(Duration::from_secs(5), "a's dynos on b after a stopped", async || {
        let placed = placement(ledger.as_ref()).await;
        (placed.len() == 4 && placed.values().all(|n| n == "b")).then_some(())
    })
    .await;
    eprintln!("a stopping node's dynos were placed elsewhere {:?} after it stopped", stopped.elapsed());
}
