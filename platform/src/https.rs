//! HTTPS for the API listener (`paas server --api-tls-listen ADDR`) and the router's
//! (`--router-tls-listen ADDR`, through [`TlsListener::into_parts`]): [`TlsListener`] is an
//! `axum::serve` listener whose connections are TLS, so the same router — Platform API and git
//! smart HTTP — answers on both ports (the rendezvous accepts its clients through one too). That is what the heroku CLI needs: `heroku git:remote`
//! always writes `https://<api-host>/<app>.git`.
//!
//! Handshakes run in their own tasks (a slow or silent client holds up no one) and must finish
//! within [`HANDSHAKE_TIMEOUT`]; at most [`MAX_HANDSHAKES`] run at once, and at most
//! [`MAX_HANDSHAKES_PER_ADDRESS`] of them for one client address (an IPv6 client's /64), so one
//! client cannot take every slot: its next connection is closed at once.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many handshakes may be in progress at once; more connections wait to be accepted.
pub const MAX_HANDSHAKES: usize = 256;

/// How many of those one client address may hold; its connections past that are closed.
pub const MAX_HANDSHAKES_PER_ADDRESS: usize = 16;

/// How a [`TlsListener`] bounds its handshakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// How long a client has to finish its handshake.
    pub timeout: Duration,
    /// Handshakes in progress at once.
    pub max: usize,
    /// Handshakes in progress at once from one client address.
    pub per_address: usize,
}

impl Default for HandshakeLimits {
    fn default() -> HandshakeLimits {
        HandshakeLimits { timeout: HANDSHAKE_TIMEOUT, max: MAX_HANDSHAKES, per_address: MAX_HANDSHAKES_PER_ADDRESS }
    }
}

/// The client a connection counts against: its IPv4 address, or its IPv6 address's /64 (one
/// host commonly has a whole /64).
fn client_of(peer: SocketAddr) -> IpAddr {
    match peer.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(v6.to_bits() & !u128::from(u64::MAX))),
        },
        v4 => v4,
    }
}

/// Handshakes in progress per client.
#[derive(Debug, Default)]
struct PerClient(Mutex<HashMap<IpAddr, usize>>);

/// One handshake counted against its client until dropped.
struct ClientSlot {
    clients: Arc<PerClient>,
    client: IpAddr,
}

impl PerClient {
    /// A slot for `client`, unless it holds `limit` already.
    fn take(self: &Arc<Self>, client: IpAddr, limit: usize) -> Option<ClientSlot> {
        let mut counts = self.0.lock().expect("handshakes per client");
        let count = counts.entry(client).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(ClientSlot { clients: self.clone(), client })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        let mut counts = self.clients.0.lock().expect("handshakes per client");
        if let Some(count) = counts.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// A TCP listener whose connections are accepted through a TLS handshake.
pub struct TlsListener {
    local: SocketAddr,
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
}

impl TlsListener {
    /// Starts accepting on `listener` with `config` (its certificate); the accept loop ends when
    /// the returned listener is dropped. `name` (`https`, `rendezvous`) starts its log lines.
    pub fn new(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        name: &'static str,
    ) -> std::io::Result<TlsListener> {
        TlsListener::with_limits(listener, config, name, HandshakeLimits::default())
    }

    /// [`TlsListener::new`] with other limits on handshakes.
    pub fn with_limits(
        listener: TcpListener,
        config: Arc<rustls::ServerConfig>,
        name: &'static str,
        limits: HandshakeLimits,
    ) -> std::io::Result<TlsListener> {
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let handshakes = Arc::new(Semaphore::new(limits.max));
        let clients = Arc::new(PerClient::default());
        tokio::spawn(async move {
            loop {
                let Ok(permit) = handshakes.clone().acquire_owned().await else { return };
                let (tcp, peer) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        Err(e) => {
                            // Out of file descriptors and the like: wait a little, as axum does.
                            tracing::warn!("{name}: cannot accept a connection: {e}");
                            tokio::time::sleep(Duration::from_millis(100)).await;
                            continue;
                        }
                    },
                    _ = tx.closed() => return,
                };
                crate::listen::give_up_on_silent_peers(&tcp);
                let Some(slot) = clients.take(client_of(peer), limits.per_address) else {
                    tracing::debug!(%peer, "{name}: connection closed: {} TLS handshakes from its address already", limits.per_address);
                    continue;
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(limits.timeout, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            drop((permit, slot));
                            let _ = tx.send((tls, peer)).await;
                        }
                        Ok(Err(e)) => tracing::debug!(%peer, "{name}: TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%peer, "{name}: TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(TlsListener { local, ready })
    }
}

impl TlsListener {
    /// Where it listens, and its connections as their handshakes finish (for a server that is
    /// not axum's: the router's HTTPS listener).
    pub fn into_parts(self) -> (SocketAddr, mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>) {
        (self.local, self.ready)
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(accepted) => accepted,
            // The accept loop only ends once this listener is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        Ok(self.local)
    }
}
