//! `/addon-attachments` and the resolve actions: attaching an add-on to another app (same
//! resource, its own config var name), detaching, listing, and finding add-ons and attachments
//! from what a user typed (`DATABASE`, `postgresql-calm-12345`), as the heroku CLI does.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::Value;

use super::addons::{identity, visible_addon};
use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::range::{self, Key, RangeField};
use crate::serving::Changed;
use super::views::{self, AddonView, AttachmentView};
use super::{ApiError, AppState};
use crate::addons::{AddonAttachment, AddonFilter, catalog};

const FIELDS: &[RangeField<AddonAttachment>] = &[
    ("created_at", |a| Key::Text(views::time(a.created_at))),
    ("id", |a| Key::Text(a.id.to_string())),
    ("name", |a| Key::Text(a.name.clone())),
];

fn caller_filter(caller: &CurrentUser) -> AddonFilter {
    if caller.user.operator { AddonFilter::All } else { AddonFilter::AccessibleBy(caller.user.id) }
}

/// `GET /addon-attachments`: the attachments on apps the caller may see.
pub async fn list(State(state): State<AppState>, caller: CurrentUser, headers: HeaderMap) -> Result<Response, ApiError> {
    let attachments = state.ledger.list_attachments(caller_filter(&caller)).await?;
    range::respond(&headers, attachments, FIELDS, AttachmentView::new)
}

/// `GET /apps/{app}/addon-attachments`.
pub async fn list_for_app(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let attachments = state.ledger.list_attachments(AddonFilter::App(app.id)).await?;
    range::respond(&headers, attachments, FIELDS, AttachmentView::new)
}

/// `GET /addons/{addon}/addon-attachments`.
pub async fn list_for_addon(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(addon): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let addon = visible_addon(&state, &caller, &addon).await?;
    let mut attachments = state.ledger.list_attachments(AddonFilter::Addon(addon.id)).await?;
    if !caller.user.operator {
        let visible = state.ledger.list_attachments(AddonFilter::AccessibleBy(caller.user.id)).await?;
        attachments.retain(|a| visible.iter().any(|v| v.id == a.id));
    }
    range::respond(&headers, attachments, FIELDS, AttachmentView::new)
}

/// An attachment (by id) on an app the caller may see.
async fn visible_attachment(state: &AppState, caller: &CurrentUser, id: &str) -> Result<AddonAttachment, ApiError> {
    let not_found = || ApiError::not_found("Couldn't find that add-on attachment.");
    let attachment = state.ledger.find_attachment(id, None).await?.ok_or_else(not_found)?;
    visible_app(state, caller, &attachment.app_id.to_string()).await.map_err(|_| not_found())?;
    Ok(attachment)
}

/// `GET /addon-attachments/{id}`.
pub async fn info(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<AttachmentView>, ApiError> {
    Ok(Json(AttachmentView::new(&visible_attachment(&state, &caller, &id).await?)))
}

/// `GET /apps/{app}/addon-attachments/{attachment}` (by id or name on the app).
pub async fn info_for_app(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, which)): Path<(String, String)>,
) -> Result<Json<AttachmentView>, ApiError> {
    let found = state
        .ledger
        .find_attachment(&which, Some(app.id))
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that add-on attachment."))?;
    Ok(Json(AttachmentView::new(&found)))
}

/// `POST /addon-attachments` `{addon, app, name?}` → 201: the add-on's config on another app
/// (or the same one under another name), in a new release there.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Changed, Json<AttachmentView>), ApiError> {
    let addon = identity(&body, "addon").ok_or_else(|| ApiError::invalid("Missing addon: give {\"addon\": NAME}."))?;
    let app = identity(&body, "app").ok_or_else(|| ApiError::invalid("Missing app: give {\"app\": NAME}."))?;
    let addon = visible_addon(&state, &caller, &addon).await?;
    let app = visible_app(&state, &caller, &app).await?;
    let names = match body.get("name").and_then(Value::as_str) {
        Some(name) => {
            let name = name.to_uppercase();
            catalog::validate_attachment_name(&name).map_err(ApiError::invalid)?;
            vec![name]
        }
        None => catalog::service(&addon.service).map(catalog::default_attachment_names).unwrap_or_default(),
    };
    let (attachment, release) = state.ledger.attach_addon(addon.id, app.id, caller.user.id, names).await?;
    super::logs::release_events(&state, &app.name, &release, &caller.user.email);
    let view = AttachmentView::new(&attachment);
    super::webhooks::notify(&state, app.id, "api:addon-attachment", "create", &caller.user.email, views::value(&view));
    Ok((StatusCode::CREATED, Changed::app(&app.name), Json(view)))
}

