//! paas-builder: source intake (git smart HTTP, tarballs), the classic buildpack runner
//! (`bin/detect`, `bin/compile`, `bin/release`), the slug format and content-addressed slug store,
//! and the build cache.
//!
//! Wiring it into a server takes a [`Builder`], a [`Deployer`] over the platform's
//! [`BuildLedger`] (config vars in, releases out), and a [`GitServer`] with a [`GitAuth`]:
//!
//! ```no_run
//! # use std::sync::Arc;
//! # use paas_builder::*;
//! # async fn wire(ledger: Arc<dyn BuildLedger>, auth: Arc<dyn GitAuth>, api: axum::Router) -> std::io::Result<()> {
//! let data_dir = std::path::Path::new("paas-data");
//! let builder = Arc::new(Builder::new(BuilderConfig::new(data_dir, "buildpacks"))?);
//! let deployer = Deployer::new(builder, ledger);
//! let git = GitServer::start(data_dir.join("repos"), auth, Arc::new(deployer.clone())).await?;
//! let app = api.merge(git.router()); // serves /{app}.git/info/refs, git-receive-pack, git-upload-pack
//! # Ok(()) }
//! ```
//!
//! Data dir layout: `repos/<app>.git` (bare repositories), `builds/` (where running builds work:
//! `<app>.disk/`, the app's disk mounted, or `<app>-XXXX/` for insecure builds), `cache/<app>/`
//! (each app's build disk `disk.xfs` or `disk.ext4`, holding its `CACHE_DIR`; the `CACHE_DIR` itself for
//! insecure builds), `slugs/<sha256>.tar.gz` (the slug store).
//!
//! Every build step runs in a container ([`sandbox`]); a node without a container runtime
//! refuses builds unless its operator chose insecure ones.

pub mod build;
pub mod buildpack;
pub mod buildpack_policy;
pub mod builtin;
mod cache;
pub mod deploy;
pub mod detect;
pub mod git;
pub mod leftovers;
pub mod manifest;
pub mod output;
pub mod process;
pub mod procfile;
pub mod report;
pub mod sandbox;
pub mod slug;
pub mod source;
pub mod store;

/// Reading a tenant's folder without following its links out of it (paas-sandbox's).
pub use paas_sandbox::tree;
pub use build::{BuildError, BuildRequest, Builder, BuilderConfig, BuiltSlug, Precompile, PrecompileError, is_valid_app_name};
pub use deploy::{BuildLedger, BuildRecord, BuildSettings, DeployError, Deployed, Deployer};
pub use git::{Access, Decision, GitAuth, GitServer, Push, PushHandler};
pub use manifest::{ProcessKind, SlugManifest};
pub use output::{CollectOutput, Discard, OutputSink};
pub use procfile::{Procfile, ProcfileError};
pub use source::Source;
pub use store::{Incoming, Slug, SlugStore, StoreError};

/// The error of a seam's other side: what a trait this crate calls back ([`BuildLedger`],
/// [`Precompile`], [`PushHandler`]) returns from the crate that implements it, kept whole (its
/// text is what the pusher sees; its type can be downcast).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
