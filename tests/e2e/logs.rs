//! Logs end to end with the real `paas` binary: `paas logs` shows API events, `paas logs --tail`
//! sees a line written after it started, filters, a forged log-session URL is 404, a drain (a real
//! syslog listener started here) receives lines, and a pushed guest that prints on each request
//! shows up as `app[web.1]` beside `paas[router]` lines carrying the status.

use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::{self, TestServer, ok, run};

/// A `paas` client command as the operator.
fn paas(server: &TestServer, args: &[&str]) -> String {
    ok(server.paas().args(args).env_remove("PAAS_APP"))
}

/// A log line without its timestamp, after checking the timestamp is logplex's.
pub fn untimed(line: &str) -> String {
    let (time, rest) = line.split_once(' ').unwrap_or_else(|| panic!("a log line: {line:?}"));
    assert_eq!(time.len(), "2026-11-21T20:45:30.020000+00:00".len(), "{line}");
    assert!(time.ends_with("+00:00") && time.as_bytes()[10] == b'T', "{line}");
    rest.to_string()
}

fn untimed_lines(text: &str) -> Vec<String> {
    text.lines().filter(|l| !l.trim().is_empty()).map(untimed).collect()
}

/// A running command whose stdout lines are collected as they come (killed when dropped).
pub struct Following {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Following {
    /// Starts `command` with its stdout piped.
    pub fn start(command: &mut Command) -> Following {
        let mut child = command.stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn().expect("start command");
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                collected.lock().unwrap().push(line);
            }
        });
        Following { child, lines }
    }

    /// Waits (at most 20 s) until the lines so far satisfy `done`; gives them back.
    pub fn until(&self, what: &str, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let lines = self.lines.lock().unwrap().clone();
            if done(&lines) {
                return lines;
            }
            assert!(Instant::now() < deadline, "never saw {what}: {lines:#?}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether the command is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Following {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether some line, without its timestamp, is `want`.
pub fn has(lines: &[String], want: &str) -> bool {
    lines.iter().any(|l| l.split_once(' ').is_some_and(|(_, rest)| rest == want))
}

#[test]
fn paas_logs_shows_api_events_and_a_tail_sees_new_lines() {
    let server = TestServer::start();
    paas(&server, &["apps:create", "logged"]);
    paas(&server, &["config:set", "FOO=bar", "-a", "logged"]);
    let logs = paas(&server, &["logs", "-a", "logged"]);
    assert_eq!(
        untimed_lines(&logs),
        [
            "app[api]: Initial release by operator@localhost",
            "app[api]: Release v1 created by operator@localhost",
            "app[api]: Set FOO config vars by operator@localhost",
            "app[api]: Release v2 created by operator@localhost",
        ]
    );
    assert_eq!(untimed_lines(&paas(&server, &["logs", "-a", "logged", "-n", "1"])), ["app[api]: Release v2 created by operator@localhost"]);
    assert_eq!(paas(&server, &["logs", "-a", "logged", "--source", "paas"]), "");
    assert_eq!(untimed_lines(&paas(&server, &["logs", "-a", "logged", "--dyno", "api", "-n", "2"])).len(), 2);
    let bad = run(server.paas().args(["logs", "-a", "logged", "--source", "nope"]));
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Unknown log source \"nope\""), "{bad:?}");

    // A tail: the history, then a line written after it started; it keeps running.
    let mut tail = Following::start(server.paas().args(["logs", "--tail", "-a", "logged", "-n", "1"]).env_remove("PAAS_APP"));
    tail.until("the last line of history", |lines| has(lines, "app[api]: Release v2 created by operator@localhost"));
    paas(&server, &["config:set", "BAR=baz", "-a", "logged"]);
    let lines = tail.until("config:set BAR", |lines| has(lines, "app[api]: Release v3 created by operator@localhost"));
    assert_eq!(
        lines.iter().map(|l| untimed(l)).collect::<Vec<_>>(),
        [
            "app[api]: Release v2 created by operator@localhost",
            "app[api]: Set BAR config vars by operator@localhost",
            "app[api]: Release v3 created by operator@localhost",
        ]
    );
    assert!(tail.running(), "paas logs --tail ended");
}

