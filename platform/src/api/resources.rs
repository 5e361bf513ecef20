//! An app's domains, collaborators, add-ons and builds.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::range::{self, Key, RangeField};
use crate::serving::Changed;
use super::views::{self, BuildView, CollaboratorView, DomainView};
use super::{ApiError, AppState};
use crate::access::Permissions;

/// `GET /apps/{app}/domains`: the built-in `<app>.<domain>` (`kind: heroku`), then custom ones.
pub async fn list_domains(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let mut all = vec![DomainView::default_domain(&app, &state.config)];
    for domain in state.ledger.list_domains(app.id).await? {
        all.push(DomainView::custom(&domain, &app, &state.config));
    }
    const FIELDS: &[RangeField<DomainView>] =
        &[("id", |d| Key::Text(d.id.clone())), ("hostname", |d| Key::Text(d.hostname.clone()))];
    range::respond(&headers, all, FIELDS, DomainView::clone)
}

/// `GET /apps/{app}/domains/{hostname_or_id}`.
pub async fn domain_info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, domain)): Path<(String, String)>,
) -> Result<Json<DomainView>, ApiError> {
    if domain == state.config.hostname(&app.name) || domain == app.id.to_string() {
        return Ok(Json(DomainView::default_domain(&app, &state.config)));
    }
    let domains = state.ledger.list_domains(app.id).await?;
    let found = domains
        .iter()
        .find(|d| d.hostname == domain.to_lowercase() || d.id.to_string() == domain)
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find domain {domain}.")))?;
    Ok(Json(DomainView::custom(found, &app, &state.config)))
}

#[derive(Debug, Deserialize)]
pub struct NewDomain {
    hostname: String,
    /// The SNI endpoint (name or id) it serves with (`domains:add --cert`); null: none.
    #[serde(default)]
    sni_endpoint: Option<String>,
}

/// Checks a custom hostname: dot-separated labels of letters, digits and dashes.
fn validate_hostname(hostname: &str) -> Result<(), String> {
    let valid = hostname.len() <= 253
        && hostname.contains('.')
        && hostname.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        });
    if valid { Ok(()) } else { Err(format!("Hostname {hostname:?} is not a valid domain name.")) }
}

/// `POST /apps/{app}/domains` `{"hostname": "www.example.com"}`.
pub async fn add_domain(
    State(state): State<AppState>,
    caller: CurrentUser,
    certs: Option<axum::Extension<std::sync::Arc<crate::certs::SniCerts>>>,
    changes: Option<axum::Extension<crate::serving::Changes>>,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<NewDomain>,
) -> Result<impl IntoResponse, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let hostname = body.hostname.trim().trim_end_matches('.').to_lowercase();
    validate_hostname(&hostname).map_err(ApiError::invalid)?;
    if hostname.ends_with(&format!(".{}", state.config.domain)) || hostname == state.config.domain {
        return Err(ApiError::invalid(format!(
            "{hostname} is under the platform's domain {}: apps get <app>.{} already.",
            state.config.domain, state.config.domain
        )));
    }
    if let Some(endpoint) = &body.sni_endpoint {
        // Checked first, so that an unknown certificate adds no domain.
        let endpoints = state.ledger.list_sni_endpoints(app.id).await?;
        if !endpoints.iter().any(|e| e.name == *endpoint || e.id.to_string() == *endpoint) {
            return Err(ApiError::invalid(format!("Couldn't find SNI endpoint {endpoint} on {}.", app.name)));
        }
    }
    let changed = Changed::app(&app.name);
    // Two writes, then the certificates: in a task of its own, so that a client hanging up
    // between them leaves no domain without the endpoint it asked for, nor the router without
    // its route (the task reports the change itself).
    let work = async move {
        let domain = state.ledger.add_domain(app.id, &hostname).await?;
        let domain = match &body.sni_endpoint {
            None => domain,
            Some(endpoint) => match state.ledger.set_domain_sni_endpoint(app.id, &domain.id.to_string(), Some(endpoint)).await {
                Ok(domain) => domain,
                Err(e) => {
                    if let Err(undo) = state.ledger.remove_domain(app.id, &domain.id.to_string()).await {
                        tracing::error!("cannot remove domain {hostname} of {} after its SNI endpoint failed: {undo}", app.name);
                    }
                    return Err(e.into());
                }
            },
        };
        if let Some(axum::Extension(certs)) = certs {
            certs.reload().await;
        }
        let view = DomainView::custom(&domain, &app, &state.config);
        super::webhooks::notify(&state, app.id, "api:domain", "create", &caller.user.email, views::value(&view));
        Ok((vec![changed], view))
    };
    Ok((StatusCode::CREATED, Json(super::detached_changing(changes, work).await?)))
}

/// `DELETE /apps/{app}/domains/{hostname_or_id}`.
pub async fn remove_domain(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    certs: Option<axum::Extension<std::sync::Arc<crate::certs::SniCerts>>>,
    Path((_, domain)): Path<(String, String)>,
) -> Result<(Changed, Json<DomainView>), ApiError> {
    let domain = state.ledger.remove_domain(app.id, &domain).await?;
    if let Some(axum::Extension(certs)) = certs {
        certs.reload().await;
    }
    let view = DomainView::custom(&domain, &app, &state.config);
    super::webhooks::notify(&state, app.id, "api:domain", "destroy", &caller.user.email, views::value(&view));
    Ok((Changed::app(&app.name), Json(view)))
}

