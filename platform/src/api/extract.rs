//! Request extractors: the caller ([`CurrentUser`], from `Authorization: Bearer <api key>`), JSON
//! bodies with Heroku-style errors ([`ApiJson`]), and app lookup checked against the route's row
//! of the permission table ([`visible_app`], and [`AppAccess`] for the `/apps/{app}/…` handlers
//! without a body).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::de::DeserializeOwned;

use super::permissions::{Checked, Need};
use super::{ApiError, AppState};
use crate::access::{Permission, Permissions, permissions_of};
use crate::model::{ApiKey, App, User};

/// The authenticated caller and the API key they used.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    /// Who is calling.
    pub user: User,
    /// The key they presented.
    pub key: ApiKey,
    /// The key itself (so `GET /oauth/authorizations/~` can give it back).
    pub token: String,
    /// What the route needs (its row of [`super::permissions::TABLE`]).
    pub need: Need,
    /// Marked once the app or team the request acts on was checked against `need`.
    pub checked: Checked,
    /// The app the route's `{app}` names and the permission it was checked for, as the
    /// permission layer found it: the handler's own check of that app reuses it instead of
    /// reading the app and the caller's relation to it again.
    pub route_app: Option<(App, Permission)>,
}

/// The credentials in an `Authorization` header.
pub enum Credentials {
    /// `Bearer <key>`.
    Bearer(String),
    /// `Basic base64(user:password)`.
    Basic(String, String),
}

/// Reads the `Authorization` header.
pub fn credentials(parts: &Parts) -> Option<Credentials> {
    let value = parts.headers.get(http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, rest) = value.split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(Credentials::Bearer(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD.decode(rest).ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        let (user, password) = decoded.split_once(':')?;
        return Some(Credentials::Basic(user.to_string(), password.to_string()));
    }
    None
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<CurrentUser, ApiError> {
        super::permissions::caller(parts, state).await
    }
}

impl CurrentUser {
    /// Authenticates the request's API key (401 without a valid one) and counts it against the
    /// account's rate limit. [`super::permissions::enforce`] does it once per request.
    pub async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<CurrentUser, ApiError> {
        // An API key as a bearer token, or as the password of Basic auth (what git sends).
        let token = match credentials(parts) {
            Some(Credentials::Bearer(token)) | Some(Credentials::Basic(_, token)) => token,
            None => return Err(ApiError::unauthorized()),
        };
        match state.ledger.authenticate_key(&token).await? {
            Some((user, key)) => {
                state.limits.check(&user, parts.extensions.get())?;
                let need = parts.extensions.get::<Need>().copied().unwrap_or(Need::Public);
                let checked = parts.extensions.get::<Checked>().cloned().unwrap_or_default();
                Ok(CurrentUser { user, key, token, need, checked, route_app: None })
            }
            None => Err(ApiError::unauthorized()),
        }
    }
}

/// A JSON request body. An empty body reads as `{}`; a body over the size limit is a 413, bad
/// JSON a 400 and JSON of the wrong shape a 422, each with a Heroku-style message.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<ApiJson<T>, ApiError> {
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "request_too_large",
                    format!("Request body too large: the limit is {} bytes.", super::BODY_LIMIT),
                )
            } else {
                ApiError::bad_request(format!("Cannot read the request body: {rejection}"))
            }
        })?;
        let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}" } else { &bytes };
        let value: serde_json::Value = serde_json::from_slice(bytes)
            .map_err(|e| ApiError::bad_request(format!("Request body is not valid JSON: {e}")))?;
        serde_json::from_value(value)
            .map(ApiJson)
            .map_err(|e| ApiError::invalid(format!("Invalid request body: {e}")))
    }
}

/// The preamble of an `/apps/{app}/…` handler with no body: the caller, and the app the route's
/// `{app}` names if they may see it ([`visible_app`]). Handlers that read a body call
/// [`visible_app`] themselves, so that a bad body is reported before a missing app, as it was.
#[derive(Debug)]
pub struct AppAccess {
    /// The app.
    pub app: App,
    /// Who is calling.
    pub caller: CurrentUser,
}

impl FromRequestParts<AppState> for AppAccess {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<AppAccess, Response> {
        let caller = CurrentUser::from_request_parts(parts, state).await.map_err(IntoResponse::into_response)?;
        let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
        let app = route_app(state, &caller, param("app").unwrap_or_default(), param("who"))
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(AppAccess { app, caller })
    }
}

