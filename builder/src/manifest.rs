//! The slug manifest: a versioned TOML document naming each process type's artifact and the stack.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest version this crate writes and the newest it reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The stack of a slug whose every process type is a WASI 0.2 component.
pub const WASI_STACK: &str = "wasi-p2";

/// The `manifest.toml` stored at the root of every slug, beside the `app/` tree.
///
/// ```toml
/// version = 1
/// stack = "wasi-p2"
/// [processes.web]
/// kind = "wasm"
/// component = "target/wasm32-wasip2/release/hello.wasm"
/// reuse = true
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlugManifest {
    /// Format version, [`MANIFEST_VERSION`].
    pub version: u32,
    /// The stack the slug needs: [`WASI_STACK`] when every process is a component, otherwise the
    /// native stack it was built on (e.g. `paas-24`).
    pub stack: String,
    /// The buildpack that built it (e.g. `rust`), if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buildpack: Option<String>,
    /// The source version (git commit) it was built from, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Process types by name (`web`, `worker`, …).
    #[serde(default)]
    pub processes: BTreeMap<String, ProcessKind>,
}

/// How a process type runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ProcessKind {
    /// A WASI 0.2 component: `wasi:http/proxy` for `web`, `wasi:cli/run` for the others.
    Wasm {
        /// The component's path inside the slug's `app/` tree (relative, `/`-separated).
        component: String,
        /// Whether one instance may serve more than one request.
        #[serde(default)]
        reuse: bool,
        /// Arguments given to a `wasi:cli` component.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        args: Vec<String>,
    },
    /// A native command run by a shell in `/app` (in a runc container).
    Native {
        /// The command line, as written in a Procfile.
        command: String,
    },
}

/// A manifest that cannot be read or is not valid.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// Not valid TOML or not the expected shape.
    #[error("invalid slug manifest: {0}")]
    Toml(#[from] toml::de::Error),
    /// Written by a newer paas.
    #[error("slug manifest version {0} is newer than this paas supports ({MANIFEST_VERSION})")]
    Version(u32),
    /// A component path leaves the slug or is absolute.
    #[error("process type `{process}`: component path `{path}` must be relative to /app and stay inside it")]
    ComponentPath {
        /// The process type.
        process: String,
        /// The offending path.
        path: String,
    },
}

impl ProcessKind {
    /// The kind of a Procfile (or `default_process_types`) command: a first word ending in `.wasm`
    /// names a component (its other words are its arguments), anything else is a native command.
    pub fn from_command(command: &str) -> ProcessKind {
        let mut words = command.split_whitespace();
        match words.next() {
            Some(first) if first.ends_with(".wasm") => {
                let component = first.trim_start_matches("/app/").trim_start_matches("./");
                ProcessKind::Wasm {
                    component: component.to_string(),
                    reuse: false,
                    args: words.map(str::to_string).collect(),
                }
            }
            _ => ProcessKind::Native { command: command.to_string() },
        }
    }

    /// Whether this is a WebAssembly component.
    pub fn is_wasm(&self) -> bool {
        matches!(self, ProcessKind::Wasm { .. })
    }
}

impl SlugManifest {
    /// A manifest of the current version; the stack is [`WASI_STACK`] when every process type is
    /// a component and `native_stack` otherwise.
    pub fn new(native_stack: &str, processes: BTreeMap<String, ProcessKind>) -> SlugManifest {
        let all_wasm = !processes.is_empty() && processes.values().all(ProcessKind::is_wasm);
        SlugManifest {
            version: MANIFEST_VERSION,
            stack: if all_wasm { WASI_STACK } else { native_stack }.to_string(),
            buildpack: None,
            source_version: None,
            processes,
        }
    }

    /// Serializes to TOML.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("a slug manifest always serializes")
    }

    /// Parses and validates TOML.
    pub fn from_toml(text: &str) -> Result<SlugManifest, ManifestError> {
        let manifest: SlugManifest = toml::from_str(text)?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// Checks the version and that component paths stay inside the slug.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.version > MANIFEST_VERSION {
            return Err(ManifestError::Version(self.version));
        }
        for (process, kind) in &self.processes {
            if let ProcessKind::Wasm { component, .. } = kind
                && !relative_inside(component)
            {
                return Err(ManifestError::ComponentPath { process: process.clone(), path: component.clone() });
            }
        }
        Ok(())
    }
}

/// Process types as written by a paas-aware buildpack in `BUILD_DIR/.paas/processes.toml`
/// (`[processes.web]` tables, same shape as the manifest's).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessTypes {
    /// Process types by name.
    #[serde(default)]
    pub processes: BTreeMap<String, ProcessKind>,
}

fn relative_inside(path: &str) -> bool {
    !path.is_empty()
        && !path.starts_with('/')
        && path.split('/').all(|segment| segment != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_through_toml() {
        let mut processes = BTreeMap::new();
        processes.insert("web".into(), ProcessKind::from_command("/app/hello.wasm"));
        processes.insert("worker".into(), ProcessKind::from_command("bin/worker -v"));
        let manifest = SlugManifest::new("paas-24", processes);
        assert_eq!(manifest.stack, "paas-24");
        let text = manifest.to_toml();
        assert_eq!(
            text,
            "version = 1\nstack = \"paas-24\"\n\n[processes.web]\nkind = \"wasm\"\ncomponent = \"hello.wasm\"\nreuse = false\n\n[processes.worker]\nkind = \"native\"\ncommand = \"bin/worker -v\"\n"
        );
        assert_eq!(SlugManifest::from_toml(&text).unwrap(), manifest);
    }

    #[test]
    fn wasm_only_slugs_need_the_wasi_stack() {
        let processes = BTreeMap::from([("web".to_string(), ProcessKind::from_command("a.wasm x"))]);
        let manifest = SlugManifest::new("paas-24", processes);
        assert_eq!(manifest.stack, WASI_STACK);
        assert_eq!(
            manifest.processes["web"],
            ProcessKind::Wasm { component: "a.wasm".into(), reuse: false, args: vec!["x".into()] }
        );
    }

    #[test]
    fn rejects_newer_versions_and_escaping_components() {
        let newer = SlugManifest::from_toml("version = 2\nstack = \"x\"\n").unwrap_err();
        assert_eq!(newer.to_string(), "slug manifest version 2 is newer than this paas supports (1)");
        let escaping = "version = 1\nstack = \"x\"\n[processes.web]\nkind = \"wasm\"\ncomponent = \"../x.wasm\"\n";
        assert!(matches!(
            SlugManifest::from_toml(escaping).unwrap_err(),
            ManifestError::ComponentPath { .. }
        ));
    }
}
