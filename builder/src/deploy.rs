//! Build and release: what a push to `main` (or `paas deploy`) does once the source is in hand.
//! [`Deployer`] runs the [`Builder`] and hands the slug to the platform's [`BuildLedger`], which
//! supplies the app's config vars and records the release (`-----> Launching... done, v3`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::SystemTime;

use crate::BoxError;
use crate::build::{BuildError, BuildRequest, Builder, BuiltSlug};
use crate::output::{CollectOutput, OutputSink, StreamLines, Tee};
use crate::source::Source;

/// What a build needs to know about an app.
#[derive(Debug, Clone, Default)]
pub struct BuildSettings {
    /// Its config vars.
    pub config_vars: BTreeMap<String, String>,
    /// Its buildpack (`paas buildpacks:set`), if set; `BUILDPACK_URL` in the config vars otherwise.
    pub buildpack_url: Option<String>,
}

/// A finished build, for `paas builds` and `paas builds:output`.
#[derive(Debug, Clone)]
pub struct BuildRecord {
    /// The app.
    pub app: String,
    /// The commit built, if any.
    pub source_version: Option<String>,
    /// When it started.
    pub started_at: SystemTime,
    /// How long it took.
    pub duration: std::time::Duration,
    /// The buildpack that built it, when one was chosen.
    pub buildpack: Option<String>,
    /// Its whole output.
    pub output: Vec<String>,
    /// The slug id when it succeeded.
    pub slug_id: Option<String>,
    /// The release version when one was made.
    pub release: Option<u32>,
    /// The error when it failed.
    pub error: Option<String>,
}

/// Why a deploy failed. Its text is what the push shows after ` !     `.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The build failed.
    #[error(transparent)]
    Build(#[from] BuildError),
    /// The platform's side failed ([`BuildLedger`], or the platform's [`crate::PushHandler`]):
    /// no settings, no release, a cancelled build; the platform's error, kept whole.
    #[error("{0}")]
    Platform(BoxError),
}

/// The platform's side of a deploy (implemented over the release ledger). Its errors are the
/// platform's own, boxed ([`DeployError::Platform`]); their text reaches the pusher.
#[async_trait::async_trait]
pub trait BuildLedger: Send + Sync {
    /// The app's config vars and buildpack.
    async fn settings(&self, app: &str) -> Result<BuildSettings, BoxError>;

    /// Records a new release of the app running `build.slug`; returns its version (3 for v3).
    /// What it does first (a release phase) may write to `out`, the push's output.
    async fn release(&self, app: &str, build: &BuiltSlug, description: &str, out: &dyn OutputSink) -> Result<u32, BoxError>;

    /// Stores a finished build's record (successful or not). Does nothing by default.
    async fn record_build(&self, record: BuildRecord) {
        let _ = record;
    }
}

/// Builds a source and releases the slug.
#[derive(Clone)]
pub struct Deployer {
    builder: Arc<Builder>,
    ledger: Arc<dyn BuildLedger>,
}

/// A successful deploy.
#[derive(Debug, Clone)]
pub struct Deployed {
    /// The build.
    pub build: BuiltSlug,
    /// The new release's version.
    pub version: u32,
}

impl Deployer {
    /// A deployer building with `builder` and releasing through `ledger`.
    pub fn new(builder: Arc<Builder>, ledger: Arc<dyn BuildLedger>) -> Deployer {
        Deployer { builder, ledger }
    }

    /// The builder.
    pub fn builder(&self) -> &Arc<Builder> {
        &self.builder
    }

    /// Builds `source` for `app` and releases it, streaming the output to `out`. On failure the
    /// error has been written to `out` as ` !     …` lines and is returned as the reason.
    pub async fn deploy(
        &self,
        app: &str,
        source: Source,
        source_version: Option<String>,
        description: &str,
        out: &dyn OutputSink,
    ) -> Result<Deployed, DeployError> {
        let collected = CollectOutput::default();
        let tee = Tee(out, &collected);
        let started_at = SystemTime::now();
        let result = async {
            let settings = self.ledger.settings(app).await.map_err(DeployError::Platform)?;
            let request = BuildRequest {
                app: app.to_string(),
                source,
                config_vars: settings.config_vars,
                buildpack_url: settings.buildpack_url,
                source_version: source_version.clone(),
            };
            let build = self.builder.build(request, &tee).await?;
            let version = self.ledger.release(app, &build, description, &tee).await.map_err(DeployError::Platform)?;
            tee.step(&format!("Launching... done, v{version}"));
            Ok::<_, DeployError>(Deployed { build, version })
        }
        .await;
        if let Err(reason) = &result {
            tee.line("");
            tee.error(&reason.to_string());
            tee.line("");
            tee.error("Push failed");
        }
        let (slug_id, release, error, buildpack) = match &result {
            Ok(d) => (Some(d.build.slug.id.clone()), Some(d.version), None, Some(d.build.buildpack.clone())),
            Err(e) => (None, None, Some(e.to_string()), None),
        };
        let record = BuildRecord {
            app: app.to_string(),
            source_version,
            started_at,
            duration: started_at.elapsed().unwrap_or_default(),
            buildpack,
            output: collected.lines(),
            slug_id,
            release,
            error,
        };
        self.ledger.record_build(record).await;
        result
    }

    /// Starts [`Deployer::deploy`] in a task and returns its output lines as they come (e.g. to
    /// stream as an HTTP response body for `paas deploy`; the build waits for a slow reader) and
    /// the task's result.
    pub fn spawn_deploy(
        &self,
        app: &str,
        source: Source,
        source_version: Option<String>,
        description: &str,
    ) -> (StreamLines, tokio::task::JoinHandle<Result<Deployed, DeployError>>) {
        let (tx, rx) = crate::output::stream();
        let (deployer, app, description) = (self.clone(), app.to_string(), description.to_string());
        let task = tokio::spawn(async move { deployer.deploy(&app, source, source_version, &description, &tx).await });
        (rx, task)
    }
}
