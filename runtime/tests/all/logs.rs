//! Guest stdout/stderr become structured log lines.

use std::time::Duration;

use paas_runtime::{LogStreamKind, MAX_LINE_BYTES};

use crate::util::{assert_still_serving, drain, get, probe, spec};

#[tokio::test]
async fn printing_1_mb_becomes_split_log_lines_and_the_dyno_keeps_serving() {
    let (mut spec, mut logs) = spec("logs-app", "web.4");
    spec.reuse = false; // the instance ends with the request: its partial stderr line is flushed
    let dyno = probe(spec);
    assert_eq!(get(&dyno, "/print?bytes=1048576").await, (200, "printed".to_string()));
    assert_still_serving(&dyno).await;
    let lines = drain(&mut logs, Duration::from_millis(500)).await;
    let stdout: Vec<usize> =
        lines.iter().filter(|l| l.stream == LogStreamKind::Stdout).map(|l| l.line.len()).collect();
    let mut expected = vec![MAX_LINE_BYTES; 102];
    expected.push(1_048_576 - 102 * MAX_LINE_BYTES);
    assert_eq!(stdout, expected);
    let stderr: Vec<&str> =
        lines.iter().filter(|l| l.stream == LogStreamKind::Stderr).map(|l| l.line.as_str()).collect();
    assert_eq!(stderr, ["printed 1048576 bytes", "partial"]);
    assert!(lines.iter().all(|l| l.app == "logs-app" && l.dyno == "web.4"));
}

#[tokio::test]
async fn a_panic_message_and_the_runtime_verdict_are_logged() {
    let (spec, mut logs) = spec("logs-app", "web.1");
    let dyno = probe(spec);
    assert_eq!(crate::util::try_get(&dyno, "/panic").await.unwrap_err().status(), 500);
    let lines = drain(&mut logs, Duration::from_millis(300)).await;
    let stderr: Vec<&str> =
        lines.iter().filter(|l| l.stream == LogStreamKind::Stderr).map(|l| l.line.as_str()).collect();
    assert!(stderr.iter().any(|l| l.contains("probe panicked on purpose")), "{stderr:?}");
    let runtime: Vec<&str> =
        lines.iter().filter(|l| l.stream == LogStreamKind::Runtime).map(|l| l.line.as_str()).collect();
    assert_eq!(runtime.len(), 1, "{runtime:?}");
    assert!(runtime[0].starts_with("Error R10 (Application error) -> application error: "), "{runtime:?}");
}
