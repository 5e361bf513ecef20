//! Metrics and autoscaling end to end, on one server (`--autoscale-every 2s`) and one slow native
//! app (a one-request-at-a-time Python server that takes 20 ms a request, so its response time
//! grows with the requests waiting): `GET /metrics` scraped while wrk runs agrees with wrk's
//! count (1 %), p50 (25 %: a bucket's width and the client's side) and p99 (no more than wrk's);
//! with `ps:autoscale:enable` it scales up under load and back down once the load stops, within
//! the times the README gives.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::native::runc_available;
use crate::support::{TestServer, eventually_get, git, login, ok, push};

/// The slow app: one request at a time (no threads), 20 ms each.
const SLOW_PY: &str = r#"import os, time
from http.server import BaseHTTPRequestHandler, HTTPServer

class Slow(BaseHTTPRequestHandler):
    def do_GET(self):
        time.sleep(0.02)
        body = b"slow\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

HTTPServer(("0.0.0.0", int(os.environ["PORT"])), Slow).serve_forever()
"#;

/// wrk against `app` through the router: (requests, p50 ms, p99 ms).
fn wrk(server: &TestServer, app: &str, connections: u32, seconds: u32) -> (u64, f64, f64) {
    let output = ok(Command::new("wrk")
        .args(["-t1", &format!("-c{connections}"), &format!("-d{seconds}s"), "--latency", "-H"])
        .arg(format!("Host: {app}.localhost"))
        .arg(format!("{}/", server.router_url)));
    let requests = output
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").and_then(|(n, _)| n.trim().parse().ok()))
        .unwrap_or_else(|| panic!("no request count in wrk's output:\n{output}"));
    let percentile = |p: &str| {
        let line = output.lines().find(|l| l.trim_start().starts_with(p)).unwrap_or_else(|| panic!("no {p} in:\n{output}"));
        let value = line.split_whitespace().nth(1).unwrap();
        let (number, unit) = value.split_at(value.find(|c: char| c.is_ascii_alphabetic()).unwrap());
        let number: f64 = number.parse().unwrap();
        match unit {
            "us" => number / 1000.0,
            "ms" => number,
            "s" => number * 1000.0,
            _ => panic!("unit {unit} in {line}"),
        }
    };
    (requests, percentile("50%"), percentile("99%"))
}

/// `GET /metrics` as the operator.
fn scrape(server: &TestServer) -> String {
    ok(Command::new("curl").args(["-sS", "--fail", "-H"]).arg(format!("Authorization: Bearer {}", server.operator_key)).arg(format!("{}/metrics", server.api_url)))
}

/// The app's requests and its histogram (`le` in seconds → cumulative count) from a scrape.
fn app_series(text: &str, app: &str) -> (u64, Vec<(f64, u64)>) {
    let label = format!("app=\"{app}\"");
    let value = |line: &str| line.rsplit(' ').next().unwrap().parse::<f64>().unwrap();
    let requests = text
        .lines()
        .filter(|l| l.starts_with("paas_router_requests_total{") && l.contains(&label))
        .map(|l| value(l) as u64)
        .sum();
    let mut buckets: BTreeMap<u64, (f64, u64)> = BTreeMap::new();
    for line in text.lines().filter(|l| l.starts_with("paas_router_response_seconds_bucket{") && l.contains(&label)) {
        let le = line.split("le=\"").nth(1).unwrap().split('"').next().unwrap();
        let le: f64 = if le == "+Inf" { f64::INFINITY } else { le.parse().unwrap() };
        buckets.insert(le.to_bits(), (le, value(line) as u64));
    }
    let mut buckets: Vec<(f64, u64)> = buckets.into_values().collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    (requests, buckets)
}

/// Prometheus' `histogram_quantile`: linear within the bucket, in milliseconds.
fn quantile_ms(buckets: &[(f64, u64)], q: f64) -> f64 {
    let total = buckets.last().unwrap().1 as f64;
    let rank = q * total;
    let mut lower = (0.0, 0u64);
    for &(le, count) in buckets {
        if count as f64 >= rank {
            let within = (rank - lower.1 as f64) / (count - lower.1).max(1) as f64;
            return (lower.0 + (le - lower.0) * within) * 1000.0;
        }
        lower = (le, count);
    }
    f64::NAN
}

