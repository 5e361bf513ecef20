//! `/apps/{app}/log-drains` (Heroku's shape: `{id, url, token, created_at, updated_at, addon}`):
//! list, add (`{"url"}`, forwarding starts at once), show and remove (by id, URL or token). A URL
//! whose host is an address the egress policy denies is refused (422), and so is a drain past the
//! app's limit (`DrainPolicy::max_per_app`). A caller without `manage` on the app (a view-only
//! collaborator) sees each URL with its `user:password@` masked, as the app's log shows it.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;

use super::extract::{ApiJson, AppAccess, CurrentUser, permissions_on, visible_app};
use super::views::LogDrainView;
use super::{ApiError, AppState};
use crate::access::Permission;
use crate::logplex::drains::{DrainTarget, DrainUrlError};
use crate::model::{App, LogDrain};
use crate::webhooks::shown_url;

/// A drain as a caller sees it: the URL whole when `whole` (the caller may manage the app, so
/// add and remove drains: [`shows_whole_urls`]); else with its password masked ([`shown_url`]).
fn view_as(drain: &LogDrain, app: &App, whole: bool) -> LogDrainView {
    let mut shown = LogDrainView::new(drain, app);
    if !whole {
        shown.url = shown_url(&drain.url);
    }
    shown
}

/// Whether `caller` holds `manage` on `app` (and so sees drain URLs whole).
async fn shows_whole_urls(state: &AppState, caller: &CurrentUser, app: &App) -> Result<bool, ApiError> {
    Ok(permissions_on(state, &caller.user, app).await?.contains(Permission::Manage))
}

/// `GET /apps/{app}/log-drains`.
pub async fn list(State(state): State<AppState>, AppAccess { app, caller }: AppAccess) -> Result<Json<Vec<LogDrainView>>, ApiError> {
    let drains = state.ledger.list_log_drains(app.id).await?;
    let whole = shows_whole_urls(&state, &caller, &app).await?;
    Ok(Json(drains.iter().map(|d| view_as(d, &app, whole)).collect()))
}

/// The body of `POST /apps/{app}/log-drains`.
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    url: String,
}

/// `POST /apps/{app}/log-drains` `{"url": "syslog://host:port"}` → 201.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<LogDrainView>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let url = body.url.trim();
    state.logs.check_drain_url(url).map_err(|e| ApiError::invalid(e.to_string()))?;
    let max = state.logs.drain_policy().max_per_app;
    let too_many = || ApiError::invalid(DrainUrlError::TooMany(max).to_string());
    if state.ledger.list_log_drains(app.id).await?.len() >= max {
        return Err(too_many());
    }
    let drain = state.ledger.add_log_drain(app.id, url).await?;
    // Two requests at once may both have passed the count: the later drains go again.
    let drains = state.ledger.list_log_drains(app.id).await?;
    if drains.iter().position(|d| d.id == drain.id).is_none_or(|at| at >= max) {
        state.ledger.remove_log_drain(app.id, &drain.id.to_string()).await?;
        return Err(too_many());
    }
    state.logs.start_drain(DrainTarget::of(&drain, &app.name)).map_err(|e| ApiError::invalid(e.to_string()))?;
    state.logs.api_event(&app.name, &format!("Add drain {} by {}", shown_url(url), caller.user.email));
    Ok((StatusCode::CREATED, Json(LogDrainView::new(&drain, &app))))
}

/// `GET /apps/{app}/log-drains/{id_url_or_token}`.
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    Path((_, which)): Path<(String, String)>,
) -> Result<Json<LogDrainView>, ApiError> {
    let drains = state.ledger.list_log_drains(app.id).await?;
    let drain = drains
        .iter()
        .find(|d| d.id.to_string() == which || d.url == which || d.token == which)
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find drain {}.", shown_url(&which))))?;
    Ok(Json(view_as(drain, &app, shows_whole_urls(&state, &caller, &app).await?)))
}

/// `DELETE /apps/{app}/log-drains/{id_url_or_token}`: stops forwarding and forgets the drain.
pub async fn remove(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    Path((_, which)): Path<(String, String)>,
) -> Result<Json<LogDrainView>, ApiError> {
    let drain = state.ledger.remove_log_drain(app.id, &which).await?;
    state.logs.stop_drain(drain.id);
    state.logs.api_event(&app.name, &format!("Remove drain {} by {}", shown_url(&drain.url), caller.user.email));
    Ok(Json(LogDrainView::new(&drain, &app)))
}
