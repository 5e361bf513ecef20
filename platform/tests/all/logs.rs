//! Logplex in-process: the ring buffer and its overflow message, log sessions (SSE format,
//! history, tail, `Last-Event-ID`, filters, expired and forged URLs) through the API router, and
//! drains delivering to a real TCP syslog listener and a real HTTP listener started here.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use paas_platform::api::{self, AppState, PlatformConfig};
use paas_platform::logplex::{Logplex, LogplexConfig, Source};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::backends::{self, TestLedger};

/// How long a test waits for something that should come at once.
const SOON: Duration = Duration::from_secs(5);

pub(crate) struct Logs {
    pub(crate) state: AppState,
    pub(crate) key: String,
    _ledger: TestLedger,
}

pub(crate) async fn setup(config: LogplexConfig) -> Logs {
    let ledger = backends::sqlite().await;
    let (_, key) = ledger.ledger.create_user("operator@localhost", None, true).await.unwrap();
    let platform = PlatformConfig { domain: "localhost".into(), router_port: None, api_url: "http://127.0.0.1:5000".into() };
    let state = AppState { ledger: ledger.ledger.clone(), config: Arc::new(platform), deploys: None, logs: Logplex::new(config), limits: Default::default() };
    Logs { state, key, _ledger: ledger }
}

fn small(capacity: usize) -> LogplexConfig {
    LogplexConfig { capacity, ..LogplexConfig::default() }
}

/// `method path` with `key`'s bearer token and a JSON `body`, in-process through the API over
/// `state` (Accept: version=3.sdk, as the heroku CLI sends it): the status and the JSON answer
/// (`Null` for none).
pub(crate) async fn call_api(state: &AppState, key: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header("accept", "application/vnd.heroku+json; version=3.sdk")
        .header("authorization", format!("Bearer {key}"));
    if body.is_some() {
        request = request.header("content-type", "application/json");
    }
    let body = body.map_or_else(Body::empty, |b| Body::from(b.to_string()));
    let response = api::app(state.clone()).oneshot(request.body(body).unwrap()).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

impl Logs {
    pub(crate) async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_as(&self.key, method, path, body).await
    }

    /// [`Logs::call`] with another user's API key.
    pub(crate) async fn call_as(&self, key: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        call_api(&self.state, key, method, path, body).await
    }

    /// Makes a log session and answers its URL's path (what follows the API URL).
    pub(crate) async fn session(&self, app: &str, body: Value) -> String {
        let (status, reply) = self.call(Method::POST, &format!("/apps/{app}/log-sessions"), Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{reply}");
        for field in ["id", "created_at", "updated_at"] {
            assert!(reply[field].is_string(), "{field} in {reply}");
        }
        let url = reply["logplex_url"].as_str().unwrap();
        url.strip_prefix("http://127.0.0.1:5000").expect("on the API listener").to_string()
    }

    /// Opens a session's URL as `heroku logs` does: no Authorization.
    pub(crate) async fn open(&self, path: &str, last_event_id: Option<u64>) -> (StatusCode, Option<String>, Body) {
        let mut request = Request::builder().uri(path).header("accept", "text/event-stream");
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        let response = api::app(self.state.clone()).oneshot(request.body(Body::empty()).unwrap()).await.unwrap();
        let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
        (response.status(), content_type, response.into_body())
    }
}

/// The next chunk of a streamed body (`None`: it ended), failing after [`SOON`].
pub(crate) async fn chunk(body: &mut Body) -> Option<String> {
    loop {
        let frame = tokio::time::timeout(SOON, body.frame()).await.expect("a chunk in time")?.unwrap();
        if let Ok(data) = frame.into_data() {
            return Some(String::from_utf8(data.to_vec()).unwrap());
        }
    }
}

/// All of a body that ends.
pub(crate) async fn all(mut body: Body) -> String {
    let mut text = String::new();
    while let Some(part) = chunk(&mut body).await {
        text.push_str(&part);
    }
    text
}

/// SSE text with each line's timestamp checked and replaced by `T`.
pub(crate) fn untimed(sse: &str) -> String {
    sse.lines()
        .map(|line| match line.strip_prefix("data: ") {
            Some(data) => {
                let (time, rest) = data.split_once(' ').unwrap();
                assert!(chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with("+00:00"), "{time}");
                assert_eq!(time.len(), "2026-11-21T20:45:30.020000+00:00".len(), "{time}");
                format!("data: T {rest}")
            }
            None => line.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn publish(logs: &Logs, app: &str, source: Source, process: &str, texts: impl IntoIterator<Item = String>) {
    for text in texts {
        logs.state.logs.publish(app, source, process, &text);
    }
}

#[tokio::test]
async fn api_events_read_back_as_logplex_lines_in_an_event_stream() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "hello"}))).await;
    let (status, _) = logs.call(Method::PATCH, "/apps/hello/config-vars", Some(json!({"FOO": "bar"}))).await;
    assert_eq!(status, StatusCode::OK);
    let path = logs.session("hello", json!({"lines": 100, "tail": false})).await;
    let (status, content_type, body) = logs.open(&path, None).await;
    assert_eq!((status, content_type.as_deref()), (StatusCode::OK, Some("text/event-stream")));
    assert_eq!(
        untimed(&all(body).await),
        "retry: 1\n\n\
         id: 1\ndata: T app[api]: Initial release by operator@localhost\n\n\
         id: 2\ndata: T app[api]: Release v1 created by operator@localhost\n\n\
         id: 3\ndata: T app[api]: Set FOO config vars by operator@localhost\n\n\
         id: 4\ndata: T app[api]: Release v2 created by operator@localhost\n"
    );
}

