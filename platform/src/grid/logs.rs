//! One log stream per app across the grid. Each node keeps the lines it produced (its router's,
//! its dynos', the API events it answered) in its own logplex; nothing is copied ahead of time.
//! A log session opened on any node collates them when it is read: the node serving the session
//! asks every other node that is up for the same lines (`GET /grid/apps/{id}/logs`, node key
//! only: [`serve`], newline-delimited JSON records), merges the histories by time (the newest
//! `lines` of them all) and then interleaves the tails as they arrive.
//!
//! The SSE ids of a collated stream are cursors over all nodes (`3f2a9c1e:41,b07d5e22:17`: the
//! first 8 hex digits of each node's id and the last line read from it), so a client that
//! reconnects with `Last-Event-ID` resumes every node where it left off. A node that does not
//! answer, or whose stream breaks, is named in a `paas[logplex]` line and the stream goes on
//! with the others. Drains are per node: each node delivers its own lines, so none goes twice.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Node;
use super::auth::NodeCaller;
use super::peers::Peers;
use crate::api::{ApiError, AppState};
use crate::logplex::sse::{self, Follower, Next};
use crate::logplex::{Filter, LogLine, LogSession, Logplex, Source, TailEnd, overflow_line};

/// The longest record a node accepts from another (a line is far shorter).
pub const MAX_RECORD: usize = 1 << 20;

/// How long a session waits for another node's history before going on without that node.
pub const HISTORY_WAIT: Duration = Duration::from_secs(5);

/// A node's answer that sends nothing for this long, not even the keep-alive an idle tail sends
/// every [`sse::KEEPALIVE`], is cut off (its machine is gone, or the network between): the
/// session names it (`lines of node c stop here: …`) rather than waiting for it forever.
pub const PEER_IDLE: Duration = Duration::from_secs(sse::KEEPALIVE.as_secs() * 2 + 5);

/// One record of a node's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Record {
    /// A line of the node's stream, with its id there.
    Line {
        /// Its id in the node's stream.
        id: u64,
        /// When it was written.
        at: DateTime<Utc>,
        /// `app` or `paas`.
        source: String,
        /// `web.1`, `router`, …
        process: String,
        /// The text.
        text: String,
    },
    /// Lines that fell off the node's buffer before they were read.
    Dropped {
        /// How many.
        count: u64,
    },
    /// The history has been sent; the tail (if asked for) follows after line `cursor`.
    CaughtUp {
        /// The id of the newest line of the node's stream when the history was read.
        cursor: u64,
    },
}

impl Record {
    fn of(line: &LogLine) -> Record {
        Record::Line {
            id: line.id,
            at: line.timestamp,
            source: line.source.as_str().to_string(),
            process: line.process.clone(),
            text: line.text.clone(),
        }
    }
}

/// What a node asks another for: a session's filter and size, and where to resume.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// Past lines (ignored when resuming).
    #[serde(default)]
    pub lines: usize,
    /// A dyno or process type.
    pub dyno: Option<String>,
    /// `app` or `paas`.
    pub source: Option<String>,
    /// Follow new lines.
    #[serde(default)]
    pub tail: bool,
    /// Resume after this line (no history).
    pub after: Option<u64>,
}

/// `GET /grid/apps/{app_id}/logs?lines&dyno&source&tail&after`: this node's lines of the app, for
/// another node's log session, as newline-delimited [`Record`]s (an empty line keeps an idle
/// tail's connection open).
pub async fn serve(
    NodeCaller(_node): NodeCaller,
    State(state): State<AppState>,
    Path(app_id): Path<Uuid>,
    Query(ask): Query<Ask>,
) -> Result<Response, ApiError> {
    let app = super::peers::app_asked(&state, app_id).await?;
    let source = match ask.source.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some(s) => Some(Source::parse(s).ok_or_else(|| ApiError::bad_request(format!("Unknown log source {s:?}.")))?),
    };
    let filter = Filter { dyno: ask.dyno.clone().filter(|d| !d.is_empty()), source };
    let mut head = String::new();
    let cursor = match ask.after {
        Some(after) => after,
        None => {
            let lines = ask.lines.min(state.logs.config().capacity);
            let (lines, last) =
                state.logs.app(&app.name).with_ring(|ring| (ring.tail(lines, |l| filter.accepts(l)), ring.last_id()));
            for line in &lines {
                push_record(&mut head, &Record::of(line));
            }
            last
        }
    };
    push_record(&mut head, &Record::CaughtUp { cursor });
    let follower = (ask.tail || ask.after.is_some())
        .then(|| Follower::new(&state.logs, &app.name, filter, cursor, ask.tail, TailEnd::never()));
    let tail = futures::stream::unfold(follower, |follower| async move {
        let mut follower = follower?;
        let mut text = String::new();
        match follower.next().await? {
            Next::KeepAlive => text.push('\n'),
            Next::Lines { dropped, lines } => {
                if dropped > 0 {
                    push_record(&mut text, &Record::Dropped { count: dropped });
                }
                for line in &lines {
                    push_record(&mut text, &Record::of(line));
                }
            }
        }
        Some((Ok::<_, std::io::Error>(Bytes::from(text)), Some(follower)))
    });
    let body = futures::stream::once(async move { Ok(Bytes::from(head)) }).chain(tail);
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(body)).into_response())
}

