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

use crate::cpu::{CpuTime, Metered};

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
    /// background lane. Aborting the returned handle ends it wherever it runs. The CPU time of
    /// its polls, wherever they run, counts into `cpu` (its dyno's).
    pub fn spawn<F>(&self, fut: F, cpu: CpuTime) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        tokio::spawn(budgeted(Box::pin(fut), self.handle(), self.slice, Duration::ZERO, cpu))
    }

    /// A guest call polled in the task that awaits it, under the same slice (see [`InlineCall`]),
    /// its CPU time counted into `cpu`.
    pub fn inline<'a, F>(&'a self, fut: F, cpu: &'a CpuTime) -> InlineCall<'a, F>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        InlineCall { state: State::Inline(Box::pin(fut)), lane: self, used: Duration::ZERO, cpu }
    }
}

/// A guest call polled in the task that awaits it (a request's own task: no task spawned, no
/// other thread woken, for a call that ends while its request waits), under the same CPU slice
/// as a spawned one: past it, the call moves to the background lane and the awaiting task waits
/// for it there. Dropped before the call has ended (the request's response went out while the
/// call runs on, or the client went away), the rest of the call goes on as a task of its own,
/// with what is left of its slice: a call is never cut off half-way. It borrows the lane and the
/// CPU count, cloning them only when it moves (two shared reference counts fewer a request).
pub(crate) struct InlineCall<'a, F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    state: State<F>,
    lane: &'a Background,
    /// Time spent inside its polls so far.
    used: Duration,
    /// Its dyno's CPU time (see [`crate::cpu`]: time inside its polls here, the thread's CPU
    /// clock once it moved).
    cpu: &'a CpuTime,
}

enum State<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    Inline(Pin<Box<F>>),
    Moved(JoinHandle<F::Output>),
    Ended,
}

/// A guest call that panicked (a bug in the host's code under it), with the panic's message.
#[derive(Debug)]
pub(crate) struct Panicked(pub String);

impl<F> Future for InlineCall<'_, F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = Result<F::Output, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        if let State::Inline(fut) = &mut this.state {
            let start = Instant::now();
            // A panic stays in this call, as it would in a task of its own: the request's
            // connection (whose task this is) carries on.
            let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.as_mut().poll(cx)));
            // Counted into the dyno's CPU time once, when the call leaves this task (one write
            // a call to a count every thread adds to, not one a poll).
            this.used += start.elapsed();
            match polled {
                Ok(Poll::Ready(out)) => {
                    this.state = State::Ended;
                    this.cpu.add_polled(this.used);
                    return Poll::Ready(Ok(out));
                }
                Err(panic) => {
                    this.state = State::Ended;
                    this.cpu.add_polled(this.used);
                    return Poll::Ready(Err(Panicked(panic_message(panic.as_ref()))));
                }
                Ok(Poll::Pending) => match this.lane.runtime.as_ref() {
                    Some(background) if this.used >= this.lane.slice => {
                        let State::Inline(fut) = std::mem::replace(&mut this.state, State::Ended) else {
                            unreachable!("matched above")
                        };
                        this.cpu.add_polled(this.used);
                        this.state = State::Moved(background.spawn(Metered::new(fut, this.cpu.clone())));
                    }
                    _ => return Poll::Pending,
                },
            }
        }
        match &mut this.state {
            State::Moved(task) => match Pin::new(task).poll(cx) {
                Poll::Pending => Poll::Pending,
                Poll::Ready(joined) => {
                    this.state = State::Ended;
                    match joined {
                        Ok(out) => Poll::Ready(Ok(out)),
                        Err(e) if e.is_panic() => Poll::Ready(Err(Panicked(panic_message(e.into_panic().as_ref())))),
                        // The background lane shut down (the runtime is being dropped): nothing
                        // will finish the call; whoever waits for it ends it (timeout, stop).
                        Err(_) => Poll::Pending,
                    }
                }
            },
            _ => Poll::Pending,
        }
    }
}

impl<F> Drop for InlineCall<'_, F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    fn drop(&mut self) {
        match std::mem::replace(&mut self.state, State::Ended) {
            // Goes on as a task of the current runtime (outside of one, there is nothing to run
            // it on: it ends here).
            State::Inline(fut) => {
                self.cpu.add_polled(self.used);
                if let Ok(runtime) = Handle::try_current() {
                    let lane = self.lane;
                    runtime.spawn(budgeted(fut, lane.handle(), lane.slice, self.used, self.cpu.clone()));
                }
            }
            // Dropping the handle lets the moved call run on.
            State::Moved(_) | State::Ended => {}
        }
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".to_string())
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

