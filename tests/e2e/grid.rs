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

/// Polls `check` every 100 ms until it gives something, for up to `within`.
pub fn eventually<T>(within: Duration, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
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
/// `key`: `ps` lists every node's dynos, each with the node that runs it.
fn local_dynos(server: &TestServer, key: &str, app: &str) -> Vec<(String, String)> {
    let out = ok(server.paas_as(key).args(["ps", "--json", "-a", app]));
    let dynos: Value = serde_json::from_str(&out).expect("ps JSON");
    let here = node_name(server);
    let mut states: Vec<(String, String)> = dynos
        .as_array()
        .into_iter()
        .flatten()
        .filter(|d| d["node"].as_str().is_none_or(|node| Some(node) == here.as_deref()))
        .map(|d| (d["name"].as_str().unwrap_or("").to_string(), d["state"].as_str().unwrap_or("").to_string()))
        .collect();
    states.sort();
    states
}

/// The name of `server`'s node, as its own API tells the node key in its data dir.
pub fn node_name(server: &TestServer) -> Option<String> {
    let key = std::fs::read_to_string(server.data_dir().join("node-key")).ok()?;
    let key = key.split_whitespace().nth(1)?.to_string();
    let out = run(Command::new("curl").args(["-sS", "-H", &format!("Authorization: Node {key}")]).arg(format!("{}/grid/node", server.api_url)));
    let node: Value = serde_json::from_slice(&out.stdout).ok()?;
    node["name"].as_str().map(String::from)
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

/// Requests sent in a loop through one router, each with when it ended and whether it was a 200.
struct Load {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    task: std::thread::JoinHandle<Vec<(Instant, bool)>>,
}

impl Load {
    /// `clients` keep-alive clients sending `GET /` for `<app>.localhost` to `router_url`.
    fn start(router_url: &str, app: &str, clients: usize) -> Load {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (url, host, stopped) = (format!("{router_url}/"), format!("{app}.localhost"), stop.clone());
        let task = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let _ = rustls::crypto::ring::default_provider().install_default();
                let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).no_proxy().build().unwrap();
                let loops: Vec<_> = (0..clients).map(|_| {
                    let (client, url, host, stop) = (client.clone(), url.clone(), host.clone(), stopped.clone());
                    tokio::spawn(async move {
                        let mut done = Vec::new();
                        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                            let sent = client.get(&url).header("host", &host).send().await;
                            let ok = match sent {
                                Ok(response) => response.status() == 200 && response.bytes().await.is_ok(),
                                Err(_) => false,
                            };
                            done.push((Instant::now(), ok));
                        }
                        done
                    })
                }).collect();
                let mut all = Vec::new();
                for done in loops {
                    all.extend(done.await.unwrap());
                }
                all
            })
        });
        Load { stop, task }
    }

    fn finish(self) -> Vec<(Instant, bool)> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.task.join().unwrap()
    }
}

/// The router log lines `server` printed for `app` (`<time> <app> heroku[router]: …`).
fn router_lines(server: &TestServer, app: &str) -> Vec<String> {
    let marker = format!(" {app} heroku[router]: ");
    server.stdout.lock().unwrap().iter().filter(|l| l.contains(&marker)).cloned().collect()
}

/// The web dynos up on any of `servers`, as their `ps` lists them.
fn web_up(servers: &[&TestServer], key: &str, app: &str) -> std::collections::BTreeSet<String> {
    servers
        .iter()
        .flat_map(|s| local_dynos(s, key, app))
        .filter(|(name, state)| name.starts_with("web.") && state == "up")
        .map(|(name, _)| name)
        .collect()
}

