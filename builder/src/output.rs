//! Where build output goes, line by line as it arrives: the [`OutputSink`] trait and the
//! Heroku-style formatting helpers (`-----> Step`, `       detail`, ` !     error`).

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use futures::future::BoxFuture;

/// Receives build output one line at a time (without the trailing newline).
pub trait OutputSink: Send + Sync {
    /// One line of output.
    fn line(&self, line: &str);

    /// Resolves once the sink can take more lines without holding more than its bound (a stream
    /// to a slow reader); build steps wait for it between lines. At once by default.
    fn writable(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::ready(()))
    }

    /// A step header: `-----> {text}`.
    fn step(&self, text: &str) {
        self.line(&format!("-----> {text}"));
    }

    /// A detail under a step: seven spaces of indentation.
    fn detail(&self, text: &str) {
        self.line(&format!("       {text}"));
    }

    /// An error: ` !     {text}`.
    fn error(&self, text: &str) {
        self.line(&format!(" !     {text}"));
    }
}

impl OutputSink for tokio::sync::mpsc::UnboundedSender<String> {
    fn line(&self, line: &str) {
        let _ = self.send(line.to_string());
    }
}

/// The longest build output line kept: 64 KiB (cut there, with ` (line truncated)` appended).
pub const MAX_LINE_LENGTH: usize = 64 << 10;

/// The most output one build may write: 16 MiB; past it one `(output truncated)` line, then
/// nothing (the build goes on).
pub const MAX_BUILD_OUTPUT: usize = 16 << 20;

/// The line shown once a build's output passes [`MAX_BUILD_OUTPUT`].
pub const OUTPUT_TRUNCATED: &str = " !     (output truncated: a build may write at most 16 MiB)";

/// Bounds what reaches the inner sink: each line at most [`MAX_LINE_LENGTH`] bytes, all lines at
/// most `limit` bytes ([`MAX_BUILD_OUTPUT`] for a build), then [`OUTPUT_TRUNCATED`] once.
pub struct BoundedOutput<'a> {
    inner: &'a dyn OutputSink,
    limit: usize,
    written: AtomicUsize,
}

impl<'a> BoundedOutput<'a> {
    /// A build's bounds over `inner`.
    pub fn new(inner: &'a dyn OutputSink) -> BoundedOutput<'a> {
        BoundedOutput::with_limit(inner, MAX_BUILD_OUTPUT)
    }

    /// Bounds of `limit` bytes in all over `inner`.
    pub fn with_limit(inner: &'a dyn OutputSink, limit: usize) -> BoundedOutput<'a> {
        BoundedOutput { inner, limit, written: Default::default() }
    }
}

impl OutputSink for BoundedOutput<'_> {
    fn writable(&self) -> BoxFuture<'_, ()> {
        self.inner.writable()
    }

    fn line(&self, line: &str) {
        let line = truncate_line(line);
        let before = self.written.fetch_add(line.len() + 1, Ordering::Relaxed);
        if before + line.len() < self.limit {
            self.inner.line(&line);
        } else if before < self.limit {
            self.inner.line(OUTPUT_TRUNCATED);
        }
    }
}

/// A line cut at [`MAX_LINE_LENGTH`] bytes (on a character boundary), marked as cut.
pub fn truncate_line(line: &str) -> std::borrow::Cow<'_, str> {
    if line.len() <= MAX_LINE_LENGTH {
        return line.into();
    }
    let mut end = MAX_LINE_LENGTH;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{} (line truncated)", &line[..end]).into()
}

/// Keeps every line in memory: for tests and for storing a build's output.
#[derive(Debug, Default)]
pub struct CollectOutput(Mutex<Vec<String>>);

impl CollectOutput {
    /// The lines so far.
    pub fn lines(&self) -> Vec<String> {
        self.0.lock().expect("output lock").clone()
    }

    /// The lines so far joined with newlines.
    pub fn text(&self) -> String {
        self.lines().join("\n")
    }
}

impl OutputSink for CollectOutput {
    fn line(&self, line: &str) {
        self.0.lock().expect("output lock").push(line.to_string());
    }
}

/// Drops every line (`bin/detect`'s stderr, output whose caller keeps its own tail).
pub struct Discard;

impl OutputSink for Discard {
    fn line(&self, _: &str) {}
}

/// Forwards to two sinks (e.g. the pusher and the stored build output).
pub struct Tee<'a>(pub &'a dyn OutputSink, pub &'a dyn OutputSink);

