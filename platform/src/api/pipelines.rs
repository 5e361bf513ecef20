//! Pipelines (Heroku's shapes): `/pipelines` (list, `?eq[name]=`, create), `/pipelines/{id}`
//! (show, rename, destroy), couplings (`/pipeline-couplings`, `/pipelines/{id}/pipeline-couplings`,
//! `/apps/{app}/pipeline-couplings`) and `POST /filters/apps` (what `heroku pipelines:info`
//! reads the coupled apps with). A pipeline is seen and changed by its owner (a user, or the
//! members of its team; operators too); coupling an app also needs `manage` on the app.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::extract::{ApiJson, AppAccess, CurrentUser, may_see, visible_app};
use super::permissions::Need;
use super::views::{CouplingView, PipelineView};
use super::{ApiError, AppState};
use crate::access::{Permission, TeamRole};
use crate::names;
use crate::pipelines::{Coupling, Pipeline, PipelineOwner, Stage};

/// Whether the caller owns `pipeline` (or is in its team with at least `role`).
async fn owns(state: &AppState, caller: &CurrentUser, pipeline: &Pipeline, role: TeamRole) -> Result<bool, ApiError> {
    Ok(caller.user.operator
        || match pipeline.owner {
            PipelineOwner::User(id) => id == caller.user.id,
            PipelineOwner::Team(team) => state.ledger.team_role(team, caller.user.id).await?.is_some_and(|r| r >= role),
        })
}

fn pipeline_not_found() -> ApiError {
    ApiError::not_found("Couldn't find that pipeline.")
}

/// The pipeline `name_or_id`, if the caller may see it (else the same 404 as none).
pub async fn visible_pipeline(state: &AppState, caller: &CurrentUser, name_or_id: &str) -> Result<Pipeline, ApiError> {
    let pipeline = state.ledger.find_pipeline(name_or_id).await?.ok_or_else(pipeline_not_found)?;
    if !owns(state, caller, &pipeline, TeamRole::Viewer).await? {
        return Err(pipeline_not_found());
    }
    Ok(pipeline)
}

/// The pipeline, if the caller may change it (a team's viewers may not: 403).
async fn managed_pipeline(state: &AppState, caller: &CurrentUser, name_or_id: &str) -> Result<Pipeline, ApiError> {
    let pipeline = visible_pipeline(state, caller, name_or_id).await?;
    if !owns(state, caller, &pipeline, TeamRole::Member).await? {
        return Err(ApiError::forbidden(format!("You need the member role in the team that owns {} to change it.", pipeline.name)));
    }
    Ok(pipeline)
}

/// The caller acting on an app with `permission` (the app a body names: the route's own row is
/// an account row).
pub fn acting_with(caller: &CurrentUser, permission: Permission) -> CurrentUser {
    CurrentUser { need: Need::App(permission), ..caller.clone() }
}

/// `GET /pipelines` (`?eq[name]=NAME`: that one): the pipelines the caller may see.
pub async fn list(
    State(state): State<AppState>,
    caller: CurrentUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Vec<PipelineView>>, ApiError> {
    let pipelines = state.ledger.list_pipelines(viewer(&caller), query.get("eq[name]").map(String::as_str)).await?;
    Ok(Json(pipelines.iter().map(PipelineView::new).collect()))
}

/// Whose pipelines the caller sees: their own and their teams' (`None`: an operator sees all).
fn viewer(caller: &CurrentUser) -> Option<Uuid> {
    (!caller.user.operator).then_some(caller.user.id)
}

/// The body of `POST /pipelines`.
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    name: String,
    owner: Option<OwnerBody>,
    /// `{"name": "cedar"}` (the only generation here).
    #[allow(dead_code)]
    generation: Option<Value>,
}

/// `owner` of `POST /pipelines`: `{"id", "type": "user" | "team"}`.
#[derive(Debug, Deserialize)]
pub struct OwnerBody {
    id: String,
    #[serde(rename = "type")]
    kind: String,
}

