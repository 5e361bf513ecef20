//! The feed of dyno log lines — the runtime's [`LogSink`] channel — into the app's logplex stream
//! (`app[web.1]` for stdout and stderr, `paas[web.1]` for the runtime's own lines such as state
//! changes) and onto the server's stdout (`<time> <app> app[web.1]: …`). Lines are taken in
//! batches, so a burst costs one stdout write per batch. When the channel was full and the
//! runtime dropped lines, the stream says how many (`Error L10 (output buffer overflow)`), in the
//! app whose lines were being fed.

use std::io::Write;

use paas_platform::logplex::{Logplex, Source, timestamp};
use paas_runtime::{LogLine, LogSink, LogStreamKind};
use tokio::sync::mpsc;

/// Lines taken from the channel at a time.
const BATCH: usize = 1024;

/// Feeds `lines` (the receiver of `sink`'s channel) into `logplex` until the channel closes.
pub fn spawn(mut lines: mpsc::Receiver<LogLine>, sink: LogSink, logplex: Logplex) {
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(BATCH);
        let mut reported = 0;
        while lines.recv_many(&mut batch, BATCH).await > 0 {
            let dropped = sink.dropped();
            if dropped > reported
                && let Some(first) = batch.first()
            {
                logplex.publish_lost(&first.app, dropped - reported);
                reported = dropped;
            }
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            for line in batch.drain(..) {
                let (source, shown) = match line.stream {
                    LogStreamKind::Runtime => (Source::Paas, "heroku"),
                    LogStreamKind::Stdout | LogStreamKind::Stderr => (Source::App, "app"),
                };
                let at = chrono::DateTime::<chrono::Utc>::from(line.timestamp);
                logplex.publish_at(&line.app, source, &line.dyno, at, &line.line);
                let _ = writeln!(out, "{} {} {shown}[{}]: {}", timestamp(at), line.app, line.dyno, line.line);
            }
            let _ = out.flush();
        }
    });
}

/// How long [`StdoutLines`] lets lines gather before it writes them.
const GATHER: std::time::Duration = std::time::Duration::from_millis(5);

/// Lines on their way to the server's stdout (the router's, one per request): sent without
/// waiting and written by one task in batches, one `write` per batch. `println!` per request
/// took the process-wide stdout lock and made a system call for every request, on whichever
/// thread served it. When the writer is more than the channel's capacity behind, lines are
/// dropped and a count is printed in their place (the app's log stream still has every line).
#[derive(Clone)]
pub struct StdoutLines {
    tx: mpsc::Sender<String>,
    dropped: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl StdoutLines {
    /// Starts the writer task, with room for `capacity` lines waiting.
    pub fn spawn(capacity: usize) -> StdoutLines {
        let (tx, mut rx) = mpsc::channel::<String>(capacity.max(1));
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let counted = dropped.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            let mut reported = 0;
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                // Lines come one per request: let them gather for a moment, so a busy router
                // costs a write every few milliseconds, and senders wake no one meanwhile.
                tokio::time::sleep(GATHER).await;
                while batch.len() < 8 * BATCH
                    && let Ok(line) = rx.try_recv()
                {
                    batch.push(line);
                }
                let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
                let dropped = counted.load(std::sync::atomic::Ordering::Relaxed);
                if dropped > reported {
                    let _ = writeln!(out, "({} router log lines not printed here: stdout was too slow)", dropped - reported);
                    reported = dropped;
                }
                for line in batch.drain(..) {
                    let _ = out.write_all(line.as_bytes());
                }
                let _ = out.flush();
            }
        });
        StdoutLines { tx, dropped }
    }

    /// Queues `line` (ending in a newline) for stdout.
    pub fn send(&self, line: String) {
        if self.tx.try_send(line).is_err() {
            self.dropped.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
