//! Deploys: the platform's side of `paas-builder`. [`Deploys`] owns the builder and the git
//! endpoint; it decides who may push or clone ([`auth`]), records each build in the ledger's
//! builds table with its output, and turns a built slug into a release ([`session`]).
//!
//! A build is a row in the ledger from the start (`pending`, with who started it), finished as
//! `succeeded` (with its slug and release) or `failed`, with its whole output: the ledger's builds
//! are the one record of builds (`GET /apps/{app}/builds`, `paas builds:output`).

mod auth;
pub mod interrupted;
mod live;
pub mod release_phase;
mod session;

use std::collections::HashMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures::Stream;
use paas_builder::output::{StreamLines, Tee};
use paas_builder::{Builder, DeployError, Deployed, Deployer, GitServer, OutputSink, Push, PushHandler, Source};
use uuid::Uuid;

use crate::ledger::{Ledger, LedgerError};
use crate::logplex::Logplex;
use crate::model::{App, Build, User};

pub use live::LiveOutput;
pub use session::BuildSession;

/// The builder and the git endpoint, wired to the ledger. Cheap to clone.
#[derive(Clone)]
pub struct Deploys {
    service: Arc<Service>,
    git: GitServer,
}

/// What the git endpoint calls back: [`paas_builder::GitAuth`] and [`PushHandler`].
struct Service {
    ledger: Arc<dyn Ledger>,
    builder: Arc<Builder>,
    /// The builds running now, by build id.
    running: Mutex<HashMap<Uuid, Running>>,
    /// Build and release events go to the app's log stream.
    logs: Logplex,
    /// Makes releases, after their release phase.
    phase: release_phase::ReleasePhase,
    /// Set when the server stops: running builds are cancelled.
    stopping: tokio::sync::watch::Sender<bool>,
    /// This node: its builds are recorded as its own.
    node_id: Uuid,
    /// The serving side's change feed: each release a deploy makes is reported to it.
    changes: std::sync::OnceLock<crate::serving::Changes>,
}

/// A build running now.
#[derive(Clone, Default)]
struct Running {
    /// Its app's id.
    app: Uuid,
    /// Its output so far, for followers.
    live: Arc<LiveOutput>,
    /// Rung when its app is destroyed: the build is cancelled.
    app_destroyed: Arc<tokio::sync::Notify>,
}

impl Deploys {
    /// Starts the git endpoint over the bare repositories in `repos_dir` (`<data-dir>/repos`);
    /// build and release events are published to `logs`. First ends what a killed server left of
    /// its builds ([`Builder::end_leftovers`]) and marks its pending builds failed
    /// ([`interrupted`]); builds are recorded as run by the node `node_id`.
    pub async fn start(
        ledger: Arc<dyn Ledger>,
        builder: Arc<Builder>,
        repos_dir: PathBuf,
        logs: Logplex,
        node_id: Uuid,
    ) -> io::Result<Deploys> {
        // What a killed server left: its build processes, disks and folders, its pending builds.
        builder.end_leftovers();
        interrupted::fail_interrupted_builds(ledger.as_ref(), &logs, node_id).await.map_err(io::Error::other)?;
        let phase = release_phase::ReleasePhase::new(ledger.clone(), logs.clone());
        let stopping = tokio::sync::watch::Sender::new(false);
        let service = Arc::new(Service { ledger, builder, running: Mutex::default(), logs, phase, stopping, node_id, changes: Default::default() });
        let git = GitServer::start(repos_dir, service.clone(), service.clone()).await?;
        Ok(Deploys { service, git })
    }

    /// Cancels every running build and refuses new ones (the server is stopping): each build's
    /// steps are killed and their containers deleted, the build is recorded failed with
    /// [`interrupted::CANCELLED`] in its output and the app's log, and its push ends with it.
    pub fn stop_builds(&self) {
        self.service.stopping.send_replace(true);
    }

    /// The git smart HTTP routes (`/{app}.git/…`), to merge into the API listener's router.
    pub fn git_router(&self) -> axum::Router {
        self.git.router()
    }

    /// Reports each release a deploy (a push, an API build) makes to the serving side's change
    /// feed, which starts its dynos; set once, when `paas server` starts.
    pub fn set_changes(&self, changes: crate::serving::Changes) {
        let _ = self.service.changes.set(changes);
    }

    /// Gives the release phase the dynos it runs on, once the serving side runs.
    pub fn set_dynos(&self, dynos: Arc<dyn crate::serving::DynoDirectory>) {
        self.service.phase.set_dynos(dynos);
    }