/// The web quantity of `app` in its formation.
fn web_quantity(server: &TestServer, app: &str) -> u64 {
    let text = ok(server.paas().args(["ps:scale", "-a", app, "--json"]));
    let formation: serde_json::Value = serde_json::from_str(&text).unwrap();
    formation.as_array().unwrap().iter().find(|f| f["type"] == "web").unwrap()["quantity"].as_u64().unwrap()
}

/// Polls until `app`'s web quantity satisfies `want`, for up to `within`; how long it took.
fn until_web(server: &TestServer, app: &str, within: Duration, want: impl Fn(u64) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let quantity = web_quantity(server, app);
        if want(quantity) {
            return started.elapsed();
        }
        assert!(started.elapsed() < within, "{app}: web is still at {quantity} after {within:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

#[test]
fn metrics_match_wrk_and_autoscaling_follows_the_load() {
    if !runc_available() {
        return;
    }
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &["--autoscale-every", "2s"]);
    login(&server, &server.home(), &server.operator_key);
    let repo = tempfile::tempdir().unwrap();
    std::fs::write(repo.path().join("slow.py"), SLOW_PY).unwrap();
    std::fs::write(repo.path().join("Procfile"), "web: python3 slow.py\n").unwrap();
    git(&server.home(), repo.path(), &["init", "--quiet", "--initial-branch=main"]);
    git(&server.home(), repo.path(), &["add", "-A"]);
    git(&server.home(), repo.path(), &["commit", "--quiet", "-m", "slow"]);
    ok(server.paas().args(["apps:create", "slow"]).current_dir(repo.path()).env_remove("PAAS_APP"));
    push(&server, repo.path());
    eventually_get(&server, "slow", "/", (200, "slow\n"), Duration::from_secs(60));

    // Scraped while wrk runs, and after: the router's counts are live and match wrk's.
    let (before, buckets_before) = app_series(&scrape(&server), "slow");
    let during = std::thread::scope(|s| {
        let load = s.spawn(|| wrk(&server, "slow", 1, 4));
        std::thread::sleep(Duration::from_secs(2));
        let during = app_series(&scrape(&server), "slow").0 - before;
        let (requests, p50, p99) = load.join().unwrap();
        (during, requests, p50, p99)
    });
    let (seen_during, wrk_requests, wrk_p50, wrk_p99) = during;
    let (after, buckets_after) = app_series(&scrape(&server), "slow");
    let counted = after - before;
    // wrk's requests alone: the warm-up GETs (the first of which may wait for the dyno) would
    // be 2 or 3 of the ~200 requests, all of p99's rank.
    let buckets: Vec<(f64, u64)> = buckets_after
        .iter()
        .map(|&(le, count)| (le, count - buckets_before.iter().find(|b| b.0 == le).map_or(0, |b| b.1)))
        .collect();
    println!("[metrics] wrk {wrk_requests} requests p50 {wrk_p50:.2} ms p99 {wrk_p99:.2} ms; /metrics {counted} (mid-run {seen_during})");
    assert!(seen_during > 0 && seen_during < counted, "a scrape during the run sees it under way: {seen_during} of {counted}");
    assert!((counted as f64 - wrk_requests as f64).abs() <= (wrk_requests as f64 * 0.01).max(1.0), "{counted} vs wrk's {wrk_requests}");
    // A quantile read from the buckets is off by up to a bucket's width (2^(1/4): 19 %). wrk's
    // times also count its side of the connection: on a loaded machine its slowest requests
    // waited for the CPU outside the router (README, Metrics), so its p99 is only a ceiling.
    // Every request takes the app's 20 ms at least.
    let (p50, p99) = (quantile_ms(&buckets, 0.5), quantile_ms(&buckets, 0.99));
    println!("[metrics] /metrics histogram p50 {p50:.2} ms p99 {p99:.2} ms");
    assert!((p50 - wrk_p50).abs() / wrk_p50 <= 0.25, "p50 {p50:.2} ms vs wrk's {wrk_p50:.2} ms");
    assert!(p99 <= wrk_p99 * 1.25, "p99 {p99:.2} ms, over wrk's {wrk_p99:.2} ms");
    assert!(p99 >= p50 && p99 >= 20.0 / 1.19, "p99 {p99:.2} ms, under the app's 20 ms or p50 {p50:.2} ms");

    // Autoscaling: 16 connections queue at one dyno (p95 ≈ 320 ms against a 100 ms target).
    let enabled = ok(server.paas().args(["ps:autoscale:enable", "web", "--min", "1", "--max", "4", "--p95", "100", "-a", "slow"]));
    println!("[autoscale] {enabled}");
    let (up, down) = std::thread::scope(|s| {
        let load = s.spawn(|| wrk(&server, "slow", 16, 10));
        let up = until_web(&server, "slow", Duration::from_secs(10), |n| n > 1);
        load.join().unwrap();
        let stopped = Instant::now();
        until_web(&server, "slow", Duration::from_secs(30), |n| n == 1);
        (up, stopped.elapsed())
    });
    println!("[autoscale] scaled up {:.1} s into the load, back to 1 dyno {:.1} s after it stopped", up.as_secs_f64(), down.as_secs_f64());
    let logs = ok(server.paas().args(["logs", "-a", "slow", "-n", "1500"]));
    let decisions: Vec<&str> = logs.lines().filter(|l| l.contains("app[api]: Scaled to web@") && l.contains("by autoscaling")).collect();
    assert!(decisions.len() >= 2, "a line per decision:\n{logs}");
    assert!(decisions[0].contains("> target 100 ms"), "{}", decisions[0]);
    ok(server.paas().args(["ps:autoscale:disable", "web", "-a", "slow"]));

    // `paas ps` shows each dyno's memory; `paas metrics` the last hour a minute per line.
    let ps = ok(server.paas().args(["ps", "-a", "slow"]));
    assert!(ps.lines().any(|l| l.starts_with("web.1: up") && l.contains(" MiB, ") && l.ends_with(" s CPU")), "{ps}");
    // The native web dyno's CPU time (its cgroup's) is in /metrics, after wrk kept it busy.
    let cpu: f64 = scrape(&server)
        .lines()
        .find(|l| l.starts_with("paas_dyno_cpu_seconds_total{app=\"slow\",process_type=\"web\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or_else(|| panic!("no CPU time of slow's web dynos in /metrics"));
    println!("[metrics] slow's web dynos used {cpu:.2} s of CPU");
    assert!(cpu > 0.05, "{cpu} s of CPU after thousands of requests");
    // A one-off dyno too: a busy native one shows its memory and growing CPU time in `ps`.
    ok(server.paas().args(["run:detached", "-a", "slow", "--", "while :; do :; done"]));
    let started = Instant::now();
    let ps = loop {
        let ps = ok(server.paas().args(["ps", "-a", "slow"]));
        // `run.1 (Basic): up … (~ 5s ago), 0.3 MiB, 1.2 s CPU: while :; do :; done`
        let cpu = ps.lines().find(|l| l.starts_with("run.")).and_then(|l| l[..l.find(" s CPU")?].rsplit(' ').next()?.parse::<f64>().ok());
        if cpu.is_some_and(|s| s > 0.1) {
            break ps;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no CPU time of the one-off dyno:\n{ps}");
        std::thread::sleep(Duration::from_millis(500));
    };
    let line = ps.lines().find(|l| l.starts_with("run.")).unwrap_or_default();
    println!("[metrics] {line}");
    assert!(line.contains(" MiB, "), "{ps}");
    let dyno = line.split_whitespace().next().unwrap_or_default();
    ok(server.paas().args(["ps:stop", dyno, "-a", "slow"]));
    let metrics = ok(server.paas().args(["metrics", "-a", "slow"]));
    assert!(metrics.lines().count() >= 62, "a header and 60 minutes:\n{metrics}");
}
