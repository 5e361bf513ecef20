//! `/apps/{app}/releases`: the ledger, newest or oldest first by Range; POST `{"release": id}`
//! rolls back (a new release copying that one's slug and config).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{ApiJson, CurrentUser, visible_app};
use super::range::{self, Key, RangeField};
use super::{ApiError, AppState, views};
use crate::model::Release;

const FIELDS: &[RangeField<Release>] = &[
    ("version", |r| Key::Int(r.version)),
    ("id", |r| Key::Text(r.id.to_string())),
    ("created_at", |r| Key::Text(views::time(r.created_at))),
];

/// `GET /apps/{app}/releases`.
pub async fn list(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let releases = state.ledger.list_releases(app.id).await?;
    range::respond(&headers, releases, FIELDS, |release| views::release(release, &app))
}

/// `GET /apps/{app}/releases/{version_or_id}`.
pub async fn info(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path((app, release)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let release = state
        .ledger
        .find_release(app.id, &release)
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that release."))?;
    Ok(Json(views::release(&release, &app)))
}

#[derive(Debug, Deserialize)]
pub struct RollbackRequest {
    release: String,
}

/// `POST /apps/{app}/releases` `{"release": "<id or version>"}`: rollback.
pub async fn rollback(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<RollbackRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let target = state
        .ledger
        .find_release(app.id, &body.release)
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that release."))?;
    let release = state.ledger.rollback(app.id, caller.user.id, target.id).await?;
    super::logs::release_events(&state, &app.name, &release, &caller.user.email);
    Ok((StatusCode::CREATED, Json(views::release(&release, &app))))
}
