//! worker-rust: a paas worker as a `wasi:cli` component. It logs one line per second and exits
//! when the stop file appears (`$PAAS_STOP_FILE`, created by paas when the dyno is stopped) or
//! after N iterations (first argument, or `$ITERATIONS`; default: run until stopped).
//! `$INTERVAL_MS` changes the period (default 1000). `$EXIT_CODE` is its exit code when done.
//! With the first argument `echo` it copies its stdin to stdout instead (`paas run worker-rust
//! echo`), then exits.

use std::io::{BufRead, Write};
use std::path::Path;
use std::time::Duration;

fn main() {
    let exit_code: i32 = std::env::var("EXIT_CODE").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
    if std::env::args().nth(1).as_deref() == Some("echo") {
        let mut out = std::io::stdout().lock();
        for line in std::io::stdin().lock().lines() {
            let line = line.expect("stdin is readable");
            writeln!(out, "echo: {line}").and_then(|()| out.flush()).expect("stdout is writable");
        }
        std::process::exit(exit_code);
    }
    let iterations: Option<u64> =
        std::env::args().nth(1).or_else(|| std::env::var("ITERATIONS").ok()).and_then(|v| v.parse().ok());
    let interval = Duration::from_millis(std::env::var("INTERVAL_MS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000));
    let stop_file = std::env::var("PAAS_STOP_FILE").unwrap_or_else(|_| "/tmp/.paas-stop".into());
    let dyno = std::env::var("DYNO").unwrap_or_else(|_| "worker".into());
    let mut i: u64 = 0;
    loop {
        if Path::new(&stop_file).exists() {
            println!("{dyno}: stop requested after {i} iterations, exiting");
            return;
        }
        if iterations.is_some_and(|n| i >= n) {
            println!("{dyno}: done after {i} iterations");
            std::process::exit(exit_code);
        }
        i += 1;
        println!("{dyno}: tick {i}");
        std::thread::sleep(interval);
    }
}
