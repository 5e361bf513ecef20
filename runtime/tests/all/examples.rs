//! The sample apps of `examples/` run on the runtime.

use std::time::Duration;

use paas_runtime::{ExitStatus, LogStreamKind, Stdin, WebDyno, run_oneoff};

use crate::util::{drain, example, get, runtime, spec};

#[tokio::test]
async fn hello_rust_greets_echoes_config_and_uses_tmp() {
    let rt = runtime();
    let component = rt.load_component(example("hello-rust")).unwrap();
    let (mut spec, _logs) = spec("hello", "web.1");
    spec.env.insert("GREETING_NAME".into(), "paas".into());
    let dyno = WebDyno::start(&rt, &component, spec).unwrap();
    assert_eq!(get(&dyno, "/").await, (200, "Hello, paas!\n".to_string()));
    assert_eq!(get(&dyno, "/config/GREETING_NAME").await, (200, "paas\n".to_string()));
    assert_eq!(get(&dyno, "/config/NOPE").await, (404, "no such config var\n".to_string()));
    assert_eq!(get(&dyno, "/tmp").await, (200, "written by web.1\n".to_string()));
    assert_eq!(std::fs::read_to_string(dyno.scratch_dir().join("hello.txt")).unwrap(), "written by web.1");
}

#[tokio::test]
async fn worker_rust_ticks_then_exits() {
    let rt = runtime();
    let component = rt.load_component(example("worker-rust")).unwrap();
    let (mut spec, mut logs) = spec("hello", "worker.1");
    spec.env.insert("INTERVAL_MS".into(), "10".into());
    let status = run_oneoff(&rt, &component, spec, vec!["3".into()], Stdin::Empty).await.unwrap();
    assert_eq!(status, ExitStatus::Exited(0));
    let lines: Vec<String> = drain(&mut logs, Duration::from_millis(200))
        .await
        .into_iter()
        .filter(|l| l.stream == LogStreamKind::Stdout)
        .map(|l| l.line)
        .collect();
    assert_eq!(lines, ["worker.1: tick 1", "worker.1: tick 2", "worker.1: tick 3", "worker.1: done after 3 iterations"]);
}

#[tokio::test]
async fn worker_rust_stops_on_the_stop_file() {
    let rt = runtime();
    let component = rt.load_component(example("worker-rust")).unwrap();
    let (mut spec, mut logs) = spec("hello", "worker.2");
    spec.env.insert("INTERVAL_MS".into(), "20".into());
    let dyno = paas_runtime::CommandDyno::start(&rt, &component, spec, vec![], Stdin::Empty).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(dyno.stop(Duration::from_secs(10)).await, ExitStatus::Exited(0));
    let last = drain(&mut logs, Duration::from_millis(200))
        .await
        .into_iter()
        .filter(|l| l.stream == LogStreamKind::Stdout)
        .map(|l| l.line)
        .next_back()
        .unwrap();
    assert!(last.starts_with("worker.2: stop requested after "), "{last}");
}
