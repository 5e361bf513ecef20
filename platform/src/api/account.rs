//! The caller's account, users (operator extension `POST /users`), and API keys as OAuth
//! authorizations (`heroku login -i` posts Basic email:password to `/oauth/authorizations`).

use axum::Json;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::extract::{ApiJson, Credentials, CurrentUser, credentials};
use super::views::{AccountView, AuthorizationView, NameRef, NewUserView};
use super::{ApiError, AppState};

/// `GET /account`, with the caller's default team.
pub async fn info(State(state): State<AppState>, caller: CurrentUser) -> Result<Json<AccountView>, ApiError> {
    account_view(&state, &caller).await.map(Json)
}

async fn account_view(state: &AppState, caller: &CurrentUser) -> Result<AccountView, ApiError> {
    let mut view = AccountView::new(&caller.user);
    if let Some(team) = state.ledger.default_team(caller.user.id).await? {
        let team = NameRef { id: team.id.to_string(), name: team.name };
        view.default_team = Some(team.clone());
        view.default_organization = Some(team);
    }
    Ok(view)
}

/// The body of `PATCH /account`.
#[derive(Debug, Deserialize)]
pub struct AccountPatch {
    /// A team the caller is in (name or id), or `null` for none. Absent: unchanged.
    #[serde(default, deserialize_with = "some_or_null")]
    default_team: Option<Option<String>>,
}

fn some_or_null<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /account` `{"default_team": "team" | null}`: the team `POST /teams/apps` uses when the
/// request names none.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<AccountPatch>,
) -> Result<Json<AccountView>, ApiError> {
    if let Some(team) = body.default_team {
        let team = match team {
            Some(team) => Some(super::teams::team_with_role(&state, &caller, &team, crate::access::TeamRole::Viewer).await?.0.id),
            None => None,
        };
        state.ledger.set_default_team(caller.user.id, team).await?;
    }
    account_view(&state, &caller).await.map(Json)
}

#[derive(Debug, Deserialize)]
pub struct NewUser {
    email: String,
    password: Option<String>,
}

/// `POST /users` (extension; operators only, by the permission table): creates a user and gives
/// back their first API key.
pub async fn create_user(
    State(state): State<AppState>,
    _: CurrentUser,
    ApiJson(body): ApiJson<NewUser>,
) -> Result<impl IntoResponse, ApiError> {
    let email = body.email.trim();
    let valid = email.split_once('@').is_some_and(|(local, host)| !local.is_empty() && !host.is_empty())
        && !email.chars().any(|c| c.is_whitespace() || c.is_control());
    if !valid {
        return Err(ApiError::invalid(format!("Email {email:?} is not a valid email address.")));
    }
    if body.password.as_deref().is_some_and(str::is_empty) {
        return Err(ApiError::invalid("Password must not be empty."));
    }
    let (user, key) = state.ledger.create_user(email, body.password.as_deref(), false).await?;
    Ok((StatusCode::CREATED, Json(NewUserView::new(&user, &key))))
}

#[derive(Debug, Deserialize)]
pub struct NewAuthorization {
    description: Option<String>,
}

/// `POST /oauth/authorizations`: a new API key, for a caller authenticated by an API key or by
/// Basic email:password.
pub async fn create_authorization(
    State(state): State<AppState>,
    request: Request,
) -> Result<impl IntoResponse, ApiError> {
    let (mut parts, body) = request.into_parts();
    let user = match credentials(&parts) {
        Some(Credentials::Basic(email, password)) => {
            let remaining = parts.extensions.get();
            match state.ledger.authenticate_key(&password).await? {
                Some((user, _)) => {
                    state.limits.check(&user, remaining)?;
                    user
                }
                None => {
                    // Password guesses count against the account's limit before Argon2 runs.
                    if let Some(user) = state.ledger.find_user(&email).await? {
                        state.limits.check(&user, remaining)?;
                    }
                    state.ledger.authenticate_password(&email, &password).await?.ok_or_else(ApiError::unauthorized)?
                }
            }
        }
        _ => CurrentUser::from_request_parts(&mut parts, &state).await?.user,
    };
    let request = Request::from_parts(parts, body);
    let ApiJson(body) =
        <ApiJson<NewAuthorization> as axum::extract::FromRequest<AppState>>::from_request(request, &state).await?;
    let description = body.description.unwrap_or_else(|| "paas API key".to_string());
    let (key, token) = state.ledger.create_api_key(user.id, &description).await?;
    Ok((StatusCode::CREATED, Json(AuthorizationView::new(&key, &user, Some(&token)))))
}

/// `GET /oauth/authorizations`: the caller's API keys (only the one in use shows its token).
pub async fn list_authorizations(
    State(state): State<AppState>,
    caller: CurrentUser,
) -> Result<Json<Vec<AuthorizationView>>, ApiError> {
    let keys = state.ledger.list_api_keys(caller.user.id).await?;
    let list = keys
        .iter()
        .map(|key| AuthorizationView::new(key, &caller.user, (key.id == caller.key.id).then_some(&*caller.token)))
        .collect();
    Ok(Json(list))
}

/// `GET /oauth/authorizations/{id}`; `~` is the key in use.
pub async fn authorization_info(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<AuthorizationView>, ApiError> {
    if id == "~" {
        return Ok(Json(AuthorizationView::new(&caller.key, &caller.user, Some(&caller.token))));
    }
    let keys = state.ledger.list_api_keys(caller.user.id).await?;
    let key = keys
        .iter()
        .find(|key| key.id.to_string() == id)
        .ok_or_else(|| ApiError::not_found("Couldn't find that authorization."))?;
    let token = (key.id == caller.key.id).then_some(&*caller.token);
    Ok(Json(AuthorizationView::new(key, &caller.user, token)))
}

/// `DELETE /oauth/authorizations/{id}`: revokes one of the caller's keys (`~`: the one in use).
pub async fn delete_authorization(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<AuthorizationView>, ApiError> {
    let key_id = if id == "~" {
        caller.key.id
    } else {
        Uuid::parse_str(&id).map_err(|_| ApiError::not_found("Couldn't find that authorization."))?
    };
    let key = state.ledger.delete_api_key(caller.user.id, key_id).await?;
    Ok(Json(AuthorizationView::new(&key, &caller.user, None)))
}

/// `DELETE /oauth/sessions/~` (sent by `heroku logout`): there are no sessions besides API keys,
/// so there is nothing to end.
pub async fn delete_session(caller: CurrentUser, Path(id): Path<String>) -> Json<Value> {
    Json(json!({"id": if id == "~" { caller.key.id.to_string() } else { id }}))
}
