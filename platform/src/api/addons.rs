//! `/apps/{app}/addons` and `/addons`: creating (the service provisions, then the ledger records
//! the add-on, its attachment and the release in one go; a failed provisioning leaves nothing),
//! listing, changing plan and destroying add-ons. The services come as an axum extension
//! ([`AddonServices`]); without it, creating, changing and destroying are a 503.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::{Extension, Json};
use serde_json::Value;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::range::{self, Key, RangeField};
use crate::serving::Changed;
use super::views::{self, AddonView};
use super::AppState;
use crate::addons::{Addon, AddonError, AddonFilter, AddonServices, NewAddon, catalog};
use crate::api::ApiError;

/// A request field naming a thing: a string, or an object with `id` or `name`.
pub fn identity(body: &Value, field: &str) -> Option<String> {
    match body.get(field)? {
        Value::String(text) => Some(text.clone()),
        Value::Object(object) => object
            .get("id")
            .or_else(|| object.get("name"))
            .and_then(Value::as_str)
            .map(str::to_string),
        _ => None,
    }
}

/// The add-on services, or a 503 saying there are none.
pub fn services(services: Option<Extension<AddonServices>>) -> Result<AddonServices, ApiError> {
    services.map(|Extension(s)| s).ok_or_else(|| {
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "Add-on services are not enabled on this server.")
    })
}

impl From<AddonError> for ApiError {
    fn from(error: AddonError) -> ApiError {
        match error {
            AddonError::UnknownService(message) => ApiError::invalid(message),
            other => {
                tracing::error!("add-on service: {other}");
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", other.to_string())
            }
        }
    }
}

/// An add-on the caller may see: on an app they can see (its own or one it is attached to).
pub async fn visible_addon(state: &AppState, caller: &CurrentUser, name_or_id: &str) -> Result<Addon, ApiError> {
    let not_found = || ApiError::not_found("Couldn't find that add-on.");
    let addon = state.ledger.find_addon(name_or_id).await?.ok_or_else(not_found)?;
    if !caller.user.operator {
        let mine = state.ledger.list_addons(AddonFilter::AccessibleBy(caller.user.id)).await?;
        if !mine.iter().any(|a| a.id == addon.id) {
            return Err(not_found());
        }
    }
    // Seeing one of its apps is the `view` the add-on rows of the permission table ask.
    caller.checked.done();
    Ok(addon)
}

/// One of the app's add-ons (its own or attached) by name, id or attachment name on the app.
async fn addon_of_app(state: &AppState, app_id: uuid::Uuid, which: &str) -> Result<Addon, ApiError> {
    let on_app = state.ledger.list_addons(AddonFilter::App(app_id)).await?;
    if let Some(addon) = on_app.iter().find(|a| a.name == which || a.id.to_string() == which) {
        return Ok(addon.clone());
    }
    if let Some(attachment) = state.ledger.find_attachment(which, Some(app_id)).await?
        && let Some(addon) = on_app.into_iter().find(|a| a.id == attachment.addon_id)
    {
        return Ok(addon);
    }
    Err(ApiError::not_found("Couldn't find that add-on."))
}

const FIELDS: &[RangeField<Addon>] = &[
    ("created_at", |a| Key::Text(views::time(a.created_at))),
    ("id", |a| Key::Text(a.id.to_string())),
    ("name", |a| Key::Text(a.name.clone())),
];

/// `GET /apps/{app}/addons`: the add-ons the app owns or has attached.
pub async fn list_for_app(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let addons = state.ledger.list_addons(AddonFilter::App(app.id)).await?;
    range::respond(&headers, addons, FIELDS, AddonView::new)
}

/// `GET /addons`: every add-on the caller may see (all of them for operators).
pub async fn list(State(state): State<AppState>, caller: CurrentUser, headers: HeaderMap) -> Result<Response, ApiError> {
    let filter = if caller.user.operator { AddonFilter::All } else { AddonFilter::AccessibleBy(caller.user.id) };
    let addons = state.ledger.list_addons(filter).await?;
    range::respond(&headers, addons, FIELDS, AddonView::new)
}

