//! Team apps: `GET /teams/{team}/apps`, `POST /teams/apps`, `GET`/`PATCH /teams/apps/{app}`
//! (lock, unlock, transfer) and `POST /account/app-transfers`, in Heroku's shapes.
//!
//! Transfers: a personal app goes to a team by its owner (or an operator), who must be a member
//! or admin of that team, and stays on as a collaborator with all four permissions. A team app
//! goes to another team, or to a user who is a member of its team, by an admin of its team; to a
//! user it loses its collaborators (as the heroku CLI warns). Personal-to-personal transfers,
//! which Heroku makes the recipient accept, are not supported.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::apps::{NewApp, create_app, page};
use super::extract::{ApiJson, AppAccess, CurrentUser, end_lost_sessions, visible_app};
use super::teams::{team_for, team_with_role};
use crate::serving::Changed;
use super::views::{self, AppTransferView, AppView};
use super::{ApiError, AppState};
use crate::access::{AppOwner, TeamRole};
use crate::ledger::AppFilter;
use crate::model::App;

/// `GET /teams/{team}/apps`: the team's apps the caller can see (admins: all).
pub async fn list(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(team): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (team, role) = team_for(&state, &caller, &team).await?;
    let visible_to = (role < TeamRole::Admin).then_some(caller.user.id);
    let apps = state.ledger.list_apps(AppFilter::Team { team: team.id, visible_to }).await?;
    page(&state, &headers, apps)
}

#[derive(Debug, Deserialize)]
pub struct NewTeamApp {
    name: Option<String>,
    /// The team (default: the caller's default team).
    team: Option<String>,
    /// Heroku's older name for `team`.
    organization: Option<String>,
    region: Option<String>,
    stack: Option<String>,
    locked: Option<bool>,
    /// Private spaces do not exist here.
    space: Option<String>,
}

/// `POST /teams/apps` `{"name"?, "team"?, "locked"?, …}` (members and admins of the team): an
/// app owned by the team; its creator gets all four permissions on it.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<NewTeamApp>,
) -> Result<impl IntoResponse, ApiError> {
    if let Some(space) = body.space.as_deref() {
        return Err(ApiError::invalid(format!("Space {space:?} is unknown: this platform has no private spaces.")));
    }
    let team = match body.team.or(body.organization) {
        Some(team) => team,
        None => match state.ledger.default_team(caller.user.id).await? {
            Some(team) => team.name,
            None => return Err(ApiError::invalid("Name a team: you have no default team.")),
        },
    };
    let (team, _) = team_for(&state, &caller, &team).await?;
    let new = NewApp { name: body.name, region: body.region, stack: body.stack };
    let app = create_app(&state, &caller, new, Some((team.id, body.locked.unwrap_or(false)))).await?;
    Ok((StatusCode::CREATED, Changed::apps(), Json(AppView::new(&app, &state.config))))
}

/// `GET /teams/apps/{app}`.
pub async fn info(State(state): State<AppState>, AppAccess { app, .. }: AppAccess) -> Json<AppView> {
    Json(AppView::new(&app, &state.config))
}

#[derive(Debug, Deserialize)]
pub struct TeamAppPatch {
    locked: Option<bool>,
    /// A team's name or a user's email: transfers the app.
    owner: Option<String>,
}

/// `PATCH /teams/apps/{app}` `{"locked"?, "owner"?}` (`manage`): locks or unlocks a team app,
/// or transfers the app (see the module docs).
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<TeamAppPatch>,
) -> Result<Json<AppView>, ApiError> {
    let mut app = visible_app(&state, &caller, &app).await?;
    if let Some(locked) = body.locked {
        if app.team.is_none() {
            return Err(ApiError::invalid(format!("{} is not a team app: only team apps can be locked.", app.name)));
        }
        app = state.ledger.set_app_locked(app.id, locked).await?;
    }
    if let Some(owner) = body.owner {
        app = transfer(&state, &caller, app, &owner).await?;
    }
    end_lost_sessions(&state, &app).await?;
    Ok(Json(AppView::new(&app, &state.config)))
}

/// Gives `app` to `recipient` (a team's name or a user's email), checking who may.
async fn transfer(state: &AppState, caller: &CurrentUser, app: App, recipient: &str) -> Result<App, ApiError> {
    // A team app leaves its team by an admin's hand; a personal app's owner was checked by the
    // row (`AppOwner`).
    if let Some(team) = &app.team {
        team_with_role(state, caller, &team.id.to_string(), TeamRole::Admin).await?;
    }
    let to = if let Some(team) = state.ledger.find_team(recipient).await? {
        team_with_role(state, caller, &team.id.to_string(), TeamRole::Member).await?;
        if app.team.as_ref().is_some_and(|t| t.id == team.id) {
            return Ok(app);
        }
        AppOwner::Team(team.id)
    } else {
        let user = state
            .ledger
            .find_user(recipient)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("Couldn't find a team or a user named {recipient}.")))?;
        let Some(team) = &app.team else {
            return Err(ApiError::invalid(
                "Transfers between users are not supported: transfer the app to a team the recipient is in.",
            ));
        };
        if state.ledger.team_role(team.id, user.id).await?.is_none() {
            return Err(ApiError::invalid(format!("{} is not a member of team {}.", user.email, team.name)));
        }
        AppOwner::User(user.id)
    };
    let app = state.ledger.transfer_app(app.id, to).await?;
    state.logs.api_event(&app.name, &format!("Transferred to {recipient} by {}", caller.user.email));
    Ok(app)
}

#[derive(Debug, Deserialize)]
pub struct NewTransfer {
    app: String,
    recipient: String,
}

/// `POST /account/app-transfers` `{"app", "recipient"}` (`manage`): the transfer of
/// [`update`], done at once (`state: accepted`).
pub async fn transfer_request(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<NewTransfer>,
) -> Result<impl IntoResponse, ApiError> {
    let app = visible_app(&state, &caller, &body.app).await?;
    let owner = views::app_owner(&app);
    let app = transfer(&state, &caller, app, &body.recipient).await?;
    end_lost_sessions(&state, &app).await?;
    Ok((StatusCode::CREATED, Json(AppTransferView::new(&app, owner))))
}
