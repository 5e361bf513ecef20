//! Shared test helpers: build guest components from source once, one shared runtime, request
//! helpers.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use paas_runtime::{DynoSpec, HandleError, LogLine, LogSink, Runtime, RuntimeConfig, WebDyno};
use tokio::sync::mpsc;

/// Nested cargo builds use their own target directory: sharing the outer one would deadlock
/// on its lock.
fn wasm_target_dir() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("wasm-guests")
}

fn build(project: &Path) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--target", "wasm32-wasip2", "--target-dir"])
        .arg(wasm_target_dir())
        .current_dir(project)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .status()
        .expect("run cargo to build guest components");
    assert!(status.success(), "building {} for wasm32-wasip2 failed", project.display());
}

fn built(name: &str) -> PathBuf {
    guests_dir().join(format!("{name}.wasm"))
}

/// The folder the built guest components are in: the app folder of a test app whose process
/// types run them (the supervisor reads a component only inside its app's folder).
pub fn guests_dir() -> PathBuf {
    wasm_target_dir().join("wasm32-wasip2/release")
}

/// A guest program of `tests/guests/src/bin`, built (once per test run) as a component.
pub fn guest(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    // From paas-node's tests too, which share this file: the path goes through `../runtime`.
    BUILT.get_or_init(|| build(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../runtime/tests/guests")));
    built(name)
}

/// An app of `examples/`, built (once per test run) as a component.
pub fn example(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples");
        build(&examples.join("hello-rust"));
        build(&examples.join("worker-rust"));
        build(&examples.join("redis-counter-wasm"));
    });
    built(name)
}

/// The runtime shared by the tests (one engine per process, as in production).
pub fn runtime() -> Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("paas-runtime-tests");
            let mut config = RuntimeConfig::new(&dir);
            config.max_instances = 200;
            Runtime::new(config).expect("create the runtime")
        })
        .clone()
}

/// A spec whose logs go to a fresh channel.
pub fn spec(app: &str, dyno: &str) -> (DynoSpec, mpsc::Receiver<LogLine>) {
    let (sink, rx) = LogSink::channel(100_000);
    let mut spec = DynoSpec::new(app, dyno);
    spec.logs = sink;
    (spec, rx)
}

/// A web dyno of the http probe guest.
pub fn probe(spec: DynoSpec) -> WebDyno {
    let rt = runtime();
    let component = rt.load_component(guest("http_probe")).expect("load http_probe");
    WebDyno::start(&rt, &component, spec).expect("start web dyno")
}

/// GET `path` from a web dyno: status and body, or the error the dyno gave.
pub async fn try_get(dyno: &WebDyno, path: &str) -> Result<(u16, String), HandleError> {
    let req = hyper::Request::get(format!("http://app.example{path}"))
        .header("host", "app.example")
        .body(Empty::<Bytes>::new())
        .unwrap();
    let resp = dyno.handle(req).await?;
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.expect("read body").to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

/// GET `path`, which must get a response.
pub async fn get(dyno: &WebDyno, path: &str) -> (u16, String) {
    try_get(dyno, path).await.unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Asserts the dyno still answers normally.
pub async fn assert_still_serving(dyno: &WebDyno) {
    assert_eq!(get(dyno, "/").await, (200, "ok".to_string()));
}

/// Collects log lines until none arrives for `quiet`.
pub async fn drain(rx: &mut mpsc::Receiver<LogLine>, quiet: Duration) -> Vec<LogLine> {
    let mut lines = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(quiet, rx.recv()).await {
        lines.push(line);
    }
    lines
}
