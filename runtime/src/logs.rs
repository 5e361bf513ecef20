//! Log capture: every line a guest writes to stdout or stderr becomes a [`LogLine`] sent to the
//! dyno's [`LogSink`] (the log collator's channel). Partial lines are buffered until their newline
//! (or until the instance ends); lines longer than [`MAX_LINE_BYTES`] are split.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::SystemTime;

use bytes::Bytes;
use tokio::io::AsyncWrite;
use tokio::sync::mpsc;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// Lines longer than this many bytes are split into several log lines.
pub const MAX_LINE_BYTES: usize = 10 * 1024;

/// Where a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStreamKind {
    /// The guest's standard output.
    Stdout,
    /// The guest's standard error.
    Stderr,
    /// The runtime itself, about this dyno (traps, timeouts, exits).
    Runtime,
}

/// One structured log line of one dyno.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    /// The app's name.
    pub app: String,
    /// The dyno's name, e.g. `web.1`.
    pub dyno: String,
    /// Which stream the line was written to.
    pub stream: LogStreamKind,
    /// When the line was completed.
    pub timestamp: SystemTime,
    /// The line, without its newline (invalid UTF-8 replaced).
    pub line: String,
}

/// The sending end of a log channel. Cloned into every dyno; sending never blocks a guest: when
/// the channel is full the line is dropped and counted (as Heroku's logplex does).
#[derive(Debug, Clone)]
pub struct LogSink {
    tx: Option<mpsc::Sender<LogLine>>,
    dropped: Arc<AtomicU64>,
}

impl LogSink {
    /// A bounded channel holding up to `capacity` lines, and the sink feeding it.
    pub fn channel(capacity: usize) -> (LogSink, mpsc::Receiver<LogLine>) {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        (LogSink { tx: Some(tx), dropped: Arc::default() }, rx)
    }

    /// A sink that discards every line.
    pub fn discard() -> LogSink {
        LogSink { tx: None, dropped: Arc::default() }
    }

    /// How many lines were dropped because the channel was full or closed.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Sends one line without waiting.
    pub fn send(&self, line: LogLine) {
        if let Some(tx) = &self.tx
            && tx.try_send(line).is_err()
        {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Sends one line of `dyno`'s `runtime` stream (Heroku's `heroku[web.1]: …` lines), stamped now.
    pub fn runtime_line(&self, app: &str, dyno: &str, line: String) {
        self.send(LogLine {
            app: app.to_string(),
            dyno: dyno.to_string(),
            stream: LogStreamKind::Runtime,
            timestamp: SystemTime::now(),
            line,
        });
    }
}

/// Identifies the dyno that log lines belong to.
#[derive(Debug, Clone)]
pub(crate) struct LogSource {
    pub app: Arc<str>,
    pub dyno: Arc<str>,
    pub sink: LogSink,
}

impl LogSource {
    /// Emits one line on this dyno's `runtime` stream.
    pub fn runtime_line(&self, line: impl Into<String>) {
        self.emit(LogStreamKind::Runtime, line.into());
    }

    fn emit(&self, stream: LogStreamKind, line: String) {
        self.sink.send(LogLine {
            app: self.app.to_string(),
            dyno: self.dyno.to_string(),
            stream,
            timestamp: SystemTime::now(),
            line,
        });
    }
}

/// Splits a byte stream into lines and sends them.
struct LineBuffer {
    source: LogSource,
    stream: LogStreamKind,
    buf: Vec<u8>,
}

impl LineBuffer {
    fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        loop {
            let rest = &self.buf[start..];
            let window = &rest[..rest.len().min(MAX_LINE_BYTES + 1)];
            if let Some(nl) = window.iter().position(|&b| b == b'\n') {
                let mut line = &rest[..nl];
                if let [head @ .., b'\r'] = line {
                    line = head;
                }
                self.source.emit(self.stream, String::from_utf8_lossy(line).into_owned());
                start += nl + 1;
            } else if rest.len() > MAX_LINE_BYTES {
                let cut = utf8_boundary(rest, MAX_LINE_BYTES);
                self.source.emit(self.stream, String::from_utf8_lossy(&rest[..cut]).into_owned());
                start += cut;
            } else {
                break;
            }
        }
        self.buf.drain(..start);
    }