/// The app a route's `{app}` names, checked against the route's row: as [`visible_app`], except
/// that on a [`Need::AppLeaveOrManage`] row, removing yourself (`who`) needs only `view`.
pub async fn route_app(state: &AppState, caller: &CurrentUser, name: &str, who: Option<&str>) -> Result<App, ApiError> {
    checked_app(state, caller, name, route_permission(caller, who)).await
}

/// The permission a route's `{app}` is checked for (see [`route_app`]).
pub(crate) fn route_permission(caller: &CurrentUser, who: Option<&str>) -> Permission {
    let leaving = caller.need == Need::AppLeaveOrManage
        && who.is_some_and(|who| who.eq_ignore_ascii_case(&caller.user.email) || who == caller.user.id.to_string());
    if leaving { Permission::View } else { needed_permission(caller.need) }
}

/// The app `name_or_id` once the caller is known to hold `needed` on it: the one the
/// permission layer already checked for this request when it is that app and that permission,
/// else read and checked now.
pub(crate) async fn checked_app(state: &AppState, caller: &CurrentUser, name_or_id: &str, needed: Permission) -> Result<App, ApiError> {
    if let Some((app, checked)) = &caller.route_app
        && *checked == needed
        && (app.name == name_or_id || app.id.to_string() == name_or_id)
    {
        caller.checked.done();
        return Ok(app.clone());
    }
    let app = find_app(state, name_or_id).await?;
    authorize(state, caller, &app, needed).await?;
    Ok(app)
}

fn app_not_found() -> ApiError {
    ApiError::not_found("Couldn't find that app.")
}

async fn find_app(state: &AppState, name_or_id: &str) -> Result<App, ApiError> {
    state.ledger.find_app(name_or_id).await?.ok_or_else(app_not_found)
}

/// The permission a route's row asks of the app it acts on (`view` for rows that name none).
fn needed_permission(need: Need) -> Permission {
    match need {
        Need::App(permission) => permission,
        Need::AppLeaveOrManage | Need::AppOwner => Permission::Manage,
        _ => Permission::View,
    }
}

/// The app `name_or_id`, if the caller holds the permission the route's row needs on it. No
/// permission at all is the same 404 as an app that does not exist; some, but not this one, is
/// a 403 `forbidden`.
pub async fn visible_app(state: &AppState, caller: &CurrentUser, name_or_id: &str) -> Result<App, ApiError> {
    checked_app(state, caller, name_or_id, needed_permission(caller.need)).await
}

/// Checks that the caller holds `needed` on `app` (see [`visible_app`]) and records the check.
async fn authorize(state: &AppState, caller: &CurrentUser, app: &App, needed: Permission) -> Result<(), ApiError> {
    let held = permissions_on(state, &caller.user, app).await?;
    if held.is_empty() {
        return Err(app_not_found());
    }
    if caller.need == Need::AppOwner && app.team.is_none() && !caller.user.operator && app.owner.id != caller.user.id {
        return Err(ApiError::forbidden(format!(
            "Only the owner of {} ({}) can do that: it is a personal app.",
            app.name, app.owner.email
        )));
    }
    if !held.contains(needed) {
        let held: Vec<&str> = held.iter().map(Permission::name).collect();
        return Err(ApiError::forbidden(format!(
            "You need the {needed} permission on {} to do that; you have {}.",
            app.name,
            held.join(", ")
        )));
    }
    caller.checked.done();
    Ok(())
}

/// The permissions `user` holds on `app` ([`crate::access::permissions_of`]).
pub async fn permissions_on(state: &AppState, user: &User, app: &App) -> Result<Permissions, ApiError> {
    if user.operator {
        return Ok(Permissions::ALL);
    }
    let relation = state.ledger.relation(app, user.id).await?;
    Ok(permissions_of(user, app, relation))
}

/// Whether `user` may see `app` at all (holds `view`).
pub async fn may_see(state: &AppState, user: &User, app: &App) -> Result<bool, ApiError> {
    Ok(permissions_on(state, user, app).await?.contains(Permission::View))
}

/// Ends the app's log sessions held by users who no longer hold `view` on it (after a member
/// is removed, an app is locked or transferred): their live tails stop now.
pub async fn end_lost_sessions(state: &AppState, app: &App) -> Result<(), ApiError> {
    for user_id in state.logs.session_users(app.id) {
        let keep = match state.ledger.find_user(&user_id.to_string()).await? {
            Some(user) => may_see(state, &user, app).await?,
            None => false,
        };
        if !keep {
            state.logs.end_sessions(app.id, Some(user_id));
        }
    }
    Ok(())
}