/// `POST /pipelines` `{name, owner?: {id, type}}` → 201.
pub async fn create(State(state): State<AppState>, caller: CurrentUser, ApiJson(body): ApiJson<CreateBody>) -> Result<(StatusCode, Json<PipelineView>), ApiError> {
    names::validate_app_name(&body.name).map_err(ApiError::invalid)?;
    let owner = match body.owner {
        None => PipelineOwner::User(caller.user.id),
        Some(OwnerBody { kind, id }) if kind == "team" => {
            let (team, _) = super::teams::team_with_role(&state, &caller, &id, TeamRole::Member).await?;
            PipelineOwner::Team(team.id)
        }
        Some(OwnerBody { kind, id }) if kind == "user" => {
            let me = id == "~" || id == caller.user.id.to_string() || id.eq_ignore_ascii_case(&caller.user.email);
            if !me && !caller.user.operator {
                return Err(ApiError::forbidden("A pipeline can be owned by yourself or a team you are a member of."));
            }
            let user = state.ledger.find_user(if id == "~" { &caller.user.email } else { &id }).await?;
            PipelineOwner::User(user.ok_or_else(|| ApiError::not_found(format!("Couldn't find user {id}.")))?.id)
        }
        Some(OwnerBody { kind, .. }) => return Err(ApiError::invalid(format!("owner.type {kind:?} is unknown: use user or team."))),
    };
    let pipeline = state.ledger.create_pipeline(&body.name, owner).await?;
    Ok((StatusCode::CREATED, Json(PipelineView::new(&pipeline))))
}

/// `GET /pipelines/{pipeline}`.
pub async fn info(State(state): State<AppState>, caller: CurrentUser, Path(pipeline): Path<String>) -> Result<Json<PipelineView>, ApiError> {
    Ok(Json(PipelineView::new(&visible_pipeline(&state, &caller, &pipeline).await?)))
}

/// The body of `PATCH /pipelines/{pipeline}`.
#[derive(Debug, Deserialize)]
pub struct UpdateBody {
    name: String,
}

/// `PATCH /pipelines/{pipeline}` `{name}`: renames.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(pipeline): Path<String>,
    ApiJson(body): ApiJson<UpdateBody>,
) -> Result<Json<PipelineView>, ApiError> {
    let pipeline = managed_pipeline(&state, &caller, &pipeline).await?;
    names::validate_app_name(&body.name).map_err(ApiError::invalid)?;
    Ok(Json(PipelineView::new(&state.ledger.rename_pipeline(pipeline.id, &body.name).await?)))
}

/// `DELETE /pipelines/{pipeline}`: the pipeline and its couplings go; the apps stay.
pub async fn destroy(State(state): State<AppState>, caller: CurrentUser, Path(pipeline): Path<String>) -> Result<Json<PipelineView>, ApiError> {
    let pipeline = managed_pipeline(&state, &caller, &pipeline).await?;
    Ok(Json(PipelineView::new(&state.ledger.destroy_pipeline(pipeline.id).await?)))
}

/// The couplings of a pipeline with their apps, as the caller sees them.
async fn couplings_of(state: &AppState, pipeline: &Pipeline) -> Result<Vec<CouplingView>, ApiError> {
    let mut shown = Vec::new();
    for coupling in state.ledger.list_couplings(pipeline.id).await? {
        let app = state.ledger.find_app(&coupling.app_id.to_string()).await?;
        shown.push(CouplingView::new(&coupling, pipeline, app.as_ref()));
    }
    Ok(shown)
}

/// `GET /pipelines/{pipeline}/pipeline-couplings`.
pub async fn pipeline_couplings(State(state): State<AppState>, caller: CurrentUser, Path(pipeline): Path<String>) -> Result<Json<Vec<CouplingView>>, ApiError> {
    let pipeline = visible_pipeline(&state, &caller, &pipeline).await?;
    Ok(Json(couplings_of(&state, &pipeline).await?))
}

/// `GET /pipeline-couplings`: the couplings of every pipeline the caller may see.
pub async fn list_couplings(State(state): State<AppState>, caller: CurrentUser) -> Result<Json<Vec<CouplingView>>, ApiError> {
    let mut shown = Vec::new();
    for pipeline in state.ledger.list_pipelines(viewer(&caller), None).await? {
        shown.extend(couplings_of(&state, &pipeline).await?);
    }
    Ok(Json(shown))
}

/// `GET /apps/{app}/pipeline-couplings`: the app's coupling (404 when it is in no pipeline).
pub async fn app_coupling(State(state): State<AppState>, AppAccess { app, .. }: AppAccess) -> Result<Json<CouplingView>, ApiError> {
    let not_coupled = || ApiError::not_found(format!("{} is not in a pipeline.", app.name));
    let coupling = state.ledger.app_coupling(app.id).await?.ok_or_else(not_coupled)?;
    let pipeline = state.ledger.find_pipeline(&coupling.pipeline_id.to_string()).await?.ok_or_else(not_coupled)?;
    Ok(Json(CouplingView::new(&coupling, &pipeline, Some(&app))))
}

