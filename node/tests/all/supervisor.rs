//! The dyno supervisor: formation → running dynos and routes, scaling, new releases, restarts,
//! crash restarts with backoff, native process types, stopping workers, removing an app.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use paas_router::RouteTable;
use paas_node::supervisor::{AppSpec, DynoState, ProcessSpec, Program, Supervisor, SupervisorConfig};
use paas_runtime::{DynoSize, LogLine, LogSink};
use tokio::sync::mpsc;

use crate::util::{drain, guest, guests_dir, runtime};

fn supervisor(config: SupervisorConfig) -> (Supervisor, Arc<RouteTable>, mpsc::Receiver<LogLine>) {
    let table = Arc::new(RouteTable::new("localhost"));
    let (logs, rx) = LogSink::channel(100_000);
    (Supervisor::new(runtime(), table.clone(), logs, config), table, rx)
}

fn wasm(name: &str, args: &[&str], quantity: u32) -> ProcessSpec {
    ProcessSpec {
        program: Program::Wasm {
            component: guest(name),
            reuse: true,
            args: args.iter().map(|a| a.to_string()).collect(),
            native_fallback: None,
        },
        command: format!("{name}.wasm {}", args.join(" ")).trim().to_string(),
        quantity,
        size: DynoSize::Basic,
    }
}

fn app(name: &str, release: i64, processes: &[(&str, ProcessSpec)]) -> AppSpec {
    AppSpec {
        app: name.to_string(),
        release,
        app_dir: guests_dir(),
        env: BTreeMap::from([("GREETING".to_string(), format!("v{release}"))]),
        processes: processes.iter().map(|(t, p)| (t.to_string(), p.clone())).collect(),
        ..AppSpec::default()
    }
}

/// The names of the web dynos the table routes `app` to.
fn routed(table: &RouteTable, app: &str) -> Vec<String> {
    let mut names: Vec<String> = table.app(app).map(|r| r.web.iter().map(|w| w.name.clone()).collect()).unwrap_or_default();
    names.sort();
    names
}

/// GET `path` through the first routed web dyno's backend.
async fn get(table: &RouteTable, app: &str, dyno: usize, path: &str) -> (u16, String) {
    let route = table.app(app).expect("app routed");
    let req = http::Request::get(path).header("host", "x").body(paas_router::into_router_body(Full::new(Bytes::new()))).unwrap();
    let resp = route.web[dyno].backend.call(req).await.expect("dyno answers");
    let status = resp.status().as_u16();
    (status, String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned())
}

fn states(dynos: &[paas_node::supervisor::DynoStatus]) -> Vec<(String, DynoState, i64)> {
    dynos.iter().map(|d| (d.name.clone(), d.state, d.release)).collect()
}

