//! App webhooks, as Heroku's: an app's events (a release made, a build, a formation change, a
//! dyno started…) are POSTed as JSON to each of its webhooks that includes that kind, signed
//! with the webhook's secret (`Heroku-Webhook-Hmac-SHA256`); `sync` webhooks are retried with
//! back-off ([`delivery`]). Webhooks go only where log drains may (the node's egress policy). The
//! webhooks themselves are in the ledger ([`WebhookLedger`]); recent events and deliveries are
//! kept in memory per app ([`delivery::Outbox`]).

pub mod delivery;
pub mod event;

use crate::ledger::{LedgerError, Result};

pub use delivery::Outbox;
pub use event::Event;
pub use paas_ledger::webhooks::{MAX_PER_APP, Webhook, WebhookLedger, WebhookSettings, shown_url};

/// The event kinds a webhook may include (Heroku's names).
pub const KINDS: [&str; 11] = [
    "api:addon",
    "api:addon-attachment",
    "api:app",
    "api:build",
    "api:collaborator",
    "api:domain",
    "api:dyno",
    "api:formation",
    "api:release",
    "api:sni-endpoint",
    "dyno",
];

/// A URL as the app's log shows it: its origin only (`scheme://host[:port]`), without userinfo,
/// path or query, any of which may carry the receiver's credential (a Slack hook's path, a token
/// in the query). The log reaches every viewer of the app and its drains; the whole URL only
/// those who may manage the app's webhooks. Text that is no URL shows as `(no URL)`.
pub fn shown_origin(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return "(no URL)".to_string() };
    let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}")
}

/// Checks event kinds (known, at least one) and a level; the error says what is allowed.
pub fn check_settings(include: Option<&[String]>, level: Option<&str>) -> Result<()> {
    if let Some(include) = include {
        if include.is_empty() {
            return Err(LedgerError::Invalid(format!("include needs at least one event kind: {}.", KINDS.join(", "))));
        }
        if let Some(unknown) = include.iter().find(|kind| !KINDS.contains(&kind.as_str())) {
            return Err(LedgerError::Invalid(format!("Event kind {unknown:?} is unknown: use {}.", KINDS.join(", "))));
        }
    }
    match level {
        None | Some("notify" | "sync") => Ok(()),
        Some(other) => Err(LedgerError::Invalid(format!("Level {other:?} is unknown: use notify or sync."))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_logged_webhook_url_keeps_only_its_origin() {
        assert_eq!(shown_origin("https://hooks.slack.com/services/T0/B0/s3cr3t"), "https://hooks.slack.com");
        assert_eq!(shown_origin("https://user:p4ss@hooks.example.com:8443/x?token=y#z"), "https://hooks.example.com:8443");
        assert_eq!(shown_origin("http://[::1]:8080?token=y"), "http://[::1]:8080");
        assert_eq!(shown_origin("https://hooks.example.com/a@b"), "https://hooks.example.com", "an @ in the path is no userinfo");
        assert_eq!(shown_origin("not a url"), "(no URL)");
    }
}
