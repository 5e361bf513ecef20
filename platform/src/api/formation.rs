//! `/apps/{app}/formation` (scale and resize) and `/apps/{app}/dynos` (list, restart, stop).
//! Dynos are listed by the node's dyno supervisor (a [`DynoDirectory`] in the request's
//! extensions; none listed without one); restart and stop requests are recorded in the ledger,
//! answered as Heroku does, and carried out by the supervisor (see [`crate::serving`]).

use std::sync::Arc;

use axum::{Extension, Json};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::range::{self, Key, RangeField};
use super::views::{self, DynoView, FormationView};
use super::{ApiError, AppState};
use crate::model::{App, Dyno, Formation, FormationUpdate, Quantity};
use crate::names;
use crate::serving::{Changed, DynoDirectory};

/// The node's dynos, when something serves apps.
type Dynos = Option<Extension<Arc<dyn DynoDirectory>>>;

const FIELDS: &[RangeField<Formation>] = &[
    ("type", |f| Key::Text(f.process_type.clone())),
    ("id", |f| Key::Text(f.id.to_string())),
];

/// `GET /apps/{app}/formation`.
pub async fn list(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut formation = state.ledger.list_formation(app.id).await?;
    formation.extend(release_phase_entry(&state, &app).await?);
    range::respond(&headers, formation, FIELDS, |f| FormationView::new(f, &app))
}

/// The `release` entry Heroku lists when the current release has a release phase (a Procfile's
/// `release:`), quantity 0: it runs once per release, never scaled (`heroku releases:retry`
/// looks for it).
async fn release_phase_entry(state: &AppState, app: &App) -> Result<Option<Formation>, ApiError> {
    let Some(release) = state.ledger.current_release(app.id).await? else { return Ok(None) };
    Ok(release.process_types.get(crate::model::RELEASE_PHASE).map(|command| Formation {
        id: release.id,
        app_id: app.id,
        process_type: crate::model::RELEASE_PHASE.to_string(),
        command: command.clone(),
        quantity: 0,
        size: names::DEFAULT_SIZE.to_string(),
        created_at: release.created_at,
        updated_at: release.created_at,
    }))
}

/// `GET /apps/{app}/formation/{type}`.
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, process_type)): Path<(String, String)>,
) -> Result<Json<FormationView>, ApiError> {
    let formation = state.ledger.list_formation(app.id).await?;
    let found = formation
        .iter()
        .find(|f| f.process_type == process_type)
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find that process type ({process_type}).")))?;
    Ok(Json(FormationView::new(found, &app)))
}

/// One update as sent: quantity as a number or a string (`"2"`, `"+1"`, `"-1"`).
#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    #[serde(rename = "type")]
    process_type: Option<String>,
    quantity: Option<Value>,
    size: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct BatchBody {
    updates: Vec<UpdateBody>,
}

/// Reads a quantity: `2` and `"2"` set it, `"+1"` and `"-1"` change it.
pub fn parse_quantity(value: &Value) -> Result<Quantity, String> {
    let invalid = || format!("Invalid quantity {value}: use a number, or +N / -N to change it.");
    match value {
        Value::Number(n) => {
            let n = n.as_i64().ok_or_else(invalid)?;
            if n < 0 {
                return Err(format!("Invalid quantity {n}: it cannot be negative."));
            }
            Ok(Quantity::Absolute(n))
        }
        Value::String(text) => {
            let text = text.trim();
            if let Some(delta) = text.strip_prefix('+') {
                delta.parse::<i64>().ok().filter(|d| *d >= 0).map(Quantity::Relative).ok_or_else(invalid)
            } else if let Some(delta) = text.strip_prefix('-') {
                delta.parse::<i64>().ok().filter(|d| *d >= 0).map(|d| Quantity::Relative(-d)).ok_or_else(invalid)
            } else {
                text.parse::<i64>().ok().filter(|n| *n >= 0).map(Quantity::Absolute).ok_or_else(invalid)
            }
        }
        _ => Err(invalid()),
    }
}

fn to_update(process_type: String, body: &UpdateBody) -> Result<FormationUpdate, ApiError> {
    let quantity = body.quantity.as_ref().map(parse_quantity).transpose().map_err(ApiError::invalid)?;
    let size = body
        .size
        .as_deref()
        .map(names::canonical_size)
        .transpose()
        .map_err(ApiError::invalid)?
        .map(str::to_string);
    Ok(FormationUpdate { process_type, quantity, size })
}

/// `PATCH /apps/{app}/formation` `{"updates": [{"type": "web", "quantity": 2, "size": "basic"}]}`:
/// all updates apply, or none.
pub async fn batch_update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<BatchBody>,
) -> Result<(Changed, Json<Vec<FormationView>>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    if body.updates.is_empty() {
        return Err(ApiError::invalid("No updates given: send {\"updates\": [{\"type\": \"web\", \"quantity\": 1}]}."));
    }
    let mut updates = Vec::new();
    for update in &body.updates {
        let process_type = update
            .process_type
            .clone()
            .ok_or_else(|| ApiError::invalid("Each update needs a process type (\"type\")."))?;
        updates.push(to_update(process_type, update)?);
    }
    let changed: Vec<String> = updates.iter().map(|u| u.process_type.clone()).collect();
    let sizes: Vec<&str> = updates.iter().filter_map(|u| u.size.as_deref()).collect();
    super::sizes::check(&state, &caller, &app, &sizes).await?;
    let formation = state.ledger.update_formation(app.id, updates).await?;
    super::logs::scaled_event(&state, &app.name, &formation, &caller.user.email);
    let list = formation
        .iter()
        .filter(|f| changed.contains(&f.process_type))
        .map(|f| FormationView::new(f, &app))
        .collect();
    Ok((Changed::app(&app.name), Json(list)))
}

