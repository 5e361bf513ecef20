//! A log session's Server-Sent Events stream, as `heroku logs` reads it: `retry: 1` first, then
//! one event per line (`id: N` and `data: <logplex line>`). Without `tail` it sends the last N
//! lines and ends; with `tail` it follows new lines (a comment every 15 s keeps idle connections
//! open). After a reconnect with `Last-Event-ID` it continues after that line. A reader that fell
//! behind the buffer is told how many lines it lost (`Error L10`). A tail ends when its session's
//! [`TailEnd`] fires (the app destroyed or renamed, the user's access removed) or the server stops.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use futures::Stream;
use tokio::sync::watch;

use super::session::TailEnd;
use super::{AppLog, Filter, LogLine, LogSession, Logplex, overflow_line};

/// How long an idle tail waits before sending a keep-alive comment.
pub const KEEPALIVE: Duration = Duration::from_secs(15);

/// Lines read from the ring at a time.
const BATCH: usize = 500;

/// One SSE event for a line.
pub fn event(line: &LogLine) -> String {
    if line.id == 0 {
        format!("data: {line}\n\n")
    } else {
        format!("id: {}\ndata: {line}\n\n", line.id)
    }
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
) -> impl Stream<Item = Bytes> + Send + 'static {
    let log = logplex.app(app);
    let (first, cursor) = match last_event_id {
        Some(after) => (String::from("retry: 1\n\n"), after),
        None => {
            let (lines, last) = log.with_ring(|ring| (ring.tail(session.lines, |l| session.filter.accepts(l)), ring.last_id()));
            let mut text = String::from("retry: 1\n\n");
            for line in &lines {
                text.push_str(&event(line));
            }
            (text, last)
        }
    };
    // Without tail and without a resume point, the history is all there is.
    let follow = session.tail || last_event_id.is_some();
    let follower = Follower::new(logplex, app, session.filter, cursor, session.tail, end);
    let head = futures::stream::once(async move { Bytes::from(first) });
    let state = follow.then_some(follower);
    futures::StreamExt::chain(head, futures::stream::unfold(state, |state| async move {
        let mut follower = state?;
        let text = match follower.next().await? {
            Next::KeepAlive => return Some((Bytes::from_static(b": keep-alive\n\n"), Some(follower))),
            Next::Lines { dropped, lines } => {
                let mut text = String::new();
                if dropped > 0 {
                    text.push_str(&event(&overflow_line(dropped)));
                }
                for line in &lines {
                    text.push_str(&event(line));
                }
                text
            }
        };
        Some((Bytes::from(text), Some(follower)))
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
