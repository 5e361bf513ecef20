//! The on-disk cache of compiled components: `<sha256>-<engine hash>.cwasm`, keyed by the
//! component's sha256 and the engine's compatibility hash. A component is compiled once; later
//! loads (in this process or the next) deserialize the file with `mmap`, never recompile.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component as WasmComponent;

use crate::error::{LoadError, chain};

/// Whether a load compiled the component or found it in the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// The component was compiled and the result written to the cache.
    Compiled,
    /// The precompiled code was loaded (memory-mapped) from the cache.
    Hit,
}

/// The hex sha256 of some bytes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The engine's compatibility hash as hex: precompiled code is only valid for engines with the
/// same hash (same wasmtime version, same settings, same CPU features).
pub(crate) fn engine_hash(engine: &Engine) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    engine.precompile_compatibility_hash().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}

/// The cache file of a component.
pub(crate) fn cache_path(dir: &Path, sha256: &str, engine_hash: &str) -> PathBuf {
    dir.join(format!("{sha256}-{engine_hash}.cwasm"))
}

/// Loads the component from the cache, or compiles it and stores the result first.
pub(crate) fn load_or_compile(
    engine: &Engine,
    dir: &Path,
    sha256: &str,
    bytes: &[u8],
) -> Result<(WasmComponent, CacheOutcome), LoadError> {
    let path = cache_path(dir, sha256, &engine_hash(engine));
    if path.exists() {
        match deserialize(engine, &path) {
            Ok(component) => return Ok((component, CacheOutcome::Hit)),
            Err(e) => tracing::warn!(path = %path.display(), "ignoring unusable cached component: {}", chain(&e)),
        }
    }
    let compiled = engine.precompile_component(bytes).map_err(|e| LoadError::Invalid { detail: chain(&e) })?;
    // Write to a temporary file and rename it into place, so a concurrent or crashed writer
    // never leaves a truncated `.cwasm` behind.
    let cache_err = |source| LoadError::Cache { path: path.clone(), source };
    std::fs::create_dir_all(dir).map_err(cache_err)?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(cache_err)?;
    std::io::Write::write_all(&mut tmp, &compiled).map_err(cache_err)?;
    tmp.persist(&path).map_err(|e| cache_err(e.error))?;
    let component = deserialize(engine, &path).map_err(|e| LoadError::Invalid { detail: chain(&e) })?;
    Ok((component, CacheOutcome::Compiled))
}

#[allow(unsafe_code)]
fn deserialize(engine: &Engine, path: &Path) -> wasmtime::Result<WasmComponent> {
    // SAFETY: the file is one this runtime wrote with `Engine::precompile_component` into its
    // own cache directory (named after the engine's compatibility hash, which wasmtime checks
    // again on load); it is only ever replaced by an atomic rename, never modified in place.
    unsafe { WasmComponent::deserialize_file(engine, path) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_file_is_named_by_component_and_engine() {
        let path = cache_path(Path::new("/c"), "ab12", "00ff");
        assert_eq!(path, Path::new("/c/ab12-00ff.cwasm"));
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
