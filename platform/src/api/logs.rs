//! Log sessions (Heroku's protocol): `POST /apps/{app}/log-sessions` makes one and answers its
//! `logplex_url`, a capability URL on this listener (`/log-sessions/{token}`, no `Authorization`
//! needed) that answers the app's stream as Server-Sent Events ([`crate::logplex::sse`]).
//! An unknown or expired token is a 404, and so is one whose app (found by id, never by name)
//! is gone or no longer visible to the user who made the session. On a grid the stream collates
//! every node's lines of the app, whichever node the session was made on.

use axum::extract::{Path, State};
use axum::{Extension, Json};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::{Stream, StreamExt};
use serde::Deserialize;
use serde_json::Value;

use super::extract::{ApiJson, CurrentUser, may_see, visible_app};
use super::views::LogSessionView;
use super::{ApiError, AppState};
use crate::grid;
use crate::grid::peers::Peers;
use crate::logplex::{SessionRequest, StreamPermit, sse};
use crate::model::{Formation, Release};

/// `Set FOO config vars by alice@example.com` (the release's description) and `Release v4
/// created by alice@example.com`, as `app[api]` lines.
pub fn release_events(state: &AppState, app: &str, release: &Release, email: &str) {
    state.logs.api_event(app, &format!("{} by {email}", release.description));
    state.logs.api_event(app, &format!("Release v{} created by {email}", release.version));
    state.logs.webhook_event(state.ledger.clone(), crate::webhooks::Event::release(release, email));
}

/// `Scaled to web@2:Basic worker@0:Basic by alice@example.com`, as an `app[api]` line.
pub fn scaled_event(state: &AppState, app: &str, formation: &[Formation], email: &str) {
    let scale: Vec<String> = formation.iter().map(|f| format!("{}@{}:{}", f.process_type, f.quantity, f.size)).collect();
    state.logs.api_event(app, &format!("Scaled to {} by {email}", scale.join(" ")));
    for entry in formation {
        state.logs.webhook_event(state.ledger.clone(), crate::webhooks::Event::formation(entry, email));
    }
}

/// The body of `POST /apps/{app}/log-sessions`; every field is optional.
#[derive(Debug, Default, Deserialize)]
pub struct CreateBody {
    /// A dyno (`web.1`) or process type (`web`).
    dyno: Option<String>,
    /// Past lines: a number (or a numeric string).
    lines: Option<Value>,
    /// `app` or `paas` (`heroku`).
    source: Option<String>,
    /// Follow new lines.
    tail: Option<bool>,
}

/// `POST /apps/{app}/log-sessions` → 201 `{"id", "logplex_url", "created_at", "updated_at"}`.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<Response, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let lines = match &body.lines {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.as_u64().ok_or_else(|| ApiError::invalid("lines must be a positive number."))?),
        Some(Value::String(s)) => Some(s.trim().parse::<u64>().map_err(|_| ApiError::invalid("lines must be a positive number."))?),
        Some(_) => return Err(ApiError::invalid("lines must be a positive number.")),
    };
    let request = SessionRequest {
        dyno: body.dyno,
        lines: lines.map(|n| usize::try_from(n).unwrap_or(usize::MAX)),
        source: body.source,
        tail: body.tail.unwrap_or(false),
    };
    let session = state
        .logs
        .create_session(app.id, &app.name, caller.user.id, request).map_err(|e| ApiError::invalid(e.to_string()))?;
    let url = format!("{}/log-sessions/{}", state.config.api_url.trim_end_matches('/'), session.token);
    Ok((StatusCode::CREATED, Json(LogSessionView::new(&session, url))).into_response())
}

/// `GET /log-sessions/{token}` (a session's `logplex_url`): the stream, `text/event-stream`. On a
/// grid it collates the lines of every node that is up ([`crate::grid::logs`]).
pub async fn stream(
    State(state): State<AppState>,
    peers: Option<Extension<Peers>>,
    Path(token): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let gone = || ApiError::not_found("This log session does not exist or has expired.");
    let (session, end) = state.logs.find_session(&token).ok_or_else(gone)?;
    // The app by id (a new app of the same name is another app), seen by the same user now.
    let app = state.ledger.find_app(&session.app_id.to_string()).await?.filter(|app| app.id == session.app_id);
    let user = state.ledger.find_user(&session.user_id.to_string()).await?;
    let (Some(app), Some(user)) = (app, user) else { return Err(gone()) };
    if !may_see(&state, &user, &app).await? {
        return Err(gone());
    }
    // A public URL opened any number of times would hold as many connections (and, on a grid,
    // a tail on every other node for each): the session and its user have caps on open streams.
    let permit = state.logs.open_stream(&session).map_err(|e| ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limit", e.to_string()))?;
    let last_event_id = headers.get("last-event-id").and_then(|v| v.to_str().ok());
    if let Some(Extension(peers)) = &peers
        && let Some(events) =
            grid::logs::collated(peers, &state.logs, &app.name, app.id, session.clone(), end.clone(), last_event_id).await
    {
        return Ok(sse::respond(holding(events, permit)));
    }
    let last_event_id = last_event_id.and_then(|v| v.trim().parse::<u64>().ok());
    Ok(sse::respond(holding(sse::stream(&state.logs, &app.name, session, end, last_event_id), permit)))
}

/// The stream, holding `permit` until the stream is dropped (the client gone, or the end).
fn holding<S: Stream + Send + 'static>(events: S, permit: StreamPermit) -> impl Stream<Item = S::Item> + Send + 'static {
    events.inspect(move |_| {
        let _held = &permit;
    })
}
