//! HTTP drains as logplex delivers them: `POST` with an `application/logplex-1` body (the lines as
//! octet-counted syslog frames, hostname `host`) and the headers `Logplex-Msg-Count`,
//! `Logplex-Frame-Id` and `Logplex-Drain-Token`. A 2xx answer is a delivery; anything else, or
//! no answer within [`TIMEOUT`], is a failure to retry. HTTP/1.1, one connection per batch.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use uuid::Uuid;

use super::syslog::frame;
use crate::logplex::LogLine;

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP drain.
pub struct HttpDrain {
    address: String,
    host: String,
    path: String,
    token: String,
}

impl HttpDrain {
    /// A drain posting to `http://{host}{path}` (connecting to `address`), named by `token`.
    pub fn new(address: String, host: String, path: String, token: String) -> HttpDrain {
        HttpDrain { address, host, path, token }
    }

    /// Posts the lines as one logplex frame.
    pub async fn deliver(&mut self, lines: &[LogLine]) -> Result<(), String> {
        let body: String = lines.iter().map(|line| frame(line, "host")).collect();
        let request = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/logplex-1\r\nContent-Length: {}\r\n\
             Logplex-Msg-Count: {}\r\nLogplex-Frame-Id: {}\r\nLogplex-Drain-Token: {}\r\n\
             User-Agent: paas-logplex\r\nConnection: close\r\n\r\n{body}",
            self.path,
            self.host,
            body.len(),
            lines.len(),
            Uuid::new_v4().simple(),
            self.token,
        );
        tokio::time::timeout(TIMEOUT, async {
            let mut stream = TcpStream::connect(&self.address).await.map_err(|e| format!("cannot connect: {e}"))?;
            stream.write_all(request.as_bytes()).await.map_err(|e| format!("cannot send: {e}"))?;
            let mut head = Vec::new();
            let mut buf = [0u8; 512];
            while !head.windows(2).any(|w| w == b"\r\n") {
                let n = stream.read(&mut buf).await.map_err(|e| format!("cannot read the answer: {e}"))?;
                if n == 0 {
                    return Err("the endpoint closed the connection without answering".to_string());
                }
                head.extend_from_slice(&buf[..n]);
            }
            let status_line = String::from_utf8_lossy(&head);
            let status = status_line.split_whitespace().nth(1).and_then(|s| s.parse::<u16>().ok()).unwrap_or(0);
            if (200..300).contains(&status) {
                Ok(())
            } else {
                Err(format!("the endpoint answered {}", status_line.lines().next().unwrap_or("")))
            }
        })
        .await
        .unwrap_or_else(|_| Err("timed out".to_string()))
    }
}
