//! The CPU budget of wasm guests: every guest call (a web request, a worker or one-off run)
//! starts on the serving runtime, beside the router and the API; once it has kept a thread busy
//! for more than its slice ([`CPU_SLICE`]), it moves to the background lane, a small pool of
//! threads at the lowest CPU priority (nice 19), where it runs on in the CPU the node does not
//! need for anything else. A spinning worker or a CPU-bound request therefore takes only idle
//! CPU and cannot slow the requests of other apps; guests in the background lane share it by
//! the epoch tick (each yields every tick). Deadlines are unchanged: a request still ends at its
//! timeout wherever it runs.
//!
//! Why not run every guest on its own pool from the start: a request of a light app then costs
//! two cross-thread wake-ups more, and light requests are the common case. Measured with
//! `bench/noisy-neighbour.sh` (figures in the README).

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// Default [`crate::RuntimeConfig::cpu_slice`]: a guest call that has run 10 ms of CPU (one
/// epoch tick of running wasm) moves to the background lane. A hello-world request takes about
/// 0.2 ms; an interpreter's first request a few ms.
pub const CPU_SLICE: Duration = Duration::from_millis(10);

/// The nice value of the background lane's threads (the lowest priority): under the kernel's
/// fair scheduler a nice-19 thread gets about 1.5% of a core that a nice-0 thread wants, and all
/// of it when nothing else runs.
pub const BACKGROUND_NICE: i32 = 19;

/// The background lane: its own tokio runtime whose threads run at [`BACKGROUND_NICE`].
pub(crate) struct Background {
    runtime: Option<tokio::runtime::Runtime>,
    slice: Duration,
}

impl Background {
    /// Starts `threads` worker threads (blocking-pool threads inherit their priority).
    pub fn new(threads: usize, slice: Duration) -> std::io::Result<Background> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("paas-background")
            .enable_all()
            .on_thread_start(|| {
                // Per thread on Linux: only this thread (and the threads it starts) get it.
                if let Err(e) = rustix::process::setpriority_process(Some(rustix::thread::gettid()), BACKGROUND_NICE) {
                    tracing::warn!("cannot lower the priority of a background-lane thread: {e}");
                }
            })
            .build()?;
        Ok(Background { runtime: Some(runtime), slice })
    }

    fn handle(&self) -> Option<Handle> {
        self.runtime.as_ref().map(|r| r.handle().clone())
    }

    /// Spawns a guest call on the current (serving) runtime; past its slice it goes on in the
    /// background lane. Aborting the returned handle ends it wherever it runs.
    pub fn spawn<F>(&self, fut: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(budgeted(fut, self.handle(), self.slice))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which panics inside async code (where the last clone of a
        // `Runtime` may well be dropped): let its threads go without waiting.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// Polls `fut` here until it has spent `slice` inside its polls, then hands it to `background`.
async fn budgeted<F>(fut: F, background: Option<Handle>, slice: Duration) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    // Boxed and pinned, the future can move to another task (and thread) between polls.
    let mut fut: Pin<Box<F>> = Box::pin(fut);
    let mut used = Duration::ZERO;
    let finished = std::future::poll_fn(|cx| {
        let start = Instant::now();
        let poll = fut.as_mut().poll(cx);
        used += start.elapsed();
        match poll {
            Poll::Ready(out) => Poll::Ready(Some(out)),
            Poll::Pending if used >= slice && background.is_some() => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await;
    if let Some(out) = finished {
        return out;
    }
    let Some(background) = background else { unreachable!("moves only with a background lane") };
    let mut moved = AbortOnDrop(background.spawn(fut));
    match (&mut moved.0).await {
        Ok(out) => out,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // The background lane shut down (the runtime is being dropped): nothing will finish
        // the call; whoever waits for it ends it (timeout, stop).
        Err(_) => std::future::pending().await,
    }
}

/// Aborts the background task when the task that waits for it is aborted or dropped.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn spin(ms: u64) -> String {
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {
            // A slice of busy work, then a yield, as a guest does on every epoch tick.
            let tick = Instant::now() + Duration::from_millis(2);
            while Instant::now() < tick {}
            tokio::task::yield_now().await;
        }
        std::thread::current().name().unwrap_or("").to_string()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_call_past_its_slice_ends_in_the_background_lane() {
        let lane = Background::new(1, Duration::from_millis(10)).unwrap();
        assert_ne!(lane.spawn(spin(1)).await.unwrap(), "paas-background", "a short call moved");
        assert_eq!(lane.spawn(spin(50)).await.unwrap(), "paas-background");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn aborting_a_moved_call_ends_it() {
        let lane = Background::new(1, Duration::from_millis(1)).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = lane.spawn(async move {
            spin(20).await;
            let _tx = tx;
            std::future::pending::<()>().await
        });
        tokio::time::sleep(Duration::from_millis(100)).await;
        task.abort();
        // The sender is dropped only if the moved call itself was dropped.
        assert!(tokio::time::timeout(Duration::from_secs(5), rx).await.is_ok(), "the moved call kept running");
    }
}
