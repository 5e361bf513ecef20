//! Pipelines, as Heroku's: a named group of apps owned by a user or a team, each app coupled at
//! one [`Stage`]; a [`Promotion`] copies the source app's current slug to each target app as a
//! new release (the API does the copy; the ledger records the outcome per target). The tables
//! are behind [`PipelineLedger`], a part of [`crate::Ledger`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::ledger::{LedgerError, Result};

/// Where an app sits in its pipeline (promotion goes development → staging → production).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Stage {
    /// `development`.
    Development,
    /// `staging`.
    Staging,
    /// `production`.
    Production,
}

impl Stage {
    /// Every stage, in promotion order.
    pub const ALL: [Stage; 3] = [Stage::Development, Stage::Staging, Stage::Production];

    /// Heroku's name.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Development => "development",
            Stage::Staging => "staging",
            Stage::Production => "production",
        }
    }

    /// A stage by its name; anything else is [`LedgerError::Invalid`] naming the stages.
    pub fn parse(name: &str) -> Result<Stage> {
        Stage::ALL.into_iter().find(|stage| stage.name() == name).ok_or_else(|| {
            LedgerError::Invalid(format!("Stage {name:?} is unknown: use development, staging or production."))
        })
    }

    /// The stage a promotion from this one goes to, if any.
    pub fn next(self) -> Option<Stage> {
        match self {
            Stage::Development => Some(Stage::Staging),
            Stage::Staging => Some(Stage::Production),
            Stage::Production => None,
        }
    }
}

/// Who owns a pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineOwner {
    /// A user (by id).
    User(Uuid),
    /// A team (by id).
    Team(Uuid),
}

impl PipelineOwner {
    /// `user` or `team`, as Heroku's `owner.type`.
    pub fn kind(self) -> &'static str {
        match self {
            PipelineOwner::User(_) => "user",
            PipelineOwner::Team(_) => "team",
        }
    }
    /// The owner's id.
    pub fn id(self) -> Uuid {
        match self {
            PipelineOwner::User(id) | PipelineOwner::Team(id) => id,
        }
    }
}

/// A pipeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    /// Its id.
    pub id: Uuid,
    /// Its name, unique on this server.
    pub name: String,
    /// Its owner.
    pub owner: PipelineOwner,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An app's place in a pipeline (an app is in one pipeline at most).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coupling {
    /// Its id.
    pub id: Uuid,
    /// The pipeline's id.
    pub pipeline_id: Uuid,
    /// The app's id.
    pub app_id: Uuid,
    /// The app's stage.
    pub stage: Stage,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// What became of one target app of a promotion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromotionTarget {
    /// Its id.
    pub id: Uuid,
    /// The target app.
    pub app_id: Uuid,
    /// The release the promotion made there (none when it failed before one was recorded).
    pub release_id: Option<Uuid>,
    /// `succeeded` or `failed`.
    pub status: String,
    /// Why it failed.
    pub error_message: Option<String>,
}

/// A promotion and its targets, recorded once the copies are done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Promotion {
    /// Its id.
    pub id: Uuid,
    /// The pipeline.
    pub pipeline_id: Uuid,
    /// The source app.
    pub source_app_id: Uuid,
    /// The source app's release whose slug was copied.
    pub source_release_id: Uuid,
    /// `completed` (each target says how it went).
    pub status: String,
    /// The targets, in the order asked.
    pub targets: Vec<PromotionTarget>,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it finished.
    pub updated_at: DateTime<Utc>,
}

/// The most pipelines one owner (a user or a team) may have: 100.
pub const MAX_PER_OWNER: usize = 100;

/// The pipeline tables.
#[async_trait]
pub trait PipelineLedger: Send + Sync {
    /// Makes a pipeline (names are unique: a taken one is a conflict); an owner has at most
    /// [`MAX_PER_OWNER`] (more is [`crate::LedgerError::Invalid`]).
    async fn create_pipeline(&self, name: &str, owner: PipelineOwner) -> Result<Pipeline>;
    /// A pipeline by name or id.
    async fn find_pipeline(&self, name_or_id: &str) -> Result<Option<Pipeline>>;
    /// The pipelines `viewer` may see (theirs and their teams'; `None`: every one, for operators),
    /// only the one called `name` if given, by name. Filtered in the database: a request reads
    /// no other owner's rows.
    async fn list_pipelines(&self, viewer: Option<Uuid>, name: Option<&str>) -> Result<Vec<Pipeline>>;
    /// Renames a pipeline.
    async fn rename_pipeline(&self, id: Uuid, name: &str) -> Result<Pipeline>;
    /// Deletes a pipeline and its couplings (its apps stay as they are).
    async fn destroy_pipeline(&self, id: Uuid) -> Result<Pipeline>;
    /// Couples a live app at a stage; an app already in a pipeline is a conflict.
    async fn create_coupling(&self, pipeline_id: Uuid, app_id: Uuid, stage: Stage) -> Result<Coupling>;
    /// The pipeline's couplings of live apps, oldest first.
    async fn list_couplings(&self, pipeline_id: Uuid) -> Result<Vec<Coupling>>;
    /// A coupling by id (of a live app).
    async fn find_coupling(&self, id: Uuid) -> Result<Option<Coupling>>;
    /// The app's coupling, if it is in a pipeline.
    async fn app_coupling(&self, app_id: Uuid) -> Result<Option<Coupling>>;
    /// Moves a coupled app to another stage.
    async fn update_coupling(&self, id: Uuid, stage: Stage) -> Result<Coupling>;
    /// Takes an app out of its pipeline.
    async fn remove_coupling(&self, id: Uuid) -> Result<Coupling>;
    /// Records a finished promotion with its targets.
    async fn record_promotion(&self, promotion: &Promotion) -> Result<()>;
    /// A promotion by id, with its targets.
    async fn find_promotion(&self, id: Uuid) -> Result<Option<Promotion>>;
}