/// `PATCH /apps/{app}/formation/{type}` `{"quantity"?, "size"?}`.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path((app, process_type)): Path<(String, String)>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<(Changed, Json<FormationView>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let update = to_update(process_type.clone(), &body)?;
    super::sizes::check(&state, &caller, &app, update.size.as_deref().as_slice()).await?;
    let formation = state.ledger.update_formation(app.id, vec![update]).await?;
    super::logs::scaled_event(&state, &app.name, &formation, &caller.user.email);
    let found = formation
        .iter()
        .find(|f| f.process_type == process_type)
        .ok_or_else(|| ApiError::internal("updated formation missing"))?;
    Ok((Changed::app(&app.name), Json(FormationView::new(found, &app))))
}

/// The app's running dynos, as the supervisor (on a grid: every node's) reports them, with the
/// node that runs each (none without a supervisor; none invented).
async fn running_dynos(dynos: &Dynos, app: &App) -> Vec<(Dyno, Option<String>)> {
    match dynos {
        Some(Extension(directory)) => directory.dynos_by_node(app).await,
        None => Vec::new(),
    }
}

/// A dyno's view, with `"node"`: the name of the grid's node that runs it (our extension).
fn dyno_view((dyno, node): &(Dyno, Option<String>), app: &App) -> DynoView {
    DynoView { node: node.clone(), ..DynoView::new(dyno, app) }
}

/// `GET /apps/{app}/dynos`.
pub async fn list_dynos(dynos: Dynos, AppAccess { app, .. }: AppAccess) -> Result<Json<Vec<DynoView>>, ApiError> {
    Ok(Json(running_dynos(&dynos, &app).await.iter().map(|dyno| dyno_view(dyno, &app)).collect()))
}

/// `GET /apps/{app}/dynos/{name_or_id}`.
pub async fn dyno_info(
    directory: Dynos,
    AppAccess { app, .. }: AppAccess,
    Path((_, dyno)): Path<(String, String)>,
) -> Result<Json<DynoView>, ApiError> {
    let dynos = running_dynos(&directory, &app).await;
    let found = dynos
        .iter()
        .find(|(d, _)| d.name == dyno || d.id.to_string() == dyno)
        .ok_or_else(|| ApiError::not_found("Couldn't find that process."))?;
    Ok(Json(dyno_view(found, &app)))
}

/// Records `action` (`restart`, `stop`) on the app's dynos, all or `target`, for the node to
/// carry out: 202. Either is a restart for the serving side: a formation's dyno comes back (as
/// on Heroku), a one-off dyno ends.
async fn record(access: AppAccess, state: &AppState, action: &str, target: Option<&str>) -> Result<Response, ApiError> {
    let AppAccess { app, caller } = access;
    state.ledger.record_dyno_action(app.id, caller.user.id, action, target).await?;
    // A restart replaces the dynos and a stop ends them: Heroku's `api:dyno` `destroy`. `name`
    // is the dyno or process type asked for, null for all of them.
    let data = json!({"app": views::app_ref(&app), "name": target, "action": action});
    super::webhooks::notify(state, app.id, "api:dyno", "destroy", &caller.user.email, data);
    Ok((StatusCode::ACCEPTED, Changed::restart(&app.name, target), Json(json!({}))).into_response())
}

/// `DELETE /apps/{app}/dynos`: restart every dyno.
pub async fn restart_all(State(state): State<AppState>, access: AppAccess) -> Result<Response, ApiError> {
    record(access, &state, "restart", None).await
}

/// `DELETE /apps/{app}/dynos/{dyno}`: restart one dyno (`web.1`).
pub async fn restart_dyno(
    State(state): State<AppState>,
    access: AppAccess,
    Path((_, dyno)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    record(access, &state, "restart", Some(&dyno)).await
}

/// `DELETE /apps/{app}/formations/{type}`: restart every dyno of a process type.
pub async fn restart_type(
    State(state): State<AppState>,
    access: AppAccess,
    Path((_, process_type)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    record(access, &state, "restart", Some(&process_type)).await
}

/// `POST /apps/{app}/dynos/{dyno}/actions/stop`: stop one dyno (or every dyno of a type).
pub async fn stop_dyno(
    State(state): State<AppState>,
    access: AppAccess,
    Path((_, dyno)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    record(access, &state, "stop", Some(&dyno)).await
}

/// `POST /apps/{app}/formations/{type}/actions/stop` (`heroku ps:stop -p web`): stop every
/// dyno of a process type.
pub async fn stop_type(
    State(state): State<AppState>,
    access: AppAccess,
    Path((_, process_type)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    record(access, &state, "stop", Some(&process_type)).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(parse_quantity(&json!(2)), Ok(Quantity::Absolute(2)));
        assert_eq!(parse_quantity(&json!("2")), Ok(Quantity::Absolute(2)));
        assert_eq!(parse_quantity(&json!("+1")), Ok(Quantity::Relative(1)));
        assert_eq!(parse_quantity(&json!("-1")), Ok(Quantity::Relative(-1)));
        assert_eq!(parse_quantity(&json!(-1)), Err("Invalid quantity -1: it cannot be negative.".into()));
        for bad in [json!("x"), json!("+-1"), json!(1.5), json!(null), json!("--1")] {
            assert!(parse_quantity(&bad).is_err(), "{bad}");
        }
    }
}
