//! A web dyno's concurrency permits ([`crate::DynoSpec::concurrency`]): at most that many
//! requests run at once, and the others wait their turn, first come first served. While a permit
//! is free and nobody waits, taking one and giving it back are one atomic operation each; the
//! queue's lock is taken only when every permit is out. (tokio's `Semaphore` locks its waiter
//! list on every release: 1.6% of the server's CPU in `bench/flamegraph.sh 10 256 reuse`.)
//!
//! ```text
//! Permits::new(n)            n free
//!   .acquire() -> Permit     a free one, or a place in the queue; Closed once closed
//!   drop(Permit)             back: to the first in the queue, or free
//!   .all_back()              waits until every permit is back (a dyno stopping)
//!   .close()                 the queue gets Closed, and so does every later acquire
//! ```

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, oneshot};

/// Bits of [`Permits::state`]: free permits in the low 32, then the queue's length, then closed.
const FREE: u64 = (1 << 32) - 1;
const WAITER: u64 = 1 << 32;
const CLOSED: u64 = 1 << 63;
const WAITERS: u64 = !FREE & !CLOSED;

/// [`Permits::acquire`] after [`Permits::close`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Closed;

pub(crate) struct Permits {
    /// Free permits, queued waiters and the closed bit in one word, so that a waiter joins the
    /// queue only while no permit is free and a permit is made free only while nobody waits
    /// (each is a compare-and-swap that fails if the other happened first).
    state: AtomicU64,
    /// Who waits, first first; its length is the waiters in `state`, both changed under the lock.
    queue: Mutex<VecDeque<oneshot::Sender<Permit>>>,
    total: u64,
    /// Someone waits in [`Permits::all_back`]: a release that makes every permit free rings.
    draining: AtomicBool,
    all_back: Notify,
}

/// One permit, given back when dropped.
pub(crate) struct Permit(Option<Arc<Permits>>);

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(permits) = self.0.take() {
            permits.release();
        }
    }
}