impl OutputSink for Tee<'_> {
    fn line(&self, line: &str) {
        self.0.line(line);
        self.1.line(line);
    }

    fn writable(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.0.writable().await;
            self.1.writable().await;
        })
    }
}

/// The most bytes of output a [`StreamOutput`] lets wait for a slow reader: 1 MiB.
pub const STREAM_BACKLOG: usize = 1 << 20;

/// Output on its way to a reader elsewhere (a pusher's connection): lines queue for the task
/// that writes them, and [`OutputSink::writable`] waits while over [`STREAM_BACKLOG`] bytes wait,
/// so a slow reader slows the build instead of growing the queue. Make one with [`stream`].
pub struct StreamOutput {
    tx: tokio::sync::mpsc::UnboundedSender<String>,
    backlog: std::sync::Arc<Backlog>,
}

/// The reading end of a [`StreamOutput`].
pub struct StreamLines {
    rx: tokio::sync::mpsc::UnboundedReceiver<String>,
    backlog: std::sync::Arc<Backlog>,
}

#[derive(Default)]
struct Backlog {
    bytes: AtomicUsize,
    drained: tokio::sync::Notify,
}

/// A [`StreamOutput`] and the [`StreamLines`] its lines come out of.
pub fn stream() -> (StreamOutput, StreamLines) {
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let backlog = std::sync::Arc::new(Backlog::default());
    (StreamOutput { tx, backlog: backlog.clone() }, StreamLines { rx, backlog })
}

impl StreamLines {
    /// The next line, once the previous one was handled (so it no longer counts as waiting);
    /// `None` when every [`StreamOutput`] is gone.
    pub async fn next(&mut self) -> Option<String> {
        let line = self.rx.recv().await?;
        self.backlog.bytes.fetch_sub(line.len(), Ordering::AcqRel);
        self.backlog.drained.notify_waiters();
        Some(line)
    }
}

impl Drop for StreamLines {
    fn drop(&mut self) {
        // Nobody reads any more: let writers go on (their lines are dropped).
        self.backlog.bytes.store(0, Ordering::Release);
        self.rx.close();
        self.backlog.drained.notify_waiters();
    }
}

impl OutputSink for StreamOutput {
    fn line(&self, line: &str) {
        if self.tx.send(line.to_string()).is_ok() {
            self.backlog.bytes.fetch_add(line.len(), Ordering::AcqRel);
        }
    }

    fn writable(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            loop {
                let drained = self.backlog.drained.notified();
                tokio::pin!(drained);
                drained.as_mut().enable();
                if self.backlog.bytes.load(Ordering::Acquire) <= STREAM_BACKLOG || self.tx.is_closed() {
                    return;
                }
                drained.await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_and_output_past_the_limit_is_dropped_after_one_line() {
        let collected = CollectOutput::default();
        let bounded = BoundedOutput::new(&collected);
        bounded.line(&"é".repeat(MAX_LINE_LENGTH));
        let long = collected.lines().pop().unwrap();
        assert!(long.len() <= MAX_LINE_LENGTH + 20 && long.ends_with(" (line truncated)"), "{}", long.len());
        let bounded = BoundedOutput::with_limit(&collected, 100);
        bounded.line(&"x".repeat(200));
        assert_eq!(collected.lines().last().unwrap(), OUTPUT_TRUNCATED);
        let collected = CollectOutput::default();
        let bounded = BoundedOutput::with_limit(&collected, 100);
        for _ in 0..20 {
            bounded.line("0123456789");
        }
        let lines = collected.lines();
        assert_eq!(lines.len(), 10);
        assert_eq!(lines.last().unwrap(), OUTPUT_TRUNCATED);
    }

    #[tokio::test]
    async fn a_stream_waits_for_its_slow_reader() {
        let (out, mut lines) = stream();
        let line = "x".repeat(1000);
        for _ in 0..(STREAM_BACKLOG / 1000 + 2) {
            out.line(&line);
        }
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(100), out.writable()).await;
        assert!(waiting.is_err(), "over the backlog: writable waits");
        for _ in 0..10 {
            lines.next().await.unwrap();
        }
        tokio::time::timeout(std::time::Duration::from_secs(1), out.writable()).await.expect("drained: writable");
        drop(lines);
        for _ in 0..(STREAM_BACKLOG / 1000 + 2) {
            out.line(&line);
        }
        tokio::time::timeout(std::time::Duration::from_secs(1), out.writable()).await.expect("no reader: no wait");
    }
}
