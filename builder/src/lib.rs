//! paas-builder: source intake (git smart HTTP, tarballs), the classic buildpack runner
//! (`bin/detect`, `bin/compile`, `bin/release`), the slug format and content-addressed slug store,
//! and the build cache.

pub mod build;
pub mod buildpack;
pub mod deploy;
pub mod detect;
pub mod git;
pub mod manifest;
pub mod output;
pub mod process;
pub mod procfile;
pub mod slug;
pub mod source;
pub mod store;

pub use build::{BuildError, BuildRequest, Builder, BuilderConfig, BuiltSlug, Precompile, is_valid_app_name};
pub use deploy::{BuildLedger, BuildRecord, BuildSettings, Deployed, Deployer};
pub use git::{Access, Decision, GitAuth, GitServer, Push, PushHandler};
pub use manifest::{ProcessKind, SlugManifest};
pub use output::{CollectOutput, OutputSink};
pub use procfile::{Procfile, ProcfileError};
pub use source::Source;
pub use store::{Slug, SlugStore, StoreError};