#[tokio::test]
async fn formation_is_started_scaled_released_and_removed() {
    let (sup, table, _logs) = supervisor(SupervisorConfig::default());
    sup.apply(app("shop", 1, &[("web", wasm("http_probe", &[], 2))])).await;
    assert_eq!(routed(&table, "shop"), ["web.1", "web.2"]);
    let dynos = sup.dynos("shop").await;
    assert_eq!(states(&dynos), [("web.1".into(), DynoState::Up, 1), ("web.2".into(), DynoState::Up, 1)]);
    assert_eq!(get(&table, "shop", 0, "/env?name=GREETING").await, (200, "v1".to_string()));
    assert_eq!(get(&table, "shop", 1, "/env?name=DYNO").await.1, routed(&table, "shop")[1]);
    // Each wasm web dyno reports the linear memory its instances hold; the app's usage sums them.
    let memory: Vec<u64> = sup.dynos("shop").await.iter().map(|d| d.memory_bytes.expect("measured")).collect();
    assert!(memory.iter().all(|&m| m > 0), "{memory:?}");
    let usage = sup.usage("shop");
    assert_eq!(usage.memory_bytes, memory.iter().sum::<u64>());
    assert!(usage.instances >= 2, "{usage:?}");

    // The same spec again changes nothing: same dynos, same state times.
    sup.apply(app("shop", 1, &[("web", wasm("http_probe", &[], 2))])).await;
    let without_cpu = |dynos: Vec<paas_node::supervisor::DynoStatus>| {
        dynos.into_iter().map(|d| paas_node::supervisor::DynoStatus { cpu_seconds: None, ..d }).collect::<Vec<_>>()
    };
    assert_eq!(without_cpu(sup.dynos("shop").await), without_cpu(dynos));

    // Scale up then down.
    sup.apply(app("shop", 1, &[("web", wasm("http_probe", &[], 3))])).await;
    assert_eq!(routed(&table, "shop"), ["web.1", "web.2", "web.3"]);
    sup.apply(app("shop", 1, &[("web", wasm("http_probe", &[], 1))])).await;
    assert_eq!(routed(&table, "shop"), ["web.1"]);

    // A new release replaces the dynos, keeping the formation.
    sup.apply(app("shop", 2, &[("web", wasm("http_probe", &[], 1))])).await;
    assert_eq!(states(&sup.dynos("shop").await), [("web.1".into(), DynoState::Up, 2)]);
    assert_eq!(get(&table, "shop", 0, "/env?name=GREETING").await, (200, "v2".to_string()));

    // Scaled to zero: no web dyno, not crashed (H14).
    sup.apply(app("shop", 2, &[("web", wasm("http_probe", &[], 0))])).await;
    let route = table.app("shop").unwrap();
    assert!(route.web.is_empty() && !route.crashed);
    assert!(sup.dynos("shop").await.is_empty());

    sup.remove("shop").await;
    assert!(table.app("shop").is_none());
    assert!(sup.apps().is_empty());
}

/// Nodes sharing a formation (the grid): this node runs only the dynos placed on it, and stops
/// one the coordinator moved elsewhere, leaving the others running.
#[tokio::test]
async fn only_the_dynos_placed_on_this_node_run_here() {
    let (sup, table, _logs) = supervisor(SupervisorConfig::default());
    let mut spec = app("grid", 1, &[("web", wasm("http_probe", &[], 3))]);
    spec.placed = Some(["web.1".to_string(), "web.3".to_string()].into());
    sup.apply(spec.clone()).await;
    assert_eq!(routed(&table, "grid"), ["web.1", "web.3"]);
    let before = sup.dynos("grid").await;
    // web.3 moved to another node, web.2 came here.
    spec.placed = Some(["web.1".to_string(), "web.2".to_string()].into());
    sup.apply(spec.clone()).await;
    assert_eq!(routed(&table, "grid"), ["web.1", "web.2"]);
    assert_eq!(sup.dynos("grid").await[0], before[0], "web.1 kept running");
    // Fenced: nothing here.
    spec.placed = Some(Default::default());
    sup.apply(spec).await;
    assert!(sup.dynos("grid").await.is_empty());
}

#[tokio::test]
async fn maintenance_and_domains_reach_the_route_table() {
    let (sup, table, _logs) = supervisor(SupervisorConfig::default());
    let mut spec = app("docs", 1, &[("web", wasm("http_probe", &[], 1))]);
    spec.maintenance = true;
    spec.domains = vec!["www.example.com".into()];
    sup.apply(spec.clone()).await;
    let route = table.lookup("www.example.com").expect("custom domain routed");
    assert!(route.maintenance);
    spec.maintenance = false;
    spec.domains.clear();
    sup.apply(spec).await;
    assert!(table.lookup("www.example.com").is_none());
    assert!(!table.lookup("docs.localhost").unwrap().maintenance);
}

#[tokio::test]
async fn restart_replaces_dynos_and_keeps_serving() {
    let (sup, table, _logs) = supervisor(SupervisorConfig::default());
    sup.apply(app("blog", 1, &[("web", wasm("http_probe", &[], 2))])).await;
    let before = sup.dynos("blog").await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    sup.restart("blog", Some("web.2")).await;
    let after = sup.dynos("blog").await;
    assert_eq!(after[0].since, before[0].since, "web.1 kept");
    assert!(after[1].since > before[1].since, "web.2 replaced");
    assert_eq!(routed(&table, "blog"), ["web.1", "web.2"]);
    assert_eq!(get(&table, "blog", 1, "/").await, (200, "ok".to_string()));
    tokio::time::sleep(Duration::from_millis(5)).await;
    sup.restart("blog", Some("web")).await;
    let all = sup.dynos("blog").await;
    assert!(all[0].since > after[0].since && all[1].since > after[1].since, "both replaced");
}

