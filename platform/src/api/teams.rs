//! `/teams`, `/teams/{team}`, its members and features, and the permission list, in Heroku's
//! shapes. [`team_for`] is where a team route's row of the permission table is checked.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;

use super::extract::{ApiJson, CurrentUser, end_lost_sessions};
use super::permissions::Need;
use super::views::{self, FeatureView, MemberView, PermissionView, TeamView};
use super::{ApiError, AppState};
use crate::access::{Permission, Team, TeamMember, TeamRole};
use crate::ledger::AppFilter;
use crate::names;

/// Team names that are paths of their own under `/teams/`.
const RESERVED: &[&str] = &["apps", "permissions"];

/// The team `name_or_id` and the caller's role in it, if that role is at least `needed`
/// (operators count as admins). An unknown team is a 404; a team the caller is not in, or a
/// role below `needed`, a 403 `forbidden` (the heroku CLI's `access` expects a 403 there).
pub async fn team_with_role(
    state: &AppState,
    caller: &CurrentUser,
    name_or_id: &str,
    needed: TeamRole,
) -> Result<(Team, TeamRole), ApiError> {
    let team = state
        .ledger
        .find_team(name_or_id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find team {name_or_id}.")))?;
    let role = if caller.user.operator { Some(TeamRole::Admin) } else { state.ledger.team_role(team.id, caller.user.id).await? };
    let Some(role) = role else {
        return Err(ApiError::forbidden(format!("You are not a member of team {}.", team.name)));
    };
    if role < needed {
        return Err(ApiError::forbidden(format!(
            "You need the {needed} role in team {} to do that; you are a {role}.",
            team.name
        )));
    }
    caller.checked.done();
    Ok((team, role))
}

/// The team a request acts on, checked against the route's row ([`Need::Team`]).
pub async fn team_for(state: &AppState, caller: &CurrentUser, name_or_id: &str) -> Result<(Team, TeamRole), ApiError> {
    let needed = match caller.need {
        Need::Team(role) => role,
        _ => TeamRole::Viewer,
    };
    team_with_role(state, caller, name_or_id, needed).await
}

async fn is_default(state: &AppState, caller: &CurrentUser, team: &Team) -> Result<bool, ApiError> {
    Ok(state.ledger.default_team(caller.user.id).await?.is_some_and(|default| default.id == team.id))
}

/// `GET /teams`: the teams the caller is a member of, with their role.
pub async fn list(State(state): State<AppState>, caller: CurrentUser) -> Result<Json<Vec<TeamView>>, ApiError> {
    let default = state.ledger.default_team(caller.user.id).await?.map(|team| team.id);
    let teams = state.ledger.list_teams(caller.user.id).await?;
    Ok(Json(teams.iter().map(|(team, role)| TeamView::new(team, *role, default == Some(team.id))).collect()))
}

#[derive(Debug, Deserialize)]
pub struct NewTeam {
    name: String,
}

/// `POST /teams` `{"name"}`: a new team whose admin is the caller.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<NewTeam>,
) -> Result<impl IntoResponse, ApiError> {
    let name = body.name.trim();
    names::validate_app_name(name).map_err(ApiError::invalid)?;
    if RESERVED.contains(&name) {
        return Err(ApiError::invalid(format!("Name {name} is reserved.")));
    }
    let team = state.ledger.create_team(name, caller.user.id).await?;
    Ok((StatusCode::CREATED, Json(TeamView::new(&team, TeamRole::Admin, false))))
}

/// `GET /teams/{team}`.
pub async fn info(State(state): State<AppState>, caller: CurrentUser, Path(team): Path<String>) -> Result<Json<TeamView>, ApiError> {
    let (team, role) = team_for(&state, &caller, &team).await?;
    Ok(Json(TeamView::new(&team, role, is_default(&state, &caller, &team).await?)))
}

