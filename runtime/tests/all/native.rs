//! Native dynos under real runc, as root: serving on `$PORT`, the sandbox (users, capabilities,
//! seccomp, filesystems), limits (pids, memory → R15), R10, stopping, stale containers, one-offs
//! and the supervisor. Skipped when runc or root is missing, except under CI=true where that fails.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use paas_runtime::{
    BootError, DynoSpec, ExitStatus, LogLine, LogStreamKind, NativeConfig, NativeDyno, NativeRuntime, Stdin, free_port,
    run_native_oneoff,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::util::{drain, spec};

/// A native runtime with its own data directory, or `None` (test skipped) when runc cannot run
/// here; under CI=true a missing runc or a non-root user fails the test.
pub fn native() -> Option<(NativeRuntime, tempfile::TempDir)> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")));
    let data = tempfile::tempdir().expect("data dir");
    match NativeRuntime::new(NativeConfig::new(data.path())) {
        Ok(native) if root => Some((native, data)),
        Ok(_) if ci => panic!("native dyno tests need root (CI=true)"),
        Err(e) if ci => panic!("native dyno tests need runc (CI=true; .ci/setup installs it): {e}"),
        _ => {
            eprintln!("skipped: native dynos need runc and root");
            None
        }
    }
}

/// An app directory with `server.py`: answers `GET /` with `hello from $DYNO`.
pub fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("app dir");
    std::fs::write(
        dir.path().join("server.py"),
        r#"import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + os.environ["DYNO"]).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("listening on", os.environ["PORT"], flush=True)
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()
"#,
    )
    .expect("write server.py");
    // The slug is readable by the dyno's user, as an unpacked slug is.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    dir
}

/// A web dyno spec on a free port with logs to a channel.
pub fn web_spec(app: &str, dyno: &str, app_dir: &Path) -> (DynoSpec, mpsc::Receiver<LogLine>) {
    let (mut spec, rx) = spec(app, dyno);
    spec.app_dir = Some(app_dir.to_path_buf());
    spec.port = free_port().expect("free port");
    (spec, rx)
}

/// GET `path` over HTTP/1.0: status and body.
pub async fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nhost: test\r\n\r\n").as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Ok((status, body))
}

/// The lines of one stream.
fn lines(logs: &[LogLine], stream: LogStreamKind) -> Vec<String> {
    logs.iter().filter(|l| l.stream == stream).map(|l| l.line.clone()).collect()
}

/// Runs a one-off `command` (app dir `app`), returning its status and all its log lines.
async fn oneoff(native: &NativeRuntime, app: Option<&Path>, command: &str) -> (ExitStatus, Vec<LogLine>) {
    let (mut spec, mut rx) = spec("sandbox", "run.1");
    spec.app_dir = app.map(Path::to_path_buf);
    let status = run_native_oneoff(native, spec, command, Stdin::Empty).await.expect("start one-off");
    (status, drain(&mut rx, Duration::from_millis(200)).await)
}

#[tokio::test]
async fn native_web_dyno_serves_on_its_port_and_logs_its_output() {
    let Some((native, _data)) = native() else { return };
    let app = app_dir();
    let (spec, mut rx) = web_spec("shop", "web.1", app.path());
    let dyno = NativeDyno::start(&native, spec, "python3 server.py", Stdin::Empty).expect("start");
    dyno.wait_for_port(Duration::from_secs(20)).await.expect("boots");
    assert_eq!(http_get(dyno.addr(), "/").await.expect("GET"), (200, "hello from web.1".to_string()));
    let status = dyno.stop(Duration::from_secs(5)).await;
    assert_eq!(status, ExitStatus::Exited(143), "python dies of SIGTERM");
    let logs = drain(&mut rx, Duration::from_millis(300)).await;
    assert!(lines(&logs, LogStreamKind::Stdout).iter().any(|l| l.starts_with("listening on ")), "{logs:?}");
    assert!(lines(&logs, LogStreamKind::Runtime).contains(&"Process exited with status 143".to_string()), "{logs:?}");
}

#[tokio::test]
async fn native_oneoff_reads_stdin_and_returns_its_exit_code() {
    let Some((native, _data)) = native() else { return };
    let (spec, mut rx) = spec("tools", "run.7");
    let stdin = Stdin::Bytes("hello native\n".into());
    let status = run_native_oneoff(&native, spec, "tr a-z A-Z; echo oops >&2; exit 3", stdin).await.expect("start");
    assert_eq!(status, ExitStatus::Exited(3));
    let logs = drain(&mut rx, Duration::from_millis(200)).await;
    assert_eq!(lines(&logs, LogStreamKind::Stdout), ["HELLO NATIVE"]);
    assert_eq!(lines(&logs, LogStreamKind::Stderr), ["oops"]);
}

#[tokio::test]
async fn attached_native_oneoff_streams_stdin_to_stdout() {
    let Some((native, _data)) = native() else { return };
    let (spec, _rx) = spec("tools", "run.8");
    let (dyno, mut stdio) = NativeDyno::attach(&native, spec, "read line; echo \"got $line\"; exit 5").expect("attach");
    stdio.stdin.write_all(b"ping\n").await.expect("write stdin");
    drop(stdio.stdin);
    let mut out = String::new();
    stdio.stdout.read_to_string(&mut out).await.expect("read stdout");
    assert_eq!(out, "got ping\n");
    assert_eq!(dyno.wait().await, ExitStatus::Exited(5));
}

mod supervised {
    //! Native process types run by the supervisor.

    use std::collections::BTreeMap;
    use std::sync::Arc;
    use std::time::Duration;

    use http_body_util::BodyExt;
    use paas_router::RouteTable;
    use paas_runtime::{AppSpec, DynoSize, DynoState, LogSink, ProcessSpec, Program, Supervisor, SupervisorConfig};

    use super::*;
    use crate::util::runtime;

    pub fn supervisor(native: &NativeRuntime, config: SupervisorConfig) -> (Supervisor, Arc<RouteTable>, mpsc::Receiver<LogLine>) {
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
                let process = ProcessSpec { program, command: command.to_string(), quantity: *quantity, size: DynoSize::Basic };
                (kind.to_string(), process)
            })
            .collect();
        AppSpec {
            app: name.to_string(),
            release: 1,
            app_dir: dir.to_path_buf(),
            env: BTreeMap::new(),
            processes,
            maintenance: false,
            domains: Vec::new(),
            sleeps: false,
            preboot: false,
        }
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

    /// The containers under the runtime's state root (`runc list`).
    pub fn containers(native: &NativeRuntime) -> Vec<String> {
        let out = std::process::Command::new("runc")
            .arg("--root")
            .arg(native.state_root())
            .args(["list", "--quiet"])
            .output()
            .expect("runc list");
        String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
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
        let lines: Vec<String> = drain(&mut logs, Duration::from_millis(200)).await.into_iter().map(|l| l.line).collect();
        assert!(lines.contains(&"State changed from starting to up".to_string()), "{lines:?}");
    }
}
