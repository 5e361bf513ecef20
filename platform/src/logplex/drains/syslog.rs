//! Syslog drains: each line as an RFC 5424 message (`<190>1 TIMESTAMP TOKEN app web.1 - - text`:
//! facility local7, severity info; the drain token as hostname, the source as app-name, the
//! process as procid), octet-counted (RFC 6587: `LEN SP MSG`), over one TCP connection — or TLS
//! for `syslog+tls://`, verified with the system's roots — made again after a failure, to an
//! address of the host resolved and checked by the egress policy at that moment.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use paas_sandbox::egress::{EgressPolicy, connect_any};
use rustls_platform_verifier::ConfigVerifierExt;
use tokio::io::{AsyncWrite, AsyncWriteExt};

use super::DeliveryError;
use crate::logplex::{LogLine, timestamp};

/// How long connecting and writing a batch may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// One line as an RFC 5424 message, without framing. `hostname` is the drain's token.
pub fn message(line: &LogLine, hostname: &str) -> String {
    format!("<190>1 {} {hostname} {} {} - - {}", timestamp(line.timestamp), line.source, line.process, line.text)
}

/// One line octet-counted: `LEN SP MSG`.
pub fn frame(line: &LogLine, hostname: &str) -> String {
    let message = message(line, hostname);
    format!("{} {message}", message.len())
}

/// A syslog drain's connection, opened when needed.
pub struct SyslogConnection {
    address: String,
    tls: bool,
    token: String,
    egress: Arc<EgressPolicy>,
    stream: Option<Pin<Box<dyn AsyncWrite + Send>>>,
}

impl SyslogConnection {
    /// A drain to `host:port` (over TLS when `tls`), named by `token`, where `egress` allows.
    pub fn new(address: String, tls: bool, token: String, egress: Arc<EgressPolicy>) -> SyslogConnection {
        SyslogConnection { address, tls, token, egress, stream: None }
    }

    async fn connect(
        address: &str,
        tls: bool,
        egress: &EgressPolicy,
    ) -> Result<Pin<Box<dyn AsyncWrite + Send>>, DeliveryError> {
        let (host, port) = address.rsplit_once(':').ok_or_else(|| format!("no port in {address}"))?;
        let port: u16 = port.parse().map_err(|_| format!("bad port in {address}"))?;
        let bare = host.trim_start_matches('[').trim_end_matches(']');
        let addrs = egress.resolve(bare, port).await.map_err(|e| DeliveryError::of_egress(&e))?;
        let tcp = connect_any(bare, port, &addrs).await.map_err(|e| format!("cannot connect: {e}"))?;
        if !tls {
            return Ok(Box::pin(tcp));
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let config = rustls::ClientConfig::with_platform_verifier().map_err(|e| format!("cannot set up TLS: {e}"))?;
        let name = rustls::pki_types::ServerName::try_from(bare.to_string()).map_err(|e| format!("bad host {bare}: {e}"))?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake failed: {e}"))?;
        Ok(Box::pin(tls))
    }

    /// Writes the lines; on failure the connection is dropped (the next try reconnects).
    pub async fn deliver(&mut self, lines: &[LogLine]) -> Result<(), DeliveryError> {
        let mut bytes = String::new();
        for line in lines {
            bytes.push_str(&frame(line, &self.token));
        }
        let result = tokio::time::timeout(TIMEOUT, async {
            if self.stream.is_none() {
                self.stream = Some(Self::connect(&self.address, self.tls, &self.egress).await?);
            }
            let stream = self.stream.as_mut().expect("connected");
            stream.write_all(bytes.as_bytes()).await.map_err(|e| format!("cannot write: {e}"))?;
            stream.flush().await.map_err(|e| DeliveryError::Failed(format!("cannot write: {e}")))
        })
        .await
        .unwrap_or_else(|_| Err(DeliveryError::Failed("timed out".to_string())));
        if result.is_err() {
            self.stream = None;
        }
        result
    }
}
