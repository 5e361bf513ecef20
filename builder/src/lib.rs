//! paas-builder: source intake (git smart HTTP, tarballs), the classic buildpack runner
//! (`bin/detect`, `bin/compile`, `bin/release`), the slug format and content-addressed slug store,
//! and the build cache.