    /// Makes releases after their release phase (a rollback's, a slug's).
    pub fn release_phase(&self) -> &release_phase::ReleasePhase {
        &self.service.phase
    }

    /// The builder (its slug store, its build cache).
    pub fn builder(&self) -> &Arc<Builder> {
        &self.service.builder
    }

    /// Records a pending build of `source` by `user` and runs it in a task: the build's output
    /// lines come out of the receiver as they are written; it closes once the build is recorded
    /// as finished. `keep` (e.g. the uploaded tarball) is dropped when the build ends.
    pub async fn start_build<K: Send + 'static>(
        &self,
        app: &App,
        user: &User,
        source: Source,
        source_version: Option<String>,
        keep: K,
    ) -> Result<(Build, StreamLines), LedgerError> {
        let description = deploy_description(source_version.as_deref());
        let (build, deployer) = self.service.begin(app, user, source_version.as_deref()).await?;
        // The build waits while more than STREAM_BACKLOG of its output waits for the client.
        let (tx, rx) = paas_builder::output::stream();
        let (service, app_name, build_id) = (self.service.clone(), app.name.clone(), build.id);
        tokio::spawn(async move {
            let _ = service.deploy(build_id, &deployer, &app_name, source, source_version, &description, &tx).await;
            drop(keep);
        });
        Ok((build, rx))
    }

    /// The output of build `build_id` while it runs: the lines so far, then each new one until it
    /// ends. `None` when it is not running (its output is then in the ledger).
    pub fn follow_output(&self, build_id: Uuid) -> Option<impl Stream<Item = String> + Send + 'static> {
        let live = self.service.running.lock().expect("running builds").get(&build_id).map(|r| r.live.clone());
        live.map(LiveOutput::follow)
    }

    /// Cancels a destroyed app's running builds, and forgets its repository and build cache.
    pub async fn app_destroyed(&self, app_id: Uuid, app: &str) {
        for running in self.service.running.lock().expect("running builds").values().filter(|r| r.app == app_id) {
            running.app_destroyed.notify_one();
        }
        if let Err(e) = self.git.delete_repo(app).await {
            tracing::warn!("cannot delete the repository of {app}: {e}");
        }
        if let Err(e) = self.service.builder.purge_cache(app).await {
            tracing::warn!("cannot delete the build cache of {app}: {e}");
        }
    }

    /// Moves a renamed app's repository and build cache to its new name.
    pub async fn app_renamed(&self, old: &str, new: &str) {
        let builder = &self.service.builder;
        for (from, to) in [
            (self.git.repo_dir(old), self.git.repo_dir(new)),
            (builder.cache_dir(old), builder.cache_dir(new)),
        ] {
            if from.exists()
                && let Err(e) = tokio::fs::rename(&from, &to).await
            {
                tracing::warn!("cannot move {} to {}: {e}", from.display(), to.display());
            }
        }
    }
}

/// Why a deploy failed on the platform's side. Its text is what the pusher sees; it reaches the
/// builder boxed, as [`DeployError::Platform`].
#[derive(Debug, thiserror::Error)]
pub enum DeployFailure {
    /// The pushed app does not exist.
    #[error("Couldn't find that app.")]
    NoSuchApp,
    /// The pushing user does not exist.
    #[error("Couldn't find the pushing user.")]
    NoSuchUser,
    /// The app or the pushing user went away while the build ran.
    #[error("the app or the pushing user is gone")]
    Gone,
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// The release phase failed or could not start: the release was recorded as failed.
    #[error("{error}; the release was not made current ({app} keeps serving)")]
    NotCurrent {
        /// What the release phase did.
        error: release_phase::ReleaseError,
        /// The app, whose current release keeps serving.
        app: String,
    },
    /// The release could not be made.
    #[error(transparent)]
    Release(#[from] release_phase::ReleaseError),
    /// The new release's version does not fit the builder's `u32`.
    #[error("release version {0} is out of range")]
    VersionOutOfRange(i64),
    /// The server is stopping: the build was cancelled ([`interrupted::CANCELLED`]).
    #[error("{}", interrupted::CANCELLED)]
    Cancelled,
    /// The app was destroyed while it built: the build was cancelled.
    #[error("{APP_DESTROYED}")]
    AppDestroyed,
}

impl From<DeployFailure> for DeployError {
    fn from(failure: DeployFailure) -> DeployError {
        DeployError::Platform(Box::new(failure))
    }
}

/// The line a build cancelled because its app was destroyed gets.
pub const APP_DESTROYED: &str = "Build cancelled: the app was destroyed";

/// `Deploy 2b93a21` (Heroku's description of a release made by a build).
fn deploy_description(source_version: Option<&str>) -> String {
    match source_version {
        Some(version) => format!("Deploy {}", &version[..version.len().min(7)]),
        None => "Deploy".to_string(),
    }
}

impl Service {
    /// Records a pending build and gives the deployer that finishes it.
    async fn begin(
        &self,
        app: &App,
        user: &User,
        source_version: Option<&str>,
    ) -> Result<(Build, Deployer), LedgerError> {
        let build = self.ledger.create_build(app.id, user.id, source_version, Some(self.node_id)).await?;
        let session = BuildSession::new(self.ledger.clone(), app.id, user.id, build.id, self.phase.clone())
            .with_logs(self.logs.clone(), &app.name, &user.email);
        self.logs.api_event(&app.name, &format!("Build started by {}", user.email));
        self.logs.webhook_event(self.ledger.clone(), crate::webhooks::Event::build(&build, "create", &user.email));
        let running = Running { app: app.id, ..Running::default() };
        self.running.lock().expect("running builds").insert(build.id, running);
        Ok((build, Deployer::new(self.builder.clone(), Arc::new(session))))
    }