#[tokio::test]
async fn a_rollback_is_an_api_event() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "hello"}))).await;
    logs.call(Method::PATCH, "/apps/hello/config-vars", Some(json!({"FOO": "bar"}))).await;
    let (status, _) = logs.call(Method::POST, "/apps/hello/releases", Some(json!({"release": "1"}))).await;
    assert_eq!(status, StatusCode::CREATED);
    let path = logs.session("hello", json!({"lines": 2})).await;
    let (_, _, body) = logs.open(&path, None).await;
    assert_eq!(
        untimed(&all(body).await),
        "retry: 1\n\n\
         id: 5\ndata: T app[api]: Rollback to v1 by operator@localhost\n\n\
         id: 6\ndata: T app[api]: Release v3 created by operator@localhost\n"
    );
}

#[tokio::test]
async fn the_ring_keeps_the_last_lines_and_n_picks_the_newest() {
    let logs = setup(small(5)).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "ring"}))).await;
    publish(&logs, "ring", Source::App, "web.1", (1..=8).map(|n| format!("line {n}")));
    let (_, _, body) = logs.open(&logs.session("ring", json!({})).await, None).await;
    let text = untimed(&all(body).await);
    let ids: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("id: ")).collect();
    assert_eq!(ids, ["6", "7", "8", "9", "10"], "{text}");
    assert!(text.ends_with("id: 10\ndata: T app[web.1]: line 8\n"), "{text}");
    // More lines than the buffer holds: all of it.
    let (_, _, body) = logs.open(&logs.session("ring", json!({"lines": 5000})).await, None).await;
    assert_eq!(all(body).await.matches("id: ").count(), 5);
    let (_, _, body) = logs.open(&logs.session("ring", json!({"lines": 1})).await, None).await;
    assert_eq!(untimed(&all(body).await), "retry: 1\n\nid: 10\ndata: T app[web.1]: line 8\n");
}