#[tokio::test]
async fn crashing_worker_restarts_at_once_then_with_doubling_backoff() {
    let base = Duration::from_millis(300);
    let config = SupervisorConfig { backoff_base: base, ..SupervisorConfig::default() };
    let (sup, _table, mut logs) = supervisor(config);
    let t0 = Instant::now();
    sup.apply(app("jobs", 1, &[("worker", wasm("cli_probe", &["exit", "3"], 1))])).await;
    // Each wait runs from a crash's "Process exited" line to the next "Starting process" line,
    // both stamped by the supervisor when it logged them: the runs' own length and the test's
    // lateness in reading the channel are not in it.
    let mut exited_at = None;
    let mut waits = Vec::new();
    while waits.len() < 3 && t0.elapsed() < Duration::from_secs(30) {
        let Ok(Some(line)) = tokio::time::timeout(Duration::from_secs(10), logs.recv()).await else { break };
        if line.line == "Process exited with status 3" {
            exited_at = Some(line.timestamp);
        }
        if line.line.starts_with("Starting process")
            && let Some(exit) = exited_at.take()
        {
            waits.push(line.timestamp.duration_since(exit).unwrap_or_default());
        }
    }
    assert_eq!(waits.len(), 3, "three crashes, each followed by a restart: {waits:?}");
    // Restart 1 at once, restart 2 after the base, restart 3 after twice the base. Each bound
    // sits one step of the doubling away, so a wait late by up to a whole base still passes
    // while a wrong step (none, or doubled too early or not at all) fails.
    assert!(waits[0] < base, "first restart at once: {waits:?}");
    assert!(waits[1] >= base && waits[1] < 2 * base, "second after the base: {waits:?}");
    assert!(waits[2] >= 2 * base && waits[2] < 4 * base, "third after twice the base: {waits:?}");
    let dyno = &sup.dynos("jobs").await[0];
    assert!(dyno.crashes >= 3, "{dyno:?}");
    assert!(dyno.restarts >= 3, "restarts counted: {dyno:?}");
    sup.remove("jobs").await;
}

/// Every wasm dyno reports its memory and CPU time: a busy worker's CPU time grows (it runs in
/// the background lane, counted by the thread CPU clock), an idle one's barely does, and a web
/// dyno counts its requests' calls. Workers' memory and everyone's CPU time were not measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wasm_workers_and_web_dynos_report_memory_and_cpu_time() {
    let (sup, table, _logs) = supervisor(SupervisorConfig::default());
    let processes = [
        ("web", wasm("http_probe", &[], 1)),
        ("busy", wasm("cli_probe", &["loop"], 1)),
        ("idle", wasm("cli_probe", &["wait-stop"], 1)),
    ];
    sup.apply(app("cpu", 1, &processes)).await;
    let cpu = |dynos: &[paas_node::supervisor::DynoStatus], name: &str| {
        let dyno = dynos.iter().find(|d| d.name == name).unwrap_or_else(|| panic!("no {name} in {dynos:?}"));
        assert!(dyno.memory_bytes.is_some_and(|m| m > 0), "{name}'s memory: {dyno:?}");
        dyno.cpu_seconds.unwrap_or_else(|| panic!("{name}'s CPU time not measured: {dyno:?}"))
    };
    // Until the busy worker has run a while in the background lane (it gets only idle CPU).
    let t0 = Instant::now();
    let first = loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let dynos = sup.dynos("cpu").await;
        if cpu(&dynos, "busy.1") > 0.05 || t0.elapsed() > Duration::from_secs(20) {
            break dynos;
        }
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(get(&table, "cpu", 0, "/spin?ms=50").await.1, "spun");
    let then = sup.dynos("cpu").await;
    let (busy, idle) = (cpu(&then, "busy.1"), cpu(&then, "idle.1"));
    assert!(busy > cpu(&first, "busy.1") && busy > 0.05, "a busy worker's CPU time grows: {first:?} then {then:?}");
    assert!(idle < 0.05, "an idle worker waiting for its stop file used {idle} s");
    let web = cpu(&then, "web.1") - cpu(&first, "web.1");
    assert!(web >= 0.01, "a 50 ms busy request counted {web} s");
    sup.remove("cpu").await;
}

