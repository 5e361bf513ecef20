//! Deploys: the platform's side of `paas-builder`. [`Deploys`] owns the builder and the git
//! endpoint; it decides who may push or clone ([`auth`]), records each build in the ledger's
//! builds table with its output, and turns a built slug into a release ([`session`]).
//!
//! A build is a row in the ledger from the start (`pending`, with who started it), finished as
//! `succeeded` (with its slug and release) or `failed`, with its whole output: the ledger's builds
//! are the one record of builds (`GET /apps/{app}/builds`, `paas builds:output`).

mod auth;
mod session;

use std::io;
use std::path::PathBuf;
use std::sync::Arc;

use paas_builder::{Builder, Deployed, GitServer, OutputSink, Push, PushHandler, Source};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::ledger::{Ledger, LedgerError};
use crate::model::{App, Build, User};

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
}

impl Deploys {
    /// Starts the git endpoint over the bare repositories in `repos_dir` (`<data-dir>/repos`).
    pub async fn start(ledger: Arc<dyn Ledger>, builder: Arc<Builder>, repos_dir: PathBuf) -> io::Result<Deploys> {
        let service = Arc::new(Service { ledger, builder });
        let git = GitServer::start(repos_dir, service.clone(), service.clone()).await?;
        Ok(Deploys { service, git })
    }

    /// The git smart HTTP routes (`/{app}.git/…`), to merge into the API listener's router.
    pub fn git_router(&self) -> axum::Router {
        self.git.router()
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
    ) -> Result<(Build, UnboundedReceiver<String>), LedgerError> {
        let description = deploy_description(source_version.as_deref());
        let (build, deployer) = self.service.begin(app, user, source_version.as_deref()).await?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let app_name = app.name.clone();
        tokio::spawn(async move {
            let _ = deployer.deploy(&app_name, source, source_version, &description, &tx).await;
            drop(keep);
        });
        Ok((build, rx))
    }

    /// Forgets a destroyed app's repository and build cache.
    pub async fn app_destroyed(&self, app: &str) {
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

/// The builder's [`paas_builder::Precompile`] seam as `paas server` is given it (by the binary,
/// which owns the wasm runtime).
#[derive(Clone)]
pub struct SharedPrecompile(pub Arc<dyn paas_builder::Precompile>);

impl std::fmt::Debug for SharedPrecompile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedPrecompile")
    }
}

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
    ) -> Result<(Build, paas_builder::Deployer), LedgerError> {
        let build = self.ledger.create_build(app.id, user.id, source_version).await?;
        let session = BuildSession::new(self.ledger.clone(), app.id, user.id, build.id);
        Ok((build, paas_builder::Deployer::new(self.builder.clone(), Arc::new(session))))
    }

    async fn find(&self, app: &str, user: &str) -> Result<(App, User), String> {
        let app = self.ledger.find_app(app).await.map_err(|e| e.to_string())?;
        let user = self.ledger.find_user(user).await.map_err(|e| e.to_string())?;
        match (app, user) {
            (Some(app), Some(user)) => Ok((app, user)),
            (None, _) => Err("Couldn't find that app.".to_string()),
            (_, None) => Err("Couldn't find the pushing user.".to_string()),
        }
    }
}

#[async_trait::async_trait]
impl PushHandler for Service {
    async fn push(&self, push: Push, out: &dyn OutputSink) -> Result<(), String> {
        let (app, user) = self.find(&push.app, &push.user).await?;
        let (_, deployer) = self.begin(&app, &user, Some(&push.new_rev)).await.map_err(|e| e.to_string())?;
        let description = deploy_description(Some(&push.new_rev));
        let deployed: Deployed =
            deployer.deploy(&app.name, push.source, Some(push.new_rev.clone()), &description, out).await?;
        tracing::info!("{} deployed v{} ({})", app.name, deployed.version, deployed.build.buildpack);
        Ok(())
    }
}