fn push_record(out: &mut String, record: &Record) {
    if let Ok(json) = serde_json::to_string(record) {
        out.push_str(&json);
        out.push('\n');
    }
}

/// Where a collated stream stands on each node: the first 8 hex digits of the node's id → the
/// last line read from it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cursor(BTreeMap<String, u64>);

impl Cursor {
    /// Reads `3f2a9c1e:41,b07d5e22:17`; `None` for anything else.
    pub fn parse(text: &str) -> Option<Cursor> {
        let mut cursor = BTreeMap::new();
        for part in text.trim().split(',') {
            let (node, id) = part.split_once(':')?;
            if node.len() != 8 || !node.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            cursor.insert(node.to_ascii_lowercase(), id.parse().ok()?);
        }
        Some(Cursor(cursor))
    }

    /// The id of the last line read from `node`.
    pub fn get(&self, node: Uuid) -> Option<u64> {
        self.0.get(&short(node)).copied()
    }

    /// Notes the last line read from `node`.
    pub fn set(&mut self, node: Uuid, id: u64) {
        self.0.insert(short(node), id);
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(node, id)| format!("{node}:{id}")).collect();
        f.write_str(&parts.join(","))
    }
}

/// A node's id as a cursor names it.
fn short(node: Uuid) -> String {
    node.simple().to_string()[..8].to_string()
}

/// What one node's part of a collated stream yields.
enum Item {
    /// Lines (with the node's id of the last one), after `dropped` lost ones.
    Lines { dropped: u64, lines: Vec<LogLine>, last: Option<u64> },
    /// Nothing new for a while.
    KeepAlive,
    /// The node's part ended (`None`: this node's own: the whole stream ends).
    Ended(Option<String>),
}

type Part = Pin<Box<dyn Stream<Item = (Uuid, Item)> + Send>>;

