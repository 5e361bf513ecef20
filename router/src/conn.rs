//! Per-connection bookkeeping for slow-client protection and the idle timeout: the socket
//! wrapper notes when bytes move, the service notes requests in flight, one [`Watchdog`] per
//! listener looks at every connection each tick and tells the ones past a deadline (and all of
//! them at shutdown). A connection's task waits on [`ConnState::told`]: an atomic load and a waker
//! of its own, where a timer and a shutdown channel per connection, polled on every wake of a busy
//! connection, took about 1.7% of the router's CPU. An HTTP/1 request's deadline (H12) is kept
//! the same way ([`ConnState::within`]), rather than by a tokio timer per request.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures::task::AtomicWaker;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// What a connection is doing, as seen by its watchdog.
pub(crate) struct ConnState {
    /// [`coarse_ms`] when the connection was made.
    epoch: u64,
    /// Milliseconds since `epoch` of the last byte read or written, or request finished.
    last_activity: AtomicU64,
    /// Requests whose response has not ended.
    in_flight: AtomicUsize,
    /// 1 + milliseconds since `epoch` when bytes of a request not yet handed over arrived; 0 if none.
    partial_since: AtomicU64,
    /// The connection speaks HTTP/2 (prior knowledge preface seen): no header deadline.
    h2: AtomicBool,
    first_read: AtomicBool,
    /// 1 + milliseconds since `epoch` by which the HTTP/1 request being routed must have its
    /// response; 0 if none; [`LATE`] once the watchdog found it past.
    deadline: AtomicU64,
    /// The routing task, woken when its deadline passes.
    deadline_waker: AtomicWaker,
    /// What it was told and has not read yet ([`Told`] bits).
    told: AtomicU8,
    /// Its task, woken when it is told something.
    waker: AtomicWaker,
}

/// [`ConnState::deadline`] once the watchdog found the request past it.
const LATE: u64 = u64::MAX;

/// What a connection is told ([`ConnState::told`]), as bits.
pub(crate) struct Told;

impl Told {
    /// The server stops: finish what is in flight, then close.
    pub(crate) const STOP: u8 = 1;
    /// Idle past the idle timeout: close (told again each tick while it stays idle).
    pub(crate) const IDLE: u8 = 2;
    /// Request headers took longer than the header timeout: drop.
    pub(crate) const SLOW_CLIENT: u8 = 4;
}

/// Milliseconds on the coarse monotonic clock: it moves in steps of a few milliseconds (the
/// kernel's tick), which is plenty for timeouts of seconds, and reading it costs a fraction of
/// the precise clock's read (three of them a request).
pub(crate) fn coarse_ms() -> u64 {
    let now = rustix::time::clock_gettime(rustix::time::ClockId::MonotonicCoarse);
    (now.tv_sec as u64).saturating_mul(1000).saturating_add(now.tv_nsec as u64 / 1_000_000)
}

/// The watchdog's decision.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    Fine,
    /// Idle past the idle timeout: close.
    Idle,
    /// Request headers took longer than the header timeout: drop.
    SlowClient,
}

