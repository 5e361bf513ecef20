//! Native dynos against the same commands run directly on the host, side by side in one run:
//!
//! ```text
//! cargo run --release -p paas-runtime --example native -- [--runs N] [--data-dir DIR]
//! ```
//!
//! For `--runs` (default 20) runs of each, prints the median and p90 of:
//! - a one-off `true`: spawn to exit (host: `bash -c true`; native: `run_native_oneoff`, i.e.
//!   bundle, runc, namespaces, cgroups, seccomp, teardown);
//! - a web boot: spawn `python3 -m http.server $PORT` to its first accepted connection (native:
//!   `NativeDyno::start` + `wait_for_port`), then its stop.
//!
//! Needs root and runc.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use paas_runtime::{DynoSpec, NativeConfig, NativeDyno, NativeRuntime, Stdin, free_port, run_native_oneoff};

const WEB: &str = "/usr/bin/python3 -m http.server $PORT --bind 127.0.0.1";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut runs = 20usize;
    let mut data_dir: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => runs = args.next().context("--runs N")?.parse()?,
            "--data-dir" => data_dir = Some(args.next().context("--data-dir DIR")?.into()),
            other => bail!("unknown argument {other:?} (expected --runs N, --data-dir DIR)"),
        }
    }
    let temp = tempfile::tempdir()?;
    let native = NativeRuntime::new(NativeConfig::new(data_dir.as_deref().unwrap_or(temp.path())))?;
    println!("limits: {}", native.enforcement());

    let mut host = Vec::new();
    let mut contained = Vec::new();
    for _ in 0..runs {
        let started = Instant::now();
        let status = tokio::process::Command::new("bash").args(["-c", "true"]).status().await?;
        host.push(started.elapsed());
        anyhow::ensure!(status.success());
        let started = Instant::now();
        let status = run_native_oneoff(&native, DynoSpec::new("bench", "run.1"), "true", Stdin::Empty).await?;
        contained.push(started.elapsed());
        anyhow::ensure!(status.success(), "native one-off: {status:?}");
    }
    report("one-off `true`", &mut host, &mut contained);

    let (mut host, mut contained) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let port = free_port()?;
        let started = Instant::now();
        let mut child = tokio::process::Command::new("bash")
            .args(["-c", &format!("exec {}", WEB.replace("$PORT", &port.to_string()))])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()?;
        wait_for(port).await?;
        host.push(started.elapsed());
        child.kill().await?;

        let mut spec = DynoSpec::new("bench", "web.1");
        spec.port = free_port()?;
        let started = Instant::now();
        let dyno = NativeDyno::start(&native, spec, WEB, Stdin::Empty)?;
        dyno.wait_for_port(Duration::from_secs(30)).await?;
        contained.push(started.elapsed());
        dyno.stop(Duration::from_secs(5)).await;
    }
    report("web boot (python3 -m http.server)", &mut host, &mut contained);
    Ok(())
}

/// Polls until something accepts on `127.0.0.1:port` (as `NativeDyno::wait_for_port` does).
async fn wait_for(port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        anyhow::ensure!(Instant::now() < deadline, "nothing accepted on port {port}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

fn report(what: &str, host: &mut [Duration], native: &mut [Duration]) {
    let (h50, h90) = percentiles(host);
    let (n50, n90) = percentiles(native);
    println!(
        "{what}: host median {:.1} ms p90 {:.1} ms | native dyno median {:.1} ms p90 {:.1} ms | +{:.1} ms at the median",
        ms(h50),
        ms(h90),
        ms(n50),
        ms(n90),
        ms(n50) - ms(h50)
    );
}

fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |p: usize| samples[(samples.len() * p / 100).min(samples.len() - 1)];
    (at(50), at(90))
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
