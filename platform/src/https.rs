//! HTTPS for the API listener (`paas server --api-tls-listen ADDR`): [`TlsListener`] is an
//! `axum::serve` listener whose connections are TLS, so the same router — Platform API and git
//! smart HTTP — answers on both ports (the rendezvous accepts its clients through one too). That is what the heroku CLI needs: `heroku git:remote`
//! always writes `https://<api-host>/<app>.git`.
//!
//! Handshakes run in their own tasks (a slow or silent client holds up no one) and must finish
//! within [`HANDSHAKE_TIMEOUT`]; at most [`MAX_HANDSHAKES`] run at once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// How long a client has to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How many handshakes may be in progress at once; more connections wait to be accepted.
pub const MAX_HANDSHAKES: usize = 256;

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
        let local = listener.local_addr()?;
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let handshakes = Arc::new(Semaphore::new(MAX_HANDSHAKES));
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
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                        Ok(Ok(tls)) => {
                            drop(permit);
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
