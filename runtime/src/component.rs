//! A loaded component: compiled (or taken from the cache), checked against what the host
//! provides, and pre-instantiated (`InstancePre`) once for all its dynos.

use std::fmt;
use std::sync::Arc;

use wasmtime::Engine;
use wasmtime::component::Component as WasmComponent;
use wasmtime::component::Linker;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

use crate::cache::CacheOutcome;
use crate::error::{LoadError, chain};
use crate::host::{DynoState, is_provided};

/// What a component can run as, from what it exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ComponentKind {
    /// Exports `wasi:http/incoming-handler`: runs web dynos.
    Web,
    /// Exports `wasi:cli/run`: runs worker and one-off dynos.
    Command,
}

impl fmt::Display for ComponentKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ComponentKind::Web => "web (wasi:http/incoming-handler)",
            ComponentKind::Command => "command (wasi:cli/run)",
        })
    }
}

/// A component ready to run dynos: cheap to clone, shared by every dyno of a (slug, process type).
#[derive(Clone)]
pub struct Component(pub(crate) Arc<Inner>);

pub(crate) struct Inner {
    pub sha256: String,
    pub cache: CacheOutcome,
    pub pre: Pre,
}

/// The pre-instantiated component, typed by its world.
#[derive(Clone)]
pub(crate) enum Pre {
    Web(ProxyPre<DynoState>),
    Command(CommandPre<DynoState>),
}

impl Component {
    /// The hex sha256 of the component's bytes.
    pub fn sha256(&self) -> &str {
        &self.0.sha256
    }

    /// Whether this is a web or a command component.
    pub fn kind(&self) -> ComponentKind {
        match self.0.pre {
            Pre::Web(_) => ComponentKind::Web,
            Pre::Command(_) => ComponentKind::Command,
        }
    }

    /// Whether the load compiled the component or memory-mapped it from the cache.
    pub fn cache_outcome(&self) -> CacheOutcome {
        self.0.cache
    }

    /// Whether `other` is this very load (one copy of the code and `InstancePre`), not only the
    /// same bytes.
    pub fn shares_code_with(&self, other: &Component) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl fmt::Debug for Component {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Component")
            .field("sha256", &self.0.sha256)
            .field("kind", &self.kind())
            .field("cache", &self.0.cache)
            .finish()
    }
}

/// Checks the first bytes: a component, not a core module or something else entirely.
pub(crate) fn check_header(bytes: &[u8]) -> Result<(), LoadError> {
    const MAGIC: &[u8] = b"\0asm";
    if bytes.len() < 8 || &bytes[..4] != MAGIC {
        return Err(LoadError::NotAComponent {
            reason: "the file does not start with the WebAssembly magic bytes `\\0asm`".into(),
        });
    }
    match &bytes[4..8] {
        [0x0d, 0x00, 0x01, 0x00] => Ok(()),
        [0x01, 0x00, 0x00, 0x00] => Err(LoadError::NotAComponent {
            reason: "this is a core WebAssembly module; build a component (e.g. `--target wasm32-wasip2`)".into(),
        }),
        other => Err(LoadError::NotAComponent { reason: format!("unknown WebAssembly version/layer {other:02x?}") }),
    }
}

/// Types and pre-instantiates a compiled component against the host's linker.
pub(crate) fn prepare(
    engine: &Engine,
    linker: &Linker<DynoState>,
    component: &WasmComponent,
    sha256: String,
    cache: CacheOutcome,
) -> Result<Component, LoadError> {
    let ty = component.component_type();
    let exports: Vec<String> = ty.exports(engine).map(|(name, _)| name.to_string()).collect();
    let exports_any = |prefix: &str| exports.iter().any(|e| e.starts_with(prefix));
    let kind = if exports_any("wasi:http/incoming-handler@0.2.") {
        ComponentKind::Web
    } else if exports_any("wasi:cli/run@0.2.") {
        ComponentKind::Command
    } else {
        return Err(LoadError::UnsupportedWorld { exports });
    };

    let instance_pre = linker.instantiate_pre(component).map_err(|e| {
        let missing: Vec<String> =
            ty.imports(engine).map(|(name, _)| name.to_string()).filter(|name| !is_provided(name)).collect();
        if missing.is_empty() {
            LoadError::Invalid { detail: chain(&e) }
        } else {
            LoadError::MissingImports { missing, detail: chain(&e) }
        }
    })?;
    let pre = match kind {
        ComponentKind::Web => Pre::Web(ProxyPre::new(instance_pre).map_err(|e| LoadError::Invalid { detail: chain(&e) })?),
        ComponentKind::Command => {
            Pre::Command(CommandPre::new(instance_pre).map_err(|e| LoadError::Invalid { detail: chain(&e) })?)
        }
    };
    Ok(Component(Arc::new(Inner { sha256, cache, pre })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_told_apart() {
        assert!(check_header(b"\0asm\x0d\x00\x01\x00").is_ok());
        let core = check_header(b"\0asm\x01\x00\x00\x00").unwrap_err().to_string();
        assert_eq!(
            core,
            "not a WebAssembly component: this is a core WebAssembly module; build a component (e.g. `--target wasm32-wasip2`)"
        );
        let text = check_header(b"#!/bin/sh\necho hi\n").unwrap_err().to_string();
        assert_eq!(text, "not a WebAssembly component: the file does not start with the WebAssembly magic bytes `\\0asm`");
    }
}
