//! Pipeline promotions (Heroku's shapes): `POST /pipeline-promotions` copies the source app's
//! current slug to each target app of the pipeline as a new release (`Promote <app> vN`, after
//! the target's release phase, as `POST /apps/{app}/releases {"slug"}` does), then records the
//! promotion with each target's outcome; `GET /pipeline-promotions/{id}` and
//! `/pipeline-promotions/{id}/promotion-targets` read it back. The caller needs `deploy` on the
//! source app (its slug is its code) and on every target; a target that fails (its release
//! phase, say) does not stop the others.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;
use uuid::Uuid;

use super::extract::{CurrentUser, ApiJson, visible_app};
use super::pipelines::{acting_with, visible_pipeline};
use super::views::{PromotionTargetView, PromotionView};
use super::{ApiError, AppState};
use crate::access::Permission;
use crate::model::{App, Release};
use crate::pipelines::{Promotion, PromotionTarget};
use crate::serving::Changed;

/// `{"id": …}`.
#[derive(Debug, Deserialize)]
pub struct IdRef {
    id: String,
}

/// `{"app": {"id": …}}`.
#[derive(Debug, Deserialize)]
pub struct AppRef {
    app: IdRef,
}

/// The body of `POST /pipeline-promotions`.
#[derive(Debug, Deserialize)]
pub struct CreateBody {
    pipeline: IdRef,
    source: AppRef,
    targets: Vec<AppRef>,
}

/// `POST /pipeline-promotions` → 201, once every target has its release (or failed).
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    changes: Option<axum::Extension<crate::serving::Changes>>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<PromotionView>), ApiError> {
    let pipeline = visible_pipeline(&state, &caller, &body.pipeline.id).await?;
    // A slug is the source app's code: promoting it takes what cloning takes (deploy), not view,
    // or a view-only collaborator could promote it onto an app of theirs and read it there.
    let source = visible_app(&state, &acting_with(&caller, Permission::Deploy), &body.source.app.id).await?;
    let couplings = state.ledger.list_couplings(pipeline.id).await?;
    let in_pipeline = |app_id: Uuid| couplings.iter().any(|c| c.app_id == app_id);
    if !in_pipeline(source.id) {
        return Err(ApiError::invalid(format!("{} is not in pipeline {}.", source.name, pipeline.name)));
    }
    if body.targets.is_empty() || body.targets.len() > 100 {
        return Err(ApiError::invalid("targets names 1 to 100 apps of the pipeline."));
    }
    let mut targets = Vec::new();
    for target in &body.targets {
        let app = visible_app(&state, &acting_with(&caller, Permission::Deploy), &target.app.id).await?;
        if app.id == source.id {
            return Err(ApiError::invalid(format!("Cannot promote from {} to itself.", app.name)));
        }
        if !in_pipeline(app.id) {
            return Err(ApiError::invalid(format!("{} is not in pipeline {}.", app.name, pipeline.name)));
        }
        targets.push(app);
    }
    let release = state.ledger.current_release(source.id).await?;
    let Some((release, slug)) = release.and_then(|r| r.slug_id.map(|slug| (r, slug))) else {
        return Err(ApiError::invalid(format!("{} has no slug to promote: deploy it first.", source.name)));
    };
    // Released and recorded in a task of its own: a client hanging up part-way would otherwise
    // leave some targets released and no promotion recorded (or the new releases unreported).
    let work = promote(state, caller, pipeline.id, source, release, slug, targets);
    let promotion = super::detached_changing(changes, work).await?;
    Ok((StatusCode::CREATED, Json(PromotionView::new(&promotion))))
}

/// Releases `slug` (of `source`'s `release`) on each target, then records the promotion; with
/// the targets released, for the serving side.
async fn promote(
    state: AppState,
    caller: CurrentUser,
    pipeline_id: Uuid,
    source: App,
    release: Release,
    slug: Uuid,
    targets: Vec<App>,
) -> Result<(Vec<Changed>, Promotion), ApiError> {
    let created_at = Utc::now();
    let description = format!("Promote {} v{}", source.name, release.version);
    let mut outcomes = Vec::new();
    let mut changed = Vec::new();
    for app in &targets {
        let made = super::releases::deploy_slug(&state, &caller, app, &slug.to_string(), Some(description.clone())).await;
        let (release_id, status, error_message) = match made {
            Ok(made) => {
                super::logs::release_events(&state, &app.name, &made, &caller.user.email);
                changed.push(Changed::app(&app.name));
                (Some(made.id), "succeeded", None)
            }
            Err(e) => (None, "failed", Some(e.message().to_string())),
        };
        outcomes.push(PromotionTarget { id: Uuid::new_v4(), app_id: app.id, release_id, status: status.into(), error_message });
    }
    let promotion = Promotion {
        id: Uuid::new_v4(),
        pipeline_id,
        source_app_id: source.id,
        source_release_id: release.id,
        status: "completed".into(),
        targets: outcomes,
        created_at,
        updated_at: Utc::now(),
    };
    state.ledger.record_promotion(&promotion).await?;
    Ok((changed, promotion))
}

/// The promotion `id`, if the caller may see its pipeline.
async fn visible_promotion(state: &AppState, caller: &CurrentUser, id: &str) -> Result<Promotion, ApiError> {
    let not_found = || ApiError::not_found("Couldn't find that pipeline promotion.");
    let id = Uuid::parse_str(id).map_err(|_| not_found())?;
    let promotion = state.ledger.find_promotion(id).await?.ok_or_else(not_found)?;
    visible_pipeline(state, caller, &promotion.pipeline_id.to_string()).await.map_err(|_| not_found())?;
    Ok(promotion)
}

/// `GET /pipeline-promotions/{id}`.
pub async fn info(State(state): State<AppState>, caller: CurrentUser, Path(id): Path<String>) -> Result<Json<PromotionView>, ApiError> {
    Ok(Json(PromotionView::new(&visible_promotion(&state, &caller, &id).await?)))
}

/// `GET /pipeline-promotions/{id}/promotion-targets`.
pub async fn targets(State(state): State<AppState>, caller: CurrentUser, Path(id): Path<String>) -> Result<Json<Vec<PromotionTargetView>>, ApiError> {
    let promotion = visible_promotion(&state, &caller, &id).await?;
    Ok(Json(promotion.targets.iter().map(|t| PromotionTargetView::new(t, &promotion)).collect()))
}