    /// Runs a build begun with [`Service::begin`], its output to `out` and to its live output.
    #[allow(clippy::too_many_arguments)]
    async fn deploy(
        &self,
        build_id: Uuid,
        deployer: &Deployer,
        app: &str,
        source: Source,
        source_version: Option<String>,
        description: &str,
        out: &dyn OutputSink,
    ) -> Result<Deployed, DeployError> {
        let running = self.running.lock().expect("running builds").get(&build_id).cloned().unwrap_or_default();
        let live = running.live;
        let mut stopping = self.stopping.subscribe();
        let tee = Tee(out, live.as_ref());
        let finished = tokio::select! {
            result = deployer.deploy(app, source, source_version, description, &tee) => Ok(result),
            () = async { drop(stopping.wait_for(|stop| *stop).await) } => Err(DeployFailure::Cancelled),
            () = running.app_destroyed.notified() => Err(DeployFailure::AppDestroyed),
        };
        // A cancelled build was dropped with the select: its steps are killed (their containers
        // deleted, an insecure step's process group killed).
        let result = match finished {
            Ok(result) => result,
            Err(DeployFailure::Cancelled) => {
                tee.error(interrupted::CANCELLED);
                self.cancelled(app, build_id).await;
                Err(DeployFailure::Cancelled.into())
            }
            // Its records went with the app.
            Err(why) => {
                tee.error(APP_DESTROYED);
                Err(why.into())
            }
        };
        self.running.lock().expect("running builds").remove(&build_id);
        if let (Ok(_), Some(changes)) = (&result, self.changes.get()) {
            // Sent, not waited for: the push's output ends while the dynos start.
            drop(changes.send(crate::serving::Change::App(app.to_string())));
        }
        live.finish();
        result
    }

    /// Records a build cancelled by a stop as failed.
    async fn cancelled(&self, app: &str, build_id: Uuid) {
        let builds = match self.ledger.find_app(app).await {
            Ok(Some(found)) => self.ledger.list_builds(found.id).await.unwrap_or_default(),
            _ => Vec::new(),
        };
        if let Some(build) = builds.iter().find(|b| b.id == build_id)
            && let Err(e) = interrupted::fail_build(self.ledger.as_ref(), &self.logs, app, build, interrupted::CANCELLED).await
        {
            tracing::warn!(%app, build = %build_id, "cannot record a cancelled build: {e}");
        }
    }

    async fn find(&self, app: &str, user: &str) -> Result<(App, User), DeployFailure> {
        let app = self.ledger.find_app(app).await?;
        let user = self.ledger.find_user(user).await?;
        match (app, user) {
            (Some(app), Some(user)) => Ok((app, user)),
            (None, _) => Err(DeployFailure::NoSuchApp),
            (_, None) => Err(DeployFailure::NoSuchUser),
        }
    }
}

#[async_trait::async_trait]
impl PushHandler for Service {
    async fn push(&self, push: Push, out: &dyn OutputSink) -> Result<(), DeployError> {
        let (app, user) = self.find(&push.app, &push.user).await?;
        let (build, deployer) = self.begin(&app, &user, Some(&push.new_rev)).await.map_err(DeployFailure::from)?;
        let description = deploy_description(Some(&push.new_rev));
        let version = Some(push.new_rev.clone());
        let deployed = self.deploy(build.id, &deployer, &app.name, push.source, version, &description, out).await?;
        tracing::info!("{} deployed v{} ({})", app.name, deployed.version, deployed.build.buildpack);
        Ok(())
    }
}