/// `GET /apps/{app}/collaborators`: the owner (role `owner`) and the collaborators.
pub async fn list_collaborators(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    // A team app's owner is the team: its admins are listed by `GET /teams/{team}/members`.
    let mut all: Vec<CollaboratorView> = app.team.is_none().then(|| CollaboratorView::owner(&app)).into_iter().collect();
    for collaborator in state.ledger.list_collaborators(app.id).await? {
        all.push(CollaboratorView::new(&collaborator, &app));
    }
    const FIELDS: &[RangeField<CollaboratorView>] =
        &[("email", |c| Key::Text(c.user.email.clone())), ("id", |c| Key::Text(c.id.clone()))];
    // Owner first, then collaborators by email, unless a Range asks otherwise.
    if headers.get(http::header::RANGE).is_none() {
        return Ok(Json(all).into_response());
    }
    range::respond(&headers, all, FIELDS, CollaboratorView::clone)
}

/// `GET /apps/{app}/collaborators/{email_or_id}`.
pub async fn collaborator_info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, who)): Path<(String, String)>,
) -> Result<Json<CollaboratorView>, ApiError> {
    if app.team.is_none() && (who.eq_ignore_ascii_case(&app.owner.email) || who == app.owner.id.to_string()) {
        return Ok(Json(CollaboratorView::owner(&app)));
    }
    let all = state.ledger.list_collaborators(app.id).await?;
    let found = all
        .iter()
        .find(|c| c.user.email.eq_ignore_ascii_case(&who) || c.user.id.to_string() == who || c.id.to_string() == who)
        .ok_or_else(|| ApiError::not_found(format!("{who} is not a collaborator on this app.")))?;
    Ok(Json(CollaboratorView::new(found, &app)))
}

#[derive(Debug, Deserialize)]
pub struct NewCollaborator {
    user: String,
    /// `["deploy", "operate"]` (`view` is always added); absent: all four.
    permissions: Option<Vec<String>>,
}

/// A permission list from a request body (`view` always added), or a 422 naming the bad one.
fn parse_permissions(names: &[String]) -> Result<Permissions, ApiError> {
    Permissions::parse(names.iter().map(String::as_str)).map_err(ApiError::invalid)
}

/// `POST /apps/{app}/collaborators` and `POST /teams/apps/{app}/collaborators`
/// `{"user": "email or id", "permissions"?: [...]}` (`manage`): adds an existing user.
pub async fn add_collaborator(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<NewCollaborator>,
) -> Result<impl IntoResponse, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let user = state
        .ledger
        .find_user(&body.user)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("Couldn't find a user with email {}.", body.user)))?;
    let permissions = match &body.permissions {
        Some(names) => parse_permissions(names)?,
        None => Permissions::ALL,
    };
    let collaborator = state.ledger.add_collaborator_with(app.id, user.id, permissions).await?;
    let view = CollaboratorView::new(&collaborator, &app);
    super::webhooks::notify(&state, app.id, "api:collaborator", "create", &caller.user.email, views::value(&view));
    Ok((StatusCode::CREATED, Json(view)))
}

#[derive(Debug, Deserialize)]
pub struct CollaboratorPatch {
    permissions: Vec<String>,
}

/// `PATCH /teams/apps/{app}/collaborators/{email_or_id}` `{"permissions": [...]}` (`manage`):
/// sets what a collaborator may do. A narrower set applies from their next request; losing
/// `view` is impossible (it is always added), so their log sessions stay.
pub async fn update_collaborator(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path((app, who)): Path<(String, String)>,
    ApiJson(body): ApiJson<CollaboratorPatch>,
) -> Result<Json<CollaboratorView>, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let permissions = parse_permissions(&body.permissions)?;
    let collaborator = state.ledger.update_collaborator(app.id, &who, permissions).await?;
    let view = CollaboratorView::new(&collaborator, &app);
    super::webhooks::notify(&state, app.id, "api:collaborator", "update", &caller.user.email, views::value(&view));
    Ok(Json(view))
}

/// `DELETE /apps/{app}/collaborators/{email_or_id}`: `manage` removes anyone; a collaborator
/// may remove themselves. Their access ends at once: the next request is refused.
pub async fn remove_collaborator(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    Path((_, who)): Path<(String, String)>,
) -> Result<Json<CollaboratorView>, ApiError> {
    let collaborator = state.ledger.remove_collaborator(app.id, &who).await?;
    // Their log tails of the app end, and their sessions' URLs stop working.
    state.logs.end_sessions(app.id, Some(collaborator.user.id));
    let view = CollaboratorView::new(&collaborator, &app);
    super::webhooks::notify(&state, app.id, "api:collaborator", "destroy", &caller.user.email, views::value(&view));
    Ok(Json(view))
}

/// `GET /apps/{app}/builds`.
pub async fn list_builds(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let builds = state.ledger.list_builds(app.id).await?;
    const FIELDS: &[RangeField<crate::model::Build>] = &[
        ("created_at", |b| Key::Text(views::time(b.created_at))),
        ("id", |b| Key::Text(b.id.to_string())),
    ];
    range::respond(&headers, builds, FIELDS, |build| BuildView::new(build, &app, &state.config))
}

/// `GET /apps/{app}/builds/{id}`.
pub async fn build_info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, build)): Path<(String, String)>,
) -> Result<Json<BuildView>, ApiError> {
    let builds = state.ledger.list_builds(app.id).await?;
    let found = builds
        .iter()
        .find(|b| b.id.to_string() == build)
        .ok_or_else(|| ApiError::not_found("Couldn't find that build."))?;
    Ok(Json(BuildView::new(found, &app, &state.config)))
}
