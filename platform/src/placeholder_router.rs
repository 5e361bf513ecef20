//! A stand-in for the HTTP router (issue #5 replaces it with `paas-router`): it binds the router
//! address for real and answers honestly while no dyno runs. An unknown `Host` gets Heroku's
//! "no such app" page (404); a known app gets the `H14 - No web dynos running` page (503).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

use crate::ledger::Ledger;

#[derive(Clone)]
struct RouterState {
    ledger: Arc<dyn Ledger>,
    domain: String,
}

/// The placeholder router for apps at `<app>.<domain>` (and their custom domains).
pub fn app(ledger: Arc<dyn Ledger>, domain: String) -> Router {
    Router::new().fallback(route).with_state(RouterState { ledger, domain })
}

const NO_SUCH_APP: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>No such app</title></head>\n\
<body><h1>There's nothing here, yet.</h1><p>No app is served at this address.</p></body></html>\n";

const APPLICATION_ERROR: &str = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Application Error</title></head>\n\
<body><h1>Application Error</h1><p>An error occurred in the application and your page could not be served. \
If you are the application owner, check your logs for details.</p>\n\
<p>H14 - No web dynos running</p></body></html>\n";

async fn route(State(state): State<RouterState>, request: Request) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().host())
        .unwrap_or("")
        .to_string();
    let hostname = host.rsplit_once(':').map_or(host.as_str(), |(name, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) { name } else { host.as_str() }
    });
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    match state.ledger.find_app_by_hostname(hostname, &state.domain).await {
        Ok(Some(_app)) => {
            tracing::info!(
                target: "router",
                "at=error code=H14 desc=\"No web processes running\" method={method} path=\"{path}\" host={hostname} status=503"
            );
            (StatusCode::SERVICE_UNAVAILABLE, Html(APPLICATION_ERROR)).into_response()
        }
        Ok(None) => (StatusCode::NOT_FOUND, Html(NO_SUCH_APP)).into_response(),
        Err(error) => {
            tracing::error!(target: "router", "cannot look up host {hostname}: {error}");
            (StatusCode::SERVICE_UNAVAILABLE, Html(APPLICATION_ERROR)).into_response()
        }
    }
}
