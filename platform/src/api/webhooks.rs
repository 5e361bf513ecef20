//! App webhooks (Heroku's shapes): `/apps/{app}/webhooks` (list, add, show, update, remove),
//! `/apps/{app}/webhook-deliveries` and `/apps/{app}/webhook-events` (recent ones, newest
//! first). A webhook's URL must be `http(s)://` and its host not an address the node's egress
//! policy denies (as log drains); its secret (given, or made here and answered once in the
//! `Heroku-Webhook-Secret` header) is never shown back.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::views::WebhookView;
use super::{ApiError, AppState};
use crate::logplex::drains::{DrainUrlError, Endpoint};
use crate::webhooks::{WebhookSettings, check_settings, shown_origin, shown_url};

/// The body of `POST` and `PATCH /apps/{app}/webhooks[/{id}]`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Body {
    url: Option<String>,
    include: Option<Vec<String>>,
    level: Option<String>,
    secret: Option<String>,
    /// `null` clears it on update.
    #[serde(default, deserialize_with = "present")]
    authorization: Option<Option<String>>,
}

/// A field that is present (`Some(None)` for `null`) or absent (`None`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

/// Checks a webhook URL: `http(s)://` to a host the egress policy does not deny.
fn check_url(state: &AppState, url: &str) -> Result<String, ApiError> {
    let url = url.trim();
    let shown = shown_url(url);
    let refused = |why: String| ApiError::invalid(format!("Webhook URL {shown} is refused: {why}."));
    let endpoint = Endpoint::parse(url).map_err(|_| refused("use http://host/path or https://host/path".into()))?;
    if !matches!(endpoint, Endpoint::Http { .. }) {
        return Err(refused("use http://host/path or https://host/path".into()));
    }
    match endpoint.check(&shown, &state.logs.drain_policy().egress) {
        Err(DrainUrlError::Denied { denied, .. }) => Err(refused(format!(
            "{denied}. Webhooks cannot deliver to loopback, link-local, private or this server's own addresses"
        ))),
        Err(e) => Err(ApiError::invalid(e.to_string())),
        Ok(()) => Ok(url.to_string()),
    }
}

impl Body {
    fn settings(self, state: &AppState) -> Result<WebhookSettings, ApiError> {
        check_settings(self.include.as_deref(), self.level.as_deref())?;
        let url = self.url.as_deref().map(|url| check_url(state, url)).transpose()?;
        Ok(WebhookSettings { url, secret: self.secret, include: self.include, level: self.level, authorization: self.authorization })
    }
}

/// Sends the app's `include` event (`action`: `create`, `update` or `destroy`; `data`: the
/// resource as the API shows it) to its webhooks that include that kind, in the background.
pub fn notify(state: &AppState, app_id: Uuid, include: &'static str, action: &'static str, actor: &str, data: Value) {
    state.logs.webhook_event(state.ledger.clone(), crate::webhooks::Event::about(app_id, include, action, actor, data));
}

fn webhook_id(id: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(id).map_err(|_| ApiError::not_found("Couldn't find that webhook."))
}

/// `GET /apps/{app}/webhooks`.
pub async fn list(State(state): State<AppState>, AppAccess { app, .. }: AppAccess) -> Result<Json<Vec<WebhookView>>, ApiError> {
    let hooks = state.ledger.list_webhooks(app.id).await?;
    Ok(Json(hooks.iter().map(|h| WebhookView::new(h, &app)).collect()))
}

/// `POST /apps/{app}/webhooks` `{url, include, level, secret?, authorization?}` → 201, with the
/// secret in `Heroku-Webhook-Secret`.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<Body>,
) -> Result<Response, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let mut settings = body.settings(&state)?;
    let secret = settings.secret.get_or_insert_with(crate::auth::generate_api_key).clone();
    settings.level.get_or_insert_with(|| "notify".into());
    let hook = state.ledger.add_webhook(app.id, settings).await?;
    state.logs.api_event(&app.name, &format!("Add webhook {} by {}", shown_origin(&hook.url), caller.user.email));
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&secret) {
        headers.insert("heroku-webhook-secret", value);
    }
    Ok((StatusCode::CREATED, headers, Json(WebhookView::new(&hook, &app))).into_response())
}

/// `GET /apps/{app}/webhooks/{id}`.
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<WebhookView>, ApiError> {
    let hook = state.ledger.find_webhook(app.id, webhook_id(&id)?).await?;
    let hook = hook.ok_or_else(|| ApiError::not_found("Couldn't find that webhook."))?;
    Ok(Json(WebhookView::new(&hook, &app)))
}

/// `PATCH /apps/{app}/webhooks/{id}`.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path((app, id)): Path<(String, String)>,
    ApiJson(body): ApiJson<Body>,
) -> Result<Json<WebhookView>, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let settings = body.settings(&state)?;
    let hook = state.ledger.update_webhook(app.id, webhook_id(&id)?, settings).await?;
    Ok(Json(WebhookView::new(&hook, &app)))
}

/// `DELETE /apps/{app}/webhooks/{id}`.
pub async fn remove(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<WebhookView>, ApiError> {
    let hook = state.ledger.remove_webhook(app.id, webhook_id(&id)?).await?;
    state.logs.api_event(&app.name, &format!("Remove webhook {} by {}", shown_origin(&hook.url), caller.user.email));
    Ok(Json(WebhookView::new(&hook, &app)))
}

/// `max=N` of a `Range` header (the CLI's `seq ..; order=desc,max=N`), read by [`super::range::parse`].
fn range_max(headers: &HeaderMap) -> Option<usize> {
    let range = headers.get(http::header::RANGE)?.to_str().ok()?;
    super::range::parse(range).ok().map(|spec| spec.max)
}

/// Newest first, at most the Range's `max`.
fn newest(mut items: Vec<Value>, headers: &HeaderMap) -> Json<Value> {
    items.reverse();
    items.truncate(range_max(headers).unwrap_or(usize::MAX));
    Json(Value::Array(items))
}

/// `GET /apps/{app}/webhook-deliveries`: the app's recent deliveries, newest first.
pub async fn deliveries(State(state): State<AppState>, AppAccess { app, .. }: AppAccess, headers: HeaderMap) -> Json<Value> {
    newest(state.logs.webhooks().deliveries(app.id), &headers)
}

/// `GET /apps/{app}/webhook-deliveries/{id}`.
pub async fn delivery_info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let found = state.logs.webhooks().deliveries(app.id).into_iter().find(|d| d["id"] == id.as_str());
    found.map(Json).ok_or_else(|| ApiError::not_found("Couldn't find that webhook delivery."))
}

/// `GET /apps/{app}/webhook-events`: the app's recent events, newest first.
pub async fn events(State(state): State<AppState>, AppAccess { app, .. }: AppAccess, headers: HeaderMap) -> Json<Value> {
    newest(state.logs.webhooks().events(app.id), &headers)
}

/// `GET /apps/{app}/webhook-events/{id}`.
pub async fn event_info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, id)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let found = state.logs.webhooks().events(app.id).into_iter().find(|e| e["id"] == id.as_str());
    found.map(Json).ok_or_else(|| ApiError::not_found("Couldn't find that webhook event."))
}