impl Permits {
    pub(crate) fn new(total: u32) -> Arc<Permits> {
        Arc::new(Permits {
            state: AtomicU64::new(u64::from(total)),
            queue: Mutex::new(VecDeque::new()),
            total: u64::from(total),
            draining: AtomicBool::new(false),
            all_back: Notify::new(),
        })
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<oneshot::Sender<Permit>>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes a free permit if nobody waits before this caller; `Err(state)` otherwise.
    fn try_take(self: &Arc<Self>, mut state: u64) -> Result<Result<Permit, Closed>, u64> {
        loop {
            if state & CLOSED != 0 {
                return Ok(Err(Closed));
            }
            if state & WAITERS != 0 || state & FREE == 0 {
                return Err(state);
            }
            match self.state.compare_exchange_weak(state, state - 1, Ordering::AcqRel, Ordering::Acquire) {
                Ok(_) => return Ok(Ok(Permit(Some(self.clone())))),
                Err(now) => state = now,
            }
        }
    }

    /// A permit: a free one, or the next one given back once those who came first have theirs.
    pub(crate) async fn acquire(self: &Arc<Self>) -> Result<Permit, Closed> {
        let state = match self.try_take(self.state.load(Ordering::Acquire)) {
            Ok(taken) => return taken,
            Err(state) => state,
        };
        let waiting = {
            let mut queue = self.queue();
            let mut state = state;
            loop {
                state = match self.try_take(state) {
                    Ok(taken) => return taken,
                    Err(state) => state,
                };
                // No permit is free (or others wait): join the queue, unless a release got in.
                if let Err(now) = self.state.compare_exchange_weak(state, state + WAITER, Ordering::AcqRel, Ordering::Acquire) {
                    state = now;
                    continue;
                }
                let (tx, rx) = oneshot::channel();
                queue.push_back(tx);
                break rx;
            }
        };
        // A permit sent to a waiter that went away meanwhile is dropped with the channel: it
        // comes back through `release`.
        waiting.await.map_err(|_| Closed)
    }

    fn release(self: &Arc<Self>) {
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state & WAITERS == 0 {
                match self.state.compare_exchange_weak(state, state + 1, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        if (state + 1) & FREE == self.total && self.draining.load(Ordering::Acquire) {
                            self.all_back.notify_waiters();
                        }
                        return;
                    }
                    Err(now) => state = now,
                }
                continue;
            }
            // Someone waits: the permit goes to the first in line.
            let first = {
                let mut queue = self.queue();
                let first = queue.pop_front();
                if first.is_some() {
                    self.state.fetch_sub(WAITER, Ordering::AcqRel);
                }
                first
            };
            if let Some(first) = first {
                match first.send(Permit(Some(self.clone()))) {
                    Ok(()) => return,
                    // It went away: the next one, or free. Not dropped, which would release
                    // again from inside this one.
                    Err(mut unsent) => drop(unsent.0.take()),
                }
            }
            state = self.state.load(Ordering::Acquire);
        }
    }

    /// Waits until every permit is back (none out, nobody waiting).
    pub(crate) async fn all_back(&self) {
        self.draining.store(true, Ordering::Release);
        loop {
            let rung = self.all_back.notified();
            tokio::pin!(rung);
            rung.as_mut().enable();
            if self.state.load(Ordering::Acquire) & !CLOSED == self.total {
                return;
            }
            rung.await;
        }
    }

    /// Refuses every acquire from now on, those waiting included. Permits out still come back.
    pub(crate) fn close(&self) {
        let mut queue = self.queue();
        self.state.fetch_or(CLOSED, Ordering::AcqRel);
        self.state.fetch_and(!WAITERS, Ordering::AcqRel);
        queue.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn free(permits: &Permits) -> u64 {
        permits.state.load(Ordering::Acquire) & FREE
    }

    #[tokio::test]
    async fn no_more_than_the_permits_run_and_the_waiters_go_first_come_first_served() {
        let permits = Permits::new(2);
        let (a, b) = (permits.acquire().await.unwrap(), permits.acquire().await.unwrap());
        assert_eq!(free(&permits), 0);
        let (order_tx, mut order) = tokio::sync::mpsc::unbounded_channel();
        let mut waiters = Vec::new();
        for n in 0..5 {
            let (mine, order_tx) = (permits.clone(), order_tx.clone());
            waiters.push(tokio::spawn(async move {
                let permit = mine.acquire().await.unwrap();
                order_tx.send(n).unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
                drop(permit);
            }));
            // Each one queued before the next comes.
            while permits.state.load(Ordering::Acquire) & WAITERS != (n + 1) * WAITER {
                tokio::task::yield_now().await;
            }
        }
        // A permit given back while others wait goes to the first of them, never among the free
        // ones (where one who came later could take it first).
        drop(a);
        assert_eq!(free(&permits), 0);
        assert!(permits.try_take(permits.state.load(Ordering::Acquire)).is_err(), "a newcomer waits behind them");
        drop(b);
        for w in waiters {
            w.await.unwrap();
        }
        let got: Vec<u64> = std::iter::from_fn(|| order.try_recv().ok()).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert_eq!(free(&permits), 2);
    }

    #[tokio::test]
    async fn a_waiter_that_goes_away_loses_no_permit() {
        let permits = Permits::new(1);
        let held = permits.acquire().await.unwrap();
        // Goes away before its turn.
        assert!(tokio::time::timeout(Duration::from_millis(10), permits.acquire()).await.is_err());
        // Goes away after the permit was sent to it, before it looked (this runtime has one
        // thread: the task does not run between the send and the abort).
        let sent_to = tokio::spawn({
            let permits = permits.clone();
            async move { permits.acquire().await.map(drop) }
        });
        while permits.state.load(Ordering::Acquire) & WAITERS != 2 * WAITER {
            tokio::task::yield_now().await;
        }
        drop(held);
        assert_eq!(permits.state.load(Ordering::Acquire) & (WAITERS | FREE), 0, "sent to the live waiter");
        sent_to.abort();
        let _ = sent_to.await;
        assert_eq!(free(&permits), 1, "both waiters gone: the permit is free again");
        assert_eq!(permits.state.load(Ordering::Acquire) & WAITERS, 0);
        drop(permits.acquire().await.unwrap());
    }

    #[tokio::test]
    async fn closing_refuses_the_waiters_and_everyone_after_and_all_back_waits_for_the_permits_out() {
        let permits = Permits::new(1);
        let held = permits.acquire().await.unwrap();
        let waiter = tokio::spawn({
            let permits = permits.clone();
            async move { permits.acquire().await.map(drop) }
        });
        while permits.state.load(Ordering::Acquire) & WAITERS == 0 {
            tokio::task::yield_now().await;
        }
        let draining = tokio::spawn({
            let permits = permits.clone();
            async move { permits.all_back().await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        assert!(!draining.is_finished(), "a permit is out and one waits");
        permits.close();
        assert_eq!(waiter.await.unwrap(), Err(Closed));
        assert!(matches!(permits.acquire().await, Err(Closed)));
        assert!(!draining.is_finished(), "the one out is not back yet");
        drop(held);
        tokio::time::timeout(Duration::from_secs(5), draining).await.expect("all back").unwrap();
        assert_eq!(free(&permits), 1);
    }
}