/// `DELETE /addon-attachments/{id}`: its config vars leave the app in a new release (the add-on
/// stays).
pub async fn remove(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<String>,
) -> Result<(Changed, Json<AttachmentView>), ApiError> {
    let attachment = visible_attachment(&state, &caller, &id).await?;
    let (attachment, release) = state.ledger.detach_addon(attachment.id, caller.user.id).await?;
    super::logs::release_events(&state, &attachment.app_name, &release, &caller.user.email);
    let view = AttachmentView::new(&attachment);
    super::webhooks::notify(&state, attachment.app_id, "api:addon-attachment", "destroy", &caller.user.email, views::value(&view));
    Ok((Changed::app(&attachment.app_name), Json(view)))
}

/// The optional `app` and `addon_service` of a resolve action.
async fn resolve_scope(
    state: &AppState,
    caller: &CurrentUser,
    body: &Value,
) -> Result<(Option<crate::model::App>, Option<String>), ApiError> {
    let app = match identity(body, "app") {
        Some(app) => Some(visible_app(state, caller, &app).await?),
        None => None,
    };
    let service = identity(body, "addon_service");
    Ok((app, service))
}

/// What a user typed for an attachment: `DATABASE_URL` means `DATABASE`.
fn attachment_name(text: &str) -> String {
    let upper = text.trim().to_uppercase();
    upper.strip_suffix("_URL").map(str::to_string).unwrap_or(upper)
}

/// `POST /actions/addons/resolve` `{addon, app?, addon_service?}`: the add-ons that `addon`
/// names — an add-on's name or id, or (with `app`) an attachment's name on the app.
pub async fn resolve_addons(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Vec<AddonView>>, ApiError> {
    let which = identity(&body, "addon").ok_or_else(|| ApiError::invalid("Missing addon."))?;
    let (app, service) = resolve_scope(&state, &caller, &body).await?;
    let mut found = Vec::new();
    if let Ok(addon) = visible_addon(&state, &caller, &which).await {
        found.push(addon);
    } else if let Some(app) = &app
        && let Some(attachment) = state.ledger.find_attachment(&attachment_name(&which), Some(app.id)).await?
    {
        found.extend(state.ledger.find_addon(&attachment.addon_id.to_string()).await?);
    }
    found.retain(|a| service.as_ref().is_none_or(|s| catalog::service(s).is_some_and(|s| s.name == a.service)));
    if found.is_empty() {
        return Err(ApiError::not_found(format!("Couldn't find that add-on: {which}.")));
    }
    Ok(Json(found.iter().map(AddonView::new).collect()))
}

/// `POST /actions/addon-attachments/resolve` `{addon_attachment, app?, addon_service?}`: the
/// attachments that `addon_attachment` names — an attachment's name on `app` (`DATABASE` or
/// `DATABASE_URL`), an attachment's id, or an add-on (its attachments on `app`, or all the caller
/// may see).
pub async fn resolve_attachments(
    State(state): State<AppState>,
    caller: CurrentUser,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<Vec<AttachmentView>>, ApiError> {
    let which = identity(&body, "addon_attachment").ok_or_else(|| ApiError::invalid("Missing addon_attachment."))?;
    let (app, service) = resolve_scope(&state, &caller, &body).await?;
    let mut found: Vec<AddonAttachment> = Vec::new();
    if let Some(app) = &app
        && let Some(attachment) = state.ledger.find_attachment(&attachment_name(&which), Some(app.id)).await?
    {
        found.push(attachment);
    } else if let Ok(attachment) = visible_attachment(&state, &caller, &which).await {
        found.push(attachment);
    } else if let Ok(addon) = visible_addon(&state, &caller, &which).await {
        let visible = state.ledger.list_attachments(caller_filter(&caller)).await?;
        found = visible
            .into_iter()
            .filter(|a| a.addon_id == addon.id && app.as_ref().is_none_or(|app| a.app_id == app.id))
            .collect();
    }
    if let Some(service) = service.as_deref().and_then(catalog::service) {
        let mut kept = Vec::new();
        for attachment in found {
            if let Some(addon) = state.ledger.find_addon(&attachment.addon_id.to_string()).await?
                && addon.service == service.name
            {
                kept.push(attachment);
            }
        }
        found = kept;
    }
    if found.is_empty() {
        return Err(ApiError::not_found(format!("Couldn't find that add-on attachment: {which}.")));
    }
    Ok(Json(found.iter().map(AttachmentView::new).collect()))
}