#[tokio::test]
async fn web_dyno_that_cannot_start_is_crashed_and_the_app_answers_h10() {
    let (sup, table, mut logs) = supervisor(SupervisorConfig::default());
    // A command component as the web process: it cannot serve HTTP.
    sup.apply(app("broken", 1, &[("web", wasm("cli_probe", &[], 1))])).await;
    let dynos = sup.dynos("broken").await;
    assert_eq!(dynos[0].state, DynoState::Crashed);
    let route = table.app("broken").unwrap();
    assert!(route.crashed && route.web.is_empty());
    let lines: Vec<String> = drain(&mut logs, Duration::from_millis(200)).await.into_iter().map(|l| l.line).collect();
    assert!(lines.iter().any(|l| l.contains("needs a web")), "{lines:?}");
    assert!(lines.contains(&"State changed from starting to crashed".to_string()), "{lines:?}");
    sup.remove("broken").await;
}

#[tokio::test]
async fn native_process_types_are_reported_crashed_not_faked() {
    let (sup, _table, mut logs) = supervisor(SupervisorConfig::default());
    let native = ProcessSpec {
        program: Program::Native { command: "bundle exec puma".into() },
        command: "bundle exec puma".into(),
        quantity: 1,
        size: DynoSize::Basic,
    };
    sup.apply(app("rails", 1, &[("web", native)])).await;
    assert_eq!(sup.dynos("rails").await[0].state, DynoState::Crashed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let lines: Vec<String> = drain(&mut logs, Duration::from_millis(100)).await.into_iter().map(|l| l.line).collect();
    let starts = lines.iter().filter(|l| l.starts_with("Starting process")).count();
    assert_eq!(starts, 1, "not retried: {lines:?}");
    assert!(lines.iter().any(|l| l.contains("native dynos are not enabled on this node")), "{lines:?}");
}

#[tokio::test]
async fn scaled_down_worker_gets_sigterm_and_exits_within_the_grace() {
    let (sup, _table, mut logs) = supervisor(SupervisorConfig::default());
    sup.apply(app("queue", 1, &[("worker", wasm("cli_probe", &["wait-stop"], 1))])).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    sup.apply(app("queue", 1, &[("worker", wasm("cli_probe", &["wait-stop"], 0))])).await;
    assert!(sup.dynos("queue").await.is_empty());
    let lines: Vec<String> = drain(&mut logs, Duration::from_millis(1500)).await.into_iter().map(|l| l.line).collect();
    assert!(lines.contains(&"Stopping all processes with SIGTERM".to_string()), "{lines:?}");
    assert!(lines.contains(&"stop file seen, exiting".to_string()), "{lines:?}");
    assert!(lines.contains(&"Process exited with status 0".to_string()), "{lines:?}");
    assert!(!lines.iter().any(|l| l.contains("crashed")), "a stop is not a crash: {lines:?}");
}

/// The supervisor's lines about `app`'s dynos, as `web.1: State changed from starting to up`.
async fn timeline(logs: &mut mpsc::Receiver<LogLine>, app: &str) -> Vec<String> {
    let lines = drain(logs, Duration::from_millis(100)).await;
    lines.into_iter().filter(|l| l.app == app).map(|l| format!("{}: {}", l.dyno, l.line)).collect()
}

/// Asserts `first` and `then` are both in `lines`, in that order.
fn in_order(lines: &[String], first: &str, then: &str) {
    let at = |line: &str| lines.iter().position(|l| l == line).unwrap_or_else(|| panic!("no {line:?} in {lines:#?}"));
    assert!(at(first) < at(then), "{first:?} before {then:?}: {lines:#?}");
}

#[tokio::test]
async fn a_new_release_stops_old_dynos_first_unless_preboot_starts_new_web_dynos_first() {
    let (sup, _table, mut logs) = supervisor(SupervisorConfig::default());
    let formation = |release, preboot| {
        let mut spec = app("shop", release, &[("web", wasm("http_probe", &[], 1)), ("worker", wasm("cli_probe", &["wait-stop"], 1))]);
        spec.preboot = preboot;
        spec
    };
    sup.apply(formation(1, false)).await;
    timeline(&mut logs, "shop").await;
    let web_start = "web.1: Starting process with command `http_probe.wasm`";
    let worker_start = "worker.1: Starting process with command `cli_probe.wasm wait-stop`";
    let (web_stop, worker_stop) = ("web.1: Stopping all processes with SIGTERM", "worker.1: Stopping all processes with SIGTERM");
    let web_up = "web.1: State changed from starting to up";

    // Without preboot (Heroku's default) every old dyno gets SIGTERM as the new ones start.
    sup.apply(formation(2, false)).await;
    let lines = timeline(&mut logs, "shop").await;
    in_order(&lines, web_stop, web_start);
    in_order(&lines, worker_stop, worker_start);

    // With preboot the new web dyno is up (and routed) before the old one is stopped; workers
    // are replaced as without it.
    sup.apply(formation(3, true)).await;
    let lines = timeline(&mut logs, "shop").await;
    in_order(&lines, web_up, web_stop);
    in_order(&lines, worker_stop, worker_start);

    // ps:restart follows the same switch.
    sup.restart("shop", Some("web")).await;
    let lines = timeline(&mut logs, "shop").await;
    in_order(&lines, web_up, web_stop);
    sup.apply(formation(3, false)).await;
    sup.restart("shop", Some("web")).await;
    let lines = timeline(&mut logs, "shop").await;
    in_order(&lines, web_stop, web_start);
    sup.remove("shop").await;
}

/// The scratch directories (the dynos' `/tmp`) of `app`'s `web.1` now.
fn scratch_dirs(app: &str) -> Vec<std::path::PathBuf> {
    let prefix = format!("{app}-web_1-");
    let mut dirs: Vec<_> = std::fs::read_dir(&crate::util::runtime().config().scratch_dir)
        .map(|entries| entries.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    dirs.retain(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&prefix)));
    dirs
}

