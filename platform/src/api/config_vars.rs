//! `/apps/{app}/config-vars`: read, and PATCH where a `null` value unsets (each change that
//! changes something makes a release).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use crate::serving::Changed;
use super::{ApiError, AppState};
use crate::model::ConfigVars;
use crate::names;

/// `GET /apps/{app}/config-vars`: the current release's config vars, as a flat object.
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
) -> Result<Json<ConfigVars>, ApiError> {
    let current = state.ledger.current_release(app.id).await?;
    Ok(Json(current.map(|release| release.config_vars).unwrap_or_default()))
}

/// `PATCH /apps/{app}/config-vars` `{"FOO": "bar", "OLD": null}`: gives back all config vars.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<serde_json::Map<String, Value>>,
) -> Result<(Changed, Json<ConfigVars>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let mut changes = BTreeMap::new();
    for (key, value) in body {
        names::validate_config_key(&key).map_err(ApiError::invalid)?;
        let value = match value {
            Value::Null => None,
            Value::String(text) => Some(text),
            Value::Number(n) => Some(n.to_string()),
            Value::Bool(b) => Some(b.to_string()),
            other => {
                return Err(ApiError::invalid(format!(
                    "Config var {key} must be a string (or null to unset it), not {other}."
                )));
            }
        };
        if key == "BUILDPACK_URL"
            && let Some(url) = &value
        {
            super::builds::check_buildpack(&state, &caller, url)?;
        }
        changes.insert(key, value);
    }
    let (config, release) = state.ledger.update_config_vars(app.id, caller.user.id, changes).await?;
    if let Some(release) = release {
        super::logs::release_events(&state, &app.name, &release, &caller.user.email);
    }
    Ok((Changed::app(&app.name), Json(config)))
}