/// Polls `fut` here until it has spent `slice` inside its polls (`used` of it already spent),
/// then hands it to `background`. Boxed and pinned, the future can move to another task (and
/// thread) between polls.
async fn budgeted<F>(
    mut fut: Pin<Box<F>>,
    background: Option<Handle>,
    slice: Duration,
    mut used: Duration,
    cpu: CpuTime,
) -> F::Output
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let finished = std::future::poll_fn(|cx| {
        let start = Instant::now();
        let poll = fut.as_mut().poll(cx);
        let spent = start.elapsed();
        used += spent;
        cpu.add_polled(spent);
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
    let mut moved = AbortOnDrop(background.spawn(Metered::new(fut, cpu)));
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
        // A slice well above a busy machine's preemptions (a 1 ms call descheduled for 10 ms
        // once moved with a 10 ms slice).
        let lane = Background::new(1, Duration::from_millis(50)).unwrap();
        assert_ne!(lane.spawn(spin(1), CpuTime::new()).await.unwrap(), "paas-background", "a short call moved");
        assert_eq!(lane.spawn(spin(150), CpuTime::new()).await.unwrap(), "paas-background");
    }

    /// A call's CPU time counts into its dyno's wherever it runs: inline, spawned, and after it
    /// moved to the background lane (a busy worker's time was not counted at all before).
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_calls_cpu_time_counts_inline_spawned_and_moved() {
        let lane = Background::new(1, Duration::from_millis(20)).unwrap();
        let (inline, spawned) = (CpuTime::new(), CpuTime::new());
        assert_eq!(lane.inline(spin(150), &inline).await.unwrap(), "paas-background");
        assert_eq!(lane.spawn(spin(150), spawned.clone()).await.unwrap(), "paas-background");
        for cpu in [inline, spawned] {
            // 150 ms of busy work (wall time: on a loaded machine the thread gets less CPU).
            assert!((0.01..0.3).contains(&cpu.seconds()), "{} s counted", cpu.seconds());
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_inline_call_runs_in_the_task_that_awaits_it() {
        let lane = Background::new(1, Duration::from_millis(10)).unwrap();
        let (outer, inner) = tokio::spawn(async move {
            let outer = tokio::task::id();
            (outer, lane.inline(async { tokio::task::try_id() }, &CpuTime::new()).await.unwrap())
        })
        .await
        .unwrap();
        assert_eq!(inner, Some(outer), "the call ran in a task of its own");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn an_inline_call_past_its_slice_ends_in_the_background_lane() {
        let lane = Background::new(1, Duration::from_millis(50)).unwrap();
        assert_ne!(lane.inline(spin(1), &CpuTime::new()).await.unwrap(), "paas-background", "a short call moved");
        assert_eq!(lane.inline(spin(150), &CpuTime::new()).await.unwrap(), "paas-background");
    }

    /// A request dropped half-way (its client went away) must not cut its guest's call off:
    /// neither while it runs inline nor once it has moved to the background lane.
    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn an_inline_call_dropped_half_way_goes_on_by_itself() {
        let lane = Background::new(1, Duration::from_millis(50)).unwrap();
        let cpu = CpuTime::new();
        for work in [1, 150] {
            // Works `work` ms (150: past the slice, so it moves), says where it is, waits at a
            // gate the test opens once it has dropped the call, then says it ended.
            let (at_tx, at_rx) = tokio::sync::oneshot::channel();
            let (gate_tx, gate_rx) = tokio::sync::oneshot::channel::<()>();
            let (end_tx, end_rx) = tokio::sync::oneshot::channel();
            let mut call = lane.inline(
                async move {
                    let _ = at_tx.send(spin(work).await);
                    let _ = gate_rx.await;
                    let _ = end_tx.send(());
                },
                &cpu,
            );
            let at = tokio::select! {
                at = at_rx => at.unwrap(),
                _ = &mut call => panic!("the call ended before its gate opened"),
            };
            assert_eq!(at == "paas-background", work == 150, "{work} ms of work ended on {at}");
            drop(call);
            let _ = gate_tx.send(());
            let ended = tokio::time::timeout(Duration::from_secs(5), end_rx).await;
            assert!(matches!(ended, Ok(Ok(()))), "the call was cut off ({work} ms of work)");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_panicking_inline_call_is_an_error_of_its_own() {
        let lane = Background::new(1, Duration::from_millis(10)).unwrap();
        let out = lane.inline(async { panic!("guest host bug") }, &CpuTime::new()).await;
        assert!(matches!(&out, Err(Panicked(message)) if message == "guest host bug"), "{out:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn aborting_a_moved_call_ends_it() {
        let lane = Background::new(1, Duration::from_millis(1)).unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = lane.spawn(
            async move {
                spin(20).await;
                let _tx = tx;
                std::future::pending::<()>().await
            },
            CpuTime::new(),
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
        task.abort();
        // The sender is dropped only if the moved call itself was dropped.
        assert!(tokio::time::timeout(Duration::from_secs(5), rx).await.is_ok(), "the moved call kept running");
    }
}