/// The SSE stream of `session` over every node's lines of the app (`app_id`, called `app` here),
/// resuming after `last_event_id`; `None` when this node is alone and the client resumes no
/// collated stream (the single node's stream, [`crate::logplex::sse::stream`], serves it).
pub async fn collated(
    peers: &Peers,
    logplex: &Logplex,
    app: &str,
    app_id: Uuid,
    session: LogSession,
    end: TailEnd,
    last_event_id: Option<&str>,
) -> Option<impl Stream<Item = sse::Batch> + Send + 'static> {
    let me = peers.agent().id;
    let others = peers.others().await;
    let resume = match last_event_id {
        None => None,
        Some(text) => match (Cursor::parse(text), text.trim().parse::<u64>()) {
            (Some(cursor), _) => Some(cursor),
            // A single node's id: this node's line; the others from now on.
            (None, Ok(id)) if !others.is_empty() => {
                let mut cursor = Cursor::default();
                cursor.set(me, id);
                Some(cursor)
            }
            _ => None,
        },
    };
    if others.is_empty() && resume.is_none() {
        return None;
    }
    let follow = session.tail || resume.is_some();
    let mut cursor = Cursor::default();
    let mut history: Vec<(DateTime<Utc>, usize, u64, LogLine)> = Vec::new();
    let mut notices = Vec::new();

    // Every other node, asked at once; each gives its history (open and history of each within
    // one HISTORY_WAIT, all nodes at the same time), then (following) its tail.
    let asked = others.iter().map(|node| {
        // A node the cursor does not name (new since): none of its history, its lines from now on.
        let (after, lines) = match resume.as_ref() {
            None => (None, session.lines),
            Some(cursor) => match cursor.get(node.id) {
                Some(at) => (Some(at), session.lines),
                None => (None, 0),
            },
        };
        let ask = Ask {
            lines,
            dyno: session.filter.dyno.clone(),
            source: session.filter.source.map(|s| s.as_str().to_string()),
            tail: session.tail,
            after,
        };
        tokio::time::timeout(HISTORY_WAIT, async move {
            let mut records = open(peers, node, app_id, ask).await?;
            let (lines, caught_up) = read_history(&mut records).await?;
            Ok::<_, String>((records, lines, caught_up))
        })
    });
    let mut parts: Vec<Part> = Vec::new();
    for (order, (node, answered)) in others.iter().zip(futures::future::join_all(asked).await).enumerate() {
        match answered {
            Ok(Ok((records, lines, caught_up))) => {
                for (id, line) in lines {
                    history.push((line.timestamp, order + 1, id, line));
                }
                cursor.set(node.id, resume.as_ref().and_then(|c| c.get(node.id)).map_or(caught_up, |at| at.max(caught_up)));
                if follow {
                    parts.push(peer_part(node, records));
                }
            }
            Ok(Err(e)) => notices.push(not_included(node, &e)),
            Err(_) => notices.push(not_included(node, "no answer within 5 s")),
        }
    }

    // This node's own lines.
    let log = logplex.app(app);
    let local_cursor = match resume.as_ref() {
        Some(resume) => resume.get(me).unwrap_or_else(|| log.with_ring(crate::logplex::Ring::last_id)),
        None => {
            let (lines, last) = log.with_ring(|ring| (ring.tail(session.lines, |l| session.filter.accepts(l)), ring.last_id()));
            for line in lines {
                history.push((line.timestamp, 0, line.id, LogLine { id: 0, ..(*line).clone() }));
            }
            last
        }
    };
    cursor.set(me, local_cursor);
    if resume.is_none() {
        history.sort_by_key(|(at, order, id, _)| (*at, *order, *id));
    }
    let skip = history.len().saturating_sub(session.lines);
    let mut lines: Vec<LogLine> = history.into_iter().skip(skip).map(|(_, _, _, line)| line).collect();
    lines.extend(notices);
    let mut head = vec![sse::retry()];
    head.extend(events(&lines, &cursor));
    if !follow {
        return Some(futures::stream::once(async move { head }).boxed());
    }
    let follower = Follower::new(logplex, app, session.filter, local_cursor, session.tail, end);
    parts.push(local_part(me, follower));
    let merged = futures::stream::select_all(parts);
    let tail = futures::stream::unfold((merged, cursor, false), |(mut merged, mut cursor, finished)| async move {
        if finished {
            return None;
        }
        // What is ready, up to a batch, goes out in one chunk.
        let mut items = vec![merged.next().await?];
        while items.len() < 256
            && let Some(Some(item)) = futures::FutureExt::now_or_never(merged.next())
        {
            items.push(item);
        }
        let (mut lines, mut alive, mut done) = (Vec::new(), false, false);
        for (node, item) in items {
            match item {
                Item::Lines { dropped, lines: more, last } => {
                    if dropped > 0 {
                        lines.push(overflow_line(dropped));
                    }
                    lines.extend(more);
                    if let Some(last) = last {
                        cursor.set(node, last);
                    }
                }
                Item::KeepAlive => alive = true,
                // This node's own tail ended (the session's end, or the server stopping).
                Item::Ended(None) => done = true,
                Item::Ended(Some(why)) => lines.push(notice(&why)),
            }
        }
        let mut batch = events(&lines, &cursor);
        if batch.is_empty() && alive {
            batch.push(sse::keep_alive());
        }
        Some((batch, (merged, cursor, done)))
    })
    .filter(|batch| std::future::ready(!batch.is_empty()));
    Some(futures::stream::once(async move { head }).chain(tail).boxed())
}

/// The SSE events of `lines`; the last carries `cursor` as its id.
fn events(lines: &[LogLine], cursor: &Cursor) -> sse::Batch {
    let last = lines.len().saturating_sub(1);
    lines.iter().enumerate().map(|(n, line)| sse::line_event((n == last).then_some(cursor), line)).collect()
}