/// `DELETE /teams/{team}` (admins): only a team without apps.
pub async fn destroy(State(state): State<AppState>, caller: CurrentUser, Path(team): Path<String>) -> Result<Json<TeamView>, ApiError> {
    let (team, role) = team_for(&state, &caller, &team).await?;
    let team = state.ledger.destroy_team(team.id).await?;
    Ok(Json(TeamView::new(&team, role, false)))
}

/// `GET /teams/{team}/features`: `org-access-controls` is on, so the heroku CLI's `access:add`
/// sends `permissions` for team apps.
pub async fn features(State(state): State<AppState>, caller: CurrentUser, Path(team): Path<String>) -> Result<Json<Vec<FeatureView>>, ApiError> {
    let (team, _) = team_for(&state, &caller, &team).await?;
    Ok(Json(vec![FeatureView {
        created_at: views::time(team.created_at),
        description: "Fine-grained app permissions: view, deploy, operate, manage.".into(),
        display_name: "App permissions".into(),
        doc_url: None,
        enabled: true,
        feedback_email: None,
        id: team.id.to_string(),
        name: "org-access-controls".into(),
        state: "general".into(),
        updated_at: views::time(team.updated_at),
    }]))
}

/// `GET /teams/{team}/members`.
pub async fn members(State(state): State<AppState>, caller: CurrentUser, Path(team): Path<String>) -> Result<Json<Vec<MemberView>>, ApiError> {
    let (team, _) = team_for(&state, &caller, &team).await?;
    let members = state.ledger.list_team_members(team.id).await?;
    Ok(Json(members.iter().map(MemberView::new).collect()))
}

#[derive(Debug, Deserialize)]
pub struct MemberBody {
    email: String,
    role: String,
}

async fn set_member(state: &AppState, caller: &CurrentUser, team: &str, body: MemberBody, create: bool) -> Result<TeamMember, ApiError> {
    let (team, _) = team_for(state, caller, team).await?;
    let role: TeamRole = body.role.parse().map_err(ApiError::invalid)?;
    let user = state
        .ledger
        .find_user(body.email.trim())
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find a user with email {}.", body.email.trim())))?;
    let member = state.ledger.set_team_member(team.id, user.id, role, create).await?;
    // A lower role can take away implicit access (an admin made a viewer of a locked app).
    for app in state.ledger.list_apps(AppFilter::Team { team: team.id, visible_to: None }).await? {
        end_lost_sessions(state, &app).await?;
    }
    Ok(member)
}

/// `POST`/`PUT /teams/{team}/members` `{"email", "role"}` (admins): adds a user, or sets the
/// role of a member.
pub async fn add_member(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(team): Path<String>,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(MemberView::new(&set_member(&state, &caller, &team, body, true).await?)))
}

/// `PATCH /teams/{team}/members` `{"email", "role"}` (admins): sets a member's role.
pub async fn update_member(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(team): Path<String>,
    ApiJson(body): ApiJson<MemberBody>,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(MemberView::new(&set_member(&state, &caller, &team, body, false).await?)))
}

/// `DELETE /teams/{team}/members/{email_or_id}` (admins): the member and their grants on the
/// team's apps go; their next request and `git push` are refused, their log tails end now.
pub async fn remove_member(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path((team, member)): Path<(String, String)>,
) -> Result<Json<MemberView>, ApiError> {
    let (team, _) = team_for(&state, &caller, &team).await?;
    let member = state.ledger.remove_team_member(team.id, &member).await?;
    for app in state.ledger.list_apps(AppFilter::Team { team: team.id, visible_to: None }).await? {
        end_lost_sessions(&state, &app).await?;
    }
    Ok(Json(MemberView::new(&member)))
}

/// `GET /teams/permissions` and `GET /team-app-permissions`: the four app permissions.
pub async fn permissions(_: CurrentUser) -> Json<Vec<PermissionView>> {
    Json(PermissionView::list(Permission::ALL.into_iter().collect()))
}
