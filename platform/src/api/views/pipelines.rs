//! Pipelines, their couplings and promotions.

use serde::{Deserialize, Serialize};

use super::{IdRef, NameRef, id_ref, time};
use crate::model::App;
use crate::pipelines::{Coupling, Pipeline, Promotion, PromotionTarget};

/// A pipeline (`GET /pipelines/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineView {
    /// When it was made.
    pub created_at: String,
    /// Heroku's generation, always `cedar`.
    pub generation: GenerationRef,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Who owns it: a user or a team.
    pub owner: PipelineOwnerRef,
    /// When it last changed.
    pub updated_at: String,
}

/// `{name}` of a generation.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationRef {
    /// `cedar`.
    pub name: String,
}

/// The owner of a pipeline: `{id, type}`, type `user` or `team`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PipelineOwnerRef {
    /// The user's or team's id.
    pub id: String,
    /// `user` or `team`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl PipelineView {
    /// `pipeline`.
    pub fn new(pipeline: &Pipeline) -> PipelineView {
        PipelineView {
            created_at: time(pipeline.created_at),
            generation: GenerationRef { name: "cedar".into() },
            id: pipeline.id.to_string(),
            name: pipeline.name.clone(),
            owner: PipelineOwnerRef { id: pipeline.owner.id().to_string(), kind: pipeline.owner.kind().into() },
            updated_at: time(pipeline.updated_at),
        }
    }
}

/// An app's place in a pipeline (`GET /pipeline-couplings`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CouplingView {
    /// The app: `{id, name}`, or `{id}` when the caller may not see it.
    pub app: CoupledApp,
    /// When it was made.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// The pipeline.
    pub pipeline: NameRef,
    /// `review`, `development`, `staging` or `production`.
    pub stage: String,
    /// When it last changed.
    pub updated_at: String,
}

/// A coupled app: its name only where the caller may see the app.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CoupledApp {
    /// Its id.
    pub id: String,
    /// Its name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl CouplingView {
    /// `coupling` of `pipeline`; `app` when the caller may see it.
    pub fn new(coupling: &Coupling, pipeline: &Pipeline, app: Option<&App>) -> CouplingView {
        CouplingView {
            app: CoupledApp { id: coupling.app_id.to_string(), name: app.map(|app| app.name.clone()) },
            created_at: time(coupling.created_at),
            id: coupling.id.to_string(),
            pipeline: NameRef { id: pipeline.id.to_string(), name: pipeline.name.clone() },
            stage: coupling.stage.name().into(),
            updated_at: time(coupling.updated_at),
        }
    }
}

/// A promotion (`GET /pipeline-promotions/{id}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromotionView {
    /// When it was made.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// The pipeline.
    pub pipeline: IdRef,
    /// What was promoted.
    pub source: PromotionSource,
    /// `completed` (each target says how it went).
    pub status: String,
    /// When it finished.
    pub updated_at: String,
}

/// The app and release a promotion copied.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromotionSource {
    /// The source app.
    pub app: IdRef,
    /// Its release whose slug was copied.
    pub release: IdRef,
}

impl PromotionView {
    /// `promotion`.
    pub fn new(promotion: &Promotion) -> PromotionView {
        PromotionView {
            created_at: time(promotion.created_at),
            id: promotion.id.to_string(),
            pipeline: id_ref(promotion.pipeline_id),
            source: PromotionSource { app: id_ref(promotion.source_app_id), release: id_ref(promotion.source_release_id) },
            status: promotion.status.clone(),
            updated_at: time(promotion.updated_at),
        }
    }
}

/// What became of one target app of a promotion
/// (`GET /pipeline-promotions/{id}/promotion-targets`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PromotionTargetView {
    /// The target app.
    pub app: IdRef,
    /// Why it failed.
    pub error_message: Option<String>,
    /// Its id.
    pub id: String,
    /// The promotion.
    pub pipeline_promotion: IdRef,
    /// The release made there (none when it failed before one was recorded).
    pub release: Option<IdRef>,
    /// `succeeded` or `failed`.
    pub status: String,
}

impl PromotionTargetView {
    /// `target` of `promotion`.
    pub fn new(target: &PromotionTarget, promotion: &Promotion) -> PromotionTargetView {
        PromotionTargetView {
            app: id_ref(target.app_id),
            error_message: target.error_message.clone(),
            id: target.id.to_string(),
            pipeline_promotion: id_ref(promotion.id),
            release: target.release_id.map(id_ref),
            status: target.status.clone(),
        }
    }
}