    fn finish(&mut self) {
        if !self.buf.is_empty() {
            let line = String::from_utf8_lossy(&self.buf).into_owned();
            self.buf.clear();
            self.source.emit(self.stream, line);
        }
    }
}

impl Drop for LineBuffer {
    fn drop(&mut self) {
        self.finish();
    }
}

/// The largest cut point `<= max` that does not split a UTF-8 character (falls back to `max`).
fn utf8_boundary(bytes: &[u8], max: usize) -> usize {
    let mut cut = max;
    while cut > max.saturating_sub(3) && cut > 0 && (bytes[cut] & 0b1100_0000) == 0b1000_0000 {
        cut -= 1;
    }
    if cut == 0 { max } else { cut }
}

/// A guest's stdout or stderr: implements WASI's `StdoutStream`; every handle the guest opens
/// shares one line buffer, flushed when the instance is dropped.
#[derive(Clone)]
pub(crate) struct GuestOutput(Arc<Mutex<LineBuffer>>);

impl GuestOutput {
    pub fn new(source: LogSource, stream: LogStreamKind) -> Self {
        GuestOutput(Arc::new(Mutex::new(LineBuffer { source, stream, buf: Vec::new() })))
    }

    fn write(&self, bytes: &[u8]) {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(bytes);
    }
}

impl IsTerminal for GuestOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for GuestOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }

    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }
}

impl OutputStream for GuestOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        GuestOutput::write(self, &bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(64 * 1024)
    }
}

#[async_trait::async_trait]
impl Pollable for GuestOutput {
    async fn ready(&mut self) {}
}

impl AsyncWrite for GuestOutput {
    fn poll_write(self: Pin<&mut Self>, _cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        self.write(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn output(capacity: usize) -> (GuestOutput, mpsc::Receiver<LogLine>) {
        let (sink, rx) = LogSink::channel(capacity);
        let source = LogSource { app: "app".into(), dyno: "web.1".into(), sink };
        (GuestOutput::new(source, LogStreamKind::Stdout), rx)
    }

    fn lines(rx: &mut mpsc::Receiver<LogLine>) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(line) = rx.try_recv() {
            out.push(line.line);
        }
        out
    }

    #[test]
    fn partial_lines_wait_for_their_newline() {
        let (out, mut rx) = output(16);
        out.write(b"hel");
        assert!(lines(&mut rx).is_empty());
        out.write(b"lo\r\nwor");
        assert_eq!(lines(&mut rx), ["hello"]);
        out.write(b"ld\n\n");
        assert_eq!(lines(&mut rx), ["world", ""]);
    }

    #[test]
    fn trailing_partial_line_is_sent_when_the_instance_ends() {
        let (out, mut rx) = output(16);
        out.write(b"no newline");
        drop(out);
        assert_eq!(lines(&mut rx), ["no newline"]);
    }

    #[test]
    fn long_lines_are_split_at_10_kib() {
        let (out, mut rx) = output(64);
        out.write(&vec![b'x'; 25 * 1024]);
        out.write(b"\n");
        let got = lines(&mut rx);
        assert_eq!(got.iter().map(String::len).collect::<Vec<_>>(), [10240, 10240, 5120]);
    }

    #[test]
    fn a_line_of_exactly_10_kib_is_one_line() {
        let (out, mut rx) = output(8);
        let mut bytes = vec![b'y'; MAX_LINE_BYTES];
        bytes.push(b'\n');
        out.write(&bytes);
        assert_eq!(lines(&mut rx).iter().map(String::len).collect::<Vec<_>>(), [MAX_LINE_BYTES]);
    }

    #[test]
    fn full_channel_drops_and_counts() {
        let (sink, mut rx) = LogSink::channel(1);
        let source = LogSource { app: "a".into(), dyno: "web.1".into(), sink: sink.clone() };
        let out = GuestOutput::new(source, LogStreamKind::Stderr);
        out.write(b"1\n2\n3\n");
        assert_eq!(lines(&mut rx), ["1"]);
        assert_eq!(sink.dropped(), 2);
    }
}
