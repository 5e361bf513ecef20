//! Autoscaling of a process type (a paas extension, after Heroku's): `GET`, `PUT` (enable with
//! `{"min_quantity": 1, "max_quantity": 10, "p95_ms": 200}`) and `DELETE` (disable)
//! `/apps/{app}/formation/{type}/autoscaling`. Decisions are made by [`crate::autoscale`].
//!
//! The answer: `{"process_type": "web", "enabled": true, "min_quantity": 1, "max_quantity": 10,
//! "p95_ms": 200, "ceiling": 32, "created_at": …, "updated_at": …}`; `ceiling` is the most dynos
//! a wasm app of the formation's size is scaled to (its instance budget), `null` for native apps.

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiJson, AppAccess};
use super::{ApiError, AppState};
use crate::autoscale::{Policy, wasm_ceiling};
use crate::model::{App, Formation};

/// The body of `PUT`.
#[derive(Debug, Deserialize)]
pub struct EnableBody {
    min_quantity: i64,
    max_quantity: i64,
    p95_ms: i64,
}

fn view(policy: &Policy, formation: &Formation) -> Value {
    json!({
        "process_type": policy.process_type,
        "enabled": policy.enabled,
        "min_quantity": policy.min,
        "max_quantity": policy.max,
        "p95_ms": policy.p95_ms,
        "ceiling": wasm_ceiling(&formation.size),
        "created_at": policy.created_at,
        "updated_at": policy.updated_at,
    })
}

/// The formation entry of `process_type`, or Heroku's 404.
async fn formation_of(state: &AppState, app: &App, process_type: &str) -> Result<Formation, ApiError> {
    state
        .ledger
        .list_formation(app.id)
        .await?
        .into_iter()
        .find(|f| f.process_type == process_type)
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find that process type ({process_type}).")))
}

async fn stored(state: &AppState, app: &App, process_type: &str) -> Result<Option<Policy>, ApiError> {
    Ok(state.ledger.list_autoscaling(app.id).await?.into_iter().find(|p| p.process_type == process_type))
}

/// `GET /apps/{app}/formation/{type}/autoscaling`: the policy (never set: disabled, min and max
/// the current quantity, the default target).
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, process_type)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let formation = formation_of(&state, &app, &process_type).await?;
    let policy = stored(&state, &app, &process_type).await?.unwrap_or_else(|| {
        let now = Utc::now();
        let quantity = formation.quantity.max(1);
        Policy { app_id: app.id, process_type: process_type.clone(), enabled: false, min: quantity, max: quantity, p95_ms: 1000, created_at: now, updated_at: now }
    });
    Ok(Json(view(&policy, &formation)))
}

/// `PUT /apps/{app}/formation/{type}/autoscaling`: enables it with these bounds.
pub async fn enable(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    Path((_, process_type)): Path<(String, String)>,
    ApiJson(body): ApiJson<EnableBody>,
) -> Result<Json<Value>, ApiError> {
    let formation = formation_of(&state, &app, &process_type).await?;
    if process_type != "web" {
        return Err(ApiError::invalid(format!(
            "Autoscaling follows response times, which only web dynos have; {process_type} cannot autoscale."
        )));
    }
    let now = Utc::now();
    let policy = Policy {
        app_id: app.id,
        process_type,
        enabled: true,
        min: body.min_quantity,
        max: body.max_quantity,
        p95_ms: body.p95_ms,
        created_at: now,
        updated_at: now,
    };
    policy.check().map_err(ApiError::invalid)?;
    let policy = state.ledger.set_autoscaling(&policy).await?;
    state.logs.api_event(
        &app.name,
        &format!(
            "Enabled autoscaling of {} ({}..{} dynos, p95 target {} ms) by {}",
            policy.process_type, policy.min, policy.max, policy.p95_ms, caller.user.email
        ),
    );
    Ok(Json(view(&policy, &formation)))
}

/// `DELETE /apps/{app}/formation/{type}/autoscaling`: disables it (the formation stays as it is).
pub async fn disable(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    Path((_, process_type)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let formation = formation_of(&state, &app, &process_type).await?;
    let Some(policy) = stored(&state, &app, &process_type).await? else {
        return Err(ApiError::not_found(format!("Autoscaling of {process_type} was never enabled.")));
    };
    let policy = state.ledger.set_autoscaling(&Policy { enabled: false, ..policy }).await?;
    state.logs.api_event(&app.name, &format!("Disabled autoscaling of {} by {}", policy.process_type, caller.user.email));
    Ok(Json(view(&policy, &formation)))
}
