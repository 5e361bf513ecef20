//! `POST /apps/{app}/dynos` (`heroku run`, `paas run`): a one-off dyno from the app's current
//! release, started by the node's [`DynoDirectory`]. Attached, it waits for its client at the
//! TLS rendezvous (`attach_url: rendezvous://HOST:PORT/SECRET`, see [`crate::rendezvous`]);
//! detached, its output goes to the app's log stream. Also `GET /paas/ca.pem`, the local CA that
//! clients trust for the rendezvous (our extension).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiJson, CurrentUser, visible_app};
use super::views::{self, DynoView};
use super::{ApiError, AppState};
use crate::names;
use crate::rendezvous::Rendezvous;
use crate::serving::{DynoDirectory, ONEOFF_TIME_LIMIT, OneOffError, OneOffRequest};
use crate::tls::ServerTls;

/// The longest `time_to_live` a one-off dyno may ask for: 24 hours.
pub const MAX_TIME_TO_LIVE: Duration = Duration::from_secs(24 * 3600);

/// The body of `POST /apps/{app}/dynos`, as the heroku CLI sends it.
#[derive(Debug, Deserialize)]
pub struct RunBody {
    command: String,
    #[serde(default)]
    attach: bool,
    #[serde(default)]
    env: BTreeMap<String, String>,
    size: Option<String>,
    #[serde(rename = "type")]
    process_type: Option<String>,
    #[serde(default)]
    force_no_tty: bool,
    /// Seconds before the dyno is stopped (default 3600).
    time_to_live: Option<u64>,
}

/// `POST /apps/{app}/dynos`: 201 with the dyno and, when attached, its `attach_url`.
pub async fn run(
    State(state): State<AppState>,
    dynos: Option<Extension<Arc<dyn DynoDirectory>>>,
    rendezvous: Option<Extension<Rendezvous>>,
    caller: CurrentUser,
    Path(app): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<RunBody>,
) -> Result<Response, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    // The heroku CLI sends COLUMNS and LINES when it runs in a terminal.
    let tty = body.attach && !body.force_no_tty && body.env.contains_key("COLUMNS");
    let request = request_of(body)?;
    super::sizes::check(&state, &caller, &app, request.size.as_deref().as_slice()).await?;
    let unavailable = |what: &str| ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", what.to_string());
    let Some(Extension(dynos)) = dynos else {
        return Err(unavailable("This paas server runs no dynos, so it cannot run one-off dynos."));
    };
    let rendezvous = match (request.attach, rendezvous) {
        (true, None) => {
            return Err(unavailable("This paas server has no rendezvous listener: run detached (paas run:detached)."));
        }
        (_, rendezvous) => rendezvous.map(|Extension(r)| r),
    };
    let start = async {
        dynos.start_oneoff(&app, request).await.map_err(|e| match e {
            OneOffError::NoRelease(_) | OneOffError::Invalid(_) => ApiError::invalid(e.to_string()),
            OneOffError::Unsupported(_) => unavailable(&e.to_string()),
            OneOffError::Failed(_) => ApiError::internal(e),
        })
    };
    let oneoff = state.limits.start_oneoff(&app, dynos.oneoffs_running(&app), start).await?;
    let mut view = DynoView::new(&oneoff.dyno, &app);
    for include in ["api:dyno", "dyno"] {
        let event = crate::webhooks::Event::dyno(app.id, include, views::value(&view), &caller.user.email);
        state.logs.webhook_event(state.ledger.clone(), event);
    }
    if let Some(rendezvous) = rendezvous.filter(|_| oneoff.attached.is_some()) {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        let secret = rendezvous.register(oneoff, tty);
        view.attach_url = Some(rendezvous.attach_url(host, &secret));
    }
    Ok((StatusCode::CREATED, axum::Json(view)).into_response())
}

/// Checks the body and makes the request: size known, type a plain word, env keys valid,
/// `time_to_live` between 1 s and [`MAX_TIME_TO_LIVE`].
fn request_of(body: RunBody) -> Result<OneOffRequest, ApiError> {
    if body.command.trim().is_empty() {
        return Err(ApiError::invalid("command is empty: name what to run, e.g. `paas run worker`."));
    }
    let process_type = body.process_type.unwrap_or_else(|| "run".into());
    let plain = process_type.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if process_type.is_empty() || !plain {
        return Err(ApiError::invalid(format!(
            "type {process_type:?} is invalid: lowercase letters, digits, - and _ (default run)."
        )));
    }
    for key in body.env.keys() {
        names::validate_config_key(key).map_err(ApiError::invalid)?;
    }
    let size = body.size.map(|s| names::canonical_size(&s).map(str::to_string)).transpose().map_err(ApiError::invalid)?;
    let time_limit = match body.time_to_live {
        None => ONEOFF_TIME_LIMIT,
        Some(secs) if secs >= 1 && Duration::from_secs(secs) <= MAX_TIME_TO_LIVE => Duration::from_secs(secs),
        Some(secs) => {
            return Err(ApiError::invalid(format!(
                "time_to_live {secs} is out of range: 1 to {} seconds.",
                MAX_TIME_TO_LIVE.as_secs()
            )));
        }
    };
    Ok(OneOffRequest { command: body.command, env: body.env, size, process_type, attach: body.attach, time_limit, release: None })
}

/// `GET /paas/ca.pem`: the local CA's certificate (no authentication: it is public), for clients
/// to trust the rendezvous; 404 when the server uses a certificate given with `--tls-cert`.
pub async fn ca_pem(tls: Option<Extension<ServerTls>>) -> Result<Response, ApiError> {
    let path = tls.as_ref().and_then(|Extension(tls)| tls.ca_pem()).ok_or_else(|| {
        ApiError::not_found("This server has no local CA: its certificate (--tls-cert) is trusted through the system's roots.")
    })?;
    let pem = tokio::fs::read(path).await.map_err(|e| ApiError::internal(format!("cannot read {}: {e}", path.display())))?;
    Ok(([(header::CONTENT_TYPE, "application/x-pem-file")], pem).into_response())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(json: serde_json::Value) -> RunBody {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn the_heroku_cli_body_becomes_a_request() {
        let got = request_of(body(json!({
            "attach": true, "command": "echo hi", "env": {"FOO": "1", "TERM": "dumb"},
            "size": "standard-2x", "type": "worker"
        })))
        .unwrap();
        assert_eq!(got.command, "echo hi");
        assert!(got.attach);
        assert_eq!(got.size.as_deref(), Some("Standard-2X"));
        assert_eq!(got.process_type, "worker");
        assert_eq!(got.env["FOO"], "1");
        assert_eq!(got.time_limit, ONEOFF_TIME_LIMIT);
        let detached = request_of(body(json!({"command": "migrate", "time_to_live": 5}))).unwrap();
        assert!(!detached.attach);
        assert_eq!(detached.process_type, "run");
        assert_eq!(detached.time_limit, Duration::from_secs(5));
    }

    #[test]
    fn bad_bodies_are_refused_with_the_reason() {
        for (bad, says) in [
            (json!({"command": "  "}), "command is empty"),
            (json!({"command": "x", "size": "huge"}), "huge\\\" is unknown"),
            (json!({"command": "x", "type": "Run.1"}), "is invalid: lowercase letters"),
            (json!({"command": "x", "env": {"A B": "1"}}), "Config var name"),
            (json!({"command": "x", "time_to_live": 0}), "time_to_live 0 is out of range"),
        ] {
            let err = request_of(body(bad.clone())).unwrap_err();
            assert!(format!("{err:?}").contains(says), "{bad}: {err:?}");
        }
    }
}