#[tokio::test]
async fn a_tail_follows_new_lines_and_a_slow_reader_is_told_what_it_lost() {
    let logs = setup(small(10)).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "tail"}))).await;
    let path = logs.session("tail", json!({"lines": 1, "tail": true})).await;
    let (_, _, mut body) = logs.open(&path, None).await;
    assert_eq!(untimed(&chunk(&mut body).await.unwrap()), "retry: 1\n\nid: 2\ndata: T app[api]: Release v1 created by operator@localhost\n");
    // A line written after the tail started.
    publish(&logs, "tail", Source::App, "web.1", ["after".to_string()]);
    assert_eq!(untimed(&chunk(&mut body).await.unwrap()), "id: 3\ndata: T app[web.1]: after\n");
    // 25 lines while the reader reads nothing: the buffer holds 10, 15 are lost and said so.
    publish(&logs, "tail", Source::App, "web.1", (1..=25).map(|n| format!("burst {n}")));
    let text = untimed(&chunk(&mut body).await.unwrap());
    let mut events = text.split("\n\n");
    assert_eq!(events.next(), Some("data: T paas[logplex]: Error L10 (output buffer overflow): 15 messages dropped"));
    assert_eq!(events.next(), Some("id: 19\ndata: T app[web.1]: burst 16"));
    assert_eq!(text.matches("id: ").count(), 10, "{text}");
    assert!(text.ends_with("id: 28\ndata: T app[web.1]: burst 25\n"), "{text}");
    // Nothing more until something is written.
    assert!(tokio::time::timeout(Duration::from_millis(200), body.frame()).await.is_err());
    // Closing the collator (server shutdown) ends the tail.
    logs.state.logs.close();
    assert_eq!(chunk(&mut body).await, None);
}

#[tokio::test]
async fn a_reconnect_with_last_event_id_continues_after_that_line() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "resume"}))).await;
    publish(&logs, "resume", Source::App, "web.1", (3..=6).map(|n| format!("line {n}")));
    let path = logs.session("resume", json!({"tail": true})).await;
    let (_, _, mut body) = logs.open(&path, Some(4)).await;
    assert_eq!(chunk(&mut body).await.unwrap(), "retry: 1\n\n");
    assert_eq!(untimed(&chunk(&mut body).await.unwrap()), "id: 5\ndata: T app[web.1]: line 5\n\nid: 6\ndata: T app[web.1]: line 6\n");
    publish(&logs, "resume", Source::App, "web.1", ["line 7".to_string()]);
    assert_eq!(untimed(&chunk(&mut body).await.unwrap()), "id: 7\ndata: T app[web.1]: line 7\n");
    // Without tail, a resume sends what came after and ends.
    let path = logs.session("resume", json!({})).await;
    let (_, _, body) = logs.open(&path, Some(6)).await;
    assert_eq!(untimed(&all(body).await), "retry: 1\n\nid: 7\ndata: T app[web.1]: line 7\n");
}

/// The data of each event in `sse`, read as a browser's EventSource reads it: lines end at
/// `\r\n`, `\n` or `\r`; an event's `data:` fields are joined by `\n`.
fn event_data(sse: &str) -> Vec<String> {
    let (mut events, mut data) = (Vec::new(), None::<String>);
    for line in sse.replace("\r\n", "\n").split(['\r', '\n']) {
        if line.is_empty() {
            events.extend(data.take());
        } else if let Some(value) = line.strip_prefix("data:") {
            let value = value.strip_prefix(' ').unwrap_or(value);
            data = Some(match data.take() {
                Some(before) => format!("{before}\n{value}"),
                None => value.to_string(),
            });
        }
    }
    events
}