impl ConnState {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(ConnState {
            epoch: coarse_ms(),
            last_activity: AtomicU64::new(0),
            in_flight: AtomicUsize::new(0),
            partial_since: AtomicU64::new(0),
            h2: AtomicBool::new(false),
            first_read: AtomicBool::new(true),
            deadline: AtomicU64::new(0),
            deadline_waker: AtomicWaker::new(),
            told: AtomicU8::new(0),
            waker: AtomicWaker::new(),
        })
    }

    /// Tells the connection `what` ([`Told`] bits) and wakes its task.
    fn tell(&self, what: u8) {
        self.told.fetch_or(what, Ordering::AcqRel);
        self.waker.wake();
    }

    /// Waits until the connection is told something; answers the [`Told`] bits, then forgets them.
    pub(crate) fn told(&self) -> impl Future<Output = u8> + '_ {
        std::future::poll_fn(move |cx| {
            if self.told.load(Ordering::Acquire) == 0 {
                self.waker.register(cx.waker());
                if self.told.load(Ordering::Acquire) == 0 {
                    return Poll::Pending;
                }
            }
            Poll::Ready(self.told.swap(0, Ordering::AcqRel))
        })
    }

    fn now_ms(&self) -> u64 {
        coarse_ms().saturating_sub(self.epoch)
    }

    /// Whether the connection speaks HTTP/1 (one request at a time): its request's deadline can
    /// be kept by the watchdog ([`ConnState::within`]).
    pub(crate) fn is_http1(&self) -> bool {
        !self.h2.load(Ordering::Acquire)
    }

    /// `call`'s output, or `None` when `timeout` from now passes first (HTTP/1: one request at a
    /// time). The watchdog keeps the deadline, to within a tick: a tokio timer per request took
    /// about 1.7% of the router's CPU, registered and taken out of the timer wheel each time.
    pub(crate) async fn within<F: Future>(&self, timeout: Duration, call: F) -> Option<F::Output> {
        /// Forgets the deadline when the call ends or is dropped.
        struct Clear<'a>(&'a AtomicU64);
        impl Drop for Clear<'_> {
            fn drop(&mut self) {
                self.0.store(0, Ordering::Release);
            }
        }
        let millis = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX / 2).min(u64::MAX / 2);
        self.deadline.store(self.now_ms().saturating_add(millis).saturating_add(1), Ordering::Release);
        let _clear = Clear(&self.deadline);
        let mut call = std::pin::pin!(call);
        std::future::poll_fn(move |cx| {
            if let Poll::Ready(output) = call.as_mut().poll(cx) {
                return Poll::Ready(Some(output));
            }
            if self.deadline.load(Ordering::Acquire) == LATE {
                return Poll::Ready(None);
            }
            self.deadline_waker.register(cx.waker());
            if self.deadline.load(Ordering::Acquire) == LATE {
                return Poll::Ready(None);
            }
            Poll::Pending
        })
        .await
    }

    /// Marks the request past its deadline (if it has one and it passed) and wakes its task.
    fn check_deadline(&self) {
        let deadline = self.deadline.load(Ordering::Acquire);
        if deadline == 0 || deadline == LATE || self.now_ms() < deadline - 1 {
            return;
        }
        // The request that set `deadline` may have ended meanwhile, and another set its own: that
        // one is later (it began after this one's deadline passed), so the exchange fails.
        if self.deadline.compare_exchange(deadline, LATE, Ordering::AcqRel, Ordering::Acquire).is_ok() {
            self.deadline_waker.wake();
        }
    }

    /// A request was handed to the service; the returned guard ends it when dropped.
    pub(crate) fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        self.partial_since.store(0, Ordering::Release);
        InFlight(self.clone())
    }

    fn on_read(&self, bytes: &[u8]) {
        if self.first_read.swap(false, Ordering::AcqRel) && bytes.starts_with(b"PRI * HTTP/2.0") {
            self.h2.store(true, Ordering::Release);
        }
        let now = self.now_ms();
        self.last_activity.store(now, Ordering::Release);
        if !self.h2.load(Ordering::Acquire)
            && self.in_flight.load(Ordering::Acquire) == 0
            && self.partial_since.load(Ordering::Acquire) == 0
        {
            self.partial_since.store(now + 1, Ordering::Release);
        }
    }

    fn on_write(&self) {
        self.last_activity.store(self.now_ms(), Ordering::Release);
    }

    /// How long since bytes last moved (or a request finished).
    pub(crate) fn idle_for(&self) -> Duration {
        Duration::from_millis(self.now_ms().saturating_sub(self.last_activity.load(Ordering::Acquire)))
    }

    pub(crate) fn verdict(&self, header_timeout: Duration, idle_timeout: Duration) -> Verdict {
        if self.in_flight.load(Ordering::Acquire) > 0 {
            return Verdict::Fine;
        }
        let now = self.now_ms();
        let partial = self.partial_since.load(Ordering::Acquire);
        if partial != 0 && now.saturating_sub(partial - 1) >= header_timeout.as_millis() as u64 {
            return Verdict::SlowClient;
        }
        if now.saturating_sub(self.last_activity.load(Ordering::Acquire)) >= idle_timeout.as_millis() as u64 {
            return Verdict::Idle;
        }
        Verdict::Fine
    }
}

