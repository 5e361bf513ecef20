//! The builder's [`Precompile`] seam over the wasm runtime: each new slug's components are
//! compiled for this node's engine (and cached as `.cwasm`) when the slug is made, so a dyno's
//! first request never compiles. Components are read inside the app's tree only
//! ([`load_slug_component`]).

use std::path::Path;

use paas_builder::store::DEFAULT_MAX_SLUG_SIZE;
use paas_builder::tree::{TenantTree, UntrustedPath};
use paas_builder::{Precompile, ProcessKind, Slug, SlugManifest};
use paas_runtime::{Component, Runtime};

/// Compiles components with the server's one [`Runtime`].
pub struct RuntimePrecompile(pub Runtime);

#[async_trait::async_trait]
impl Precompile for RuntimePrecompile {
    async fn precompile(&self, _slug: &Slug, manifest: &SlugManifest, app_dir: &Path) -> Result<(), String> {
        for (process, kind) in &manifest.processes {
            let ProcessKind::Wasm { component, .. } = kind else { continue };
            let (runtime, dir, file) = (self.0.clone(), app_dir.to_path_buf(), component.clone());
            tokio::task::spawn_blocking(move || load_slug_component(&runtime, &dir, Path::new(&file)))
                .await
                .map_err(|e| format!("{process}: compiling {component} stopped: {e}"))?
                .map_err(|e| format!("{process}: {e}"))?;
        }
        Ok(())
    }
}

/// Loads the component at `component` (relative to `app_dir`, as the tenant's manifest names it)
/// from a built or unpacked app tree: read through a [`TenantTree`], so a link leaving the tree is
/// never followed; at most the slug size limit. Blocking.
pub fn load_slug_component(runtime: &Runtime, app_dir: &Path, component: &Path) -> Result<Component, String> {
    let tree = TenantTree::open(app_dir).map_err(|e| format!("cannot open the app's folder: {e}"))?;
    let path = UntrustedPath::new(component);
    let bytes = tree.read(path, DEFAULT_MAX_SLUG_SIZE).map_err(|e| e.to_string())?;
    runtime.load_component_bytes(&bytes).map_err(|e| format!("{}: {e}", path.shown()))
}