/// What broke: a `\r` inside a line went out raw and ended its `data:` field, so clients read
/// the line up to the `\r` and dropped the rest (`progress: 50%\rprogress: 100%`).
#[tokio::test]
async fn a_log_line_with_a_carriage_return_arrives_whole() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "carriage"}))).await;
    let path = logs.session("carriage", json!({"lines": 1, "tail": true})).await;
    publish(&logs, "carriage", Source::App, "web.1", ["progress: 50%\rprogress: 100%".to_string()]);
    let (_, _, mut body) = logs.open(&path, None).await;
    let history = chunk(&mut body).await.unwrap();
    let events = event_data(&history);
    assert_eq!(events.len(), 1, "{history:?}");
    assert!(events[0].ends_with(" app[web.1]: progress: 50%\nprogress: 100%"), "{history:?}");
    // The same through the tail, and a line after it is a separate event.
    publish(&logs, "carriage", Source::App, "web.1", ["a\rb\rc".to_string(), "next".to_string()]);
    let mut tail = String::new();
    while event_data(&tail).len() < 2 {
        tail.push_str(&chunk(&mut body).await.unwrap());
    }
    let events = event_data(&tail);
    assert!(events[0].ends_with(" app[web.1]: a\nb\nc"), "{tail:?}");
    assert!(events[1].ends_with(" app[web.1]: next"), "{tail:?}");
}

