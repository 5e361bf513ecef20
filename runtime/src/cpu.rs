//! CPU time of wasm dynos: what each dyno's guest calls (and the host code they call: WASI,
//! wasi-http) run, counted per dyno in a [`CpuTime`] as the calls are polled
//! (`lanes.rs`), on whichever thread:
//!
//! - on the serving runtime, where a call runs until it has used its slice (10 ms): the time
//!   inside each poll, read with the clock the slice already reads (`Instant`, from the vDSO:
//!   ~30 ns). A poll of a serving thread at normal priority is rarely preempted, and a call
//!   leaves this runtime after its slice, so what it can over-count is bounded.
//! - in the background lane (nice 19, where threads are preempted all the time, so wall time
//!   would over-count): the polling thread's own CPU clock (`CLOCK_THREAD_CPUTIME_ID`) before
//!   and after each poll ([`Metered`]).
//!
//! Why not the thread clock everywhere: it is a system call (the vDSO does not serve thread CPU
//! clocks): 0.56–0.61 µs a read measured on this project's build machine (a Firecracker guest),
//! so two per poll would add 1.1–1.2 µs to every request of ~25 µs (4–5 %), where the serving
//! path adds one relaxed atomic add. A busy call costs two reads per epoch tick (10 ms) of work.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

/// A dyno's CPU time so far. Clones share the count (a web dyno woken after a sleep keeps
/// counting where it left off).
#[derive(Debug, Clone, Default)]
pub struct CpuTime(Arc<AtomicU64>);

impl CpuTime {
    /// A new count at zero.
    pub fn new() -> CpuTime {
        CpuTime::default()
    }

    /// Nanoseconds counted so far.
    pub fn nanos(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Seconds counted so far.
    pub fn seconds(&self) -> f64 {
        self.nanos() as f64 / 1e9
    }

    fn add(&self, nanos: u64) {
        self.0.fetch_add(nanos, Ordering::Relaxed);
    }

    /// Counts a poll on the serving runtime that took `spent` (see the module docs).
    pub(crate) fn add_polled(&self, spent: Duration) {
        self.add(u64::try_from(spent.as_nanos()).unwrap_or(u64::MAX));
    }
}

/// This thread's CPU time, in nanoseconds.
pub(crate) fn thread_nanos() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    (t.tv_sec as u64).saturating_mul(1_000_000_000).saturating_add(t.tv_nsec as u64)
}

/// A future whose polls count the polling thread's CPU time into a [`CpuTime`] (boxed already:
/// a guest call moves between tasks, so it is boxed once where it starts, not again here).
pub(crate) struct Metered<F> {
    fut: Pin<Box<F>>,
    cpu: CpuTime,
}

impl<F: Future> Metered<F> {
    /// `fut`, counting into `cpu`.
    pub fn new(fut: Pin<Box<F>>, cpu: CpuTime) -> Metered<F> {
        Metered { fut, cpu }
    }
}

impl<F: Future> Future for Metered<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let start = thread_nanos();
        let poll = self.fut.as_mut().poll(cx);
        self.cpu.add(thread_nanos().saturating_sub(start));
        poll
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    /// Works until this thread has used `ms` of CPU (however loaded the machine is).
    fn burn(ms: u64) {
        let end = thread_nanos() + ms * 1_000_000;
        while thread_nanos() < end {}
    }

    #[tokio::test]
    async fn busy_polls_count_and_waiting_does_not() {
        let cpu = CpuTime::new();
        Metered::new(
            Box::pin(async {
                burn(60);
                tokio::time::sleep(Duration::from_millis(200)).await;
                burn(20);
            }),
            cpu.clone(),
        )
        .await;
        let counted = cpu.seconds();
        // 80 ms of work, and the clock reads of `burn` itself; not the 200 ms asleep.
        assert!((0.08..0.12).contains(&counted), "80 ms busy + 200 ms asleep counted as {counted} s");
    }

    #[test]
    fn reading_the_thread_clock_costs_under_a_few_microseconds() {
        let n = 100_000;
        let start = Instant::now();
        let mut last = 0;
        for _ in 0..n {
            last = thread_nanos().max(last);
        }
        let each = start.elapsed() / n;
        eprintln!("thread CPU clock read: {each:?} each");
        assert!(each < Duration::from_micros(5), "{each:?} per read");
    }
}
