//! The feed of dyno log lines — the runtime's [`LogSink`] channel — into the app's logplex stream
//! (`app[web.1]` for stdout and stderr, `paas[web.1]` for the runtime's own lines such as state
//! changes) and onto the server's stdout (`<time> <app> app[web.1]: …`). Lines are taken in
//! batches, so a burst costs one stdout write per batch. When the channel was full and the
//! runtime dropped lines, the stream says how many (`Error L10 (output buffer overflow)`), in the
//! app whose lines were being fed. [`StdoutLines`] takes the router's lines (one a request) to the
//! server's stdout in batches.

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

/// Lines on their way to the server's stdout (the router's, one per request): appended to a
/// buffer of the sending thread's own without waiting (no allocation, no channel, no task woken
/// per line, no lock or cache line another thread writes to) and written by one task a few
/// milliseconds after the first line of a batch, one `write` per batch. `println!` per request
/// took the process-wide stdout lock and made a system call for every request, on whichever
/// thread served it. When more than a thread's share of the room waits, its lines are dropped
/// and a count is printed in their place (the app's log stream still has every line). A batch
/// gives each thread's lines in order, one thread after another.
#[derive(Clone)]
pub struct StdoutLines(std::sync::Arc<Sender>);

/// The senders' side; when the last [`StdoutLines`] goes, the writer writes what is left and ends.
struct Sender(std::sync::Arc<Gathered>);

struct Gathered {
    /// Tells this feed apart from others in the process (a thread's buffers are found by it).
    id: u64,
    /// Each sending thread's buffer.
    shards: std::sync::Mutex<Vec<std::sync::Arc<Shard>>>,
    /// Rung when a line lands in an empty buffer (the writer then has a batch to wait for),
    /// when one is dropped, and when the last sender goes.
    ready: tokio::sync::Notify,
    /// Bytes that may wait in each thread's buffer.
    capacity: usize,
    /// No sender is left.
    closed: std::sync::atomic::AtomicBool,
}

/// One thread's lines waiting.
#[derive(Default)]
struct Shard(std::sync::Mutex<Pending>);

#[derive(Default)]
struct Pending {
    text: String,
    /// Lines not printed since the last batch: the buffer was full.
    dropped: u64,
}

/// Where each feed's id comes from.
static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// This thread's buffer of one feed it sent to.
struct ThreadShard {
    /// The feed's id.
    feed: u64,
    /// The feed, to forget the buffers of feeds that are gone.
    gathered: std::sync::Weak<Gathered>,
    shard: std::sync::Arc<Shard>,
}

