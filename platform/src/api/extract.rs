//! Request extractors: the caller ([`CurrentUser`], from `Authorization: Bearer <api key>`), JSON
//! bodies with Heroku-style errors ([`ApiJson`]), and app lookup with access control
//! ([`visible_app`], and [`AppAccess`] for the `/apps/{app}/…` handlers without a body).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::de::DeserializeOwned;

use super::{ApiError, AppState};
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
        // An API key as a bearer token, or as the password of Basic auth (what git sends).
        let token = match credentials(parts) {
            Some(Credentials::Bearer(token)) | Some(Credentials::Basic(_, token)) => token,
            None => return Err(ApiError::unauthorized()),
        };
        match state.ledger.authenticate_key(&token).await? {
            Some((user, key)) => {
                state.limits.check(&user, parts.extensions.get())?;
                Ok(CurrentUser { user, key, token })
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
        let name = params.iter().find(|(key, _)| key == "app").map(|(_, value)| value.as_str()).unwrap_or_default();
        let app = visible_app(state, &caller, name).await.map_err(IntoResponse::into_response)?;
        Ok(AppAccess { app, caller })
    }
}

/// The app `name_or_id` if the caller may see it: its owner, a collaborator, or an operator.
/// Others get the same 404 as for an app that does not exist.
pub async fn visible_app(state: &AppState, caller: &CurrentUser, name_or_id: &str) -> Result<App, ApiError> {
    let not_found = || ApiError::not_found("Couldn't find that app.");
    let app = state.ledger.find_app(name_or_id).await?.ok_or_else(not_found)?;
    if may_see(state, &caller.user, &app).await? { Ok(app) } else { Err(not_found()) }
}

/// Whether `user` may see `app`: its owner, a collaborator, or an operator.
pub async fn may_see(state: &AppState, user: &User, app: &App) -> Result<bool, ApiError> {
    Ok(user.operator || app.owner.id == user.id || state.ledger.can_access(app.id, user.id).await?)
}

/// Fails with 403 unless the caller owns the app or is an operator.
pub fn require_owner(caller: &CurrentUser, app: &App, what: &str) -> Result<(), ApiError> {
    if caller.user.operator || app.owner.id == caller.user.id {
        Ok(())
    } else {
        Err(ApiError::forbidden(format!(
            "Only the owner of {} ({}) or an operator can {what}.",
            app.name, app.owner.email
        )))
    }
}
