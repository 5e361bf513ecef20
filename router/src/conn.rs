//! Per-connection bookkeeping for slow-client protection and the idle timeout: the socket
//! wrapper notes when bytes move, the service notes requests in flight, a watchdog decides.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

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
}

/// Milliseconds on the coarse monotonic clock: it moves in steps of a few milliseconds (the
/// kernel's tick), which is plenty for timeouts of seconds, and reading it costs a fraction of
/// the precise clock's read (three of them a request).
fn coarse_ms() -> u64 {
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
        })
    }

    fn now_ms(&self) -> u64 {
        coarse_ms().saturating_sub(self.epoch)
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

/// Marks one request in flight on its connection until dropped (with the response body).
pub(crate) struct InFlight(Arc<ConnState>);

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

    #[test]
    fn http2_connections_have_no_header_deadline() {
        let state = ConnState::new();
        state.on_read(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(state.verdict(Duration::from_millis(20), Duration::from_secs(60)), Verdict::Fine);
    }
}
