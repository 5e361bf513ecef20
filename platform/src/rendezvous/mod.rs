//! The rendezvous: where `heroku run` and `paas run` attach to a one-off dyno, over TLS
//! (`--rendezvous-listen`, the server's [`ServerTls`]). Heroku's protocol, as the heroku CLI
//! speaks it (`attach_url` = `rendezvous://HOST:PORT/SECRET`):
//!
//! 1. the client sends `SECRET\r\n` (anything from `?` on is ignored);
//! 2. the server answers `rendezvous\r\n` as a write of its own, before any output (the CLI
//!    discards its whole first read);
//! 3. then raw bytes both ways: the dyno's stdout and stderr to the client; the client's bytes to
//!    the dyno's stdin, `\x04` meaning end of stdin. When the client has a terminal (`tty`) and
//!    the dyno none, the rendezvous stands in for its line discipline (`line.rs`: echo, line
//!    editing, Ctrl-C stops the dyno, `\r\n` line ends);
//! 4. the server closes the connection once the dyno has exited and its output is sent.
//!
//! A secret is 32 random bytes in hex and works once. One not claimed within [`CLAIM_WITHIN`]
//! expires, and its dyno is stopped. A client whose connection breaks gets its dyno stopped. A
//! wrong or used secret gets the connection closed without a greeting (and a warning logged).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod line;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use axum::serve::Listener;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;

use line::LineDiscipline;

use crate::https::TlsListener;
use crate::serving::{OneOff, StopOneOff};
use crate::tls::ServerTls;

/// How long a secret waits to be claimed before its dyno is stopped.
pub const CLAIM_WITHIN: Duration = Duration::from_secs(60);

/// How long a client has, once its TLS handshake is done (within
/// [`HANDSHAKE_TIMEOUT`](crate::https::HANDSHAKE_TIMEOUT)), to send its secret line.
const SECRET_WITHIN: Duration = Duration::from_secs(10);

/// How long, once a dyno has exited, the rendezvous waits for a client without a terminal to end
/// its stdin before closing.
const STDIN_END_WITHIN: Duration = Duration::from_secs(2);

/// How long a client has to close the connection once the dyno's output has all been sent.
const CLOSE_WITHIN: Duration = Duration::from_secs(5);

/// The longest secret line read.
const MAX_SECRET_LINE: u64 = 1024;

/// The greeting, written on its own before any output.
pub const GREETING: &[u8] = b"rendezvous\r\n";

/// End of stdin, from the client.
const EOT: u8 = 0x04;

/// A dyno waiting for its client.
struct Waiting {
    oneoff: OneOff,
    tty: bool,
}

/// The rendezvous listener's registry of attached dynos waiting for their client. Cheap to clone.
#[derive(Clone)]
pub struct Rendezvous {
    waiting: Arc<Mutex<HashMap<String, Waiting>>>,
    addr: SocketAddr,
    claim_within: Duration,
}

impl std::fmt::Debug for Rendezvous {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rendezvous").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Rendezvous {
    /// A registry for the listener bound at `addr` (its port goes into attach URLs).
    pub fn new(addr: SocketAddr) -> Rendezvous {
        Rendezvous { waiting: Arc::default(), addr, claim_within: CLAIM_WITHIN }
    }

    /// The same, with secrets expiring after `claim_within` (tests).
    pub fn with_claim_within(mut self, claim_within: Duration) -> Rendezvous {
        self.claim_within = claim_within;
        self
    }

    /// The listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Makes an attached dyno wait for its client; answers the secret. `tty`: the client has a
    /// terminal (Ctrl-C stops the dyno, output gets `\r\n` line ends).
    pub fn register(&self, oneoff: OneOff, tty: bool) -> String {
        let secret = hex::encode(rand::random::<[u8; 32]>());
        let stop = oneoff.stop.clone();
        let name = oneoff.dyno.name.clone();
        self.lock().insert(secret.clone(), Waiting { oneoff, tty });
        let (this, key) = (self.clone(), secret.clone());
        tokio::spawn(async move {
            tokio::time::sleep(this.claim_within).await;
            if this.lock().remove(&key).is_some() {
                tracing::warn!(dyno = %name, "nobody attached to the one-off dyno within {:?}; stopping it", this.claim_within);
                stop.stop();
            }
        });
        secret
    }