#[test]
fn every_nodes_router_serves_any_app_and_a_node_killed_under_load_fails_requests_only_until_its_dynos_are_back() {
    let Some(postgres) = Postgres::start() else { return };
    let url = postgres.url();
    // bench/grid-reschedule.sh also measures the default lease (10 s).
    let lease = std::env::var("PAAS_E2E_NODE_LEASE").unwrap_or_else(|_| "2s".to_string());
    let node_args = |name: &str, join: Option<String>| {
        let mut args = vec!["--database-url".to_string(), url.clone(), "--node-name".into(), name.into(), "--node-lease".into(), lease.clone()];
        args.extend(join.into_iter().flat_map(|token| ["--join".to_string(), token]));
        args
    };
    let start = |dir: tempfile::TempDir, args: Vec<String>| {
        TestServer::start_with(dir, &args.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let a = start(tempfile::tempdir().unwrap(), node_args("a", None));
    let token = || Some(ok(a.paas().args(["nodes:token"])).trim().to_string());
    let b = start(tempfile::tempdir().unwrap(), node_args("b", token()));
    let c = start(tempfile::tempdir().unwrap(), node_args("c", token()));
    let key = a.operator_key.clone();

    // web=3 on three nodes: one dyno each, and every router serves the app.
    push_example(&a, "hello-wasm", "routed");
    ok(a.paas().args(["ps:scale", "web=3", "-a", "routed"]));
    eventually(Duration::from_secs(15), "web=3 spread over a, b and c", || {
        let listed = nodes(&a);
        ["a", "b", "c"].iter().all(|n| dynos_of(node(&listed, n)).len() == 1).then_some(())
    });
    for server in [&a, &b, &c] {
        eventually(Duration::from_secs(30), "each router serves the app", || (router_get(server, "routed", "/").0 == 200).then_some(()));
    }

    // c stops (SIGTERM: its dyno moves at once) and comes back on its data dir: nothing moves
    // back, so its router has no dyno of the app and sends each request to a's or b's.
    // c comes back only once its dyno has moved: on a loaded machine a coordinator round could
    // otherwise first see c up again, at its new epoch and with room, and place the dyno there.
    let c_dir = c.stop();
    let moved = || {
        let listed = nodes(&a);
        (dynos_of(node(&listed, "c")).is_empty() && dynos_of(node(&listed, "a")).len() + dynos_of(node(&listed, "b")).len() == 3)
            .then_some(())
    };
    eventually(Duration::from_secs(10), "c's dyno moved to a or b", moved);
    let c = start(c_dir, node_args("c", None));
    eventually(Duration::from_secs(10), "c's dyno still on a or b after c's return", moved);
    let listed = nodes(&a);
    let (on_a, on_b) = (dynos_of(node(&listed, "a")), dynos_of(node(&listed, "b")));
    eventually(Duration::from_secs(10), "c's router serves through the other nodes", || {
        let (status, body) = router_get(&c, "routed", "/");
        (status == 200 && body.contains("Hello")).then_some(())
    });
    for _ in 0..30 {
        assert_eq!(router_get(&c, "routed", "/").0, 200);
    }
    // c's router logs each request, naming the dyno on the node that served it: both nodes serve.
    let served: std::collections::BTreeSet<String> = router_lines(&c, "routed")
        .iter()
        .filter_map(|l| l.split(" dyno=").nth(1)?.split(' ').next().map(String::from))
        .collect();
    assert!(on_a.iter().any(|d| served.contains(d)) && on_b.iter().any(|d| served.contains(d)), "c's router used {served:?} (a: {on_a:?}, b: {on_b:?})");
    assert!(router_lines(&c, "routed").iter().all(|l| l.contains(r#"fwd="127.0.0.1""#)), "the client's address");

    // kill -9 of b while c's router is under load: b's dynos run on a and c within the lease and
    // a coordinator round; only requests that b took with it fail, and only until then.
    let releases = |server: &TestServer| ok(server.paas_as(&key).args(["releases", "-a", "routed", "--json"]));
    let releases_before = releases(&a);
    let load = Load::start(&c.router_url, "routed", 8);
    std::thread::sleep(Duration::from_secs(1));
    let b_dir = b.crash();
    let killed = Instant::now();
    eventually(Duration::from_secs(15), "all three web dynos up again on a and c", || {
        (web_up(&[&a, &c], &key, "routed").len() == 3).then_some(())
    });
    let back = killed.elapsed();
    std::thread::sleep(Duration::from_secs(1));
    let done = load.finish();
    let failed: Vec<Duration> = done.iter().filter(|(_, ok)| !ok).map(|(at, _)| at.saturating_duration_since(killed)).collect();
    let (before, after) = (done.iter().filter(|(at, _)| *at < killed).count(), done.iter().filter(|(at, _)| *at >= killed).count());
    println!(
        "kill -9 of node b under load through node c's router: all 3 web dynos up on a and c {:.1} s later (lease {lease}); \
         {} requests ({before} before the kill, {after} after), {} failed, the last {:.2} s after the kill",
        back.as_secs_f64(),
        done.len(),
        failed.len(),
        failed.iter().max().unwrap_or(&Duration::ZERO).as_secs_f64()
    );
    assert!(before > 0 && after > before, "the load ran through the kill: {before} before, {after} after");
    assert!(failed.iter().all(|at| *at <= back), "requests failed after every dyno was back: {failed:?}");
    assert!(failed.len() * 10 < done.len(), "{} of {} requests failed", failed.len(), done.len());
    assert_eq!(releases(&a), releases_before, "no release lost");

    // b comes back on its data dir: a later epoch, and it runs none of the dynos it had.
    let epoch_before = node(&nodes(&a), "b")["epoch"].as_i64().unwrap();
    let b = start(b_dir, node_args("b", None));
    let listed = nodes(&a);
    assert_eq!(node(&listed, "b")["state"], "up");
    assert!(node(&listed, "b")["epoch"].as_i64().unwrap() > epoch_before);
    assert_eq!(router_get(&b, "routed", "/").0, 200, "b's router serves through a and c");
    std::thread::sleep(Duration::from_secs(2));
    assert!(dynos_of(node(&nodes(&a), "b")).is_empty(), "nothing placed on b");
    let started: Vec<String> = b.stdout.lock().unwrap().iter().filter(|l| l.contains(" routed heroku[web.")).cloned().collect();
    assert!(started.is_empty(), "b ran a dyno of its old epoch: {started:?}");
    assert_eq!(web_up(&[&a, &c], &key, "routed").len(), 3);
}