#[tokio::test]
async fn a_sleeping_web_dyno_wakes_on_a_scratch_directory_made_while_it_slept() {
    // Waking used to make the dyno's /tmp (a tmpfs mounted then detached: an RCU grace period,
    // 1-2 ms) on the request path; it is made as the dyno falls asleep now.
    let config = SupervisorConfig { idle_after: Duration::from_millis(100), ..SupervisorConfig::default() };
    let (sup, table, _logs) = supervisor(config);
    let mut spec = app("dozer", 1, &[("web", wasm("http_probe", &[], 1))]);
    spec.sleeps = true;
    sup.apply(spec).await;
    assert_eq!(get(&table, "dozer", 0, "/").await.0, 200);
    let awake = scratch_dirs("dozer");
    assert_eq!(awake.len(), 1, "{awake:?}");

    tokio::time::sleep(Duration::from_millis(200)).await;
    sup.sleep_idle().await;
    assert_eq!(sup.dynos("dozer").await[0].state, DynoState::Idle);
    // The old /tmp goes, the next one is made: asleep, one fresh directory.
    let deadline = Instant::now() + Duration::from_secs(5);
    let asleep = loop {
        let dirs = scratch_dirs("dozer");
        if dirs.len() == 1 && dirs != awake {
            break dirs;
        }
        assert!(Instant::now() < deadline, "no scratch directory made for the wake-up: {dirs:?} (awake: {awake:?})");
        tokio::time::sleep(Duration::from_millis(10)).await;
    };

    assert_eq!(get(&table, "dozer", 0, "/env?name=DYNO").await, (200, "web.1".to_string()));
    assert_eq!(sup.dynos("dozer").await[0].state, DynoState::Up);
    assert_eq!(scratch_dirs("dozer"), asleep, "the woken dyno uses the directory made while it slept");
    sup.remove("dozer").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    while !scratch_dirs("dozer").is_empty() {
        assert!(Instant::now() < deadline, "removing the app left its /tmp: {:?}", scratch_dirs("dozer"));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn idle_web_dynos_of_a_sleeping_app_sleep_and_the_next_request_wakes_them() {
    let config = SupervisorConfig { idle_after: Duration::from_millis(300), ..SupervisorConfig::default() };
    let (sup, table, mut logs) = supervisor(config);
    let mut spec = app("nap", 1, &[("web", wasm("http_probe", &[], 1))]);
    spec.sleeps = true;
    sup.apply(spec.clone()).await;
    let mut awake = app("awake", 1, &[("web", wasm("http_probe", &[], 1))]);
    awake.sleeps = false;
    sup.apply(awake).await;

    // Requests keep it awake.
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(get(&table, "nap", 0, "/").await.0, 200);
        sup.sleep_idle().await;
    }
    assert_eq!(sup.dynos("nap").await[0].state, DynoState::Up);

    tokio::time::sleep(Duration::from_millis(400)).await;
    sup.sleep_idle().await;
    assert_eq!(sup.dynos("nap").await[0].state, DynoState::Idle);
    assert_eq!(sup.dynos("awake").await[0].state, DynoState::Up, "apps that do not sleep stay up");
    assert_eq!(routed(&table, "nap"), ["web.1"], "a sleeping dyno stays routed");

    let woke = Instant::now();
    assert_eq!(get(&table, "nap", 0, "/env?name=DYNO").await, (200, "web.1".to_string()));
    let wake = woke.elapsed();
    eprintln!("wake-up to full response: {wake:?}");
    assert!(wake < Duration::from_secs(1), "{wake:?}");
    assert_eq!(sup.dynos("nap").await[0].state, DynoState::Up);
    let lines: Vec<String> = drain(&mut logs, Duration::from_millis(100)).await.into_iter().filter(|l| l.app == "nap").map(|l| l.line).collect();
    assert!(lines.contains(&"State changed from up to idle".to_string()), "{lines:?}");
    assert!(lines.contains(&"State changed from idle to up".to_string()), "{lines:?}");

    // A new release of a sleeping app retires its slot for good.
    let mut spec = app("nap", 2, &[("web", wasm("http_probe", &[], 1))]);
    spec.sleeps = true;
    sup.apply(spec).await;
    assert_eq!(get(&table, "nap", 0, "/env?name=GREETING").await, (200, "v2".to_string()));
}

/// A request through the real router, in-process: status, body, and the router line's code.
async fn through_router(router: &paas_router::Router, log: &paas_router::MemoryLog, host: &str, path: &str) -> (u16, String, Option<String>) {
    let client = paas_router::ClientInfo { remote: "127.0.0.1:50000".parse().unwrap(), local: "127.0.0.1:80".parse().unwrap() };
    let req = http::Request::get(path).header("host", host).body(Full::new(Bytes::new())).unwrap();
    let resp = router.handle(req, client).await;
    let status = resp.status().as_u16();
    let body = String::from_utf8_lossy(&resp.into_body().collect().await.unwrap().to_bytes()).into_owned();
    let code = log.lines().last().and_then(|(_, line)| line.code.map(|c| c.to_string()));
    (status, body, code)
}

#[tokio::test]
async fn through_the_router_a_slow_guest_gives_h12_the_next_request_works_and_a_crashed_web_gives_h10() {
    let (sup, table, _logs) = supervisor(SupervisorConfig::default());
    let log = Arc::new(paas_router::MemoryLog::new());
    let config = paas_router::RouterConfig { request_timeout: Duration::from_millis(300), ..Default::default() };
    let router = paas_router::Router::new(table.clone(), config).with_log(log.clone());
    sup.apply(app("slow", 1, &[("web", wasm("http_probe", &[], 1))])).await;

    let (status, _, code) = through_router(&router, &log, "slow.localhost", "/sleep?ms=2000").await;
    assert_eq!((status, code.as_deref()), (503, Some("H12")));
    let (status, body, code) = through_router(&router, &log, "slow.localhost", "/").await;
    assert_eq!((status, body.as_str(), code), (200, "ok", None));

    // A web process that cannot start: H10.
    sup.apply(app("slow", 2, &[("web", wasm("cli_probe", &[], 1))])).await;
    let (status, _, code) = through_router(&router, &log, "slow.localhost", "/").await;
    assert_eq!((status, code.as_deref()), (503, Some("H10")));
    sup.remove("slow").await;
}
