//! Two `paas server` nodes on one real PostgreSQL are one platform from the outside: with an
//! app's worker dynos on both, `ps` through node a lists both dynos (each with its node), a log
//! tail through a shows the output of b's dyno, a restart asked through a restarts b's dyno, a
//! one-off dyno runs through b, and a scheduled job runs once per scheduled time, not once per
//! node (its runs are read in the logs, collated from both nodes, through b).

use std::io::BufRead;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::grid::eventually;
use crate::server::Postgres;
use crate::support::{TestServer, ok, push_example};

/// `ps --json` through `server`: (name, node, state, created_at) of each dyno.
fn dynos(server: &TestServer, key: &str, app: &str) -> Vec<(String, String, String, String)> {
    let out = ok(server.paas_as(key).args(["ps", "--json", "-a", app]));
    let listed: Value = serde_json::from_str(&out).expect("ps JSON");
    let field = |d: &Value, name: &str| d[name].as_str().unwrap_or_default().to_string();
    let mut dynos: Vec<_> = listed
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| (field(d, "name"), field(d, "node"), field(d, "state"), field(d, "created_at")))
        .collect();
    dynos.sort();
    dynos
}

#[test]
fn two_nodes_are_one_platform_for_ps_logs_restarts_one_offs_and_scheduled_jobs() {
    let Some(postgres) = Postgres::start() else { return };
    let url = postgres.url();
    let node_args = |name: &str| ["--database-url", &url, "--node-name", name, "--node-lease", "2s"].map(String::from).to_vec();
    let a = TestServer::start_with(tempfile::tempdir().unwrap(), &node_args("a").iter().map(String::as_str).collect::<Vec<_>>());
    let token = ok(a.paas().args(["nodes:token"])).trim().to_string();
    let mut args_b = node_args("b");
    args_b.extend(["--join".to_string(), token]);
    let b = TestServer::start_with(tempfile::tempdir().unwrap(), &args_b.iter().map(String::as_str).collect::<Vec<_>>());
    let key = a.operator_key.clone();
    let app = "onegrid";

    push_example(&a, "worker-rust", app);
    // A job every minute, added first: its minute passes while the rest runs.
    ok(a.paas().args(["scheduler:add", "* * * * *", "-a", app, "--", "worker-rust", "1"]));
    let listed = ok(a.paas().args(["scheduler", "-a", app]));
    let job = listed.lines().find(|l| l.contains("worker-rust 1")).unwrap().split_whitespace().next().unwrap().to_string();
    ok(a.paas().args(["ps:scale", "worker-rust=2", "-a", app]));

    // ps through a lists both dynos, each up, one on each node.
    let listed = eventually(Duration::from_secs(60), "both worker dynos up, one on each node, in a's ps", || {
        let listed = dynos(&a, &key, app);
        let nodes: Vec<&str> = listed.iter().map(|(_, node, _, _)| node.as_str()).collect();
        (listed.len() == 2 && listed.iter().all(|(_, _, state, _)| state == "up") && nodes.contains(&"a") && nodes.contains(&"b"))
            .then_some(listed)
    });
    assert_eq!(dynos(&b, &key, app).len(), 2, "b's ps lists a's dyno too");
    let (on_b, _, _, _) = listed.iter().find(|(_, node, _, _)| node == "b").unwrap().clone();
    let table = ok(a.paas().args(["ps", "-a", app]));
    assert!(table.contains(&format!("{on_b}: up")) && table.contains("on node b"), "{table}");

    // A tail through a shows what b's dyno writes.
    let mut tail = a.paas().args(["logs", "--tail", "-a", app]).stdout(Stdio::piped()).spawn().unwrap();
    let seen = Arc::new(Mutex::new(Vec::<String>::new()));
    let reader = {
        let (stdout, seen) = (tail.stdout.take().unwrap(), seen.clone());
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                seen.lock().unwrap().push(line);
            }
        })
    };
    let in_tail = |text: &str| seen.lock().unwrap().iter().any(|l| l.contains(text));
    eventually(Duration::from_secs(45), "b's dyno's output in a tail through a", || {
        in_tail(&format!("app[{on_b}]: {on_b}: tick")).then_some(())
    });

    // A restart asked through a reaches b's dyno: b stops it and a new one runs there. Seen in
    // b's own output and in the tail, not in ps's `created_at`: that has whole seconds, and a
    // restart within the dyno's first second (two CI runs) left it unchanged.
    let stopping = format!("heroku[{on_b}]: Stopping all processes with SIGTERM");
    let stopped_on_b = || b.stdout.lock().unwrap().iter().filter(|l| l.ends_with(&stopping)).count();
    let stops_before = stopped_on_b();
    // Tail lines start with their time (`2026-12-05T04:36:28.508846+00:00 app[…]`).
    let asked_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.6f").to_string();
    ok(a.paas().args(["ps:restart", &on_b, "-a", app]));
    eventually(Duration::from_secs(45), "b stopped its dyno for the restart", || (stopped_on_b() > stops_before).then_some(()));
    let restarted = format!("app[{on_b}]: {on_b}: tick 1");
    eventually(Duration::from_secs(30), "the new dyno's first tick in the tail", || {
        let after_ask = |l: &String| l.get(..asked_at.len()).is_some_and(|at| at >= asked_at.as_str());
        seen.lock().unwrap().iter().any(|l| l.ends_with(&restarted) && after_ask(l)).then_some(())
    });
    eventually(Duration::from_secs(30), "the restarted dyno up on b in a's ps", || {
        let now = dynos(&a, &key, app);
        now.iter().any(|(name, node, state, _)| *name == on_b && node == "b" && state == "up").then_some(())
    });
    let _ = tail.kill();
    let _ = tail.wait();
    let _ = reader.join();

    // A one-off dyno through b (it runs on b; its slug was built on a).
    let out = ok(b.paas_as(&key).args(["run:detached", "-a", app, "--env", "INTERVAL_MS=10", "--", "worker-rust", "2"]));
    assert!(out.contains("run."), "{out}");
    eventually(Duration::from_secs(30), "the one-off's output in the logs through a", || {
        ok(a.paas().args(["logs", "-n", "1500", "-a", app])).contains(": done after 2 iterations").then_some(())
    });

    // The scheduled job ran, once per scheduled minute across both nodes (read through b).
    let logs = eventually(Duration::from_secs(80), "the scheduled job's run", || {
        let logs = ok(b.paas_as(&key).args(["logs", "-n", "1500", "-a", app]));
        logs.contains(&format!("paas[scheduler]: job {job} (scheduler.")).then_some(logs)
    });
    ok(a.paas().args(["scheduler:remove", &job[..8], "-a", app]));
    let runs: Vec<&str> =
        logs.lines().filter(|l| l.contains(&format!("paas[scheduler]: running job {job} "))).map(|l| &l[..16]).collect();
    let mut minutes = runs.clone();
    minutes.dedup();
    assert!(!runs.is_empty() && runs.len() == minutes.len(), "one run per minute, not one per node:\n{logs}");
}
