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
                let text = format!("Error L10 (output buffer overflow): {} messages dropped", dropped - reported);
                logplex.publish(&first.app, Source::Paas, "logplex", &text);
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