/// `GET /addons/{addon}`.
pub async fn info(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(addon): Path<String>,
) -> Result<Json<AddonView>, ApiError> {
    Ok(Json(AddonView::new(&visible_addon(&state, &caller, &addon).await?)))
}

/// `GET /apps/{app}/addons/{addon}` (also by attachment name: `DATABASE`).
pub async fn info_for_app(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, addon)): Path<(String, String)>,
) -> Result<Json<AddonView>, ApiError> {
    Ok(Json(AddonView::new(&addon_of_app(&state, app.id, &addon).await?)))
}

/// Checks a name given for a new add-on: lower-case letters, digits and dashes, starting with a
/// letter, at most 64 characters.
fn validate_addon_name(name: &str) -> Result<(), ApiError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Add-on name {name:?} is invalid: use lower-case letters, digits and dashes, starting with a letter \
             (at most 64 characters)."
        )))
    }
}

/// `POST /apps/{app}/addons` `{plan: "heroku-postgresql:essential-0" | {name}, attachment?: {name},
/// name?, config?}` → 201 the add-on, provisioned and attached (`DATABASE_URL` in a new release).
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    addon_services: Option<Extension<AddonServices>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(StatusCode, Changed, Json<AddonView>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let plan = identity(&body, "plan").ok_or_else(|| ApiError::invalid("Missing plan: give {\"plan\": \"heroku-postgresql:essential-0\"}."))?;
    let (service, plan) = catalog::resolve_plan(&plan).map_err(ApiError::invalid)?;
    if body.get("config").and_then(Value::as_object).is_some_and(|c| !c.is_empty()) {
        return Err(ApiError::invalid(format!("{} takes no config.", service.name)));
    }
    let attachment_names = match body.get("attachment").and_then(|a| a.get("name")).and_then(Value::as_str) {
        Some(name) => {
            let name = name.to_uppercase();
            catalog::validate_attachment_name(&name).map_err(ApiError::invalid)?;
            vec![name]
        }
        None => catalog::default_attachment_names(service),
    };
    let name = match body.get("name").and_then(Value::as_str) {
        Some(name) => {
            validate_addon_name(name)?;
            if state.ledger.find_addon(name).await?.is_some() {
                return Err(ApiError::invalid(format!("Name {name} is already taken by another add-on.")));
            }
            name.to_string()
        }
        None => catalog::generate_addon_name(service),
    };
    let addon_services = services(addon_services)?;
    let provisioned = addon_services.provision(service.name, plan).await?;
    let new = NewAddon {
        app_id: app.id,
        name,
        service: service.name.to_string(),
        plan: plan.name.to_string(),
        provider_id: provisioned.provider_id.clone(),
        config: provisioned.config,
        attachment_names,
    };
    let (addon, _, release) = match state.ledger.create_addon(caller.user.id, new).await {
        Ok(made) => made,
        Err(e) => {
            // Nothing recorded: the resource goes too.
            if let Err(undo) = addon_services.deprovision(service.name, &provisioned.provider_id).await {
                tracing::error!("cannot remove the add-on resource of a failed create: {undo}");
            }
            return Err(e.into());
        }
    };
    state.logs.api_event(&app.name, &format!("Add-on {} created by {}", addon.name, caller.user.email));
    super::webhooks::notify(&state, app.id, "api:addon", "create", &caller.user.email, views::value(&AddonView::new(&addon)));
    super::logs::release_events(&state, &app.name, &release, &caller.user.email);
    Ok((StatusCode::CREATED, Changed::app(&app.name), Json(AddonView::new(&addon))))
}

