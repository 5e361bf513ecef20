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
use super::{AppLog, LogLine, LogSession, Logplex, overflow_line};

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
    let newest = log.subscribe();
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
    let state = Follower { log, newest, cursor, session, end, closed: Box::pin(logplex.closed()), follow };
    let head = futures::stream::once(async move { Bytes::from(first) });
    futures::StreamExt::chain(head, futures::stream::unfold(state, |mut state| async move {
        let chunk = state.next().await?;
        Some((chunk, state))
    }))
}

struct Follower {
    log: Arc<AppLog>,
    newest: watch::Receiver<u64>,
    cursor: u64,
    session: LogSession,
    end: TailEnd,
    closed: std::pin::Pin<Box<dyn Future<Output = ()> + Send>>,
    /// Read past the cursor at all.
    follow: bool,
}

impl Follower {
    /// The next chunk of events; `None` when the stream ends.
    async fn next(&mut self) -> Option<Bytes> {
        if !self.follow || self.end.is_ended() {
            return None;
        }
        loop {
            self.newest.borrow_and_update();
            let read = self.log.with_ring(|ring| ring.read_after(self.cursor, BATCH));
            let mut text = String::new();
            if read.dropped > 0 {
                text.push_str(&event(&overflow_line(read.dropped)));
            }
            self.cursor += read.dropped;
            for line in &read.lines {
                self.cursor = line.id;
                if self.session.filter.accepts(line) {
                    text.push_str(&event(line));
                }
            }
            if !text.is_empty() {
                return Some(Bytes::from(text));
            }
            if !read.lines.is_empty() {
                continue;
            }
            if !self.session.tail {
                // A resumed session without tail: what was after the cursor has been sent.
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
                _ = tokio::time::sleep(KEEPALIVE) => return Some(Bytes::from_static(b": keep-alive\n\n")),
            }
        }
    }
}