/// A `paas[logplex]` line.
fn notice(text: &str) -> LogLine {
    LogLine::new(Source::Paas, "logplex", Utc::now(), text)
}

fn not_included(node: &Node, why: &str) -> LogLine {
    notice(&format!("lines of node {} are not included: {why}", node.name))
}

type Records = Pin<Box<dyn Stream<Item = Result<Record, String>> + Send>>;

/// Asks `node` for its lines of the app.
async fn open(peers: &Peers, node: &Node, app_id: Uuid, ask: Ask) -> Result<Records, String> {
    let mut query = format!("lines={}&tail={}", ask.lines, ask.tail);
    for (name, value) in [("dyno", ask.dyno), ("source", ask.source), ("after", ask.after.map(|a| a.to_string()))] {
        if let Some(value) = value {
            query.push_str(&format!("&{name}={}", encode(&value)));
        }
    }
    let response = peers.get(node, &format!("/grid/apps/{app_id}/logs?{query}"), None).await.map_err(|e| e.to_string())?;
    Ok(records(response.bytes_stream()))
}

/// The records of a node's answer: newline-delimited JSON, each at most [`MAX_RECORD`] bytes;
/// empty lines (keep-alives) skipped; an error once nothing came for [`PEER_IDLE`].
fn records<S, E>(body: S) -> Records
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display,
{
    records_within(body, PEER_IDLE)
}

/// [`records`], with an error once nothing (not even a keep-alive) came for `idle`.
fn records_within<S, E>(body: S, idle: Duration) -> Records
where
    S: Stream<Item = Result<Bytes, E>> + Send + 'static,
    E: std::fmt::Display,
{
    let state = (Box::pin(body), Vec::<u8>::new(), false);
    Box::pin(futures::stream::unfold(state, move |(mut body, mut pending, mut failed)| async move {
        loop {
            if failed {
                return None;
            }
            if let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = pending.drain(..=end).collect();
                let raw = &raw[..raw.len() - 1];
                if raw.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                let record = serde_json::from_slice::<Record>(raw).map_err(|e| format!("unreadable record: {e}"));
                failed = record.is_err();
                return Some((record, (body, pending, failed)));
            }
            if pending.len() > MAX_RECORD {
                return Some((Err(format!("a record over {MAX_RECORD} bytes")), (body, pending, true)));
            }
            match tokio::time::timeout(idle, body.next()).await {
                Ok(Some(Ok(chunk))) => pending.extend_from_slice(&chunk),
                Ok(Some(Err(e))) => return Some((Err(e.to_string()), (body, pending, true))),
                Ok(None) => return None,
                Err(_) => {
                    let why = format!("nothing came from it for {} s, not even a keep-alive", idle.as_secs_f32());
                    return Some((Err(why), (body, pending, true)));
                }
            }
        }
    }))
}

/// Reads a node's history: its lines (with their ids there) until [`Record::CaughtUp`].
async fn read_history(records: &mut Records) -> Result<(Vec<(u64, LogLine)>, u64), String> {
    let mut lines = Vec::new();
    while let Some(record) = records.next().await {
        match record? {
            Record::CaughtUp { cursor } => return Ok((lines, cursor)),
            Record::Line { id, at, source, process, text } => lines.push((id, line_of(at, &source, &process, &text))),
            Record::Dropped { count } => lines.push((0, overflow_line(count))),
        }
    }
    Err("the answer ended before its history did".into())
}

fn line_of(at: DateTime<Utc>, source: &str, process: &str, text: &str) -> LogLine {
    LogLine::new(Source::parse(source).unwrap_or(Source::Paas), process, at, text)
}

/// A node's tail as a part of the collated stream.
fn peer_part(node: &Node, records: Records) -> Part {
    let (id, name) = (node.id, node.name.clone());
    let stop = move |why: &str| Item::Ended(Some(format!("lines of node {name} stop here: {why}")));
    let on_error = stop.clone();
    let items = records.map(move |record| match record {
        Ok(Record::Line { id, at, source, process, text }) => {
            Item::Lines { dropped: 0, lines: vec![line_of(at, &source, &process, &text)], last: Some(id) }
        }
        Ok(Record::Dropped { count }) => Item::Lines { dropped: count, lines: Vec::new(), last: None },
        Ok(Record::CaughtUp { .. }) => Item::Lines { dropped: 0, lines: Vec::new(), last: None },
        Err(e) => on_error(&e),
    });
    // A stream that just ends (the node stopped) says so too; after an error nothing follows.
    let ended = futures::stream::once(std::future::ready(stop("its stream ended")));
    let items = items.chain(ended).scan(false, |stopped, item| {
        let out = if *stopped { None } else { Some(item) };
        if matches!(out, Some(Item::Ended(_))) {
            *stopped = true;
        }
        std::future::ready(out)
    });
    Box::pin(items.map(move |item| (id, item)))
}

