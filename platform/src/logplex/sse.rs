//! A log session's Server-Sent Events stream, as `heroku logs` reads it: `retry: 1` first, then
//! one event per line (`id: N` and `data: <logplex line>`). Without `tail` it sends the last N
//! lines and ends; with `tail` it follows new lines (a comment every 15 s keeps idle connections
//! open). After a reconnect with `Last-Event-ID` it continues after that line. A reader that fell
//! behind the buffer is told how many lines it lost (`Error L10`). A tail ends when its session's
//! [`TailEnd`] fires (the app destroyed or renamed, the user's access removed) or the server stops.
//!
//! Events are framed by axum's [`Event`]: a `\r` or `\n` inside a line starts another `data:`
//! field of the same event, so a client reads the whole line (with a line break there), never
//! the rest of it as a field of its own that it drops.

use std::convert::Infallible;
use std::fmt::Display;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, Sse};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use tokio::sync::watch;

use super::session::TailEnd;
use super::{AppLog, Filter, LogLine, LogSession, Logplex, overflow_line};

/// How long an idle tail waits before sending a keep-alive comment.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// Lines read from the ring at a time.
const BATCH: usize = 500;

/// Events that go out together (one read of the ring, or what is ready of a grid's streams).
pub type Batch = Vec<Event>;

/// The event of `line`, with `id` when given (`id` must not hold a line break).
pub fn line_event(id: Option<impl Display>, line: &LogLine) -> Event {
    let event = match id {
        Some(id) => Event::default().id(id.to_string()),
        None => Event::default(),
    };
    event.data(line.to_string())
}

/// One SSE event for a line (its own id when it has one).
pub fn event(line: &LogLine) -> Event {
    line_event((line.id != 0).then_some(line.id), line)
}

/// `retry: 1`: a client reconnects at once when the stream drops.
pub fn retry() -> Event {
    Event::default().retry(Duration::from_millis(1))
}

/// `: keep-alive`, a comment that keeps an idle connection open.
pub fn keep_alive() -> Event {
    Event::default().comment("keep-alive")
}

/// The text of `batch`, as axum's [`Sse`] frames it, in one chunk.
pub async fn frame(batch: Batch) -> Bytes {
    let events = futures::stream::iter(batch.into_iter().map(Ok::<_, Infallible>));
    // The events are all there and writing them cannot fail: this reads to the end at once.
    axum::body::to_bytes(Sse::new(events).into_response().into_body(), usize::MAX).await.unwrap_or_default()
}

/// A `text/event-stream` response of `batches`, each batch one chunk (not buffered by a proxy
/// in front).
pub fn respond(batches: impl Stream<Item = Batch> + Send + 'static) -> Response {
    let body = Body::from_stream(batches.then(frame).map(Ok::<_, Infallible>));
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

/// The stream of `session` over the app's stream, which is called `app` now (the caller looked
/// the session's app up by id), resuming after `last_event_id` when the client sent one; it ends
/// when `end` fires.
pub fn stream(
    logplex: &Logplex,
    app: &str,
    session: LogSession,
    end: TailEnd,
    last_event_id: Option<u64>,
) -> impl Stream<Item = Batch> + Send + 'static {
    let log = logplex.app(app);
    let (first, cursor) = match last_event_id {
        Some(after) => (vec![retry()], after),
        None => {
            let (lines, last) = log.with_ring(|ring| (ring.tail(session.lines, |l| session.filter.accepts(l)), ring.last_id()));
            let mut batch = vec![retry()];
            batch.extend(lines.iter().map(|line| event(line)));
            (batch, last)
        }
    };
    // Without tail and without a resume point, the history is all there is.
    let follow = session.tail || last_event_id.is_some();
    let follower = Follower::new(logplex, app, session.filter, cursor, session.tail, end);
    let head = futures::stream::once(async move { first });
    let state = follow.then_some(follower);
    head.chain(futures::stream::unfold(state, |state| async move {
        let mut follower = state?;
        let batch = match follower.next().await? {
            Next::KeepAlive => vec![keep_alive()],
            Next::Lines { dropped, lines } => {
                let mut batch = Vec::with_capacity(lines.len() + 1);
                if dropped > 0 {
                    batch.push(event(&overflow_line(dropped)));
                }
                batch.extend(lines.iter().map(|line| event(line)));
                batch
            }
        };
        Some((batch, Some(follower)))
    }))
}

/// What a [`Follower`] read.
#[derive(Debug)]
pub enum Next {
    /// Lines after the cursor that its filter accepts (never empty unless `dropped` is not 0),
    /// and how many lines after the cursor fell off the buffer unread.
    Lines {
        /// Lines lost before they were read.
        dropped: u64,
        /// The lines, oldest first.
        lines: Vec<Arc<LogLine>>,
    },
    /// Nothing new for [`KEEPALIVE`]: time to tell the client the connection lives.
    KeepAlive,
}

/// Follows an app's stream after a cursor: what a log session's tail, and another node's
/// collated tail ([`crate::grid::logs`]), read.
pub struct Follower {
    log: Arc<AppLog>,
    newest: watch::Receiver<u64>,
    cursor: u64,
    filter: Filter,
    /// Wait for new lines (`false`: read what is after the cursor, then end).
    tail: bool,
    end: TailEnd,
    closed: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
}

impl Follower {
    /// Follows the app called `app` after line `cursor`, the lines `filter` accepts; ends when
    /// `end` fires or the logplex closes, or (without `tail`) once it has read all there is.
    pub fn new(logplex: &Logplex, app: &str, filter: Filter, cursor: u64, tail: bool, end: TailEnd) -> Follower {
        let log = logplex.app(app);
        let newest = log.subscribe();
        Follower { log, newest, cursor, filter, tail, end, closed: Box::pin(logplex.closed()) }
    }

    /// The id of the last line read (or skipped).
    pub fn cursor(&self) -> u64 {
        self.cursor
    }

    /// The next lines; `None` when the stream ends.
    pub async fn next(&mut self) -> Option<Next> {
        if self.end.is_ended() {
            return None;
        }
        loop {
            self.newest.borrow_and_update();
            let read = self.log.with_ring(|ring| ring.read_after(self.cursor, BATCH));
            self.cursor += read.dropped;
            let mut lines = Vec::new();
            let got = !read.lines.is_empty();
            for line in read.lines {
                self.cursor = line.id;
                if self.filter.accepts(&line) {
                    lines.push(line);
                }
            }
            if read.dropped > 0 || !lines.is_empty() {
                return Some(Next::Lines { dropped: read.dropped, lines });
            }
            if got {
                continue;
            }
            if !self.tail {
                // What was after the cursor has been read.
                return None;
            }
            tokio::select! {
                changed = self.newest.changed() => {
                    if changed.is_err() {
                        return None;
                    }
                }
                _ = &mut self.closed => return None,
                _ = self.end.wait() => return None,
                _ = tokio::time::sleep(KEEPALIVE) => return Some(Next::KeepAlive),
            }
        }
    }
}
