//! The output of running builds, for whoever asks while a build runs (`paas builds:output`,
//! a build's `output_stream_url`): the lines so far, then each new one until the build ends.

use std::sync::Mutex;

use futures::Stream;
use paas_builder::OutputSink;
use tokio::sync::watch;

/// One running build's output.
pub struct LiveOutput {
    lines: Mutex<Vec<String>>,
    /// Bumped on every line; `true` once the build has ended.
    changed: watch::Sender<bool>,
}

impl Default for LiveOutput {
    fn default() -> LiveOutput {
        LiveOutput { lines: Mutex::default(), changed: watch::channel(false).0 }
    }
}

impl LiveOutput {
    /// Marks the build ended: readers get the last lines, then the end.
    pub fn finish(&self) {
        self.changed.send_replace(true);
    }

    /// The lines so far, then each new one, ending with the build.
    pub fn follow(self: std::sync::Arc<Self>) -> impl Stream<Item = String> + Send + 'static {
        let receiver = self.changed.subscribe();
        futures::stream::unfold((self, receiver, 0usize, Vec::<String>::new()), |(live, mut receiver, mut next, mut queue)| async move {
            loop {
                if !queue.is_empty() {
                    let line = queue.remove(0);
                    return Some((line, (live, receiver, next, queue)));
                }
                let ended = *receiver.borrow_and_update();
                {
                    let lines = live.lines.lock().expect("live output");
                    queue.extend(lines[next..].iter().cloned());
                    next = lines.len();
                }
                if !queue.is_empty() {
                    continue;
                }
                if ended || receiver.changed().await.is_err() {
                    return None;
                }
            }
        })
    }
}

impl OutputSink for LiveOutput {
    fn line(&self, line: &str) {
        self.lines.lock().expect("live output").push(line.to_string());
        self.changed.send_modify(|_| {});
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures::StreamExt;

    use super::*;

    #[tokio::test]
    async fn a_reader_gets_the_lines_so_far_then_new_ones_until_the_end() {
        let live = Arc::new(LiveOutput::default());
        live.line("one");
        let reader = tokio::spawn(live.clone().follow().collect::<Vec<_>>());
        tokio::task::yield_now().await;
        live.line("two");
        live.line("three");
        live.finish();
        assert_eq!(reader.await.unwrap(), ["one", "two", "three"]);
        assert_eq!(live.follow().collect::<Vec<_>>().await, ["one", "two", "three"]);
    }
}
