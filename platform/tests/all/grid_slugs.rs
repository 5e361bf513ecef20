//! Slugs travel between nodes: node a serves its slug store on a real listener
//! (`GET /grid/slugs/{checksum}`, node keys only) and node b fetches what it lacks, once for
//! concurrent requests, keeping it only when its bytes hash to the checksum and fit the limit.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use paas_builder::{ProcessKind, SlugManifest, SlugStore, StoreError};
use paas_platform::api::limits::{ApiLimits, Limits};
use paas_platform::api::{self, AppState, PlatformConfig};
use paas_platform::grid::agent::{Agent, GridConfig};
use paas_platform::grid::slugs::PeerSlugs;
use paas_platform::grid::{Capacity, NodeRegistration};

use crate::backends;

fn registration(name: &str, api_url: String) -> NodeRegistration {
    NodeRegistration {
        name: name.into(),
        api_url,
        router_url: format!("http://{name}:8080"),
        capacity: Capacity { memory_mib: 8192, millicores: 4000, wasm: true, native: true },
        version: "test".into(),
    }
}

/// A slug of one file holding `content`, created in `store`.
fn slug_of(store: &SlugStore, content: &[u8]) -> paas_builder::Slug {
    let app = tempfile::tempdir().unwrap();
    std::fs::write(app.path().join("a.wasm"), content).unwrap();
    let manifest =
        SlugManifest::new("wasi-p2", BTreeMap::from([("web".to_string(), ProcessKind::from_command("a.wasm"))]));
    store.create(app.path(), &manifest).unwrap()
}

/// What is in the store's folder (temporary files included).
fn files_in(store: &SlugStore) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(store.dir()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn a_slug_travels_once_and_one_whose_bytes_do_not_match_its_checksum_is_refused_and_not_stored() {
    let t = backends::sqlite().await;
    let ledger = t.ledger.clone();
    let (operator, operator_key) = ledger.create_user("operator@localhost", None, true).await.unwrap();
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (store_a, store_b) = (SlugStore::new(dir_a.path()).unwrap(), SlugStore::new(dir_b.path()).unwrap());

    // Node a: the real API on a real listener, with its slug store, counting slug requests.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let api_url = format!("http://{}", listener.local_addr().unwrap());
    let config = PlatformConfig { domain: "localhost".into(), router_port: None, api_url: api_url.clone() };
    let state = AppState {
        ledger: ledger.clone(),
        config: Arc::new(config),
        deploys: None,
        logs: Default::default(),
        limits: Arc::new(Limits::new(ApiLimits::default())),
    };
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let app = api::app(state).layer(axum::Extension(store_a.clone())).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let counter = counter.clone();
            async move {
                if request.uri().path().starts_with("/grid/slugs/") {
                    counter.fetch_add(1, Ordering::SeqCst);
                }
                next.run(request).await
            }
        },
    ));
    tokio::spawn(async move { axum::serve(listener, app).await });
    let grid = GridConfig { join: None, lease: Duration::from_secs(60), placing: true };
    let node_a = Agent::start(ledger.clone(), dir_a.path(), registration("a", api_url.clone()), grid.clone()).await.unwrap();
    let (token, _) = ledger.create_join_token(operator.id, Duration::from_secs(60)).await.unwrap();
    let joining = GridConfig { join: Some(token), ..grid };
    let node_b =
        Agent::start(ledger.clone(), dir_b.path(), registration("b", "http://127.0.0.1:1".into()), joining).await.unwrap();

    // The endpoint answers nodes only: 401 without a node key (an API key is none), 400 for
    // what is not a checksum, 404 for an absent slug, the archive for a node.
    let slug = slug_of(&store_a, b"component");
    let _ = rustls::crypto::ring::default_provider().install_default();
    let http = reqwest::Client::new();
    let get = |path: String, authorization: Option<String>| {
        let mut request = http.get(format!("{api_url}{path}"));
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        async move {
            let response = request.send().await.unwrap();
            (response.status().as_u16(), response.bytes().await.unwrap().to_vec())
        }
    };
    let b_key = node_b.authorization().unwrap().to_str().unwrap().to_string();
    let path = format!("/grid/slugs/{}", slug.id);
    assert_eq!(get(path.clone(), None).await.0, 401);
    assert_eq!(get(path.clone(), Some(format!("Bearer {operator_key}"))).await.0, 401);
    assert_eq!(get(path.clone(), Some(format!("Node {operator_key}"))).await.0, 401);
    assert_eq!(get(path.clone(), Some(b_key.clone())).await, (200, std::fs::read(&slug.path).unwrap()));
    assert_eq!(get(format!("/grid/slugs/{}", "0".repeat(64)), Some(b_key.clone())).await.0, 404);
    for bad in ["..%2F..%2Fnode-key", "node-key", &slug.id.to_uppercase(), &format!("{}.tar.gz", slug.id)] {
        let (status, body) = get(format!("/grid/slugs/{bad}"), Some(b_key.clone())).await;
        assert_eq!(status, 400, "{bad}: {}", String::from_utf8_lossy(&body));
    }
    served.store(0, Ordering::SeqCst);

    // b lacks the slug: concurrent requests fetch it once, checked, into b's store.
    let peers = PeerSlugs::new(ledger.clone(), store_b.clone(), node_b.clone());
    let (first, second) = tokio::join!(peers.ensure(&slug.id), peers.ensure(&slug.id));
    first.unwrap();
    second.unwrap();
    assert_eq!(served.load(Ordering::SeqCst), 1, "downloaded once");
    assert!(store_b.verify(&slug.id).unwrap());
    peers.ensure(&slug.id).await.unwrap();
    assert_eq!(served.load(Ordering::SeqCst), 1, "not again once stored");

    // A slug whose bytes on a do not hash to its checksum (a corrupted or lying node): refused,
    // naming the node, and nothing stored on b.
    let tampered = slug_of(&store_a, b"another component");
    let mut bytes = std::fs::read(&tampered.path).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::remove_file(&tampered.path).unwrap();
    std::fs::write(&tampered.path, &bytes).unwrap();
    let refused = peers.ensure(&tampered.id).await.unwrap_err().to_string();
    assert!(refused.contains("a: slug") && refused.contains("hashing to"), "{refused}");
    assert!(matches!(store_b.get(&tampered.id), Err(StoreError::NotFound(_))));
    assert_eq!(files_in(&store_b), [format!("{}.tar.gz", slug.id)], "nothing else kept");

    // Over b's slug size limit: refused before it is stored.
    let big = slug_of(&store_a, &[7u8; 4096]);
    let small = PeerSlugs::new(ledger.clone(), store_b.clone().with_max_size(100), node_b.clone());
    let refused = small.ensure(&big.id).await.unwrap_err().to_string();
    assert!(refused.contains("over the limit"), "{refused}");
    assert_eq!(files_in(&store_b), [format!("{}.tar.gz", slug.id)], "nothing else kept");

    // A slug no node has.
    let nowhere = peers.ensure(&"1".repeat(64)).await.unwrap_err().to_string();
    assert!(nowhere.contains("a: does not have it"), "{nowhere}");

    // A checksum that names a file is refused before any node is asked.
    assert!(peers.ensure("../node-key").await.is_err());
    drop(node_a);
}
