//! Releases, builds and slugs.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{EmailRef, IdRef, NameRef, STACK, STACK_ID, app_ref, id_ref, nullable, time, user_ref};
use crate::api::PlatformConfig;
use crate::model::{self, App, Build, Release, Slug};

/// A release (`GET /apps/{app}/releases/{version}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleaseView {
    /// The names of the add-ons attached when it was made.
    pub addon_plan_names: Vec<String>,
    /// Its app.
    pub app: NameRef,
    /// Heroku's release artifacts (none: the slug is the artifact).
    pub artifacts: Vec<Value>,
    /// When it was made.
    #[serde(deserialize_with = "nullable")]
    pub created_at: String,
    /// Whether it is the app's current release.
    pub current: bool,
    /// What it changed, e.g. `Set FOO config vars`.
    #[serde(deserialize_with = "nullable")]
    pub description: String,
    /// Whether `rollback` may go back to it (absent means yes).
    pub eligible_for_rollback: Option<bool>,
    /// Its id.
    pub id: String,
    /// Where its release phase's output is, while the server keeps it.
    pub output_stream_url: Option<String>,
    /// The slug it runs, if any.
    pub slug: Option<IdRef>,
    /// `succeeded` or `failed` (Heroku also has `pending` and `expired`).
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    /// When it was made (releases never change).
    #[serde(deserialize_with = "nullable")]
    pub updated_at: String,
    /// Who made it.
    #[serde(deserialize_with = "nullable")]
    pub user: EmailRef,
    /// Its number: `v3` has version 3.
    pub version: i64,
}

impl ReleaseView {
    /// `release` of `app`.
    pub fn new(release: &Release, app: &App) -> ReleaseView {
        ReleaseView {
            addon_plan_names: release.addons.clone(),
            app: app_ref(app),
            artifacts: Vec::new(),
            created_at: time(release.created_at),
            current: release.current,
            description: release.description.clone(),
            eligible_for_rollback: Some(release.status == model::RELEASE_SUCCEEDED),
            id: release.id.to_string(),
            output_stream_url: None,
            slug: release.slug_id.map(id_ref),
            status: release.status.clone(),
            updated_at: time(release.created_at),
            user: user_ref(&release.user),
            version: release.version,
        }
    }
}

/// A build (`GET /apps/{app}/builds/{id}`); its output is at `output_stream_url`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildView {
    /// Its app.
    pub app: IdRef,
    /// The buildpack that built it, once known.
    pub buildpacks: Vec<BuildpackRef>,
    /// When it started.
    #[serde(deserialize_with = "nullable")]
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// Where its output is: a signed URL that needs no API key.
    pub output_stream_url: Option<String>,
    /// The release it made.
    pub release: Option<IdRef>,
    /// The slug it made.
    pub slug: Option<IdRef>,
    /// What it built.
    pub source_blob: SourceBlobRef,
    /// The stack it built for.
    pub stack: String,
    /// `pending`, `succeeded` or `failed`.
    #[serde(deserialize_with = "nullable")]
    pub status: String,
    /// When it last changed.
    pub updated_at: String,
    /// Who started it.
    #[serde(deserialize_with = "nullable")]
    pub user: EmailRef,
}

/// A buildpack as a build names it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BuildpackRef {
    /// Its name (its URL, or a built-in's name).
    pub name: String,
    /// Its URL (or a built-in's name).
    pub url: String,
}

/// What a build built.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SourceBlobRef {
    /// The source's version (a git commit), if known.
    pub version: Option<String>,
}

impl BuildView {
    /// `build` of `app`, with its signed output URL on this server.
    pub fn new(build: &Build, app: &App, config: &PlatformConfig) -> BuildView {
        let output_url = format!("{}{}", config.api_url.trim_end_matches('/'), crate::api::builds::output_path(app.id, build.id));
        BuildView::with_output(build, app, Some(output_url))
    }

    /// `build` of `app` with `output_stream_url` given (`None` where there is no API URL to
    /// sign it with, as in a webhook's event).
    pub fn with_output(build: &Build, app: &App, output_url: Option<String>) -> BuildView {
        BuildView {
            app: id_ref(app.id),
            buildpacks: build.buildpack.iter().map(|url| BuildpackRef { name: url.clone(), url: url.clone() }).collect(),
            created_at: time(build.created_at),
            id: build.id.to_string(),
            output_stream_url: output_url,
            release: build.release_id.map(id_ref),
            slug: build.slug_id.map(id_ref),
            source_blob: SourceBlobRef { version: build.source_version.clone() },
            stack: STACK.into(),
            status: build.status.clone(),
            updated_at: time(build.updated_at),
            user: user_ref(&build.user),
        }
    }
}

/// A slug (`GET /apps/{app}/slugs/{id}`); `checksum` names its archive in the slug store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SlugView {
    /// Where to download it (not offered).
    pub blob: Option<Value>,
    /// The buildpack that built it.
    pub buildpack_provided_description: Option<String>,
    /// `SHA256:<hex>` of the archive.
    pub checksum: String,
    /// The commit it was built from, if known.
    pub commit: Option<String>,
    /// The commit's message (not kept).
    pub commit_description: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// Its process types and their commands.
    pub process_types: model::ProcessTypes,
    /// The archive's size in bytes.
    pub size: i64,
    /// The stack it needs.
    pub stack: NameRef,
    /// When it was made (slugs never change).
    pub updated_at: String,
}

impl SlugView {
    /// `slug`.
    pub fn new(slug: &Slug) -> SlugView {
        SlugView {
            blob: None,
            buildpack_provided_description: slug.buildpack.clone(),
            checksum: format!("SHA256:{}", slug.checksum),
            commit: slug.commit.clone(),
            commit_description: None,
            created_at: time(slug.created_at),
            id: slug.id.to_string(),
            process_types: slug.process_types.clone(),
            size: slug.size,
            stack: NameRef { id: STACK_ID.into(), name: slug.stack.clone() },
            updated_at: time(slug.created_at),
        }
    }
}