/// This node's own tail as a part of the collated stream; its end ends the stream.
fn local_part(node: Uuid, follower: Follower) -> Part {
    let items = futures::stream::unfold(Some(follower), |follower| async move {
        let mut follower = follower?;
        match follower.next().await {
            None => Some((Item::Ended(None), None)),
            Some(Next::KeepAlive) => Some((Item::KeepAlive, Some(follower))),
            Some(Next::Lines { dropped, lines }) => {
                let lines = lines.iter().map(|line| LogLine { id: 0, ..LogLine::clone(line) }).collect();
                let last = Some(follower.cursor());
                Some((Item::Lines { dropped, lines, last }, Some(follower)))
            }
        }
    });
    Box::pin(items.map(move |item| (node, item)))
}

/// `value` for a query string: every byte but letters, digits and `-._~` percent-encoded.
fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => char::from(b).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_as_written() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let mut cursor = Cursor::default();
        cursor.set(a, 41);
        cursor.set(b, 17);
        let read = Cursor::parse(&cursor.to_string()).unwrap();
        assert_eq!((read.get(a), read.get(b)), (Some(41), Some(17)));
        for bad in ["", "41", "xyz:1", "3f2a9c1e:x", "3f2a9c1e:1,", "../../etc:1"] {
            assert_eq!(Cursor::parse(bad), None, "{bad:?}");
        }
    }

    /// A node that answered, then stopped sending (its machine gone, the network cut): its part
    /// of the session ends with an error instead of waiting forever.
    #[tokio::test]
    async fn a_node_that_stops_sending_is_cut_off_after_the_idle_time() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut request = [0u8; 1024];
            let _ = socket.read(&mut request).await;
            let head = "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\ntransfer-encoding: chunked\r\n\r\n";
            let record = "{\"caught_up\":{\"cursor\":7}}\n";
            let chunk = format!("{head}{:x}\r\n{record}\r\n", record.len());
            socket.write_all(chunk.as_bytes()).await.unwrap();
            // Then silence, with the connection held open.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(socket);
        });
        let _ = rustls::crypto::ring::default_provider().install_default();
        let response = reqwest::Client::new().get(format!("http://{addr}/")).send().await.unwrap();
        let started = std::time::Instant::now();
        let mut read = records_within(response.bytes_stream(), Duration::from_millis(300));
        assert_eq!(read.next().await, Some(Ok(Record::CaughtUp { cursor: 7 })));
        let cut = tokio::time::timeout(Duration::from_secs(10), read.next()).await.expect("cut off, not waited for");
        let why = cut.unwrap().unwrap_err();
        assert!(why.contains("not even a keep-alive"), "{why}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        assert_eq!(read.next().await, None, "nothing after the error");
        assert!(PEER_IDLE > sse::KEEPALIVE * 2, "a live but idle node's keep-alives keep it");
    }

    #[tokio::test]
    async fn records_are_read_across_chunks_and_bounded() {
        let line = Record::Line { id: 3, at: Utc::now(), source: "app".into(), process: "web.1".into(), text: "hi".into() };
        let mut text = serde_json::to_string(&line).unwrap();
        text.push_str("\n\n{\"caught_up\":{\"cursor\":3}}\n");
        let (one, two) = text.split_at(10);
        let chunks = vec![Ok::<_, String>(Bytes::from(one.to_string())), Ok(Bytes::from(two.to_string()))];
        let read: Vec<_> = records(futures::stream::iter(chunks)).collect().await;
        assert_eq!(read, vec![Ok(line), Ok(Record::CaughtUp { cursor: 3 })]);
        let huge = vec![Ok::<_, String>(Bytes::from(vec![b'x'; MAX_RECORD + 2]))];
        let read: Vec<_> = records(futures::stream::iter(huge)).collect().await;
        assert_eq!(read.len(), 1);
        assert!(read[0].as_ref().unwrap_err().contains("over"), "{read:?}");
    }
}
