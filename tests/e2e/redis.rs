//! Heroku Redis end to end, driven by the official `heroku` CLI against a real `paas server`:
//! an unknown plan is refused naming the available ones, `heroku addons:create heroku-redis:mini`
//! starts a redis-server of the add-on's own (`heroku config` shows REDIS_URL, which answers),
//! examples/redis-counter-node (native, `redis` from npm) counts its hits there and keeps the
//! count through a restart of its dynos, `heroku addons:upgrade` and a killed and restarted
//! `paas server` (the Redis server it left is stopped and started afresh), and `heroku
//! addons:destroy --confirm` ends the server and removes its data.

use std::io::{Read, Write};
use std::process::Command;
use std::time::Duration;

use crate::heroku_cli::{Heroku, heroku_bin};
use crate::support::{TestServer, app_repo, eventually_get, ok, push, replaced, router_get, searchable_tempdir};

/// `AUTH` and `PING` to the server of a `redis://:password@host:port` URL: its answers, or the
/// connection's error.
fn ping(url: &str) -> Result<String, std::io::Error> {
    let (auth, endpoint) = url.strip_prefix("redis://").and_then(|rest| rest.rsplit_once('@')).expect("a redis URL");
    let mut stream = std::net::TcpStream::connect(endpoint)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.write_all(format!("AUTH {}\r\nPING\r\n", auth.trim_start_matches(':')).as_bytes())?;
    let mut answer = Vec::new();
    let mut buffer = [0u8; 256];
    while !answer.ends_with(b"\r\n+PONG\r\n") && !answer.starts_with(b"-") {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&buffer[..n]);
    }
    Ok(String::from_utf8_lossy(&answer).into_owned())
}

#[test]
fn heroku_redis_from_the_official_cli_serves_a_counter_that_keeps_its_count_across_restarts() {
    let Some(bin) = heroku_bin() else { return };
    if Command::new("redis-server").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "redis-server is missing: run .ci/setup");
        eprintln!("skipping: redis-server is not installed");
        return;
    }
    let native = crate::native::runc_available();
    let server = TestServer::start_in(searchable_tempdir());
    let heroku = Heroku { bin, home: tempfile::tempdir().unwrap(), api_url: server.api_url.clone() };
    let op = server.operator_key.as_str();
    let within = Duration::from_secs(120);
    let no_redis = (503, "no Redis: run `paas addons:create heroku-redis:mini`\n");
    let repo = app_repo(&server, "redis-counter-node", "counter");
    if native {
        push(&server, repo.path());
        eventually_get(&server, "counter", "/count", no_redis, within);
    }

    let refused = heroku.run(Some(op), &["addons:create", "heroku-redis:huge", "-a", "counter"]);
    assert_ne!(refused.code, Some(0));
    assert!(refused.stderr.contains("heroku-redis:mini"), "{}", refused.stderr);

    let created = heroku.ok(op, &["addons:create", "heroku-redis:mini", "-a", "counter"]);
    let all = format!("{}{}", created.stdout, created.stderr);
    let name = all.split_whitespace().find(|word| word.starts_with("redis-")).unwrap_or_else(|| panic!("no add-on name in {all}"));
    let name = name.trim_end_matches(|c: char| !c.is_alphanumeric()).to_string();
    assert!(all.contains(&format!("Created {name} as REDIS_URL")), "{all}");
    let config = heroku.ok(op, &["config", "-a", "counter"]).stdout;
    let url = config.lines().find_map(|line| line.trim().strip_prefix("REDIS_URL:")).unwrap_or_else(|| panic!("no REDIS_URL in {config}")).trim().to_string();
    assert!(url.starts_with("redis://:"), "{url}");
    assert_eq!(ping(&url).unwrap(), "+OK\r\n+PONG\r\n");
    let password = url.strip_prefix("redis://:").unwrap().split('@').next().unwrap().to_string();
    let wrong = url.replacen(&password, "wrong", 1);
    assert!(ping(&wrong).unwrap().starts_with("-WRONGPASS"), "a wrong password was let in");

    if native {
        // The new release restarts the dyno with REDIS_URL (and its grant to the server).
        eventually_get(&server, "counter", "/count", (200, "hits: 0\n"), within);
        assert_eq!(router_get(&server, "counter", "/"), (200, "hits: 1\n".into()));
        assert_eq!(router_get(&server, "counter", "/"), (200, "hits: 2\n".into()));
        let (_, before) = router_get(&server, "counter", "/boot");
        ok(server.paas().args(["ps:restart", "-a", "counter"]).env_remove("PAAS_APP"));
        replaced(&server, "counter", &before);
        assert_eq!(router_get(&server, "counter", "/"), (200, "hits: 3\n".into()));
    }

    // A plan change restarts the server with the new limits; the data stays.
    heroku.ok(op, &["addons:upgrade", &name, "premium-0", "-a", "counter"]);
    let listed = heroku.ok(op, &["addons", "-a", "counter"]).stdout;
    assert!(listed.lines().any(|l| l.contains(&name) && l.contains("premium-0") && l.contains("$15/month")), "{listed}");
    if native {
        eventually_get(&server, "counter", "/count", (200, "hits: 3\n"), within);
    }

    // paas server killed, its Redis server left running, and started again: the leftover is
    // stopped, the add-on's server started afresh with its data, and the app counts on.
    let folder = std::fs::read_dir(server.data_dir().join("addons/redis")).unwrap().flatten().next().unwrap().path();
    let pid_of = || std::fs::read_to_string(folder.join("redis.pid")).unwrap().trim().parse::<u32>().unwrap();
    let leftover = pid_of();
    let server = TestServer::start_in(server.crash());
    let heroku = Heroku { api_url: server.api_url.clone(), ..heroku };
    let op = server.operator_key.as_str();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while ping(&url).map(|answer| answer != "+OK\r\n+PONG\r\n").unwrap_or(true) {
        assert!(std::time::Instant::now() < deadline, "the add-on's server did not come back after a restart of paas");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_ne!(pid_of(), leftover);
    // Gone, or a zombie of the killed server's (reparented, not reaped yet).
    let state = std::fs::read_to_string(format!("/proc/{leftover}/stat")).unwrap_or_default();
    assert!(state.is_empty() || state.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')), "the leftover server still runs: {state}");
    if native {
        eventually_get(&server, "counter", "/count", (200, "hits: 3\n"), within);
        assert_eq!(router_get(&server, "counter", "/"), (200, "hits: 4\n".into()));
    }

    let destroyed = heroku.ok(op, &["addons:destroy", &name, "-a", "counter", "--confirm", "counter"]);
    assert!(destroyed.stderr.contains(&format!("Destroying {name} on counter... done")), "{}", destroyed.stderr);
    // (Its port may be another program's by now: the password must not answer there.)
    assert!(ping(&url).map_or(true, |answer| answer != "+OK\r\n+PONG\r\n"), "the destroyed add-on's server still answers");
    assert_eq!(heroku.ok(op, &["config:get", "REDIS_URL", "-a", "counter"]).stdout, "\n");
    let left: Vec<_> = std::fs::read_dir(server.data_dir().join("addons/redis")).unwrap().flatten().map(|e| e.file_name()).collect();
    assert!(left.is_empty(), "the destroyed add-on's data is left: {left:?}");
    // No password reached the server's output.
    assert!(!server.stdout.lock().unwrap().iter().any(|line| line.contains(&password)), "a password reached stdout");
}
