//! Native dynos' CPU, block-I/O and `/app` write limits, under real runc and cgroups: each
//! measured from inside the container against the limit the dyno was given.

use std::path::Path;
use std::time::Duration;

use paas_runtime::{DynoSize, ExitStatus, Limits, LogLine, LogStreamKind, NativeRuntime, Stdin, run_native_oneoff};
use paas_sandbox::IoLimits;

use crate::runc::{app_dir, native};
use crate::util::{drain, spec};

/// Runs one-off `command` with `limits`, returning its status and its stdout lines.
async fn run(native: &NativeRuntime, app: &Path, limits: Limits, command: &str) -> (ExitStatus, Vec<String>) {
    let (mut spec, mut rx) = spec("limits", "run.1");
    spec.app_dir = Some(app.to_path_buf());
    spec.limits = Some(limits);
    let status = run_native_oneoff(native, spec, command, Stdin::Empty).await.expect("start one-off");
    let logs: Vec<LogLine> = drain(&mut rx, Duration::from_millis(200)).await;
    let stdout = logs.iter().filter(|l| l.stream == LogStreamKind::Stdout).map(|l| l.line.clone()).collect();
    (status, stdout)
}

/// Spins for one second of wall time and prints the CPU seconds it got.
const SPIN: &str = r#"python3 -c 'import time; end = time.time() + 1
while time.time() < end: pass
print("cpu", round(time.process_time(), 3))'"#;

fn cpu_seconds(stdout: &[String]) -> f64 {
    let line = stdout.iter().find(|l| l.starts_with("cpu ")).unwrap_or_else(|| panic!("{stdout:?}"));
    line[4..].parse().unwrap()
}

#[tokio::test]
async fn a_native_dyno_gets_no_more_cpu_than_its_size() {
    let Some((native, _data)) = native() else { return };
    let app = app_dir();
    let fifth = Limits { cpu_millis: 200, ..DynoSize::Basic.limits() };
    let (status, stdout) = run(&native, app.path(), fifth, SPIN).await;
    assert_eq!(status, ExitStatus::Exited(0), "{stdout:?}");
    let limited = cpu_seconds(&stdout);
    // 0.2 of a core for 1 s: about 0.2 s (the quota is enforced per 100 ms period).
    assert!(limited < 0.35, "a fifth of a core spun {limited} s of CPU in 1 s");
    let (_, stdout) = run(&native, app.path(), DynoSize::Basic.limits(), SPIN).await;
    let basic = cpu_seconds(&stdout);
    assert!(basic > limited, "basic (a core) {basic} s, a fifth {limited} s");
}

#[tokio::test]
async fn a_native_dyno_reads_its_disk_no_faster_than_its_io_limit() {
    let Some((native, _data)) = native() else { return };
    let app = app_dir();
    // 24 MiB in the slug, read past the page cache (O_DIRECT) from the overlay's lower layer.
    std::fs::write(app.path().join("big"), vec![7u8; 24 << 20]).unwrap();
    let read = "dd if=/app/big of=/dev/null bs=1M iflag=direct 2>&1 | tail -1";
    let io = IoLimits { read_bps: 8 << 20, ..DynoSize::Basic.io_limits() };
    let start = std::time::Instant::now();
    let (status, stdout) = run(&native, app.path(), Limits { io, ..DynoSize::Basic.limits() }, read).await;
    let took = start.elapsed();
    assert_eq!(status, ExitStatus::Exited(0), "{stdout:?}");
    assert!(stdout.iter().any(|l| l.starts_with("25165824 bytes")), "{stdout:?}");
    // 24 MiB at 8 MiB/s: 3 s (less the throttle's first burst).
    assert!(took >= Duration::from_millis(2200), "read 24 MiB in {took:?} under 8 MiB/s: {stdout:?}");
}

#[tokio::test]
async fn writing_to_app_past_the_dynos_quota_fails_with_enospc_and_the_slug_is_untouched() {
    let Some((native, _data)) = native() else { return };
    let app = app_dir();
    let small = Limits { tmp_bytes: 4 << 20, ..DynoSize::Basic.limits() };
    let fill = "dd if=/dev/zero of=/app/fill bs=1M count=8 2>&1 | head -1; echo exit=$?; \
                rm /app/fill && dd if=/dev/zero of=/app/again bs=1M count=2 2>/dev/null && echo again ok";
    let (status, stdout) = run(&native, app.path(), small, fill).await;
    assert_eq!(status, ExitStatus::Exited(0), "{stdout:?}");
    assert!(stdout.iter().any(|l| l.contains("No space left on device")), "{stdout:?}");
    assert!(stdout.contains(&"again ok".to_string()), "deleting did not free the quota: {stdout:?}");
    assert!(!app.path().join("fill").exists() && !app.path().join("again").exists());
}
