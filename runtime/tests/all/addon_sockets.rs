//! Wasm dynos reach their attached add-ons through `wasi:sockets` TCP and nothing else: the
//! `redis-counter-wasm` example against real `redis-server`s on 127.0.0.1 (an address the node's
//! egress policy denies), granted as `NetworkPolicy::services`.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use paas_runtime::{ExitStatus, NetworkPolicy, Stdin, WebDyno, run_oneoff};

use crate::egress::runtime_lines;
use crate::util::{drain, example, get, guest, probe, runtime, spec};

const PASSWORD: &str = "s3cr3t-p@ss";

/// A `redis-server` on 127.0.0.1 with a password, killed on drop.
struct Redis {
    addr: SocketAddr,
    child: Child,
    dir: PathBuf,
}

impl Redis {
    /// Starts one on a free port (redis-server cannot bind port 0 and say which port it got:
    /// a port that is taken meanwhile makes it exit, and another is tried). None where
    /// redis-server is not installed, outside CI (`.ci/setup` installs it).
    fn start() -> Option<Redis> {
        if Command::new("redis-server").arg("--version").output().is_err() {
            assert!(std::env::var_os("CI").is_none(), "redis-server is missing: run .ci/setup");
            eprintln!("skipping: redis-server is not installed");
            return None;
        }
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("redis-{}-{}", std::process::id(), N.fetch_add(1, Ordering::SeqCst)));
        std::fs::create_dir_all(&dir).unwrap();
        for _ in 0..10 {
            let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
            let mut child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--requirepass", PASSWORD])
                .args(["--save", "", "--appendonly", "no", "--daemonize", "no", "--dir"])
                .arg(&dir)
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .expect("run redis-server");
            let mut out = BufReader::new(child.stdout.take().unwrap());
            let mut line = String::new();
            let ready = loop {
                line.clear();
                match out.read_line(&mut line) {
                    Ok(0) | Err(_) => break false,
                    Ok(_) if line.contains("Ready to accept connections") => break true,
                    Ok(_) => {}
                }
            };
            if ready {
                // Keep reading its output, so that it never blocks on a full pipe.
                std::thread::spawn(move || std::io::copy(&mut out, &mut std::io::sink()));
                return Some(Redis { addr: SocketAddr::from(([127, 0, 0, 1], port)), child, dir });
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("redis-server did not start on a free port in 10 tries");
    }

    /// Its URL, as the heroku-redis add-on sets `REDIS_URL`.
    fn url(&self) -> String {
        format!("redis://:{}@{}", PASSWORD.replace('@', "%40"), self.addr)
    }

    /// One command from the test itself: the raw reply (a bulk string's content).
    fn command(&self, args: &[&str]) -> String {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut request = Vec::new();
        for cmd in [&["AUTH", PASSWORD][..], args] {
            request.extend(format!("*{}\r\n", cmd.len()).as_bytes());
            for arg in cmd {
                request.extend(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
            }
        }
        stream.write_all(&request).unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "+OK\r\n", "AUTH");
        line.clear();
        reader.read_line(&mut line).unwrap();
        match line.strip_prefix('$').map(|n| n.trim_end().parse::<i64>().unwrap()) {
            Some(-1) => "(nil)".into(),
            Some(n) => {
                let mut data = vec![0; n as usize + 2];
                reader.read_exact(&mut data).unwrap();
                String::from_utf8_lossy(&data[..n as usize]).into_owned()
            }
            None => line.trim_end().to_owned(),
        }
    }

    /// The connections it has accepted (the test's own included).
    fn connections(&self) -> u64 {
        let info = self.command(&["INFO", "stats"]);
        let line = info.lines().find_map(|l| l.strip_prefix("total_connections_received:")).unwrap();
        line.trim().parse().unwrap()
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A web dyno of the example with `REDIS_URL` set and `services` granted.
fn counter(name: &str, redis_url: &str, services: Vec<SocketAddr>) -> (WebDyno, tokio::sync::mpsc::Receiver<paas_runtime::LogLine>) {
    let rt = runtime();
    let component = rt.load_component(example("redis-counter-wasm")).unwrap();
    let (mut spec, logs) = spec(name, "web.1");
    spec.env.insert("REDIS_URL".into(), redis_url.into());
    spec.network = NetworkPolicy { services, ..Default::default() };
    (WebDyno::start(&rt, &component, spec).unwrap(), logs)
}

#[tokio::test]
async fn a_wasm_dyno_counts_in_its_attached_redis_over_wasi_sockets() {
    let Some(redis) = Redis::start() else { return };
    let (dyno, _logs) = counter("counter", &redis.url(), vec![redis.addr]);
    assert_eq!(get(&dyno, "/").await, (200, "1\n".to_string()));
    assert_eq!(get(&dyno, "/").await, (200, "2\n".to_string()));
    assert_eq!(redis.command(&["GET", "hits"]), "2");
}

#[tokio::test]
async fn without_the_grant_the_add_on_is_not_reached() {
    let Some(redis) = Redis::start() else { return };
    let before = redis.connections();
    let (dyno, _logs) = counter("counter", &redis.url(), vec![]);
    let (status, body) = get(&dyno, "/").await;
    assert_eq!(status, 502, "{body}");
    assert!(body.starts_with(&format!("cannot connect to Redis at {}: ", redis.addr)), "{body}");
    assert_eq!(redis.connections(), before + 1, "only the test's own connection");
    assert_eq!(redis.command(&["GET", "hits"]), "(nil)");
}

#[tokio::test]
async fn granted_one_add_on_a_dyno_reaches_no_other_redis_nor_another_loopback_port() {
    let (Some(mine), Some(theirs)) = (Redis::start(), Redis::start()) else { return };
    let other = TcpListener::bind("127.0.0.1:0").unwrap();
    other.set_nonblocking(true).unwrap();
    let before = theirs.connections();
    // Their Redis, the same host on another port, and an address of the node on my Redis's
    // port: each denied and logged.
    let urls = [
        theirs.url(),
        format!("redis://:x@{}", other.local_addr().unwrap()),
        format!("redis://:x@127.0.0.2:{}", mine.addr.port()),
    ];
    for url in urls {
        let (dyno, mut logs) = counter("counter", &url, vec![mine.addr]);
        let (status, body) = get(&dyno, "/").await;
        assert_eq!(status, 502, "{body}");
        let to = url.rsplit_once('@').unwrap().1;
        assert!(body.starts_with(&format!("cannot connect to Redis at {to}: ")), "{body}");
        let lines = runtime_lines(&mut logs).await;
        let want = format!("outbound connection to {to} denied (not an attached add-on)");
        assert!(lines.contains(&want), "{want:?} not in {lines:#?}");
    }
    assert_eq!(theirs.connections(), before + 1, "only the test's own connection");
    assert_eq!(theirs.command(&["GET", "hits"]), "(nil)");
    assert!(other.accept().is_err_and(|e| e.kind() == std::io::ErrorKind::WouldBlock), "the other port got a connection");
    // The grant still works beside the refusals.
    let (dyno, _logs) = counter("counter", &mine.url(), vec![mine.addr]);
    assert_eq!(get(&dyno, "/").await, (200, "1\n".to_string()));
}

#[tokio::test]
async fn an_add_on_grant_opens_no_listening_udp_or_name_lookups() {
    let Some(redis) = Redis::start() else { return };
    let (mut spec, _logs) = spec("probe", "web.1");
    spec.network = NetworkPolicy { services: vec![redis.addr], ..Default::default() };
    let dyno = probe(spec);
    assert_eq!(get(&dyno, &format!("/connect?addr={}", redis.addr)).await, (200, "connected".to_string()));
    for path in ["/listen?addr=0.0.0.0:0", "/listen?addr=127.0.0.1:0", "/udp?addr=10.255.255.53:53", "/lookup?host=localhost"] {
        let (status, body) = get(&dyno, path).await;
        assert_eq!(status, 403, "{path}: {body}");
    }
}

#[tokio::test]
async fn one_off_dynos_reach_their_add_ons_too() {
    let Some(redis) = Redis::start() else { return };
    let rt = runtime();
    let component = rt.load_component(guest("cli_probe")).unwrap();
    let run = |services: Vec<SocketAddr>| {
        let (mut spec, logs) = spec("probe", "run.1");
        spec.network = NetworkPolicy { services, ..Default::default() };
        (run_oneoff(&rt, &component, spec, vec!["connect".into(), redis.addr.to_string()], Stdin::Empty), logs)
    };
    for (services, want) in [(vec![redis.addr], "connected"), (vec![], "error: ")] {
        let (status, mut logs) = run(services);
        assert_eq!(status.await.unwrap(), ExitStatus::Exited(0));
        let out: Vec<String> = drain(&mut logs, Duration::from_millis(200))
            .await
            .into_iter()
            .filter(|l| l.stream == paas_runtime::LogStreamKind::Stdout)
            .map(|l| l.line)
            .collect();
        assert!(out.len() == 1 && out[0].starts_with(want), "{want:?}: {out:?}");
    }
}

#[tokio::test]
async fn a_bad_redis_url_is_a_clear_error_that_quotes_no_password() {
    for (url, want) in [
        ("http://:pw@127.0.0.1:6379", "REDIS_URL is not a usable redis:// URL: the scheme is not redis://"),
        ("rediss://:pw@127.0.0.1:6379", "REDIS_URL is not a usable redis:// URL: rediss:// (TLS) is not supported by this app"),
        ("redis://:pw@redis.internal:6379", "REDIS_URL is not a usable redis:// URL: the host is not an IP address (wasm dynos have no name lookups)"),
        ("redis://:pw@127.0.0.1:99999", "REDIS_URL is not a usable redis:// URL: the port is not a number from 0 to 65535"),
        ("redis://:p%zzw@127.0.0.1:6379", "REDIS_URL is not a usable redis:// URL: the password has a bad %-escape"),
        ("redis://:pw@127.0.0.1:6379/x", "REDIS_URL is not a usable redis:// URL: the path is not a database number"),
    ] {
        let (dyno, _logs) = counter("counter", url, vec![]);
        assert_eq!(get(&dyno, "/").await, (502, format!("{want}\n")), "{url}");
    }
    let Some(redis) = Redis::start() else { return };
    let url = redis.url().replace("s3cr3t-p%40ss", "wrong");
    let (dyno, _logs) = counter("counter", &url, vec![redis.addr]);
    let (status, body) = get(&dyno, "/").await;
    assert_eq!(status, 502);
    assert!(body.starts_with("Redis refused AUTH: WRONGPASS"), "{body}");
}