/// The body of `POST /pipeline-couplings`.
#[derive(Debug, Deserialize)]
pub struct CouplingBody {
    app: String,
    pipeline: String,
    stage: String,
}

/// `POST /pipeline-couplings` `{app, pipeline, stage}` → 201.
pub async fn create_coupling(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<CouplingBody>,
) -> Result<(StatusCode, Json<CouplingView>), ApiError> {
    let stage = Stage::parse(&body.stage)?;
    let pipeline = managed_pipeline(&state, &caller, &body.pipeline).await?;
    let app = visible_app(&state, &acting_with(&caller, Permission::Manage), &body.app).await?;
    let coupling = state.ledger.create_coupling(pipeline.id, app.id, stage).await?;
    state.logs.api_event(&app.name, &format!("Added to pipeline {} as {} by {}", pipeline.name, stage.name(), caller.user.email));
    Ok((StatusCode::CREATED, Json(CouplingView::new(&coupling, &pipeline, Some(&app)))))
}

/// The coupling `id` and its pipeline, if the caller may see the pipeline.
async fn visible_coupling(state: &AppState, caller: &CurrentUser, id: &str) -> Result<(Coupling, Pipeline), ApiError> {
    let not_found = || ApiError::not_found("Couldn't find that pipeline coupling.");
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let coupling = state.ledger.find_coupling(id).await?.ok_or_else(not_found)?;
    let pipeline = visible_pipeline(state, caller, &coupling.pipeline_id.to_string()).await.map_err(|_| not_found())?;
    Ok((coupling, pipeline))
}

/// `GET /pipeline-couplings/{coupling}`.
pub async fn coupling_info(State(state): State<AppState>, caller: CurrentUser, Path(id): Path<String>) -> Result<Json<CouplingView>, ApiError> {
    let (coupling, pipeline) = visible_coupling(&state, &caller, &id).await?;
    let app = state.ledger.find_app(&coupling.app_id.to_string()).await?;
    Ok(Json(CouplingView::new(&coupling, &pipeline, app.as_ref())))
}

/// The body of `PATCH /pipeline-couplings/{coupling}`.
#[derive(Debug, Deserialize)]
pub struct StageBody {
    stage: String,
}

/// `PATCH /pipeline-couplings/{coupling}` `{stage}`: moves the app (`manage` on it).
pub async fn update_coupling(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<StageBody>,
) -> Result<Json<CouplingView>, ApiError> {
    let stage = Stage::parse(&body.stage)?;
    let (coupling, pipeline) = visible_coupling(&state, &caller, &id).await?;
    let app = visible_app(&state, &acting_with(&caller, Permission::Manage), &coupling.app_id.to_string()).await?;
    let coupling = state.ledger.update_coupling(coupling.id, stage).await?;
    Ok(Json(CouplingView::new(&coupling, &pipeline, Some(&app))))
}

/// `DELETE /pipeline-couplings/{coupling}`: takes the app out (`manage` on it).
pub async fn remove_coupling(State(state): State<AppState>, caller: CurrentUser, Path(id): Path<String>) -> Result<Json<CouplingView>, ApiError> {
    let (coupling, pipeline) = visible_coupling(&state, &caller, &id).await?;
    let app = visible_app(&state, &acting_with(&caller, Permission::Manage), &coupling.app_id.to_string()).await?;
    let coupling = state.ledger.remove_coupling(coupling.id).await?;
    Ok(Json(CouplingView::new(&coupling, &pipeline, Some(&app))))
}

/// The body of `POST /filters/apps`: `{"in": {"id": [ids]}}`.
#[derive(Debug, Deserialize)]
pub struct FilterBody {
    #[serde(rename = "in")]
    within: FilterIn,
}

/// `in` of `POST /filters/apps`.
#[derive(Debug, Deserialize)]
pub struct FilterIn {
    id: Vec<String>,
}

/// `POST /filters/apps`: the apps of these ids that the caller may see (others are left out).
pub async fn filter_apps(
    State(state): State<AppState>,
    caller: CurrentUser,
    headers: HeaderMap,
    ApiJson(body): ApiJson<FilterBody>,
) -> Result<Response, ApiError> {
    if body.within.id.len() > 1000 {
        return Err(ApiError::invalid("in.id names at most 1000 apps."));
    }
    let mut apps = Vec::new();
    for id in &body.within.id {
        if let Some(app) = state.ledger.find_app(id).await?.filter(|app| app.id.to_string() == *id)
            && may_see(&state, &caller.user, &app).await?
        {
            apps.push(app);
        }
    }
    super::apps::page(&state, &headers, apps)
}
