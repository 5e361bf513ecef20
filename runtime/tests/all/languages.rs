//! Python and JavaScript apps as wasm web dynos: examples/hello-python (a WSGI app behind the
//! python buildpack's adapter), examples/hello-python-wasi (a direct wasi:http handler) and
//! examples/hello-js (componentize-js, wasi:http@0.2.10 on wasmtime-wasi-http 48), each built
//! by its buildpack's `bin/compile` (once per test run; the tools and dependencies stay in a
//! cache under the target dir, downloads in ~/.cache/paas-buildpacks), loaded and served
//! in-process: status, body, headers, POST bodies, config vars, errors.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use paas_runtime::{LogStreamKind, WebDyno};

use crate::util::{drain, runtime, spec};

/// Runs `buildpacks/<buildpack>/bin/compile` on a copy of `examples/<example>` and returns the
/// component it declared. Missing tools (no network, no python3-venv, no npm) fail the test.
fn buildpack_component(buildpack: &str, example: &str, component: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<HashMap<String, PathBuf>>> = OnceLock::new();
    let mut built = BUILT.get_or_init(Default::default).lock().unwrap();
    if let Some(path) = built.get(example) {
        return path.clone();
    }
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let work = Path::new(env!("CARGO_TARGET_TMPDIR")).join("buildpacks").join(example);
    let (app, cache, env) = (work.join("app"), work.join("cache"), work.join("env"));
    let _ = std::fs::remove_dir_all(&app);
    for dir in [&app, &cache, &env] {
        std::fs::create_dir_all(dir).unwrap();
    }
    let status = Command::new("cp").arg("-a").arg(repo.join("examples").join(example).join(".")).arg(&app).status().unwrap();
    assert!(status.success());
    let downloads = PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cache/paas-buildpacks");
    let output = Command::new(repo.join("buildpacks").join(buildpack).join("bin/compile"))
        .args([&app, &cache, &env])
        .env("PIP_CACHE_DIR", downloads.join("pip"))
        .env("npm_config_cache", downloads.join("npm"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "the {buildpack} buildpack failed on {example}:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let path = app.join(component);
    built.insert(example.to_string(), path.clone());
    path
}

fn start(example: &str, buildpack: &str, component: &str, reuse: bool) -> (WebDyno, tokio::sync::mpsc::Receiver<paas_runtime::LogLine>) {
    let path = buildpack_component(buildpack, example, component);
    let rt = runtime();
    let component = rt.load_component(&path).unwrap_or_else(|e| panic!("load {}: {e}", path.display()));
    let (mut spec, logs) = spec(example, "web.1");
    spec.env.insert("GREETING_NAME".into(), "paas".into());
    spec.reuse = reuse;
    spec.size = paas_runtime::DynoSize::Standard;
    (WebDyno::start(&rt, &component, spec).unwrap(), logs)
}

/// Sends a request: status, headers, body.
async fn send(dyno: &WebDyno, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, hyper::HeaderMap, String) {
    let mut req = hyper::Request::builder().method(method).uri(format!("http://app.example{path}")).header("host", "app.example");
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = dyno.handle(req.body(Full::new(Bytes::from(body.to_string()))).unwrap()).await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    let (parts, body) = resp.into_parts();
    let body = body.collect().await.expect("read body").to_bytes();
    (parts.status.as_u16(), parts.headers, String::from_utf8_lossy(&body).into_owned())
}

async fn stderr_lines(logs: &mut tokio::sync::mpsc::Receiver<paas_runtime::LogLine>) -> Vec<String> {
    drain(logs, Duration::from_millis(300)).await.into_iter().filter(|l| l.stream == LogStreamKind::Stderr).map(|l| l.line).collect()
}

#[tokio::test]
async fn python_flask_serves_through_the_wsgi_adapter() {
    let (dyno, mut logs) = start("hello-python", "python", ".paas/python/web.wasm", true);
    let (status, headers, body) = send(&dyno, "GET", "/", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "Hello, paas, from Flask!\n"));
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    assert_eq!(headers["content-length"], "25");

    let big = "x".repeat(100_000);
    let (status, headers, body) = send(&dyno, "POST", "/echo", &[("content-type", "text/plain")], &big).await;
    assert_eq!((status, body.len()), (200, big.len()), "a body larger than one stream write round-trips");
    assert_eq!(headers["content-type"], "text/plain");

    let (status, _, body) = send(&dyno, "POST", "/form", &[("content-type", "application/x-www-form-urlencoded")], "name=Ann+Lee").await;
    assert_eq!((status, body.as_str()), (200, "Thanks, Ann Lee!\n"));

    let (_, _, body) = send(&dyno, "GET", "/headers", &[("x-request-id", "abc"), ("accept", "text/plain")], "").await;
    let headers: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(headers["x-request-id"], "abc");
    assert_eq!(headers["accept"], "text/plain");
    assert_eq!(headers["host"], "app.example");

    let (status, _, _) = send(&dyno, "GET", "/nope", &[], "").await;
    assert_eq!(status, 404);
    let (status, _, _) = send(&dyno, "GET", "/boom", &[], "").await;
    assert_eq!(status, 500);
    let stderr = stderr_lines(&mut logs).await;
    assert!(stderr.iter().any(|l| l.contains("RuntimeError: boom")), "the traceback is logged: {stderr:#?}");
    assert_eq!(send(&dyno, "GET", "/", &[], "").await.0, 200, "still serving after the exception");
    // Eleven requests, one after another, on one reused instance (a request that came while the
    // last call was still returning made a second interpreter, until the dyno waited for it:
    // `web::regression_sequential_requests_reuse_the_instance_still_finishing_its_call`).
    assert_eq!(dyno.instances_created(), 1, "the interpreter is reused");
}

#[tokio::test]
async fn python_wasi_handler_serves_config_vars_and_echoes() {
    let (dyno, _logs) = start("hello-python-wasi", "python", ".paas/python/web.wasm", true);
    assert_eq!(send(&dyno, "GET", "/", &[], "").await.2, "Hello, paas, from Python on wasi:http!\n");
    assert_eq!(send(&dyno, "GET", "/config/DYNO", &[], "").await.2, "web.1\n");
    assert_eq!(send(&dyno, "GET", "/config/NOPE", &[], "").await.0, 404);
    assert_eq!(send(&dyno, "POST", "/echo", &[], "round trip").await.2, "round trip");
}

#[tokio::test]
async fn node_fetch_serves_json_routes_on_wasi_http_0_2_10() {
    let (dyno, mut logs) = start("hello-js", "nodejs", ".paas/nodejs/web.wasm", false);
    let (status, headers, body) = send(&dyno, "GET", "/", &[], "").await;
    assert_eq!((status, body.as_str()), (200, "Hello, paas, from JavaScript!\n"));
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    let (status, headers, body) = send(&dyno, "POST", "/json", &[("content-type", "application/json")], r#"{"a":[1,2]}"#).await;
    assert_eq!((status, body.as_str()), (200, r#"{"received":{"a":[1,2]},"length":11}"#));
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(send(&dyno, "POST", "/echo", &[("content-type", "text/csv")], "a,b\n1,2\n").await.2, "a,b\n1,2\n");
    let (_, _, body) = send(&dyno, "GET", "/headers", &[("x-request-id", "abc")], "").await;
    assert!(body.contains(r#""x-request-id":"abc""#), "{body}");
    let (status, _, body) = send(&dyno, "GET", "/nope", &[], "").await;
    assert_eq!((status, body.as_str()), (404, r#"{"error":"not found","path":"/nope"}"#));
    assert_eq!(send(&dyno, "GET", "/boom", &[], "").await.0, 500);
    let stderr = stderr_lines(&mut logs).await;
    assert!(stderr.iter().any(|l| l.contains("boom")), "the error is logged: {stderr:#?}");
    assert_eq!(dyno.instances_used(), 6, "a fresh instance per request (the processes.toml of the nodejs buildpack)");
}
