//! `/apps`, `/apps/{app}` and `/users/{user}/apps`: list, create, info, update, destroy.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::range::{self, Key, RangeField};
use crate::serving::Changed;
use super::views::{self, AppView};
use super::{ApiError, AppState};
use crate::ledger::{AppFilter, AppUpdate, LedgerError};
use crate::model::App;
use crate::names;

const FIELDS: &[RangeField<App>] = &[
    ("name", |a| Key::Text(a.name.clone())),
    ("id", |a| Key::Text(a.id.to_string())),
    ("created_at", |a| Key::Text(views::time(a.created_at))),
    ("updated_at", |a| Key::Text(views::time(a.updated_at))),
];

pub(super) fn page(state: &AppState, headers: &HeaderMap, apps: Vec<App>) -> Result<Response, ApiError> {
    range::respond(headers, apps, FIELDS, |app| AppView::new(app, &state.config))
}

/// `GET /apps`: every app for an operator, else the caller's own and collaborated apps.
pub async fn list(State(state): State<AppState>, caller: CurrentUser, headers: HeaderMap) -> Result<Response, ApiError> {
    let filter = if caller.user.operator { AppFilter::All } else { AppFilter::AccessibleBy(caller.user.id) };
    let apps = state.ledger.list_apps(filter).await?;
    page(&state, &headers, apps)
}

/// `GET /users/{user}/apps` (`~` is the caller): the apps the user owns or collaborates on.
pub async fn list_for_user(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(user): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let user_id = if user == "~" {
        caller.user.id
    } else {
        let found = state.ledger.find_user(&user).await?.ok_or_else(|| ApiError::not_found("Couldn't find that user."))?;
        if found.id != caller.user.id && !caller.user.operator {
            return Err(ApiError::forbidden("Only an operator can list another user's apps."));
        }
        found.id
    };
    let apps = state.ledger.list_apps(AppFilter::AccessibleBy(user_id)).await?;
    page(&state, &headers, apps)
}

#[derive(Debug, Deserialize)]
pub struct NewApp {
    pub(super) name: Option<String>,
    pub(super) region: Option<String>,
    pub(super) stack: Option<String>,
}

/// `POST /apps` `{"name"?, "region"?, "stack"?}`: creates the app and its v1 `Initial release`.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<NewApp>,
) -> Result<impl IntoResponse, ApiError> {
    let app = create_app(&state, &caller, body, None).await?;
    Ok((StatusCode::CREATED, Changed::apps(), Json(AppView::new(&app, &state.config))))
}

/// Creates an app for the caller (in a team: `Some((team, locked))`), checking region, stack and
/// name (generated when absent).
pub(super) async fn create_app(
    state: &AppState,
    caller: &CurrentUser,
    body: NewApp,
    team: Option<(uuid::Uuid, bool)>,
) -> Result<App, ApiError> {
    if let Some(region) = body.region.as_deref().filter(|r| *r != views::REGION) {
        return Err(ApiError::invalid(format!("Region {region:?} is unknown. Regions: {}", views::REGION)));
    }
    if let Some(stack) = body.stack.as_deref() {
        views::check_stack(stack).map_err(ApiError::invalid)?;
    }
    let insert = |name: String| async move {
        match team {
            Some((team, locked)) => state.ledger.create_team_app(&name, caller.user.id, team, locked).await,
            None => state.ledger.create_app(&name, caller.user.id).await,
        }
    };
    let app = match body.name {
        Some(name) => {
            names::validate_app_name(&name).map_err(ApiError::invalid)?;
            insert(name).await?
        }
        None => {
            // A generated name may (rarely) be taken: try a few.
            let mut attempt = 0;
            loop {
                match insert(names::generate_app_name()).await {
                    Err(LedgerError::Conflict(_)) if attempt < 5 => attempt += 1,
                    other => break other?,
                }
            }
        }
    };
    state.logs.api_event(&app.name, &format!("Initial release by {}", caller.user.email));
    state.logs.api_event(&app.name, &format!("Release v1 created by {}", caller.user.email));
    Ok(app)
}

/// `GET /apps/{app}`.
pub async fn info(State(state): State<AppState>, AppAccess { app, .. }: AppAccess) -> Result<Json<AppView>, ApiError> {
    Ok(Json(AppView::new(&app, &state.config)))
}

#[derive(Debug, Deserialize)]
pub struct AppPatch {
    name: Option<String>,
    maintenance: Option<bool>,
    build_stack: Option<String>,
}

/// `PATCH /apps/{app}` `{"name"?, "maintenance"?}` (`manage`).
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<AppPatch>,
) -> Result<(Changed, Json<AppView>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    if let Some(stack) = body.build_stack.as_deref() {
        views::check_stack(stack).map_err(ApiError::invalid)?;
    }
    if let Some(name) = &body.name {
        names::validate_app_name(name).map_err(ApiError::invalid)?;
    }
    let name = body.name.filter(|name| *name != app.name);
    let updated = state.ledger.update_app(app.id, AppUpdate { name, maintenance: body.maintenance }).await?;
    if updated.name != app.name {
        state.logs.rename(app.id, &app.name, &updated.name);
    }
    if let Some(deploys) = state.deploys.as_ref().filter(|_| updated.name != app.name) {
        deploys.app_renamed(&app.name, &updated.name).await;
    }
    let view = AppView::new(&updated, &state.config);
    super::webhooks::notify(&state, app.id, "api:app", "update", &caller.user.email, views::value(&view));
    // Named as it was: a renamed app's dynos move under its new name with the sweep.
    Ok((Changed::app(&app.name), Json(view)))
}

/// `DELETE /apps/{app}` (`manage`): destroys the app, and its add-ons with it.
pub async fn destroy(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    addon_services: Option<axum::Extension<crate::addons::AddonServices>>,
) -> Result<(Changed, Json<AppView>), ApiError> {
    super::addons::destroy_with_app(&state, addon_services, &app, &caller).await?;
    let app = state.ledger.destroy_app(app.id).await?;
    state.logs.forget(app.id, &app.name);
    if let Some(deploys) = &state.deploys {
        deploys.app_destroyed(app.id, &app.name).await;
    }
    Ok((Changed::app(&app.name), Json(AppView::new(&app, &state.config))))
}
