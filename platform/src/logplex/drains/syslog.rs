//! Syslog drains: each line as an RFC 5424 message (`<190>1 TIMESTAMP TOKEN app web.1 - - text`:
//! facility local7, severity info; the drain token as hostname, the source as app-name, the
//! process as procid), octet-counted (RFC 6587: `LEN SP MSG`), over one TCP connection that is
//! made again after a failure.

use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

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
    token: String,
    stream: Option<TcpStream>,
}

impl SyslogConnection {
    /// A drain to `host:port`, named by `token`.
    pub fn new(address: String, token: String) -> SyslogConnection {
        SyslogConnection { address, token, stream: None }
    }

    /// Writes the lines; on failure the connection is dropped (the next try reconnects).
    pub async fn deliver(&mut self, lines: &[LogLine]) -> Result<(), String> {
        let mut bytes = String::new();
        for line in lines {
            bytes.push_str(&frame(line, &self.token));
        }
        let result = tokio::time::timeout(TIMEOUT, async {
            if self.stream.is_none() {
                let stream = TcpStream::connect(&self.address).await.map_err(|e| format!("cannot connect: {e}"))?;
                self.stream = Some(stream);
            }
            let stream = self.stream.as_mut().expect("connected");
            stream.write_all(bytes.as_bytes()).await.map_err(|e| format!("cannot write: {e}"))?;
            stream.flush().await.map_err(|e| format!("cannot write: {e}"))
        })
        .await
        .unwrap_or_else(|_| Err("timed out".to_string()));
        if result.is_err() {
            self.stream = None;
        }
        result
    }
}
