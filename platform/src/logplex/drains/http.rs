//! HTTP(S) drains as logplex delivers them: `POST` with an `application/logplex-1` body (the lines
//! as octet-counted syslog frames, hostname `host`) and the headers `Logplex-Msg-Count`,
//! `Logplex-Frame-Id` and `Logplex-Drain-Token`. A 2xx answer is a delivery; anything else, or
//! no answer within [`TIMEOUT`], is a failure to retry (a redirect too: none is followed).
//! `https://` is verified with the system's roots (rustls). The host is resolved by
//! [`CheckedResolver`] (every address checked by the egress policy; reqwest connects to those
//! addresses), an address literal is checked before each request; no proxy from the environment.

use std::sync::Arc;
use std::time::Duration;

use paas_sandbox::egress::{EgressError, EgressPolicy};
use reqwest::dns::{Name, Resolve, Resolving};
use uuid::Uuid;

use super::DeliveryError;
use super::syslog::frame;
use crate::logplex::LogLine;

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// Resolves a drain's host once per connection and refuses it when any address is denied.
pub struct CheckedResolver(pub Arc<EgressPolicy>);

impl Resolve for CheckedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.0.clone();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in.
            let addrs = policy.resolve(name.as_str(), 0).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// An HTTP(S) drain.
pub struct HttpDrain {
    client: Result<reqwest::Client, String>,
    url: String,
    token: String,
    egress: Arc<EgressPolicy>,
}

impl HttpDrain {
    /// A drain posting to `url`, named by `token`, where `egress` allows.
    pub fn new(url: String, token: String, egress: Arc<EgressPolicy>) -> HttpDrain {
        // TLS by rustls with the ring provider; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .user_agent("paas-logplex")
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(Arc::new(CheckedResolver(egress.clone())))
            .build()
            .map_err(|e| format!("cannot set up the HTTP client: {e}"));
        HttpDrain { client, url, token, egress }
    }

    /// Posts the lines as one logplex frame.
    pub async fn deliver(&mut self, lines: &[LogLine]) -> Result<(), DeliveryError> {
        let client = self.client.as_ref().map_err(Clone::clone)?;
        // An address literal never reaches the resolver.
        let endpoint = super::Endpoint::Http { url: self.url.clone() };
        if let Err(e) = endpoint.check(&self.url, &self.egress) {
            return Err(DeliveryError::Denied(match e {
                super::DrainUrlError::Denied { denied, .. } => denied.to_string(),
                other => other.to_string(),
            }));
        }
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
            .map_err(|e| match egress_error(&e) {
                Some(egress) => DeliveryError::of_egress(egress),
                None => DeliveryError::Failed(format!("cannot deliver: {}", chain(&e))),
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(DeliveryError::Failed(format!("the endpoint answered {}", response.status())))
        }
    }
}

/// The egress policy's error (a refusal, a failed lookup) among a request error's causes.
pub(crate) fn egress_error(e: &reqwest::Error) -> Option<&EgressError> {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if let Some(egress) = c.downcast_ref::<EgressError>() {
            return Some(egress);
        }
        cause = c.source();
    }
    None
}

/// The error and its causes, `: `-separated (reqwest's own message says little).
fn chain(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        text.push_str(&format!(": {c}"));
        cause = c.source();
    }
    text
}
