//! Limits one tenant cannot get around, against the real `paas server`: its API listener drops
//! a slowloris client, an account past `--api-rate-limit` is told to wait, and Performance
//! dynos need the operator's `paas users:grant`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::support::{TestServer, ok, run};

#[test]
fn the_api_listener_drops_a_client_that_sends_half_a_request_line() {
    let server = TestServer::start();
    let addr = server.api_url.trim_start_matches("http://").trim_end_matches('/').to_string();
    let mut slow = TcpStream::connect(&addr).unwrap();
    slow.write_all(b"GET /account HT").unwrap();
    slow.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
    let started = Instant::now();
    let mut got = Vec::new();
    // EOF (or a reset) once the server gives up on the headers: about 10 s.
    let _ = slow.read_to_end(&mut got);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(8) && waited < Duration::from_secs(20), "dropped after {waited:?}");
    // The server still answers others.
    ok(server.paas().args(["apps"]));
}

#[test]
fn performance_dynos_need_a_grant_and_an_account_past_its_rate_limit_waits() {
    let dir = tempfile::tempdir().unwrap();
    let server = TestServer::start_with(dir, &["--api-rate-limit", "10"]);
    let key = ok(server.paas().args(["users:create", "alice@example.com"])).trim().to_string();
    ok(server.paas_as(&key).args(["apps:create", "big"]));
    let big_run = || run(server.paas_as(&key).args(["run:detached", "-a", "big", "--size", "performance-m", "--", "echo"]));
    let refused = big_run();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(
        stderr.contains("Size Performance-M is not granted to alice@example.com (the owner of big)")
            && stderr.contains("paas users:grant alice@example.com performance-m"),
        "{stderr}"
    );
    // A user cannot grant themselves.
    let own = run(server.paas_as(&key).args(["users:grant", "alice@example.com", "performance-m"]));
    assert!(!own.status.success());
    let said = ok(server.paas().args(["users:grant", "alice@example.com", "performance-m"]));
    assert_eq!(said.trim(), "alice@example.com may use: Eco, Basic, Standard-1X, Standard-2X, Performance-M");
    // Granted: what stops the dyno now is that the app has no release yet.
    let stderr = String::from_utf8_lossy(&big_run().stderr).into_owned();
    assert!(stderr.contains("has no release to run yet"), "{stderr}");

    // Ten requests an hour: Alice soon has to wait; the operator does not.
    let mut refused = None;
    for _ in 0..10 {
        let out = run(server.paas_as(&key).args(["apps"]));
        if !out.status.success() {
            refused = Some(String::from_utf8_lossy(&out.stderr).into_owned());
            break;
        }
    }
    let refused = refused.expect("the rate limit is reached within ten requests");
    assert!(refused.contains("rate limit of 10 requests per hour"), "{refused}");
    ok(server.paas().args(["apps"]));
}