/// The connections of one listener, and the deadlines it keeps for them.
pub(crate) struct Watchdog {
    header_timeout: Duration,
    idle_timeout: Duration,
    request_timeout: Duration,
    connections: Mutex<Connections>,
}

#[derive(Default)]
struct Connections {
    by_id: HashMap<u64, Arc<ConnState>>,
    next: u64,
    stopped: bool,
}

impl Watchdog {
    pub(crate) fn new(header_timeout: Duration, idle_timeout: Duration, request_timeout: Duration) -> Arc<Self> {
        Arc::new(Watchdog { header_timeout, idle_timeout, request_timeout, connections: Mutex::new(Connections::default()) })
    }

    /// How often [`look`](Self::look) should run: a quarter of the shortest timeout, between 5 ms
    /// and 1 s.
    pub(crate) fn tick(&self) -> Duration {
        let shortest = self.header_timeout.min(self.idle_timeout).min(self.request_timeout);
        (shortest / 4).clamp(Duration::from_millis(5), Duration::from_secs(1))
    }

    fn connections(&self) -> std::sync::MutexGuard<'_, Connections> {
        self.connections.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A new connection, watched until the returned guard drops (told to stop at once when the
    /// listener already stopped).
    pub(crate) fn watch(self: &Arc<Self>) -> Watched {
        let state = ConnState::new();
        let mut connections = self.connections();
        let id = connections.next;
        connections.next += 1;
        connections.by_id.insert(id, state.clone());
        if connections.stopped {
            state.tell(Told::STOP);
        }
        Watched { watchdog: self.clone(), id, state }
    }

    /// Tells each connection past a deadline.
    pub(crate) fn look(&self) {
        for state in self.connections().by_id.values() {
            state.check_deadline();
            match state.verdict(self.header_timeout, self.idle_timeout) {
                Verdict::Fine => {}
                Verdict::Idle => state.tell(Told::IDLE),
                Verdict::SlowClient => state.tell(Told::SLOW_CLIENT),
            }
        }
    }

    /// Tells every connection, and every one to come, that the listener stopped.
    pub(crate) fn stop(&self) {
        let mut connections = self.connections();
        connections.stopped = true;
        for state in connections.by_id.values() {
            state.tell(Told::STOP);
        }
    }
}

/// One connection of a [`Watchdog`], forgotten when dropped.
pub(crate) struct Watched {
    watchdog: Arc<Watchdog>,
    id: u64,
    pub(crate) state: Arc<ConnState>,
}

impl Drop for Watched {
    fn drop(&mut self) {
        self.watchdog.connections().by_id.remove(&self.id);
    }
}

/// Marks one request in flight on its connection until dropped (with the response body).
pub(crate) struct InFlight(Arc<ConnState>);

impl InFlight {
    /// The connection the request came on.
    pub(crate) fn state(&self) -> &ConnState {
        &self.0
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        let state = &self.0;
        state.last_activity.store(state.now_ms(), Ordering::Release);
        state.partial_since.store(0, Ordering::Release);
        state.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A socket that reports its traffic to a [`ConnState`].
pub(crate) struct Tracked<T> {
    pub(crate) inner: T,
    pub(crate) state: Arc<ConnState>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Tracked<T> {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = polled
            && buf.filled().len() > before
        {
            this.state.on_read(&buf.filled()[before..]);
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Tracked<T> {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            this.state.on_write();
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            this.state.on_write();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_headers_past_the_deadline_are_a_slow_client() {
        let state = ConnState::new();
        state.on_read(b"GET / HTTP/1.1\r\nHo");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(state.verdict(Duration::from_millis(20), Duration::from_secs(60)), Verdict::SlowClient);
        let guard = state.begin();
        assert_eq!(state.verdict(Duration::from_millis(20), Duration::from_millis(1)), Verdict::Fine);
        drop(guard);
        assert_eq!(state.verdict(Duration::from_millis(20), Duration::from_secs(60)), Verdict::Fine);
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(state.verdict(Duration::from_secs(60), Duration::from_millis(20)), Verdict::Idle);
    }

    #[tokio::test]
    async fn the_watchdog_tells_the_connections_past_a_deadline_and_all_at_stop() {
        let watchdog = Watchdog::new(Duration::from_millis(20), Duration::from_millis(200), Duration::from_secs(30));
        assert_eq!(watchdog.tick(), Duration::from_millis(5));
        let (slow, idle, busy) = (watchdog.watch(), watchdog.watch(), watchdog.watch());
        slow.state.on_read(b"GET / HTTP/1.1\r\nHo");
        let _in_flight = busy.state.begin();
        let waiting = tokio::spawn({
            let state = slow.state.clone();
            async move { state.told().await }
        });
        tokio::time::sleep(Duration::from_millis(30)).await;
        watchdog.look();
        assert_eq!(waiting.await.unwrap(), Told::SLOW_CLIENT, "a waiting task is woken");
        assert_eq!(idle.state.told.load(Ordering::Acquire), 0, "not idle for 200 ms yet");
        tokio::time::sleep(Duration::from_millis(200)).await;
        watchdog.look();
        assert_eq!(idle.state.told().await, Told::IDLE);
        assert_eq!(busy.state.told.load(Ordering::Acquire), 0, "a request in flight keeps it fine");
        drop(slow);
        assert_eq!(watchdog.connections().by_id.len(), 2, "a dropped connection is forgotten");
        watchdog.stop();
        assert_eq!(busy.state.told().await, Told::STOP);
        assert_eq!(watchdog.watch().state.told().await, Told::STOP, "one that comes after the stop is told at once");
    }

    #[tokio::test]
    async fn the_watchdog_ends_a_request_past_its_deadline_and_only_that_one() {
        let watchdog = Watchdog::new(Duration::from_secs(10), Duration::from_secs(60), Duration::from_millis(40));
        let conn = watchdog.watch();
        assert_eq!(conn.state.within(Duration::from_millis(40), async { 7 }).await, Some(7));
        // A request that is never answered ends once the watchdog finds it past its deadline.
        let looking = tokio::spawn({
            let watchdog = watchdog.clone();
            async move {
                loop {
                    tokio::time::sleep(watchdog.tick()).await;
                    watchdog.look();
                }
            }
        });
        let started = std::time::Instant::now();
        assert_eq!(conn.state.within(Duration::from_millis(40), std::future::pending::<()>()).await, None);
        let took = started.elapsed();
        assert!(took >= Duration::from_millis(40) && took < Duration::from_millis(500), "{took:?}");
        // One that answers in time is not cut, however often the watchdog looks.
        let answer = tokio::time::sleep(Duration::from_millis(20));
        assert_eq!(conn.state.within(Duration::from_millis(40), answer).await, Some(()));
        looking.abort();
        // A deadline not yet reached is left alone; one passed is marked late, once.
        conn.state.deadline.store(conn.state.now_ms() + 60_000, Ordering::Release);
        conn.state.check_deadline();
        assert_ne!(conn.state.deadline.load(Ordering::Acquire), LATE);
        conn.state.deadline.store(1, Ordering::Release);
        conn.state.check_deadline();
        assert_eq!(conn.state.deadline.load(Ordering::Acquire), LATE);
        assert_eq!(watchdog.tick(), Duration::from_millis(10), "a quarter of the shortest timeout");
    }

    #[test]
    fn http2_connections_have_no_header_deadline() {
        let state = ConnState::new();
        state.on_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(state.verdict(Duration::from_millis(20), Duration::from_secs(60)), Verdict::Fine);
    }
}
