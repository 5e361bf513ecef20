//! `/apps/{app}/sni-endpoints`: an app's custom certificates, in Heroku's shape (`heroku certs`,
//! `certs:add`, `certs:update`, `certs:remove`, `certs:info`), and the domain's side of it
//! (`PATCH /apps/{app}/domains/{domain} {"sni_endpoint": name | null}`: `domains:update --cert`).
//! A certificate is checked by [`crate::certs::validate`] before anything is stored; the private
//! key is stored in the ledger and never rendered. The router's HTTPS listener, when there is
//! one, reloads its certificates after each change.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::Value;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::views::{self, DomainView, SniEndpointView};
use super::{ApiError, AppState};
use crate::certs::SniCerts;
use crate::model::PrivateKeyPem;

/// The body of a create or an update.
#[derive(Debug, Deserialize)]
pub struct CertificateBody {
    certificate_chain: String,
    private_key: String,
}

/// Checks a body's certificate and key (422 saying what is wrong).
fn checked(body: CertificateBody) -> Result<(String, PrivateKeyPem), ApiError> {
    crate::certs::validate(&body.certificate_chain, &body.private_key, Utc::now()).map_err(|e| ApiError::invalid(e.to_string()))?;
    Ok((body.certificate_chain, PrivateKeyPem::new(body.private_key)))
}

/// Tells the router's HTTPS listener (when the server has one) to read the certificates again.
async fn reload(certs: Option<Extension<Arc<SniCerts>>>) {
    if let Some(Extension(certs)) = certs {
        certs.reload().await;
    }
}

/// `GET /apps/{app}/sni-endpoints`.
pub async fn list(State(state): State<AppState>, AppAccess { app, .. }: AppAccess) -> Result<Json<Vec<SniEndpointView>>, ApiError> {
    let endpoints = state.ledger.list_sni_endpoints(app.id).await?;
    Ok(Json(endpoints.iter().map(|e| SniEndpointView::new(e, &app)).collect()))
}

/// `GET /apps/{app}/sni-endpoints/{endpoint}` (name or id).
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, endpoint)): Path<(String, String)>,
) -> Result<Json<SniEndpointView>, ApiError> {
    let endpoints = state.ledger.list_sni_endpoints(app.id).await?;
    let found = endpoints
        .iter()
        .find(|e| e.name == endpoint || e.id.to_string() == endpoint)
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find SNI endpoint {endpoint}.")))?;
    Ok(Json(SniEndpointView::new(found, &app)))
}

/// `POST /apps/{app}/sni-endpoints {certificate_chain, private_key}` → 201.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    certs: Option<Extension<Arc<SniCerts>>>,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<CertificateBody>,
) -> Result<impl IntoResponse, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let (chain, key) = checked(body)?;
    let endpoint = state.ledger.create_sni_endpoint(app.id, &chain, &key).await?;
    reload(certs).await;
    let shown = SniEndpointView::new(&endpoint, &app);
    super::webhooks::notify(&state, app.id, "api:sni-endpoint", "create", &caller.user.email, views::value(&shown));
    Ok((StatusCode::CREATED, Json(shown)))
}

/// `PATCH /apps/{app}/sni-endpoints/{endpoint} {certificate_chain, private_key}`.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    certs: Option<Extension<Arc<SniCerts>>>,
    Path((app, endpoint)): Path<(String, String)>,
    ApiJson(body): ApiJson<CertificateBody>,
) -> Result<Json<SniEndpointView>, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let (chain, key) = checked(body)?;
    let endpoint = state.ledger.update_sni_endpoint(app.id, &endpoint, &chain, &key).await?;
    reload(certs).await;
    let shown = SniEndpointView::new(&endpoint, &app);
    super::webhooks::notify(&state, app.id, "api:sni-endpoint", "update", &caller.user.email, views::value(&shown));
    Ok(Json(shown))
}

/// `DELETE /apps/{app}/sni-endpoints/{endpoint}`: its domains serve with the server's certificate.
pub async fn remove(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    certs: Option<Extension<Arc<SniCerts>>>,
    Path((_, endpoint)): Path<(String, String)>,
) -> Result<Json<SniEndpointView>, ApiError> {
    let endpoint = state.ledger.remove_sni_endpoint(app.id, &endpoint).await?;
    reload(certs).await;
    let shown = SniEndpointView::new(&endpoint, &app);
    super::webhooks::notify(&state, app.id, "api:sni-endpoint", "destroy", &caller.user.email, views::value(&shown));
    Ok(Json(shown))
}

/// The body of `PATCH /apps/{app}/domains/{domain}`.
#[derive(Debug, Deserialize)]
pub struct DomainUpdate {
    /// The endpoint's name or id; `null`: none.
    sni_endpoint: Option<String>,
}

/// `PATCH /apps/{app}/domains/{domain} {"sni_endpoint": name | id | null}`.
pub async fn update_domain(
    State(state): State<AppState>,
    caller: CurrentUser,
    certs: Option<Extension<Arc<SniCerts>>>,
    Path((app, domain)): Path<(String, String)>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<DomainView>, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    if body.get("sni_endpoint").is_none() {
        return Err(ApiError::invalid("Invalid request body: missing field `sni_endpoint` (a name, an id or null)."));
    }
    let update: DomainUpdate =
        serde_json::from_value(body).map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))?;
    if domain == state.config.hostname(&app.name) || domain == app.id.to_string() {
        return Err(ApiError::invalid(format!("{domain} is served with the server's certificate; only custom domains take one.")));
    }
    let domain = state.ledger.set_domain_sni_endpoint(app.id, &domain, update.sni_endpoint.as_deref()).await?;
    reload(certs).await;
    let shown = DomainView::custom(&domain, &app, &state.config);
    super::webhooks::notify(&state, app.id, "api:domain", "update", &caller.user.email, views::value(&shown));
    Ok(Json(shown))
}
