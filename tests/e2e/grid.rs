//! The dyno grid with real `paas server` processes on one real PostgreSQL: a second node joins
//! only with a token, an app's web dynos are placed on both (the node that did not build the app
//! fetches its slug from the one that did, and serves it), and when one node is killed (-9)
//! its dyno runs on the other within the lease; the killed node comes back without a token and
//! nothing moves back; a resize made through one node reaches the dynos of the other; a node
//! that could not fetch a slug gets it once a node holding it is back.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::server::Postgres;
use crate::support::{TestServer, ok, paas_bin, push_example, router_get, run};

/// `paas nodes --json` as `server`'s operator.
fn nodes(server: &TestServer) -> Value {
    serde_json::from_str(&ok(server.paas().args(["nodes", "--json"]))).expect("nodes JSON")
}

/// The node named `name` in `nodes`.
fn node<'a>(nodes: &'a Value, name: &str) -> &'a Value {
    nodes.as_array().into_iter().flatten().find(|n| n["name"] == name).unwrap_or_else(|| panic!("no node {name}: {nodes}"))
}

/// The dyno names (`web.1`) placed on the node.
fn dynos_of(node: &Value) -> Vec<String> {
    let mut names: Vec<String> =
        node["dynos"].as_array().into_iter().flatten().filter_map(|d| d["name"].as_str().map(String::from)).collect();
    names.sort();
    names
}

fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = check() {
            return found;
        }
        assert!(Instant::now() < deadline, "not within {within:?}: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The states of the app's dynos on `server` (what its supervisor runs), by name, asked with
/// `key`.
fn local_dynos(server: &TestServer, key: &str, app: &str) -> Vec<(String, String)> {
    let out = ok(server.paas_as(key).args(["ps", "--json", "-a", app]));
    let dynos: Value = serde_json::from_str(&out).expect("ps JSON");
    let mut states: Vec<(String, String)> = dynos
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| (d["name"].as_str().unwrap_or("").to_string(), d["state"].as_str().unwrap_or("").to_string()))
        .collect();
    states.sort();
    states
}