#[tokio::test]
async fn sessions_filter_by_dyno_process_type_and_source() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "filter"}))).await;
    publish(&logs, "filter", Source::App, "web.1", ["one".to_string()]);
    publish(&logs, "filter", Source::App, "web.2", ["two".to_string()]);
    publish(&logs, "filter", Source::Paas, "router", ["at=info status=200".to_string()]);
    publish(&logs, "filter", Source::Paas, "web.2", ["State changed from starting to up".to_string()]);
    publish(&logs, "filter", Source::App, "worker.1", ["work".to_string()]);
    let read = |body: Value| {
        let logs = &logs;
        async move {
            let (_, _, stream) = logs.open(&logs.session("filter", body).await, None).await;
            let text = all(stream).await;
            text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|l| l.split_once(' ').unwrap().1.to_string()).collect::<Vec<_>>()
        }
    };
    assert_eq!(read(json!({"dyno": "web.2"})).await, ["app[web.2]: two", "paas[web.2]: State changed from starting to up"]);
    assert_eq!(read(json!({"dyno": "web", "source": "app"})).await, ["app[web.1]: one", "app[web.2]: two"]);
    assert_eq!(read(json!({"source": "paas"})).await, ["paas[router]: at=info status=200", "paas[web.2]: State changed from starting to up"]);
    assert_eq!(read(json!({"source": "heroku", "dyno": "router"})).await, ["paas[router]: at=info status=200"]);
    let (status, reply) = logs.call(Method::POST, "/apps/filter/log-sessions", Some(json!({"source": "nope"}))).await;
    assert_eq!((status, reply["id"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_params")));
    let (status, _) = logs.call(Method::POST, "/apps/nope/log-sessions", Some(json!({}))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn expired_and_forged_log_session_urls_are_404() {
    let logs = setup(LogplexConfig { session_ttl: Duration::from_millis(300), ..LogplexConfig::default() }).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "expiry"}))).await;
    let path = logs.session("expiry", json!({})).await;
    let token = path.strip_prefix("/log-sessions/").unwrap();
    assert_eq!(token.len(), 64, "{token}");
    let (status, _, _) = logs.open(&path, None).await;
    assert_eq!(status, StatusCode::OK);
    let mut forged = token.to_string();
    forged.replace_range(0..1, if token.starts_with('0') { "1" } else { "0" });
    let (status, content_type, _) = logs.open(&format!("/log-sessions/{forged}"), None).await;
    assert_eq!((status, content_type.as_deref()), (StatusCode::NOT_FOUND, Some("application/json")));
    tokio::time::sleep(Duration::from_millis(400)).await;
    let (status, _, _) = logs.open(&path, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Reads one octet-counted frame (`LEN SP MSG`).
async fn read_frame(reader: &mut BufReader<tokio::net::TcpStream>) -> String {
    let mut len = Vec::new();
    tokio::time::timeout(SOON, reader.read_until(b' ', &mut len)).await.expect("a frame in time").unwrap();
    let len: usize = std::str::from_utf8(&len).unwrap().trim().parse().unwrap();
    let mut message = vec![0; len];
    tokio::time::timeout(SOON, reader.read_exact(&mut message)).await.unwrap().unwrap();
    String::from_utf8(message).unwrap()
}

/// An RFC 5424 message with its timestamp checked and replaced by `T`.
fn untimed_syslog(message: &str) -> String {
    let mut parts: Vec<&str> = message.splitn(3, ' ').collect();
    assert!(chrono::DateTime::parse_from_rfc3339(parts[1]).is_ok(), "{message}");
    parts[1] = "T";
    parts.join(" ")
}

#[tokio::test]
async fn a_syslog_drain_receives_octet_counted_rfc5424_lines() {
    let logs = setup(LogplexConfig::default()).await;
    crate::drains::allow_loopback(&logs);
    logs.call(Method::POST, "/apps", Some(json!({"name": "drained"}))).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("syslog://{}", listener.local_addr().unwrap());
    let (status, drain) = logs.call(Method::POST, "/apps/drained/log-drains", Some(json!({"url": url}))).await;
    assert_eq!(status, StatusCode::CREATED, "{drain}");
    assert_eq!(drain["url"], url);
    assert_eq!(drain["addon"], Value::Null);
    let token = drain["token"].as_str().unwrap().to_string();
    assert!(token.starts_with("d.") && token.len() == 38, "{token}");
    publish(&logs, "drained", Source::App, "web.1", ["hello from web.1".to_string()]);
    publish(&logs, "drained", Source::Paas, "router", ["at=info status=200".to_string()]);
    let (socket, _) = tokio::time::timeout(SOON, listener.accept()).await.unwrap().unwrap();
    let mut reader = BufReader::new(socket);
    assert_eq!(
        untimed_syslog(&read_frame(&mut reader).await),
        format!("<190>1 T {token} app api - - Add drain {url} by operator@localhost")
    );
    assert_eq!(untimed_syslog(&read_frame(&mut reader).await), format!("<190>1 T {token} app web.1 - - hello from web.1"));
    assert_eq!(untimed_syslog(&read_frame(&mut reader).await), format!("<190>1 T {token} paas router - - at=info status=200"));

    // A renamed app keeps its drain (restarted: a new connection).
    let (status, _) = logs.call(Method::PATCH, "/apps/drained", Some(json!({"name": "renamed"}))).await;
    assert_eq!(status, StatusCode::OK);
    publish(&logs, "renamed", Source::App, "web.1", ["after the rename".to_string()]);
    let (socket, _) = tokio::time::timeout(SOON, listener.accept()).await.unwrap().unwrap();
    let mut reader = BufReader::new(socket);
    assert_eq!(untimed_syslog(&read_frame(&mut reader).await), format!("<190>1 T {token} app web.1 - - after the rename"));

    // Listed, and kept in the ledger; removed by its token, it stops.
    let (_, list) = logs.call(Method::GET, "/apps/renamed/log-drains", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], drain["id"]);
    let (status, removed) = logs.call(Method::DELETE, &format!("/apps/renamed/log-drains/{token}"), None).await;
    assert_eq!((status, &removed["id"]), (StatusCode::OK, &drain["id"]));
    let (_, list) = logs.call(Method::GET, "/apps/renamed/log-drains", None).await;
    assert_eq!(list, json!([]));
    let (status, _) = logs.call(Method::POST, "/apps/renamed/log-drains", Some(json!({"url": "ftp://x:1"}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// One HTTP request as the test's listener received it.
pub(crate) struct Received {
    pub(crate) head: String,
    pub(crate) body: String,
}

/// Accepts one connection, reads one request and answers `status`.
pub(crate) async fn serve_one(listener: &TcpListener, status: &str) -> Received {
    let (socket, _) = tokio::time::timeout(SOON, listener.accept()).await.expect("a request in time").unwrap();
    let mut reader = BufReader::new(socket);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line == "\r\n" || line.is_empty() {
            break;
        }
        head.push_str(&line);
    }
    let length: usize = head
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap();
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await.unwrap();
    let answer = format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    reader.get_mut().write_all(answer.as_bytes()).await.unwrap();
    Received { head, body: String::from_utf8(body).unwrap() }
}

fn header<'a>(received: &'a Received, name: &str) -> Option<&'a str> {
    received.head.lines().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.eq_ignore_ascii_case(name).then(|| value.trim())
    })
}

