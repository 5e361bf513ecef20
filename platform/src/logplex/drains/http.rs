//! HTTP(S) drains as logplex delivers them: `POST` with an `application/logplex-1` body (the lines
//! as octet-counted syslog frames, hostname `host`) and the headers `Logplex-Msg-Count`,
//! `Logplex-Frame-Id` and `Logplex-Drain-Token`. A 2xx answer is a delivery; anything else, or
//! no answer within [`TIMEOUT`], is a failure to retry. `https://` is verified with the
//! system's roots (rustls).

use std::time::Duration;

use uuid::Uuid;

use super::syslog::frame;
use crate::logplex::LogLine;

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP(S) drain.
pub struct HttpDrain {
    client: Result<reqwest::Client, String>,
    url: String,
    token: String,
}

impl HttpDrain {
    /// A drain posting to `url`, named by `token`.
    pub fn new(url: String, token: String) -> HttpDrain {
        // TLS by rustls with the ring provider; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent("paas-logplex")
            .timeout(TIMEOUT)
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"));
        HttpDrain { client, url, token }
    }

    /// Posts the lines as one logplex frame.
    pub async fn deliver(&mut self, lines: &[LogLine]) -> Result<(), String> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        let body: String = lines.iter().map(|line| frame(line, "host")).collect();
        let response = client
            .post(&self.url)
            .header("content-type", "application/logplex-1")
            .header("logplex-msg-count", lines.len().to_string())
            .header("logplex-frame-id", Uuid::new_v4().simple().to_string())
            .header("logplex-drain-token", &self.token)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("cannot deliver: {e}"))?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("the endpoint answered {}", response.status()))
        }
    }
}