#[test]
fn a_killed_nodes_web_dyno_runs_on_another_node_within_its_lease() {
    let Some(postgres) = Postgres::start() else { return };
    let url = postgres.url();
    let node_args = |name: &'static str| vec!["--database-url".to_string(), url.clone(), "--node-name".into(), name.into(), "--node-lease".into(), "2s".into()];
    let args_a = node_args("a");
    let a = TestServer::start_with(tempfile::tempdir().unwrap(), &args_a.iter().map(String::as_str).collect::<Vec<_>>());

    // Another node without a token is refused at start, saying how to join.
    let dir = tempfile::tempdir().unwrap();
    let refused = run(Command::new(paas_bin())
        .args(["server", "--data-dir"])
        .arg(dir.path().join("data"))
        .args(node_args("b"))
        .args(["--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0", "--rendezvous-listen", "127.0.0.1:0"])
        .env("PAAS_DYNO_NETWORK", "host")
        .env("HOME", dir.path()));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("a new node joins with a token") && stderr.contains("--join TOKEN"), "{stderr}");

    let token = ok(a.paas().args(["nodes:token"])).trim().to_string();
    let mut args_b = node_args("b");
    args_b.extend(["--join".to_string(), token.clone()]);
    let b = TestServer::start_with(tempfile::tempdir().unwrap(), &args_b.iter().map(String::as_str).collect::<Vec<_>>());
    let listed = nodes(&a);
    assert_eq!((node(&listed, "a")["state"].as_str(), node(&listed, "b")["state"].as_str()), (Some("up"), Some("up")));
    // Node-to-node requests: b's key (in its data dir) authenticates b to a; an API key is no node key.
    let b_key = std::fs::read_to_string(b.data_dir().join("node-key")).unwrap();
    let b_key = b_key.split_whitespace().nth(1).unwrap().to_string();
    let whoami = |auth: &str| {
        let out = run(Command::new("curl").args(["-sS", "-H", auth]).arg(format!("{}/grid/node", a.api_url)));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert!(whoami(&format!("Authorization: Node {b_key}")).contains(r#""name":"b""#));
    assert!(whoami(&format!("Authorization: Bearer {}", a.operator_key)).contains("unauthorized"));
    assert!(whoami(&format!("Authorization: Node {}", a.operator_key)).contains("unauthorized"));

    // web=2: one dyno on each node. The slug was built on a; b fetches it from a (with its node
    // key, checked against the checksum) and its dyno answers through b's router.
    push_example(&a, "hello-rust", "gridded");
    ok(a.paas().args(["ps:scale", "web=2", "-a", "gridded"]));
    eventually(Duration::from_secs(10), "web=2 spread over a and b", || {
        let listed = nodes(&a);
        (dynos_of(node(&listed, "a")).len() == 1 && dynos_of(node(&listed, "b")).len() == 1).then_some(())
    });
    let table = ok(a.paas().args(["nodes"]));
    assert!(table.contains("gridded/web.") && table.lines().any(|l| l.starts_with("b ") && l.contains(" up ")), "{table}");
    assert_eq!(local_dynos(&a, &a.operator_key, "gridded").len(), 1, "a runs only its own dyno");
    assert_eq!(router_get(&a, "gridded", "/").0, 200);
    eventually(Duration::from_secs(30), "b's web dyno up from a's slug", || {
        let states = local_dynos(&b, &a.operator_key, "gridded");
        (states.len() == 1 && states[0].1 == "up").then_some(())
    });
    assert_eq!(router_get(&b, "gridded", "/").0, 200);
    let fetched: Vec<_> = std::fs::read_dir(b.data_dir().join("slugs")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(fetched.len() == 1 && fetched[0].to_string_lossy().ends_with(".tar.gz"), "b's slug store: {fetched:?}");

    // kill -9 b: its dyno runs on a within the lease (2 s) and a coordinator round.
    let b_dir = b.crash();
    let killed = Instant::now();
    eventually(Duration::from_secs(15), "both web dynos up on a", || {
        let states = local_dynos(&a, &a.operator_key, "gridded");
        (states.len() == 2 && states.iter().all(|(_, state)| state == "up")).then_some(())
    });
    let took = killed.elapsed();
    println!("kill -9 of node b: its web dyno was up on node a {:.1} s later (lease 2 s)", took.as_secs_f64());
    let listed = nodes(&a);
    assert_eq!(node(&listed, "b")["state"], "down");
    assert_eq!(dynos_of(node(&listed, "a")), ["web.1", "web.2"]);
    let epoch_before = node(&listed, "b")["epoch"].as_i64().unwrap();

    // b comes back on its data dir, without a token (its key is there), at a later epoch; what
    // runs on a stays there.
    let args_b = node_args("b");
    let b = TestServer::start_with(b_dir, &args_b.iter().map(String::as_str).collect::<Vec<_>>());
    let listed = nodes(&a);
    let back = node(&listed, "b");
    assert_eq!(back["state"], "up");
    assert!(back["epoch"].as_i64().unwrap() > epoch_before, "{back}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(dynos_of(node(&nodes(&a), "a")), ["web.1", "web.2"], "nothing moves back");

    // A resize through b's API reaches the dynos on a (no dyno moves, so only a's sweep can see
    // it): they are replaced (Basic to Standard is another runtime size).
    let created = |server: &TestServer| -> Vec<String> {
        let out = ok(server.paas().args(["ps", "--json", "-a", "gridded"]));
        let dynos: Value = serde_json::from_str(&out).expect("ps JSON");
        dynos.as_array().into_iter().flatten().map(|d| format!("{}@{}", d["name"], d["created_at"])).collect()
    };
    let before = created(&a);
    std::thread::sleep(Duration::from_millis(1100));
    ok(b.paas_as(&a.operator_key).args(["ps:scale", "web=2:standard-1x", "-a", "gridded"]));
    eventually(Duration::from_secs(10), "a's dynos replaced at the new size", || {
        let now = created(&a);
        (now.len() == 2 && now.iter().all(|d| !before.contains(d))).then_some(())
    });

    // b loses its copy of the slug and a, the only node left holding it, is killed: the dynos
    // placed on b cannot start until a is back; then b fetches the slug (a failed reconcile is
    // tried again at the next sweep) and runs them.
    for entry in std::fs::read_dir(b.data_dir().join("slugs")).unwrap() {
        std::fs::remove_file(entry.unwrap().path()).unwrap();
    }
    let key = a.operator_key.clone();
    let a_dir = a.crash();
    eventually(Duration::from_secs(15), "both web dynos placed on b", || {
        let listed: Value = serde_json::from_str(&ok(b.paas_as(&key).args(["nodes", "--json"]))).ok()?;
        (node(&listed, "a")["state"] == "down" && dynos_of(node(&listed, "b")) == ["web.1", "web.2"]).then_some(())
    });
    let _a = TestServer::start_with(a_dir, &args_a.iter().map(String::as_str).collect::<Vec<_>>());
    eventually(Duration::from_secs(20), "b's dynos up once a is back with the slug", || {
        let states = local_dynos(&b, &key, "gridded");
        (states.len() == 2 && states.iter().all(|(_, state)| state == "up")).then_some(())
    });
    assert_eq!(router_get(&b, "gridded", "/").0, 200);
}