/// Splits an `application/logplex-1` body into its messages.
fn messages(mut body: &str) -> Vec<String> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let (len, rest) = body.split_once(' ').unwrap();
        let len: usize = len.parse().unwrap();
        out.push(untimed_syslog(&rest[..len]));
        body = &rest[len..];
    }
    out
}

#[tokio::test]
async fn an_http_drain_that_was_down_gets_the_buffer_and_how_many_lines_it_lost() {
    let logs = setup(small(5)).await;
    crate::drains::allow_loopback(&logs);
    logs.call(Method::POST, "/apps", Some(json!({"name": "web-drained"}))).await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/logs?app=web-drained", listener.local_addr().unwrap());
    let (status, drain) = logs.call(Method::POST, "/apps/web-drained/log-drains", Some(json!({"url": url}))).await;
    assert_eq!(status, StatusCode::CREATED, "{drain}");
    let token = drain["token"].as_str().unwrap();
    // 20 lines before the drain's task first runs (one thread: not before this test awaits).
    publish(&logs, "web-drained", Source::App, "web.1", (1..=20).map(|n| format!("line {n}")));
    // The endpoint is down (500) at first: the drain retries after a back-off.
    let failed = serve_one(&listener, "500 Internal Server Error").await;
    assert!(failed.head.starts_with("POST /logs?app=web-drained HTTP/1.1\r\n"), "{}", failed.head);
    let delivered = serve_one(&listener, "200 OK").await;
    assert_eq!(header(&delivered, "content-type"), Some("application/logplex-1"));
    assert_eq!(header(&delivered, "logplex-drain-token"), Some(token));
    assert_eq!(header(&delivered, "logplex-msg-count"), Some("6"));
    assert_eq!(header(&delivered, "logplex-frame-id").map(str::len), Some(32));
    let mut expected = vec!["<190>1 T host paas logplex - - Error L10 (output buffer overflow): 16 messages dropped".to_string()];
    expected.extend((16..=20).map(|n| format!("<190>1 T host app web.1 - - line {n}")));
    assert_eq!(messages(&delivered.body), expected);
    // The same frames were offered the first time.
    assert_eq!(messages(&failed.body), expected);
}

#[tokio::test]
async fn a_10_mb_burst_loses_lines_only_at_the_buffer_and_says_how_many() {
    let logs = setup(LogplexConfig::default()).await;
    logs.call(Method::POST, "/apps", Some(json!({"name": "burst"}))).await;
    let path = logs.session("burst", json!({"lines": 1, "tail": true})).await;
    let (_, _, mut body) = logs.open(&path, None).await;
    chunk(&mut body).await.unwrap();
    // 100,000 lines of 100 bytes while the reader reads nothing.
    let filler = "x".repeat(92);
    let started = std::time::Instant::now();
    for n in 0..100_000u32 {
        logs.state.logs.publish("burst", Source::App, "web.1", &format!("{n:07} {filler}"));
    }
    assert!(started.elapsed() < Duration::from_secs(10), "publishing 10 MB took {:?}", started.elapsed());
    let mut text = String::new();
    while !text.contains("id: 100002\n") {
        text.push_str(&chunk(&mut body).await.unwrap());
    }
    let data: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("data: ")).collect();
    assert_eq!(data.len(), 1 + 1500, "the overflow line, then the buffer");
    assert!(data[0].ends_with(" paas[logplex]: Error L10 (output buffer overflow): 98500 messages dropped"), "{}", data[0]);
    assert!(data[1].ends_with(&format!(" app[web.1]: 0098500 {filler}")), "{}", data[1]);
    assert!(data[1500].ends_with(&format!(" app[web.1]: 0099999 {filler}")), "{}", data[1500]);
}
