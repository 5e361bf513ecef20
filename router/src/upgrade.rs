//! Connection upgrades over HTTP/1.1 (WebSocket and any other `Upgrade:` protocol): the dyno's
//! `101 Switching Protocols` is passed on and the two connections are then spliced, closed after
//! the idle timeout with no bytes either way, as Heroku's router does.

use std::time::Duration;

use http::header::{CONNECTION, HeaderMap, HeaderValue, UPGRADE};
use http::{Request, Response, StatusCode};
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::conn::{ConnState, Tracked};

/// A client's request to switch protocols, taken from the request before it is proxied.
pub(crate) struct UpgradeRequest {
    protocol: HeaderValue,
    client: OnUpgrade,
}

/// Takes the upgrade out of an HTTP/1.1 request with `Connection: upgrade` and `Upgrade: …`.
pub(crate) fn take<B>(req: &mut Request<B>) -> Option<UpgradeRequest> {
    if req.version() != http::Version::HTTP_11 || !connection_has_upgrade(req.headers()) {
        return None;
    }
    let protocol = req.headers().get(UPGRADE)?.clone();
    let client = req.extensions_mut().remove::<OnUpgrade>()?;
    Some(UpgradeRequest { protocol, client })
}

impl UpgradeRequest {
    /// Puts back on the proxied request the two headers hop-by-hop filtering removed.
    pub(crate) fn restore_request_headers(&self, headers: &mut HeaderMap) {
        headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
        headers.insert(UPGRADE, self.protocol.clone());
    }

    /// If the dyno switched protocols, starts splicing the client and dyno connections once hyper
    /// hands them over, and returns the `Upgrade` header to send back. `response` is the dyno's,
    /// its headers not yet filtered.
    pub(crate) fn accept<B>(self, response: &mut Response<B>, idle_timeout: Duration) -> Option<HeaderValue> {
        if response.status() != StatusCode::SWITCHING_PROTOCOLS {
            return None;
        }
        let protocol = response.headers().get(UPGRADE).cloned().unwrap_or(self.protocol);
        let dyno = response.extensions_mut().remove::<OnUpgrade>()?;
        tokio::spawn(splice(self.client, dyno, idle_timeout));
        Some(protocol)
    }
}

/// Sets `Connection: upgrade` and `Upgrade` on the 101 sent to the client.
pub(crate) fn restore_response_headers(headers: &mut HeaderMap, protocol: HeaderValue) {
    headers.insert(CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(UPGRADE, protocol);
}

async fn splice(client: OnUpgrade, dyno: OnUpgrade, idle_timeout: Duration) {
    let (client, dyno) = match tokio::try_join!(client, dyno) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%error, "upgrade failed");
            return;
        }
    };
    let state = ConnState::new();
    let mut client = Tracked { inner: TokioIo::new(client), state: state.clone() };
    let mut dyno = TokioIo::new(dyno);
    let tick = (idle_timeout / 4).clamp(Duration::from_millis(5), Duration::from_secs(1));
    let watchdog = async {
        loop {
            tokio::time::sleep(tick).await;
            if state.idle_for() >= idle_timeout {
                return;
            }
        }
    };
    tokio::select! {
        result = tokio::io::copy_bidirectional(&mut client, &mut dyno) => {
            if let Err(error) = result {
                tracing::debug!(%error, "upgraded connection ended");
            }
        }
        () = watchdog => tracing::debug!("upgraded connection idle; closing"),
    }
}

fn connection_has_upgrade(headers: &HeaderMap) -> bool {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}
