//! `/apps/{app}/releases`: the ledger, newest or oldest first by Range; POST `{"release": id}`
//! rolls back (a new release copying that one's slug and config), POST `{"slug": id}` releases
//! a slug (the app's own, or another app's the caller can see).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::range::{self, Key, RangeField};
use crate::serving::Changed;
use super::views::{self, ReleaseView};
use super::{ApiError, AppState};
use crate::deploys::release_phase::{Candidate, ReleaseError, ReleasePhase};
use crate::model::{App, NewRelease, NewSlug, Release, Slug, UserRef};

const FIELDS: &[RangeField<Release>] = &[
    ("version", |r| Key::Int(r.version)),
    ("id", |r| Key::Text(r.id.to_string())),
    ("created_at", |r| Key::Text(views::time(r.created_at))),
];

/// `GET /apps/{app}/releases`.
pub async fn list(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let releases = state.ledger.list_releases(app.id).await?;
    range::respond(&headers, releases, FIELDS, |release| view(&state, release, &app))
}

/// `GET /apps/{app}/releases/{version_or_id}`.
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, release)): Path<(String, String)>,
) -> Result<Json<ReleaseView>, ApiError> {
    let release = state
        .ledger
        .find_release(app.id, &release)
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that release."))?;
    Ok(Json(view(&state, &release, &app)))
}

/// A release as Heroku shows it, with the `output_stream_url` of its release phase when kept.
fn view(state: &AppState, release: &Release, app: &App) -> ReleaseView {
    let mut view = ReleaseView::new(release, app);
    super::release_output::add_url(&mut view, app.id, release.id, &state.config);
    view
}

/// `GET /apps/{app}/releases/{version_or_id}/config-vars` (`heroku releases:info`): the config
/// vars as that release had them.
pub async fn config_vars(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, release)): Path<(String, String)>,
) -> Result<Json<crate::model::ConfigVars>, ApiError> {
    let release = state
        .ledger
        .find_release(app.id, &release)
        .await?
        .ok_or_else(|| ApiError::not_found("Couldn't find that release."))?;
    Ok(Json(release.config_vars))
}

/// The body of `POST /apps/{app}/releases`: `{"release": id or version}` rolls back,
/// `{"slug": id, "description": "…"}` releases a slug (Heroku's release create).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    release: Option<String>,
    slug: Option<String>,
    description: Option<String>,
}

/// `POST /apps/{app}/releases`: `{"release": "<id or version>"}` rolls back (a new release
/// copying that one's slug and config); `{"slug": "<id>"}` makes a new release of a slug with
/// the app's current config vars. The slug may be another app's the caller can see (Heroku's
/// pipeline promotion): the app then gets its own record of the same archive (a new slug id,
/// same checksum, so the node unpacks and compiles it once for both).
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<CreateRequest>,
) -> Result<impl IntoResponse, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let release = match (body.release, body.slug) {
        (Some(target), None) => {
            let target = state
                .ledger
                .find_release(app.id, &target)
                .await?
                .ok_or_else(|| ApiError::not_found("Couldn't find that release."))?;
            make_release(&state, &app, &caller, Candidate::Rollback(target)).await?
        }
        (None, Some(slug)) => deploy_slug(&state, &caller, &app, &slug, body.description).await?,
        _ => {
            return Err(ApiError::invalid(
                "Give either {\"release\": <id or version>} to roll back or {\"slug\": <id>} to release a slug.",
            ));
        }
    };
    super::logs::release_events(&state, &app.name, &release, &caller.user.email);
    Ok((StatusCode::CREATED, Changed::app(&app.name), Json(view(&state, &release, &app))))
}

/// Makes a release of the slug `slug` (the app's, or another app's the caller can see) on `app`,
/// after its release phase: `description`, or `Deploy <commit>`. The caller logs the events.
pub(super) async fn deploy_slug(
    state: &AppState,
    caller: &CurrentUser,
    app: &App,
    slug: &str,
    description: Option<String>,
) -> Result<Release, ApiError> {
    let slug = release_slug(state, caller, app, slug).await?;
    let description = description.unwrap_or_else(|| match &slug.commit {
        Some(commit) => format!("Deploy {}", commit.get(..8).unwrap_or(commit)),
        None => "Deploy".to_string(),
    });
    let release = NewRelease { slug_id: slug.id, process_types: slug.process_types, description };
    make_release(state, app, caller, Candidate::Deploy(release)).await
}

/// The slug `id` as one of `app`'s own: another app's slug (one the caller can see) is recorded
/// for `app` too.
async fn release_slug(state: &AppState, caller: &CurrentUser, app: &App, id: &str) -> Result<Slug, ApiError> {
    let not_found = || ApiError::not_found("Couldn't find that slug.");
    let id = uuid::Uuid::parse_str(id).map_err(|_| not_found())?;
    let slug = state.ledger.find_any_slug(id).await?.ok_or_else(not_found)?;
    if slug.app_id == app.id {
        return Ok(slug);
    }
    // Seeing the slug's app is what it takes to release its slugs (the id alone is not enough).
    visible_app(state, caller, &slug.app_id.to_string()).await.map_err(|_| not_found())?;
    let copy = NewSlug {
        checksum: slug.checksum,
        size: slug.size,
        stack: slug.stack,
        commit: slug.commit,
        buildpack: slug.buildpack,
        process_types: slug.process_types,
    };
    Ok(state.ledger.create_slug(app.id, copy).await?)
}

/// Makes `candidate` the app's next release after its release phase (a Procfile's `release:`),
/// which runs when the server runs dynos. A failed phase is a 422 `release_phase_failed` with the
/// phase's last lines; that release is recorded as failed and the current one stays current.
async fn make_release(state: &AppState, app: &App, caller: &CurrentUser, candidate: Candidate) -> Result<Release, ApiError> {
    let user = UserRef { id: caller.user.id, email: caller.user.email.clone() };
    let phase = match &state.deploys {
        Some(deploys) => deploys.release_phase().clone(),
        None => ReleasePhase::new(state.ledger.clone(), state.logs.clone()),
    };
    let output = paas_builder::CollectOutput::default();
    let result = phase.release(app, &user, candidate, &output).await;
    let made = match &result {
        Ok(release) => Some(release),
        Err(e) => e.release(),
    };
    if let Some(release) = made.filter(|_| !output.lines().is_empty()) {
        super::release_output::keep(release.id, output.lines());
    }
    match result {
        Ok(release) => Ok(release),
        Err(ReleaseError::Ledger(e)) => Err(e.into()),
        Err(e) => {
            let shown = match &e {
                ReleaseError::Failed { output, .. } if !output.is_empty() => format!(" Its output:\n{}", output.join("\n")),
                _ => String::new(),
            };
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "release_phase_failed",
                format!(
                    "{e}: v{} is recorded as failed and {} keeps serving its current release.{shown}",
                    e.release().map_or(0, |r| r.version),
                    app.name
                ),
            ))
        }
    }
}
