//! [`BuildSession`]: the ledger as one build sees it ([`BuildLedger`]): the app's config vars and
//! buildpack in, the slug and release out, and the finished build recorded with its output.

use std::sync::{Arc, Mutex};

use paas_builder::{BoxError, BuildLedger, BuildRecord, BuildSettings, BuiltSlug, OutputSink, ProcessKind};
use uuid::Uuid;

use super::DeployFailure;
use super::release_phase::{Candidate, ReleaseError, ReleasePhase};
use crate::ledger::Ledger;
use crate::logplex::Logplex;
use crate::model::{BUILD_FAILED, BUILD_SUCCEEDED, NewRelease, NewSlug, ProcessTypes, UserRef};

/// One build of one app by one user, recorded as the ledger build `build_id`.
pub struct BuildSession {
    ledger: Arc<dyn Ledger>,
    app_id: Uuid,
    user_id: Uuid,
    build_id: Uuid,
    /// The slug and release the build made, once it made them.
    made: Mutex<Option<(Uuid, Uuid)>>,
    /// Where build and release events go: the log collator, the app's name, the user's email.
    logs: Option<(Logplex, String, String)>,
    /// Makes the release, after its release phase.
    phase: ReleasePhase,
}

impl BuildSession {
    /// The session of the (pending) build `build_id`, releasing through `phase`.
    pub fn new(ledger: Arc<dyn Ledger>, app_id: Uuid, user_id: Uuid, build_id: Uuid, phase: ReleasePhase) -> BuildSession {
        BuildSession { ledger, app_id, user_id, build_id, made: Mutex::new(None), logs: None, phase }
    }

    /// Publishes the build's events (`Build succeeded`, `Deploy 2b93a21 by …`, `Release v4
    /// created by …`) to the app's log stream.
    pub fn with_logs(mut self, logs: Logplex, app: &str, email: &str) -> BuildSession {
        self.logs = Some((logs, app.to_string(), email.to_string()));
        self
    }

    fn event(&self, text: impl FnOnce(&str) -> String) {
        if let Some((logs, app, email)) = &self.logs {
            logs.api_event(app, &text(email));
        }
    }
}

/// A slug's process types as Heroku shows them: each one's command (a component's path and
/// arguments, or a native command line).
pub fn process_types(build: &BuiltSlug) -> ProcessTypes {
    build
        .manifest
        .processes
        .iter()
        .map(|(name, kind)| {
            let command = match kind {
                ProcessKind::Wasm { component, args, .. } => {
                    std::iter::once(component.as_str()).chain(args.iter().map(String::as_str)).collect::<Vec<_>>().join(" ")
                }
                ProcessKind::Native { command } => command.clone(),
            };
            (name.clone(), command)
        })
        .collect()
}

#[async_trait::async_trait]
impl BuildLedger for BuildSession {
    async fn settings(&self, _app: &str) -> Result<BuildSettings, BoxError> {
        let release = self.ledger.current_release(self.app_id).await?;
        let buildpack_url = self.ledger.buildpack(self.app_id).await?;
        Ok(BuildSettings { config_vars: release.map(|r| r.config_vars).unwrap_or_default(), buildpack_url })
    }

    async fn release(&self, _app: &str, build: &BuiltSlug, description: &str, out: &dyn OutputSink) -> Result<u32, BoxError> {
        let process_types = process_types(build);
        let slug = NewSlug {
            checksum: build.slug.id.clone(),
            size: i64::try_from(build.slug.size).unwrap_or(i64::MAX),
            stack: build.manifest.stack.clone(),
            commit: build.manifest.source_version.clone(),
            buildpack: Some(build.buildpack.clone()),
            process_types: process_types.clone(),
        };
        let slug = self.ledger.create_slug(self.app_id, slug).await?;
        let release = NewRelease { slug_id: slug.id, process_types, description: description.to_string() };
        let app = self.ledger.find_app(&self.app_id.to_string()).await?;
        let user = self.ledger.find_user(&self.user_id.to_string()).await?;
        let (Some(app), Some(user)) = (app, user) else {
            return Err(DeployFailure::Gone.into());
        };
        let user = UserRef { id: user.id, email: user.email };
        let release = match self.phase.release(&app, &user, Candidate::Deploy(release), out).await {
            Ok(release) => release,
            Err(error @ (ReleaseError::Failed { .. } | ReleaseError::NotStarted { .. })) => {
                self.event(|email| format!("{description} by {email}"));
                return Err(DeployFailure::NotCurrent { error, app: app.name }.into());
            }
            Err(e) => return Err(DeployFailure::Release(e).into()),
        };
        *self.made.lock().expect("build session") = Some((slug.id, release.id));
        self.event(|email| format!("{description} by {email}"));
        self.event(|email| format!("Release v{} created by {email}", release.version));
        if let Some((logs, _, email)) = &self.logs {
            logs.webhook_event(self.ledger.clone(), crate::webhooks::Event::release(&release, email));
        }
        Ok(u32::try_from(release.version).map_err(|_| DeployFailure::VersionOutOfRange(release.version))?)
    }

    async fn record_build(&self, record: BuildRecord) {
        let made = *self.made.lock().expect("build session");
        let (status, slug_id, release_id) = match (made, &record.error) {
            (Some((slug, release)), None) => (BUILD_SUCCEEDED, Some(slug), Some(release)),
            _ => (BUILD_FAILED, None, None),
        };
        self.event(|_| if status == BUILD_SUCCEEDED { "Build succeeded".into() } else { "Build failed".into() });
        let output = record.output.join("\n");
        if let Err(e) = self.ledger.record_build_output(self.build_id, record.buildpack.as_deref(), &output).await {
            tracing::error!("cannot store the output of build {}: {e}", self.build_id);
        }
        match self.ledger.finish_build(self.build_id, status, slug_id, release_id).await {
            Ok(build) => {
                if let Some((logs, _, email)) = &self.logs {
                    logs.webhook_event(self.ledger.clone(), crate::webhooks::Event::build(&build, "update", email));
                }
            }
            Err(e) => tracing::error!("cannot record build {} as {status}: {e}", self.build_id),
        }
    }
}
