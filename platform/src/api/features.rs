//! `/apps/{app}/features` (Heroku's app-features shape: `{id, name, description, doc_url,
//! enabled, state, created_at, updated_at, display_name, feedback_email}`): list, show, and
//! `PATCH {"enabled": bool}`. Known features: [`crate::model::FEATURES`]; an unknown name is a 404.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use crate::serving::Changed;
use super::views::FeatureView;
use super::{ApiError, AppState};
use crate::model::{FEATURES, FeatureKind, feature_kind};

fn known(name: &str) -> Result<&'static FeatureKind, ApiError> {
    feature_kind(name).ok_or_else(|| {
        let names: Vec<&str> = FEATURES.iter().map(|f| f.name).collect();
        ApiError::not_found(format!("Couldn't find that feature: {name}. Known features: {}.", names.join(", ")))
    })
}

/// `GET /apps/{app}/features`: every known feature with the app's state.
pub async fn list(State(state): State<AppState>, AppAccess { app, .. }: AppAccess) -> Result<Json<Vec<FeatureView>>, ApiError> {
    let stored = state.ledger.list_app_features(app.id).await?;
    Ok(Json(FEATURES.iter().map(|k| FeatureView::new(k, stored.iter().find(|f| f.name == k.name), &app)).collect()))
}

/// `GET /apps/{app}/features/{name}`.
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, name)): Path<(String, String)>,
) -> Result<Json<FeatureView>, ApiError> {
    let kind = known(&name)?;
    let stored = state.ledger.list_app_features(app.id).await?;
    Ok(Json(FeatureView::new(kind, stored.iter().find(|f| f.name == kind.name), &app)))
}

/// The body of `PATCH /apps/{app}/features/{name}`.
#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    enabled: bool,
}

/// `PATCH /apps/{app}/features/{name}` `{"enabled": true}`: the serving side applies it (e.g.
/// `sleep`) before the response.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path((app, name)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<(Changed, Json<FeatureView>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let kind = known(&name)?;
    let feature = state.ledger.set_app_feature(app.id, kind.name, body.enabled).await?;
    let verb = if body.enabled { "Enable" } else { "Disable" };
    state.logs.api_event(&app.name, &format!("{verb} feature {} by {}", kind.name, caller.user.email));
    Ok((Changed::app(&app.name), Json(FeatureView::new(kind, Some(&feature), &app))))
}
