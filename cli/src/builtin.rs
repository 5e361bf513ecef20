//! The built-in buildpacks this binary carries (packed from the repo's `buildpacks/` by
//! `build.rs`), installed into `<data-dir>/buildpacks/<hash>/` when `paas server` starts without
//! `--buildpacks-dir` (see `paas_builder::builtin`).

use std::path::{Path, PathBuf};

/// The gzip'd tar of the built-in buildpacks.
const ARCHIVE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/buildpacks.tar.gz"));

/// The SHA-256 of [`ARCHIVE`]'s tar, uncompressed.
const SHA256: &str = env!("PAAS_BUILDPACKS_SHA256");

/// Installs the built-in buildpacks into `<data_dir>/buildpacks/` (once per version) and gives
/// back their folder.
pub fn install(data_dir: &Path) -> anyhow::Result<PathBuf> {
    let installed = paas_builder::builtin::install(ARCHIVE, SHA256, &data_dir.join("buildpacks"))?;
    for name in &installed.removed {
        tracing::info!("previous run: removed buildpacks/{name} (another version's, or half-made)");
    }
    if installed.unpacked {
        tracing::info!(dir = %installed.dir.display(), "installed the built-in buildpacks");
    }
    Ok(installed.dir)
}