    /// `rendezvous://HOST:PORT/SECRET`, HOST being the host the client addressed the API by
    /// (`Host` header, without its port) or else the listener's address.
    pub fn attach_url(&self, api_host: Option<&str>, secret: &str) -> String {
        let host = api_host.map(host_without_port).filter(|h| !h.is_empty()).unwrap_or_else(|| match self.addr {
            SocketAddr::V4(a) if a.ip().is_unspecified() => "127.0.0.1".to_string(),
            SocketAddr::V6(a) if a.ip().is_unspecified() => "[::1]".to_string(),
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        });
        format!("rendezvous://{host}:{}/{secret}", self.addr.port())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Waiting>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Accepts clients on `listener` with `tls` until `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        tls: &ServerTls,
        shutdown: impl std::future::Future<Output = ()>,
    ) -> std::io::Result<()> {
        let mut listener = TlsListener::new(listener, tls.server_config(), "rendezvous")?;
        tokio::pin!(shutdown);
        loop {
            let (tls, peer) = tokio::select! {
                accepted = listener.accept() => accepted,
                () = &mut shutdown => return Ok(()),
            };
            let this = self.clone();
            tokio::spawn(async move { this.attach(tls, peer).await });
        }
    }

    /// One client (its TLS handshake done): secret, greeting, then the dyno's terminal until it exits.
    async fn attach(self, tls: TlsStream<TcpStream>, peer: SocketAddr) {
        let _ = tls.get_ref().0.set_nodelay(true);
        let opened = tokio::time::timeout(SECRET_WITHIN, async {
            let mut reader = BufReader::new(tls);
            let mut line = Vec::new();
            (&mut reader).take(MAX_SECRET_LINE).read_until(b'\n', &mut line).await?;
            Ok::<_, std::io::Error>((reader, line))
        })
        .await;
        let (mut stream, line) = match opened {
            Ok(Ok(opened)) => opened,
            Ok(Err(e)) => return tracing::warn!(%peer, "rendezvous: {e}"),
            Err(_) => return tracing::warn!(%peer, "rendezvous: no secret within {SECRET_WITHIN:?}"),
        };
        let line = String::from_utf8_lossy(&line);
        let secret = line.trim_end_matches(['\r', '\n']).split('?').next().unwrap_or_default();
        let Some(Waiting { oneoff, tty }) = self.lock().remove(secret) else {
            // Closed without a greeting: the secret is wrong, used or expired.
            return tracing::warn!(%peer, "rendezvous: refused an unknown, used or expired secret");
        };
        let OneOff { attached: Some(attached), exit, stop, dyno } = oneoff else {
            return tracing::warn!(%peer, "rendezvous: the one-off dyno has no terminal");
        };
        if stream.write_all(GREETING).await.is_err() || stream.flush().await.is_err() {
            return stop.stop();
        }
        tracing::info!(%peer, dyno = %dyno.name, "rendezvous: attached");
        // A raw terminal on the client and none on the dyno: the rendezvous stands in for one.
        let (echo_tx, echo_rx) = if tty && !attached.terminal {
            let (tx, rx) = mpsc::unbounded_channel();
            (Some(tx), Some(rx))
        } else {
            (None, None)
        };
        let (from_client, to_client) = tokio::io::split(stream);
        let stdin_ended = Arc::new(tokio::sync::Notify::new());
        let mut pump_in = tokio::spawn(stdin_from(from_client, attached.stdin, echo_tx, stop.clone(), stdin_ended.clone()));
        let sent = output_to(attached.output, to_client, echo_rx).await;
        match sent {
            Ok(mut to_client) => {
                let code = exit.await;
                tracing::info!(%peer, dyno = %dyno.name, code, "rendezvous: the dyno exited");
                // A client without a terminal sends \x04 once its stdin ends; closing before it
                // has would make its write fail (the heroku CLI dies of it).
                if !tty {
                    let _ = tokio::time::timeout(STDIN_END_WITHIN, stdin_ended.notified()).await;
                }
                let _ = to_client.shutdown().await;
                // The client closes once it has read everything; until then its bytes are read.
                if tokio::time::timeout(CLOSE_WITHIN, &mut pump_in).await.is_err() {
                    pump_in.abort();
                }
            }
            Err(e) => {
                tracing::warn!(%peer, dyno = %dyno.name, "rendezvous: the client went away ({e}); stopping the dyno");
                stop.stop();
                pump_in.abort();
            }
        }
    }
}

/// Copies the client's bytes to the dyno's stdin until `\x04` (or the client's end of stream).
/// With `typing` (a raw terminal on the client, none on the dyno), a [`LineDiscipline`] stands in
/// for one: its echo goes to `echo`, Ctrl-C stops the dyno. A broken connection stops it.
/// After the end of stdin it goes on reading (and dropping) what the client sends until the
/// connection ends: closing a socket with unread bytes would reset it, and the client would lose
/// the end of the output.
async fn stdin_from(
    mut client: impl AsyncRead + Unpin,
    stdin: Box<dyn AsyncWrite + Send + Unpin>,
    typing: Option<mpsc::UnboundedSender<Vec<u8>>>,
    stop: StopOneOff,
    ended: Arc<tokio::sync::Notify>,
) {
    let mut stdin = Some(stdin);
    let mut line = LineDiscipline::default();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match client.read(&mut buf).await {
            // The client closed its side: end of stdin; its output still goes to it.
            Ok(0) => break,
            Ok(n) => n,
            // The connection broke (no TLS close): nobody is there any more.
            Err(_) => {
                stop.stop();
                break;
            }
        };
        let (input, end) = match &typing {
            Some(echo) => {
                let typed = line.feed(&buf[..n]);
                let _ = echo.send(typed.echo);
                // Ctrl-C also ends stdin: a guest blocked reading it cannot see the stop file.
                if typed.interrupt {
                    stop.stop();
                }
                (typed.input, typed.end || typed.interrupt)
            }
            None => {
                let end = buf[..n].iter().position(|&b| b == EOT);
                (buf[..end.unwrap_or(n)].to_vec(), end.is_some())
            }
        };
        let Some(writer) = stdin.as_mut() else { continue };
        if (writer.write_all(&input).await.is_err() || end)
            && let Some(mut writer) = stdin.take()
        {
            let _ = writer.shutdown().await;
            ended.notify_one();
        }
    }
    if let Some(mut writer) = stdin {
        let _ = writer.shutdown().await;
    }
    ended.notify_one();
}

/// Copies the dyno's output (and, for a raw terminal, the echo of what is typed, with `\r\n`
/// line ends) to the client until the output ends; answers the client's stream to close.
async fn output_to<W: AsyncWrite + Unpin>(
    mut output: Box<dyn AsyncRead + Send + Unpin>,
    mut client: W,
    mut echo: Option<mpsc::UnboundedReceiver<Vec<u8>>>,
) -> std::io::Result<W> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut last = 0u8;
    loop {
        let echoed = async {
            match echo.as_mut() {
                Some(rx) => rx.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            // What was typed shows before the output it causes.
            biased;
            typed = echoed => match typed {
                Some(bytes) => client.write_all(&bytes).await?,
                None => echo = None,
            },
            read = output.read(&mut buf) => {
                let n = read?;
                if n == 0 {
                    return Ok(client);
                }
                if echo.is_some() {
                    client.write_all(&line::crlf(&buf[..n], &mut last)).await?;
                } else {
                    client.write_all(&buf[..n]).await?;
                }
            }
        }
        client.flush().await?;
    }
}

/// `host` of `host:port`, `[::1]` of `[::1]:port`.
fn host_without_port(host: &str) -> String {
    if let Some(end) = host.find(']') {
        return host[..=end].to_string();
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) && !name.contains(':') => name.to_string(),
        _ => host.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Dyno;
    use crate::serving::Attached;

    /// A one-off whose stop is observable: the OneOff, and a receiver told when it is stopped.
    fn oneoff() -> (OneOff, tokio::sync::oneshot::Receiver<()>) {
        let (stop, stopped) = StopOneOff::new();
        let (told, told_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            stopped.await;
            let _ = told.send(());
        });
        let (stdin, _) = tokio::io::duplex(64);
        let (output, _) = tokio::io::duplex(64);
        let dyno = Dyno {
            id: uuid::Uuid::new_v4(),
            app_id: uuid::Uuid::new_v4(),
            name: "run.1".into(),
            process_type: "run".into(),
            command: "worker".into(),
            size: "Basic".into(),
            state: "up".into(),
            release_version: 2,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        };
        let attached = Attached { stdin: Box::new(stdin), output: Box::new(output), terminal: false };
        let oneoff = OneOff { dyno, attached: Some(attached), exit: Box::pin(std::future::pending()), stop };
        (oneoff, told_rx)
    }

    #[tokio::test]
    async fn an_unclaimed_secret_expires_and_its_dyno_is_stopped() {
        let rendezvous = Rendezvous::new("127.0.0.1:5001".parse().unwrap()).with_claim_within(Duration::from_millis(50));
        let (oneoff, stopped) = oneoff();
        let secret = rendezvous.register(oneoff, false);
        assert_eq!(secret.len(), 64);
        assert!(secret.chars().all(|c| c.is_ascii_hexdigit()));
        tokio::time::timeout(Duration::from_secs(5), stopped).await.expect("stopped after the claim time").unwrap();
        assert!(rendezvous.lock().is_empty(), "the secret is gone");
    }

    #[tokio::test]
    async fn secrets_differ_and_attach_urls_use_the_host_the_api_was_addressed_by() {
        let rendezvous = Rendezvous::new("0.0.0.0:5001".parse().unwrap());
        let (a, _) = oneoff();
        let (b, _) = oneoff();
        assert_ne!(rendezvous.register(a, false), rendezvous.register(b, false));
        assert_eq!(rendezvous.attach_url(Some("paas.example.com:5000"), "s"), "rendezvous://paas.example.com:5001/s");
        assert_eq!(rendezvous.attach_url(Some("[::1]:5000"), "s"), "rendezvous://[::1]:5001/s");
        assert_eq!(rendezvous.attach_url(Some("localhost"), "s"), "rendezvous://localhost:5001/s");
        assert_eq!(rendezvous.attach_url(None, "s"), "rendezvous://127.0.0.1:5001/s");
    }
}