thread_local! {
    static SHARDS: std::cell::RefCell<Vec<ThreadShard>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl StdoutLines {
    /// Starts the writer task, with room for `capacity` bytes of lines waiting per thread.
    pub fn spawn(capacity: usize) -> StdoutLines {
        Self::spawn_into(capacity, std::io::stdout)
    }

    /// [`StdoutLines::spawn`], writing each batch to what `out` gives.
    fn spawn_into<W: Write>(capacity: usize, out: impl Fn() -> W + Send + 'static) -> StdoutLines {
        let gathered = std::sync::Arc::new(Gathered {
            id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            shards: std::sync::Mutex::default(),
            ready: tokio::sync::Notify::new(),
            capacity: capacity.max(1),
            closed: std::sync::atomic::AtomicBool::new(false),
        });
        let writer = gathered.clone();
        tokio::spawn(async move {
            let mut batch = String::new();
            loop {
                writer.ready.notified().await;
                // Lines come one per request: let them gather for a moment, so a busy router
                // costs a write every few milliseconds.
                tokio::time::sleep(GATHER).await;
                let closed = writer.closed.load(std::sync::atomic::Ordering::Acquire);
                let shards = writer.shards.lock().unwrap_or_else(|e| e.into_inner()).clone();
                for shard in shards {
                    let mut pending = shard.0.lock().unwrap_or_else(|e| e.into_inner());
                    let dropped = std::mem::take(&mut pending.dropped);
                    if dropped > 0 {
                        batch.push_str(&format!("({dropped} router log lines not printed here: stdout was too slow)\n"));
                    }
                    batch.push_str(&pending.text);
                    pending.text.clear();
                    // A burst's buffer is not kept for good.
                    pending.text.shrink_to(64 * 1024);
                }
                // A thread that ended (only this list still holds its buffer) is forgotten once
                // its lines are out: threads that come and go do not grow the list.
                writer.shards.lock().unwrap_or_else(|e| e.into_inner()).retain(|shard| {
                    let pending = shard.0.lock().unwrap_or_else(|e| e.into_inner());
                    std::sync::Arc::strong_count(shard) > 1 || !pending.text.is_empty() || pending.dropped > 0
                });
                let mut out = out();
                let _ = out.write_all(batch.as_bytes());
                let _ = out.flush();
                if closed {
                    return;
                }
                batch.clear();
                batch.shrink_to(64 * 1024);
            }
        });
        StdoutLines(std::sync::Arc::new(Sender(gathered)))
    }

    /// Runs `f` on this thread's buffer of this feed, made and registered the first time.
    fn with_shard<T>(&self, f: impl FnOnce(&Shard) -> T) -> T {
        let gathered = &self.0.0;
        SHARDS.with_borrow_mut(|shards| {
            if let Some(mine) = shards.iter().find(|mine| mine.feed == gathered.id) {
                return f(&mine.shard);
            }
            shards.retain(|mine| mine.gathered.strong_count() > 0);
            let shard = std::sync::Arc::new(Shard::default());
            gathered.shards.lock().unwrap_or_else(|e| e.into_inner()).push(shard.clone());
            let out = f(&shard);
            shards.push(ThreadShard { feed: gathered.id, gathered: std::sync::Arc::downgrade(gathered), shard });
            out
        })
    }

    /// Queues `line` (ending in a newline) for stdout.
    pub fn send(&self, line: &str) {
        let gathered = &self.0.0;
        let ring = self.with_shard(|shard| {
            let mut pending = shard.0.lock().unwrap_or_else(|e| e.into_inner());
            if pending.text.len() + line.len() > gathered.capacity {
                // The count goes out even when no line that fits comes after it.
                pending.dropped += 1;
                pending.dropped == 1
            } else {
                pending.text.push_str(line);
                pending.text.len() == line.len()
            }
        });
        if ring {
            gathered.ready.notify_one();
        }
    }
}

impl Drop for Sender {
    fn drop(&mut self) {
        self.0.closed.store(true, std::sync::atomic::Ordering::Release);
        self.0.ready.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use super::StdoutLines;

    /// A writer whose bytes the test reads.
    #[derive(Clone, Default)]
    struct Written(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Written {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Written {
        async fn once_it_holds(&self, wanted: &str) -> String {
            for _ in 0..500 {
                let text = String::from_utf8(self.0.lock().unwrap().clone()).unwrap();
                if text.contains(wanted) {
                    return text;
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            panic!("never written: {wanted:?}");
        }
    }

    #[tokio::test]
    async fn lines_are_written_in_order_and_a_full_buffer_drops_and_counts() {
        let written = Written::default();
        let out = written.clone();
        let lines = StdoutLines::spawn_into(12, move || out.clone());
        lines.send("one\n");
        lines.send("two\n");
        lines.send("three\n");
        lines.send("four\n");
        let text = written.once_it_holds("two\n").await;
        assert_eq!(text, "(2 router log lines not printed here: stdout was too slow)\none\ntwo\n");
        // The buffer is empty again: the next lines go out in a batch of their own.
        lines.send("five\n");
        let text = written.once_it_holds("five\n").await;
        assert!(text.ends_with("two\nfive\n"), "{text}");
        // A line too long for the buffer, with nothing after it: its count still goes out.
        lines.send("a line longer than twelve bytes\n");
        let text = written.once_it_holds("(1 router log lines").await;
        assert!(text.ends_with("five\n(1 router log lines not printed here: stdout was too slow)\n"), "{text}");
    }

    #[tokio::test]
    async fn each_threads_lines_go_out_in_their_order_from_a_buffer_of_its_own() {
        let written = Written::default();
        let out = written.clone();
        let lines = StdoutLines::spawn_into(64, move || out.clone());
        std::thread::scope(|scope| {
            for thread in ["a", "b"] {
                let lines = lines.clone();
                scope.spawn(move || {
                    for n in 0..5 {
                        lines.send(&format!("{thread}{n}\n"));
                    }
                });
            }
        });
        written.once_it_holds("b4\n").await;
        let text = written.once_it_holds("a4\n").await;
        for thread in ["a", "b"] {
            let own: Vec<&str> = text.lines().filter(|l| l.starts_with(thread)).collect();
            assert_eq!(own, (0..5).map(|n| format!("{thread}{n}")).collect::<Vec<_>>(), "{text}");
        }
        // The two threads ended: their buffers go once their lines are out.
        lines.send("main\n");
        written.once_it_holds("main\n").await;
        lines.send("again\n");
        written.once_it_holds("again\n").await;
        assert_eq!(lines.0.0.shards.lock().unwrap().len(), 1, "only the sending thread's buffer is left");
    }

    #[tokio::test]
    async fn the_writer_writes_what_is_left_and_ends_when_the_last_sender_goes() {
        let written = Written::default();
        let out = written.clone();
        let lines = StdoutLines::spawn_into(1024, move || out.clone());
        let gathered = Arc::downgrade(&lines.0.0);
        let other = lines.clone();
        other.send("last\n");
        drop(lines);
        drop(other);
        assert_eq!(written.once_it_holds("last\n").await, "last\n");
        for _ in 0..500 {
            if gathered.strong_count() == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("the writer task still holds the buffer");
    }
}