/// `POST /apps/{app}/log-sessions` with curl: the `logplex_url`.
fn log_session(server: &TestServer, app: &str, body: &str) -> String {
    let output = run(Command::new("curl")
        .args(["-sS", "-X", "POST", "-H", "Content-Type: application/json", "-H"])
        .arg(format!("Authorization: Bearer {}", server.operator_key))
        .args(["-d", body])
        .arg(format!("{}/apps/{app}/log-sessions", server.api_url)));
    let reply: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    reply["logplex_url"].as_str().unwrap_or_else(|| panic!("no logplex_url: {reply}")).to_string()
}

/// GET `url` with curl (no Authorization): status and body.
fn curl(url: &str, headers: &[&str]) -> (u16, String) {
    let mut command = Command::new("curl");
    command.args(["-sS", "-o", "-", "-w", "\n%{http_code}"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = run(command.arg(url));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap();
    (status.parse().unwrap(), body.to_string())
}

#[test]
fn log_session_urls_resume_after_last_event_id_and_forged_ones_are_404() {
    let server = TestServer::start();
    paas(&server, &["apps:create", "sse"]);
    paas(&server, &["config:set", "A=1", "-a", "sse"]);
    let url = log_session(&server, "sse", r#"{"lines": 100}"#);
    assert!(url.starts_with(&format!("{}/log-sessions/", server.api_url)), "{url}");
    let (status, body) = curl(&url, &["Accept: text/event-stream"]);
    assert_eq!(status, 200);
    let ids: Vec<&str> = body.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
    assert!(body.starts_with("retry: 1\n\nid: 1\ndata: "), "{body}");
    assert_eq!(ids, ["1", "2", "3", "4"]);
    let (_, resumed) = curl(&url, &["Last-Event-ID: 3"]);
    let data: Vec<String> = resumed.lines().filter_map(|l| l.strip_prefix("data: ")).map(untimed).collect();
    assert_eq!(data, ["app[api]: Release v2 created by operator@localhost"]);
    assert!(resumed.contains("id: 4\n") && !resumed.contains("id: 3\n"), "{resumed}");
    let forged = format!("{}{}", &url[..url.len() - 1], if url.ends_with('0') { "1" } else { "0" });
    assert_eq!(curl(&forged, &[]).0, 404);
    assert_eq!(curl(&format!("{}/log-sessions/nothing", server.api_url), &[]).0, 404);
}

/// Reads `count` octet-counted RFC 5424 messages (within 10 s), timestamps replaced by `T`.
fn syslog_messages(mut socket: std::net::TcpStream, count: usize) -> Vec<String> {
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut messages = Vec::new();
    let mut buffer = Vec::new();
    while messages.len() < count {
        let mut chunk = [0u8; 4096];
        let n = socket.read(&mut chunk).expect("syslog frames within 10 s");
        assert!(n > 0, "the drain closed the connection");
        buffer.extend_from_slice(&chunk[..n]);
        // Octet-counted frames: LEN SP MSG.
        while let Some(space) = buffer.iter().position(|b| *b == b' ') {
            let len: usize = std::str::from_utf8(&buffer[..space]).unwrap().parse().unwrap();
            if buffer.len() < space + 1 + len {
                break;
            }
            let message = String::from_utf8(buffer[space + 1..space + 1 + len].to_vec()).unwrap();
            buffer.drain(..space + 1 + len);
            let mut parts: Vec<&str> = message.splitn(3, ' ').collect();
            parts[1] = "T";
            messages.push(parts.join(" "));
        }
    }
    messages
}

#[test]
fn a_syslog_drain_receives_the_apps_lines() {
    // The test's syslog listener is on loopback, which drains may reach only when the operator
    // allows it.
    let allow_loopback = ["--egress-allow", "127.0.0.0/8"];
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &allow_loopback);
    paas(&server, &["apps:create", "drained"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("syslog://{}", listener.local_addr().unwrap());
    let added = paas(&server, &["drains:add", &url, "-a", "drained"]);
    assert!(added.starts_with(&format!("Successfully added drain {url} (d.")), "{added}");
    let token = added.trim_end().rsplit_once(" (").unwrap().1.trim_end_matches(')').to_string();
    assert_eq!(paas(&server, &["drains", "-a", "drained"]), format!("{url} ({token})\n"));
    paas(&server, &["config:set", "FOO=bar", "-a", "drained"]);

    let (socket, _) = listener.accept().unwrap();
    assert_eq!(
        syslog_messages(socket, 3),
        [
            format!("<190>1 T {token} app api - - Add drain {url} by operator@localhost"),
            format!("<190>1 T {token} app api - - Set FOO config vars by operator@localhost"),
            format!("<190>1 T {token} app api - - Release v2 created by operator@localhost"),
        ]
    );
    // A restarted server forwards to the drains kept in its ledger.
    let server = TestServer::start_with(server.stop(), &allow_loopback);
    paas(&server, &["config:set", "AGAIN=1", "-a", "drained"]);
    let (socket, _) = listener.accept().unwrap();
    assert_eq!(
        syslog_messages(socket, 2),
        [
            format!("<190>1 T {token} app api - - Set AGAIN config vars by operator@localhost"),
            format!("<190>1 T {token} app api - - Release v3 created by operator@localhost"),
        ]
    );
    assert_eq!(paas(&server, &["drains:remove", &url, "-a", "drained"]), format!("Successfully removed drain {url}\n"));
    assert_eq!(paas(&server, &["drains", "-a", "drained"]), "⬢ drained has no drains.\n");
}

/// hello-rust in a git repo, printing `serving <path>` on each request and 100,000 lines of 100
/// bytes (10 MB) on `/burst`; `paas login` done and the app `printer` created for it.
fn printer(server: &TestServer) -> tempfile::TempDir {
    let repo = support::app_repo(server, "hello-rust", "printer");
    let main = repo.path().join("src/main.rs");
    let source = std::fs::read_to_string(&main).unwrap();
    let anchor = "let path = request.path_with_query().unwrap_or_default();";
    assert!(source.contains(anchor), "hello-rust changed: {anchor:?} is gone");
    let printing = format!(
        "{anchor}\n        println!(\"serving {{path}}\");\n        \
         if path == \"/burst\" {{ let pad = \"x\".repeat(86); for n in 0..100_000 {{ println!(\"burst {{n:06}} {{pad}}\"); }} }}"
    );
    std::fs::write(&main, source.replace(anchor, &printing)).unwrap();
    support::git(&server.home(), repo.path(), &["commit", "--quiet", "-am", "Print each request"]);
    repo
}

/// GET `path` of `printer` through the router until it answers `status` (30 s at most).
fn until_served(server: &TestServer, path: &str, status: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = run(Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: printer.localhost"])
            .arg(format!("{}{path}", server.router_url)));
        if String::from_utf8_lossy(&output.stdout) == status {
            return;
        }
        assert!(Instant::now() < deadline, "printer never answered {path} with {status}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_10_mb_burst_from_a_guest_loses_lines_only_at_the_buffer_and_says_so() {
    let server = TestServer::start();
    let repo = printer(&server);
    support::push(&server, repo.path());
    until_served(&server, "/", "200");
    let tail = Following::start(server.paas().args(["logs", "--tail", "-a", "printer", "-d", "web.1", "-n", "1"]).env_remove("PAAS_APP"));
    tail.until("the tail's first line", |lines| !lines.is_empty());
    until_served(&server, "/burst", "404");
    let lines = tail.until("the burst's last line", |lines| lines.last().is_some_and(|l| l.contains("burst 099999 ")));
    // In order, and what did not arrive was reported lost: by the runtime (its channel was full) or
    // by the stream (the reader fell behind). A report may count a few lines besides the burst's (the request's, the router's).
    let (mut seen, mut dropped, mut last) = (0u64, 0u64, None);
    for line in &lines {
        let text = untimed(line);
        if text.starts_with("app[web.1]: serving /") {
            continue;
        }
        if let Some(n) = text.strip_prefix("paas[logplex]: Error L10 (output buffer overflow): ") {
            dropped += n.strip_suffix(" messages dropped").unwrap().parse::<u64>().unwrap();
            continue;
        }
        let number: u64 = text.strip_prefix("app[web.1]: burst ").unwrap_or_else(|| panic!("{text}"))[..6].parse().unwrap();
        assert!(last.is_none_or(|last| number > last), "line {number} after {last:?}");
        last = Some(number);
        seen += 1;
    }
    assert!((100_000..=100_003).contains(&(seen + dropped)), "seen {seen}, dropped {dropped}");
    println!("the tail saw {seen} burst lines and was told {dropped} were dropped");
}

#[test]
fn a_guest_that_prints_shows_up_as_app_web_1_beside_router_lines() {
    let server = TestServer::start();
    let repo = printer(&server);
    let mut tail = Following::start(server.paas().args(["logs", "--tail", "-a", "printer"]).env_remove("PAAS_APP"));
    support::push(&server, repo.path());

    let host = "Host: printer.localhost";
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let output = run(Command::new("curl").args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", host]).arg(format!("{}/hello?x=1", server.router_url)));
        if String::from_utf8_lossy(&output.stdout) == "404" {
            break;
        }
        assert!(Instant::now() < deadline, "printer never answered");
        std::thread::sleep(Duration::from_millis(200));
    }
    let lines = tail.until("the guest's line and the router's", |lines| {
        has(lines, "app[web.1]: serving /hello?x=1")
            && lines.iter().any(|l| l.contains(" paas[router]: at=info method=GET path=\"/hello?x=1\"") && l.contains(" status=404 "))
    });
    assert!(lines.iter().any(|l| l.contains(" app[api]: Build started by operator@localhost")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains(" app[api]: Deploy ") && l.ends_with(" by operator@localhost")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.contains(" paas[web.1]: State changed from starting to up")), "{lines:#?}");
    let router = lines.iter().find(|l| l.contains("paas[router]: at=info method=GET path=\"/hello?x=1\"")).unwrap();
    assert!(router.contains(" host=printer.localhost ") && router.contains(" dyno=web.1 "), "{router}");
    assert!(tail.running());

    // Two web dynos: the scale event, web.2's state change and output; --dyno web.2 and -p web.
    paas(&server, &["ps:scale", "web=2", "-a", "printer"]);
    tail.until("the scale and web.2 up", |lines| {
        has(lines, "app[api]: Scaled to web@2:Basic by operator@localhost")
            && lines.iter().any(|l| l.contains(" paas[web.2]: State changed from starting to up"))
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while !tail.until("anything", |_| true).iter().any(|l| l.contains(" app[web.2]: serving /two")) {
        assert!(Instant::now() < deadline, "web.2 never served /two");
        run(Command::new("curl").args(["-sS", "-o", "/dev/null", "-H", host]).arg(format!("{}/two", server.router_url)));
    }
    drop(tail);
    let web2 = untimed_lines(&paas(&server, &["logs", "-a", "printer", "--dyno", "web.2"]));
    assert!(web2.iter().any(|l| l == "app[web.2]: serving /two"), "{web2:#?}");
    assert!(web2.iter().all(|l| l.starts_with("app[web.2]: ") || l.starts_with("paas[web.2]: ")), "{web2:#?}");
    let web = untimed_lines(&paas(&server, &["logs", "-a", "printer", "-p", "web", "-n", "1500"]));
    assert!(web.iter().any(|l| l.starts_with("app[web.1]: ")) && web.iter().any(|l| l.starts_with("app[web.2]: ")), "{web:#?}");
    assert!(web.iter().all(|l| l.contains("[web.1]: ") || l.contains("[web.2]: ")), "{web:#?}");

    // The same lines, filtered, without tail.
    let web = paas(&server, &["logs", "-a", "printer", "--dyno", "web.1", "--source", "app"]);
    let web = untimed_lines(&web);
    assert!(web.iter().any(|l| l == "app[web.1]: serving /hello?x=1"), "{web:#?}");
    assert!(web.iter().all(|l| l.starts_with("app[web.1]: serving /")), "{web:#?}");
    let routed = paas(&server, &["logs", "-a", "printer", "-d", "router"]);
    assert!(untimed_lines(&routed).iter().all(|l| l.starts_with("paas[router]: ")), "{routed}");
}
