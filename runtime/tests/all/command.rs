//! Worker and one-off dynos: exit codes, arguments, stdin, limits, stop.

use std::time::Duration;

use bytes::Bytes;
use paas_runtime::{CommandDyno, ComponentKind, DynoSize, ExitStatus, Limits, LogStreamKind, Stdin, run_oneoff};

use crate::util::{drain, guest, runtime, spec};

fn cli() -> paas_runtime::Component {
    let component = runtime().load_component(guest("cli_probe")).unwrap();
    assert_eq!(component.kind(), ComponentKind::Command);
    component
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

async fn stdout_of(logs: &mut tokio::sync::mpsc::Receiver<paas_runtime::LogLine>) -> Vec<String> {
    drain(logs, Duration::from_millis(200))
        .await
        .into_iter()
        .filter(|l| l.stream == LogStreamKind::Stdout)
        .map(|l| l.line)
        .collect()
}

#[tokio::test]
async fn exit_codes_are_given_back() {
    let rt = runtime();
    for code in [0, 3, 42] {
        let (spec, _logs) = spec("cli", "run.1");
        let status = run_oneoff(&rt, &cli(), spec, args(&["exit", &code.to_string()]), Stdin::Empty).await.unwrap();
        assert_eq!(status, ExitStatus::Exited(code));
        assert_eq!(status.code(), code);
    }
}

#[tokio::test]
async fn rust_std_exit_codes_collapse_to_1() {
    // A guest toolchain limitation, pinned down here: wasm32-wasip2's `std::process::exit(n)`
    // uses `wasi:cli/exit#exit(err)` for every n != 0.
    let (spec, _logs) = spec("cli", "run.1");
    let status = run_oneoff(&runtime(), &cli(), spec, args(&["std-exit", "3"]), Stdin::Empty).await.unwrap();
    assert_eq!(status, ExitStatus::Exited(1));
}

#[tokio::test]
async fn arguments_and_environment_are_passed() {
    let (mut spec, mut logs) = spec("cli", "run.7");
    spec.env.insert("DATABASE_URL".into(), "postgres://db/app".into());
    let rt = runtime();
    let status = run_oneoff(&rt, &cli(), spec.clone(), args(&["args", "a b", "c"]), Stdin::Empty).await.unwrap();
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(stdout_of(&mut logs).await, ["run.7 args a b c"]);
    run_oneoff(&rt, &cli(), spec, args(&["env", "DATABASE_URL"]), Stdin::Empty).await.unwrap();
    assert_eq!(stdout_of(&mut logs).await, ["postgres://db/app"]);
}

#[tokio::test]
async fn stdin_is_passed() {
    let (spec, mut logs) = spec("cli", "run.2");
    let stdin = Stdin::Bytes(Bytes::from_static(b"hello\nstdin\n"));
    let status = run_oneoff(&runtime(), &cli(), spec, args(&["cat"]), stdin).await.unwrap();
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(stdout_of(&mut logs).await, ["HELLO", "STDIN"]);
}

#[tokio::test]
async fn a_partial_last_line_is_logged_at_exit() {
    let (spec, mut logs) = spec("cli", "run.3");
    run_oneoff(&runtime(), &cli(), spec, args(&["partial"]), Stdin::Empty).await.unwrap();
    assert_eq!(stdout_of(&mut logs).await, ["first line", "no newline at the end"]);
}

#[tokio::test]
async fn a_panic_is_a_crash_with_status_134() {
    let (spec, mut logs) = spec("cli", "run.4");
    let status = run_oneoff(&runtime(), &cli(), spec, args(&["panic"]), Stdin::Empty).await.unwrap();
    assert!(matches!(&status, ExitStatus::Trapped(d) if d.contains("unreachable")), "{status:?}");
    assert_eq!(status.code(), 134);
    let lines = drain(&mut logs, Duration::from_millis(200)).await;
    assert!(lines.iter().any(|l| l.stream == LogStreamKind::Stderr && l.line.contains("cli probe panicked on purpose")));
    assert!(lines.iter().any(|l| l.stream == LogStreamKind::Runtime && l.line.starts_with("Process crashed (exit status 134)")));
}

#[tokio::test]
async fn an_endless_one_off_hits_its_run_timeout() {
    let (mut spec, _logs) = spec("cli", "run.5");
    spec.limits = Some(Limits { run_timeout: Some(Duration::from_millis(500)), ..DynoSize::Basic.limits() });
    let status = run_oneoff(&runtime(), &cli(), spec, args(&["loop"]), Stdin::Empty).await.unwrap();
    assert_eq!(status, ExitStatus::TimedOut);
    assert_eq!(status.code(), 124);
}

#[tokio::test]
async fn stop_asks_politely_through_the_stop_file() {
    let (spec, mut logs) = spec("cli", "worker.1");
    let dyno = CommandDyno::start(&runtime(), &cli(), spec, args(&["wait-stop"]), Stdin::Empty).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!dyno.is_finished());
    let scratch = dyno.scratch_dir().to_path_buf();
    let status = dyno.stop(Duration::from_secs(10)).await;
    assert_eq!(status, ExitStatus::Exited(0));
    assert_eq!(stdout_of(&mut logs).await, ["waiting for /tmp/.paas-stop", "stop file seen, exiting"]);
    assert!(!scratch.exists());
}

#[tokio::test]
async fn stop_kills_a_guest_that_does_not_listen() {
    let (spec, _logs) = spec("cli", "worker.2");
    let dyno = CommandDyno::start(&runtime(), &cli(), spec, args(&["loop"]), Stdin::Empty).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let status = dyno.stop(Duration::from_millis(300)).await;
    assert_eq!(status, ExitStatus::Stopped);
    assert_eq!(status.code(), 137);
}

#[tokio::test]
async fn one_offs_do_not_share_tmp() {
    let rt = runtime();
    let (spec1, _l1) = spec("cli", "run.8");
    run_oneoff(&rt, &cli(), spec1, args(&["write-tmp", "secret", "x"]), Stdin::Empty).await.unwrap();
    let (spec2, mut logs) = spec("cli", "run.9");
    run_oneoff(&rt, &cli(), spec2, args(&["list-tmp"]), Stdin::Empty).await.unwrap();
    assert_eq!(stdout_of(&mut logs).await, ["[]"]);
}
