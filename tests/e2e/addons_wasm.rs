//! Heroku Redis from a wasm dyno end to end: examples/redis-counter-wasm (a Rust `wasi:http`
//! component, built by the rust buildpack) counts in its `heroku-redis:mini` add-on over
//! `wasi:sockets` TCP; another app's wasm dyno, with a Redis add-on of its own and the first
//! app's URL (password included), is refused before it connects, until the add-on is attached
//! to it.

use std::time::Duration;

use crate::support::{TestServer, eventually_get, ok, push_example, router_get, searchable_tempdir};

#[test]
fn a_wasm_app_counts_in_its_redis_add_on_and_another_apps_wasm_dyno_cannot_connect() {
    if std::process::Command::new("redis-server").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "redis-server is missing: run .ci/setup");
        eprintln!("skipping: redis-server is not installed");
        return;
    }
    let server = TestServer::start_in(searchable_tempdir());
    let paas = |args: &[&str]| ok(server.paas().args(args).env_remove("PAAS_APP"));
    let within = Duration::from_secs(60);
    let unset = (502, "REDIS_URL is not set (attach a Redis add-on: paas addons:create heroku-redis:mini)\n");

    push_example(&server, "redis-counter-wasm", "counter");
    eventually_get(&server, "counter", "/", unset, within);
    let created = paas(&["addons:create", "heroku-redis:mini", "-a", "counter"]);
    assert!(created.contains("as REDIS_URL"), "{created}");
    let name = created.split_whitespace().nth(1).unwrap().to_string();
    let url = paas(&["config:get", "REDIS_URL", "-a", "counter"]).trim().to_string();
    let endpoint = url.rsplit_once('@').map(|(_, e)| e.trim_end_matches('/').to_string()).unwrap();
    // The new release restarts the dyno with REDIS_URL and the add-on's endpoint granted.
    eventually_get(&server, "counter", "/", (200, "1\n"), within);
    assert_eq!(router_get(&server, "counter", "/"), (200, "2\n".into()));

    // Another app with a Redis add-on of its own, and the first app's URL (password included):
    // its socket to that endpoint (the same address, another port) is refused and logged,
    // nothing is counted.
    push_example(&server, "redis-counter-wasm", "intruder");
    let own = paas(&["addons:create", "heroku-redis:mini", "--as", "MINE", "-a", "intruder"]);
    assert!(own.contains("as MINE_URL"), "{own}");
    paas(&["config:set", &format!("REDIS_URL={url}"), "-a", "intruder"]);
    let refused = format!("cannot connect to Redis at {endpoint}: Permission denied (os error 2)\n");
    eventually_get(&server, "intruder", "/", (502, &refused), within);
    assert_eq!(router_get(&server, "counter", "/"), (200, "3\n".into()));
    let logs = paas(&["logs", "-a", "intruder", "-n", "200"]);
    assert!(logs.contains(&format!("outbound connection to {endpoint} denied (not an attached add-on)")), "{logs}");
    assert!(!logs.contains(&url), "the URL reached the logs");

    // Attached, it connects (the grant follows the attachment), and counts in the same Redis.
    paas(&["config:unset", "REDIS_URL", "-a", "intruder"]);
    paas(&["addons:attach", &name, "-a", "intruder"]);
    eventually_get(&server, "intruder", "/", (200, "4\n"), within);
    // Detached: no URL again (the requests polled until the new release count on meanwhile).
    paas(&["addons:detach", "REDIS", "-a", "intruder"]);
    eventually_get(&server, "intruder", "/", unset, within);
    let (status, count) = router_get(&server, "counter", "/");
    assert!(status == 200 && count.trim().parse::<u64>().is_ok_and(|n| n >= 5), "{status} {count}");
}