/// `PATCH /apps/{app}/addons/{addon}` `{plan}`: another plan of the same service (the server
/// applies its limits first).
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path((app, which)): Path<(String, String)>,
    addon_services: Option<Extension<AddonServices>>,
    ApiJson(body): ApiJson<Value>,
) -> Result<(Changed, Json<AddonView>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let addon = addon_of_app(&state, app.id, &which).await?;
    if body.get("name").and_then(Value::as_str).is_some_and(|name| name != addon.name) {
        return Err(ApiError::invalid("Renaming an add-on is not supported."));
    }
    let Some(plan) = identity(&body, "plan") else {
        return Ok((Changed::app(&app.name), Json(AddonView::new(&addon))));
    };
    let plan = if plan.contains(':') || plan.parse::<uuid::Uuid>().is_ok() { plan } else { format!("{}:{plan}", addon.service) };
    let (service, plan) = catalog::resolve_plan(&plan).map_err(ApiError::invalid)?;
    if service.name != addon.service {
        return Err(ApiError::invalid(format!(
            "{} is a plan of {}, not of {}.",
            plan.name, service.name, addon.service
        )));
    }
    services(addon_services)?.change_plan(&addon, plan).await?;
    let addon = state.ledger.update_addon_plan(addon.id, plan.name).await?;
    state.logs.api_event(&app.name, &format!("Add-on {} changed to {} by {}", addon.name, addon.plan_name(), caller.user.email));
    super::webhooks::notify(&state, app.id, "api:addon", "update", &caller.user.email, views::value(&AddonView::new(&addon)));
    Ok((Changed::app(&app.name), Json(AddonView::new(&addon))))
}

/// `DELETE /apps/{app}/addons/{addon}`: drops the resource (its data), then detaches it
/// everywhere (a release on each app). Only on the app that owns it, by its owner.
pub async fn destroy(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    Path((_, which)): Path<(String, String)>,
    addon_services: Option<Extension<AddonServices>>,
) -> Result<(Changed, Json<AddonView>), ApiError> {
    let addon = addon_of_app(&state, app.id, &which).await?;
    if addon.app_id != app.id {
        return Err(ApiError::invalid(format!(
            "{} belongs to {}: destroy it there, or detach it from {}.",
            addon.name, addon.app_name, app.name
        )));
    }
    // Dropping first: if it fails, the add-on is still there to destroy again.
    services(addon_services)?.deprovision(&addon.service, &addon.provider_id).await?;
    let (addon, releases) = state.ledger.destroy_addon(addon.id, caller.user.id).await?;
    state.logs.api_event(&app.name, &format!("Add-on {} destroyed by {}", addon.name, caller.user.email));
    super::webhooks::notify(&state, app.id, "api:addon", "destroy", &caller.user.email, views::value(&AddonView::destroyed(&addon)));
    for release in &releases {
        if let Some(target) = state.ledger.find_app(&release.app_id.to_string()).await? {
            super::logs::release_events(&state, &target.name, release, &caller.user.email);
        }
    }
    Ok((Changed::app(&app.name), Json(AddonView::destroyed(&addon))))
}

/// Before an app is destroyed (Heroku destroys its add-ons with it): the add-ons it owns are
/// destroyed (their data dropped, detached from every app), and other apps' add-ons attached to
/// it are detached.
pub async fn destroy_with_app(
    state: &AppState,
    addon_services: Option<Extension<AddonServices>>,
    app: &crate::model::App,
    caller: &CurrentUser,
) -> Result<(), ApiError> {
    for attachment in state.ledger.list_attachments(AddonFilter::App(app.id)).await? {
        if attachment.addon_app_id != app.id {
            state.ledger.detach_addon(attachment.id, caller.user.id).await?;
        }
    }
    let owned: Vec<Addon> =
        state.ledger.list_addons(AddonFilter::App(app.id)).await?.into_iter().filter(|a| a.app_id == app.id).collect();
    if owned.is_empty() {
        return Ok(());
    }
    let addon_services = services(addon_services)?;
    for addon in owned {
        addon_services.deprovision(&addon.service, &addon.provider_id).await?;
        let (addon, releases) = state.ledger.destroy_addon(addon.id, caller.user.id).await?;
        state.logs.api_event(&app.name, &format!("Add-on {} destroyed by {}", addon.name, caller.user.email));
        for release in releases.iter().filter(|r| r.app_id != app.id) {
            if let Some(target) = state.ledger.find_app(&release.app_id.to_string()).await? {
                super::logs::release_events(state, &target.name, release, &caller.user.email);
            }
        }
    }
    Ok(())
}
