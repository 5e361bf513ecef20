//! [`ApiError`]: every failure of the API, answered Heroku-style as
//! `{"id": "not_found", "message": "…"}` with the matching status. Internal errors carry their
//! cause to [`log_internal_errors`], which logs each one once.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::ledger::LedgerError;

/// An API failure: status, Heroku error id, message for the user.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    id: &'static str,
    message: String,
    /// The cause of a 500, logged by [`log_internal_errors`], never shown.
    internal: Option<String>,
}

/// The cause of an internal error, handed from [`ApiError`] to the logging layer.
#[derive(Debug, Clone)]
struct InternalError(String);

impl ApiError {
    /// Any status, id and message.
    pub fn new(status: StatusCode, id: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, id, message: message.into(), internal: None }
    }
    /// 404 `not_found`.
    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    /// 422 `invalid_params`: the request is well-formed but breaks a rule; `message` is a text
    /// or a typed error whose `Display` is the message (`InvalidAppName`, `UnknownPlan`, …).
    pub fn invalid(message: impl std::fmt::Display) -> ApiError {
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_params", message.to_string())
    }
    /// 400 `bad_request`: the request cannot be read.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    /// 401 `unauthorized`, with Heroku's message.
    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "Invalid credentials provided.")
    }
    /// 403 `forbidden`.
    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    /// 416 `requested_range_not_satisfiable`: a malformed or unknown `Range` header.
    pub fn bad_range(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::RANGE_NOT_SATISFIABLE, "requested_range_not_satisfiable", message)
    }
    /// 500 `internal_server_error`; `cause` is logged, not shown.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError {
            internal: Some(cause.to_string()),
            ..ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_server_error", "Internal server error.")
        }
    }
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The message shown to the user.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.status, self.id, self.message)
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> ApiError {
        match error {
            LedgerError::NotFound(message) => ApiError::not_found(message),
            LedgerError::Conflict(message) | LedgerError::Invalid(message) => ApiError::invalid(message),
            other => ApiError::internal(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({"id": self.id, "message": self.message}))).into_response();
        if let Some(cause) = self.internal {
            response.extensions_mut().insert(InternalError(cause));
        }
        response
    }
}

/// Response layer: logs the cause of every internal error, once.
pub async fn log_internal_errors(response: Response) -> Response {
    if let Some(InternalError(cause)) = response.extensions().get::<InternalError>() {
        tracing::error!(status = %response.status(), "internal error: {cause}");
    }
    response
}
