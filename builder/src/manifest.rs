//! The slug manifest: a versioned TOML document naming each process type's artifact and the stack.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The manifest version this crate writes and the newest it reads.
pub const MANIFEST_VERSION: u32 = 1;

/// The stack of a slug whose every process type is a WASI 0.2 component.
pub const WASI_STACK: &str = "wasi-p2";

/// The native stack: what a native process sees of the host in its container (the host's
/// `/usr`, `/lib`, `/bin`, `/etc` read-only: Debian 12's `/usr/bin/python3`, `/usr/bin/node`, glibc).
/// A slug with a native-only process type names it as its stack; buildpacks get it as `STACK`.
pub const NATIVE_STACK: &str = "paas-24";

/// The `manifest.toml` stored at the root of every slug, beside the `app/` tree.
///
/// ```toml
/// version = 1
/// stack = "wasi-p2"
/// [processes.web]
/// kind = "wasm"
/// component = "target/wasm32-wasip2/release/hello.wasm"
/// reuse = true
/// native = "gunicorn app:app"   # optional: the same process type as a native command
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
        /// The same process type as a native command, when the slug carries both (a python app
        /// whose venv is in the slug beside its component). The runtime prefers the component;
        /// the command is for nodes or apps that run it natively.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        native: Option<String>,
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
    /// A native command is empty or spans more than one line.
    #[error("process type `{process}`: the native command must be one non-empty line (as in a Procfile), found {command:?}")]
    Command {
        /// The process type.
        process: String,
        /// The offending command.
        command: String,
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
                    native: None,
                }
            }
            _ => ProcessKind::Native { command: command.to_string() },
        }
    }

    /// Whether this is a WebAssembly component.
    pub fn is_wasm(&self) -> bool {
        matches!(self, ProcessKind::Wasm { .. })
    }

    /// The native command line: a native process's, or the fallback recorded beside a component.
    pub fn native_command(&self) -> Option<&str> {
        match self {
            ProcessKind::Wasm { native, .. } => native.as_deref(),
            ProcessKind::Native { command } => Some(command),
        }
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

    /// Checks the version, that component paths stay inside the slug and that native commands
    /// are single non-empty lines.
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
            if let Some(command) = kind.native_command()
                && (command.trim().is_empty() || command.contains(['\n', '\r']))
            {
                return Err(ManifestError::Command { process: process.clone(), command: command.to_string() });
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
            ProcessKind::Wasm { component: "a.wasm".into(), reuse: false, args: vec!["x".into()], native: None }
        );
    }

    #[test]
    fn a_component_with_a_native_fallback_round_trips_and_keeps_the_wasi_stack() {
        let web = ProcessKind::Wasm {
            component: ".paas/python/web.wasm".into(),
            reuse: true,
            args: vec![],
            native: Some("gunicorn app:app".into()),
        };
        let manifest = SlugManifest::new(NATIVE_STACK, BTreeMap::from([("web".to_string(), web.clone())]));
        assert_eq!(manifest.stack, WASI_STACK);
        let text = manifest.to_toml();
        assert!(text.contains("native = \"gunicorn app:app\"\n"), "{text}");
        assert_eq!(SlugManifest::from_toml(&text).unwrap(), manifest);
        assert_eq!(web.native_command(), Some("gunicorn app:app"));
    }

    #[test]
    fn reads_manifests_written_before_native_fallbacks() {
        let old = "version = 1\nstack = \"wasi-p2\"\n[processes.web]\nkind = \"wasm\"\ncomponent = \"a.wasm\"\nreuse = true\n";
        let manifest = SlugManifest::from_toml(old).unwrap();
        assert_eq!(
            manifest.processes["web"],
            ProcessKind::Wasm { component: "a.wasm".into(), reuse: true, args: vec![], native: None }
        );
        assert_eq!(manifest.processes["web"].native_command(), None);
    }

    #[test]
    fn a_native_only_process_makes_the_stack_native() {
        let processes = BTreeMap::from([
            ("web".to_string(), ProcessKind::from_command("a.wasm")),
            ("worker".to_string(), ProcessKind::from_command("python worker.py")),
        ]);
        assert_eq!(SlugManifest::new(NATIVE_STACK, processes).stack, NATIVE_STACK);
    }

    #[test]
    fn rejects_empty_or_multi_line_native_commands() {
        let fallback = "version = 1\nstack = \"x\"\n[processes.web]\nkind = \"wasm\"\ncomponent = \"a.wasm\"\nnative = \"gunicorn app:app\\nrm -rf /\"\n";
        let error = SlugManifest::from_toml(fallback).unwrap_err();
        assert!(matches!(&error, ManifestError::Command { process, .. } if process == "web"), "{error}");
        let empty = "version = 1\nstack = \"x\"\n[processes.worker]\nkind = \"native\"\ncommand = \" \"\n";
        assert!(matches!(SlugManifest::from_toml(empty).unwrap_err(), ManifestError::Command { .. }));
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
