//! paas-builder: source intake (git smart HTTP, tarballs), the classic buildpack runner
//! (`bin/detect`, `bin/compile`, `bin/release`), the slug format and content-addressed slug store,
//! and the build cache.

pub mod manifest;
pub mod procfile;
pub mod slug;
pub mod store;

pub use manifest::{ProcessKind, SlugManifest};
pub use procfile::{Procfile, ProcfileError};
pub use store::{Slug, SlugStore, StoreError};
