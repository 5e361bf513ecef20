//! Native process types run by the supervisor, in runc containers (skipped without runc or root,
//! except under CI=true).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt;
use paas_node::supervisor::{AppSpec, DynoState, ProcessSpec, Program, Supervisor, SupervisorConfig};
use paas_router::RouteTable;
use paas_runtime::{DynoSize, LogLine, LogSink, NativeRuntime};
use tokio::sync::mpsc;

use crate::runc::{app_dir, containers, native};
use crate::util::{drain, runtime};

pub fn supervisor(
    native: &NativeRuntime,
    config: SupervisorConfig,
) -> (Supervisor, Arc<RouteTable>, mpsc::Receiver<LogLine>) {
    let table = Arc::new(RouteTable::new("localhost"));
    let (logs, rx) = LogSink::channel(100_000);
    let config = SupervisorConfig { native: Some(native.clone()), ..config };
    (Supervisor::new(runtime(), table.clone(), logs, config), table, rx)
}

pub fn native_app(name: &str, dir: &Path, processes: &[(&str, &str, u32)]) -> AppSpec {
    let processes = processes
        .iter()
        .map(|(kind, command, quantity)| {
            let program = Program::Native { command: command.to_string() };
            let process =
                ProcessSpec { program, command: command.to_string(), quantity: *quantity, size: DynoSize::Basic };
            (kind.to_string(), process)
        })
        .collect();
    AppSpec { app: name.to_string(), release: 1, app_dir: dir.to_path_buf(), processes, ..AppSpec::default() }
}

/// GET `/` through the route table's backend of `dyno`.
pub async fn route_get(table: &RouteTable, app: &str, dyno: &str) -> (u16, String) {
    let route = table.app(app).expect("app routed");
    let web = route.web.iter().find(|w| w.name == dyno).unwrap_or_else(|| panic!("{dyno} routed: {:?}", route.web));
    let req = http::Request::get("http://app.localhost/").body(paas_router::empty_body()).unwrap();
    let resp = web.backend.call(req).await.unwrap_or_else(|e| panic!("{dyno}: {e}"));
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn native_web_dynos_are_routed_and_scale_to_two_containers() {
    let Some((native, _data)) = native() else { return };
    let dir = app_dir();
    let (sup, table, mut logs) = supervisor(&native, SupervisorConfig::default());
    sup.apply(native_app("shop", dir.path(), &[("web", "python3 server.py", 1)])).await;
    assert_eq!(sup.dynos("shop").await[0].state, DynoState::Up);
    assert_eq!(route_get(&table, "shop", "web.1").await, (200, "hello from web.1".to_string()));

    sup.apply(native_app("shop", dir.path(), &[("web", "python3 server.py", 2)])).await;
    let states: Vec<DynoState> = sup.dynos("shop").await.iter().map(|d| d.state).collect();
    assert_eq!(states, [DynoState::Up, DynoState::Up]);
    assert_eq!(route_get(&table, "shop", "web.2").await, (200, "hello from web.2".to_string()));
    assert_eq!(containers(&native).len(), 2, "two dynos are two containers");

    sup.shutdown().await;
    assert!(containers(&native).is_empty(), "stopped dynos leave no container");
    let lines: Vec<String> =
        drain(&mut logs, Duration::from_millis(200)).await.into_iter().map(|l| l.line).collect();
    assert!(lines.contains(&"State changed from starting to up".to_string()), "{lines:?}");
}

#[tokio::test]
async fn a_web_dyno_that_does_not_bind_its_port_crashes_with_r10() {
    let Some((native, _data)) = native() else { return };
    let dir = app_dir();
    let config = SupervisorConfig { boot_timeout: Duration::from_secs(2), ..SupervisorConfig::default() };
    let (sup, table, mut logs) = supervisor(&native, config);
    sup.apply(native_app("sleepy", dir.path(), &[("web", "sleep 600", 1)])).await;
    assert_eq!(sup.dynos("sleepy").await[0].state, DynoState::Crashed);
    assert!(table.app("sleepy").is_some_and(|r| r.crashed && r.web.is_empty()));
    let lines: Vec<String> =
        drain(&mut logs, Duration::from_millis(300)).await.into_iter().map(|l| l.line).collect();
    let r10 = "Error R10 (Boot timeout) -> Web process failed to bind to $PORT within 2 seconds of launch";
    assert!(lines.contains(&r10.to_string()), "{lines:?}");
    sup.remove("sleepy").await;
}

#[tokio::test]
async fn a_component_that_cannot_load_falls_back_to_its_native_command() {
    let Some((native, _data)) = native() else { return };
    let dir = app_dir();
    let (sup, table, mut logs) = supervisor(&native, SupervisorConfig::default());
    let mut spec = native_app("both", dir.path(), &[]);
    let program = Program::Wasm {
        component: dir.path().join("missing.wasm"),
        reuse: true,
        args: Vec::new(),
        native_fallback: Some("python3 server.py".into()),
    };
    let process = ProcessSpec { program, command: "python3 server.py".into(), quantity: 1, size: DynoSize::Basic };
    spec.processes.insert("web".into(), process);
    sup.apply(spec).await;
    assert_eq!(route_get(&table, "both", "web.1").await, (200, "hello from web.1".to_string()));
    let lines: Vec<String> =
        drain(&mut logs, Duration::from_millis(200)).await.into_iter().map(|l| l.line).collect();
    assert!(
        lines.iter().any(|l| l.starts_with("The component cannot run (cannot load")
            && l.ends_with("running the native command `python3 server.py` instead")),
        "{lines:?}"
    );
    sup.shutdown().await;
}

#[tokio::test]
async fn a_crashing_native_worker_is_restarted() {
    let Some((native, _data)) = native() else { return };
    let dir = app_dir();
    let (sup, _table, mut logs) = supervisor(&native, SupervisorConfig::default());
    sup.apply(native_app("flaky", dir.path(), &[("worker", "echo working; exit 4", 1)])).await;
    // The first restarts come at once, then with a backoff.
    let mut lines = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lines.iter().filter(|l| *l == "working").count() < 2 {
        assert!(std::time::Instant::now() < deadline, "not restarted: {lines:?}");
        lines.extend(drain(&mut logs, Duration::from_millis(200)).await.into_iter().map(|l| l.line));
    }
    assert!(lines.contains(&"Process exited with status 4".to_string()), "{lines:?}");
    assert!(lines.contains(&"State changed from up to crashed".to_string()), "{lines:?}");
    sup.remove("flaky").await;
}
