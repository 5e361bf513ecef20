//! The builder's [`Precompile`] seam over the wasm runtime: each new slug's components are
//! compiled for this node's engine (and cached as `.cwasm`) when the slug is made, so a dyno's
//! first request never compiles. Components are read inside the app's tree only
//! ([`Runtime::load_slug_component`]).

use std::path::Path;

use paas_builder::{Precompile, PrecompileError, ProcessKind, Slug, SlugManifest};
use paas_runtime::Runtime;

/// Compiles components with the server's one [`Runtime`].
pub struct RuntimePrecompile(pub Runtime);

#[async_trait::async_trait]
impl Precompile for RuntimePrecompile {
    async fn precompile(&self, _slug: &Slug, manifest: &SlugManifest, app_dir: &Path) -> Result<(), PrecompileError> {
        for (process, kind) in &manifest.processes {
            let ProcessKind::Wasm { component, .. } = kind else { continue };
            let (runtime, dir, file) = (self.0.clone(), app_dir.to_path_buf(), component.clone());
            tokio::task::spawn_blocking(move || runtime.load_slug_component(&dir, Path::new(&file)))
                .await
                .map_err(|e| PrecompileError { process: process.clone(), error: format!("compiling {component} stopped: {e}").into() })?
                .map_err(|e| PrecompileError { process: process.clone(), error: e.into() })?;
        }
        Ok(())
    }
}

