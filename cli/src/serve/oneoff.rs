//! One-off dynos on this node (`run.1`, `release.1`, `scheduler.1`): the command resolved
//! against the app's current release, run as a `wasi:cli` component with the release's config
//! vars, in the same sandbox, scratch filesystem and limits as the app's other dynos, plus a time
//! limit. Attached, stdin and output are the caller's; detached, output goes to the log stream.
//!
//! A command names, in a wasm slug, a Procfile process type (its component and arguments, then
//! the command's further words) or a component file in the slug (then its arguments). The heroku
//! CLI's `-x` wraps the command as `<cmd> ; echo "\uFFFF heroku-command-exit-status: $?"`; a wasm
//! slug has no shell, so that exact suffix is recognised and the status line written after `<cmd>`
//! exits. Native slugs (shell commands) are refused until native dynos can run one-offs.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use paas_builder::{ProcessKind, SlugManifest, SlugStore};
use paas_platform::Ledger;
use paas_platform::model::{App, Dyno};
use paas_platform::serving::{Attached, OneOff, OneOffError, OneOffRequest, StopOneOff};
use paas_runtime::{CommandDyno, DynoSpec, LogLine, LogSink, LogStreamKind, Runtime, Stdin, attached_output};
use tokio::io::AsyncWriteExt;

use super::desired::dyno_size;
use super::directory::dyno_id;

/// The suffix the heroku CLI's `run -x` appends to the command.
const EXIT_STATUS_SUFFIX: &str = " ; echo \"\u{FFFF} heroku-command-exit-status: $?\"";

/// How long a stopped one-off dyno has to exit before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Bytes of stdin buffered between the caller and the guest.
const STDIN_BUFFER: usize = 64 * 1024;

/// The one-off dynos of this node.
pub struct OneOffs {
    /// The node's wasm runtime.
    pub runtime: Runtime,
    /// The ledger: releases, slugs.
    pub ledger: Arc<dyn Ledger>,
    /// The slug store.
    pub slugs: SlugStore,
    /// Where slugs are unpacked (shared with the supervisor's dynos).
    pub unpacked: PathBuf,
    /// Dyno log lines (into the app's log stream).
    pub logs: LogSink,
    /// App name → its running one-off dynos by name.
    pub running: Mutex<HashMap<String, BTreeMap<String, Dyno>>>,
}

/// What a one-off dyno runs, resolved against the release.
#[derive(Debug, PartialEq, Eq)]
struct Resolved {
    component: PathBuf,
    args: Vec<String>,
    /// The heroku CLI's `-x`: write its exit-status line after the command exits.
    status_line: bool,
}

impl OneOffs {
    /// The running one-off dynos of `app`.
    pub fn of(&self, app: &str) -> Vec<Dyno> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(app).map(|dynos| dynos.values().cloned().collect()).unwrap_or_default()
    }

    /// Starts a one-off dyno of `app`.
    pub async fn start(self: &Arc<Self>, app: &App, request: OneOffRequest) -> Result<OneOff, OneOffError> {
        let failed = |e: anyhow::Error| OneOffError::Failed(format!("{e:#}"));
        let release = match &request.release {
            Some(release) => Some(release.clone()),
            None => self.ledger.current_release(app.id).await.map_err(|e| failed(e.into()))?,
        };
        let Some((release, slug_id)) = release.and_then(|r| r.slug_id.map(|s| (r, s))) else {
            return Err(OneOffError::NoRelease(app.name.clone()));
        };
        let slug = self
            .ledger
            .find_slug(app.id, slug_id)
            .await
            .map_err(|e| failed(e.into()))?
            .ok_or_else(|| OneOffError::Failed("the release's slug is not in the ledger".into()))?;
        let (store, root, checksum) = (self.slugs.clone(), self.unpacked.clone(), slug.checksum.clone());
        let dir = tokio::task::spawn_blocking(move || store.unpacked(&checksum, &root))
            .await
            .map_err(|e| failed(e.into()))?
            .with_context(|| format!("cannot unpack slug {}", slug.checksum))
            .map_err(failed)?;
        let manifest = read_manifest(&dir).map_err(failed)?;
        let app_dir = dir.join("app");
        let resolved = resolve(&request.command, &manifest, &app_dir)?;
        let size = request.size.clone().unwrap_or_else(|| "Basic".into());
        let runtime_size = dyno_size(&size);
        let component_path = resolved.component.clone();
        let runtime = self.runtime.clone();
        let component = tokio::task::spawn_blocking(move || runtime.load_component(&component_path))
            .await
            .map_err(|e| failed(e.into()))?
            .map_err(|e| OneOffError::Invalid(format!("cannot load {}: {e}", resolved.component.display())))?;

        let listed = self.claim_name(app, &request.process_type, |name| Dyno {
            id: dyno_id(app, name),
            app_id: app.id,
            name: name.to_string(),
            process_type: request.process_type.clone(),
            command: request.command.strip_suffix(EXIT_STATUS_SUFFIX).unwrap_or(&request.command).to_string(),
            size: size.clone(),
            state: "starting".into(),
            release_version: release.version,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        });
        let name = listed.name.clone();
        let mut spec = DynoSpec::new(&app.name, &name);
        spec.env = release.config_vars.clone();
        spec.env.extend(request.env.clone());
        spec.size = runtime_size;
        let mut limits = runtime_size.limits();
        limits.run_timeout = Some(request.time_limit);
        spec.limits = Some(limits);
        spec.app_dir = Some(app_dir);
        spec.logs = self.logs.clone();
        let say = |line: String| self.runtime_line(&app.name, &name, line);
        say(format!("Starting process with command `{}`", request.command.trim_end_matches(EXIT_STATUS_SUFFIX)));

        let (stdin, attached, terminal) = if request.attach {
            let (caller, guest) = tokio::io::duplex(STDIN_BUFFER);
            let (output, reader) = attached_output();
            spec.attached = Some(output.clone());
            let (_, caller_stdin) = tokio::io::split(caller);
            let attached = Attached { stdin: Box::new(caller_stdin), output: Box::new(reader) };
            (Stdin::Reader(Box::new(guest)), Some(attached), Some(output))
        } else {
            (Stdin::Empty, None, None)
        };
        let dyno = match CommandDyno::start(&self.runtime, &component, spec, resolved.args, stdin) {
            Ok(dyno) => dyno,
            Err(e) => {
                self.release_name(&app.name, &name);
                say(format!("Process failed to start: {e}"));
                return Err(OneOffError::Invalid(format!("cannot run `{}`: {e}", request.command)));
            }
        };
        let shown = self.set_state(&app.name, &name, "up").unwrap_or(listed);
        say("State changed from starting to up".into());

        let (stop, stopped) = StopOneOff::new();
        let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
        let this = self.clone();
        let (app_name, dyno_name, status_line) = (app.name.clone(), name.clone(), resolved.status_line);
        tokio::spawn(async move {
            let status = dyno.wait_or_stop(stopped, STOP_GRACE).await;
            let code = status.code();
            if let Some(mut terminal) = terminal {
                if status_line {
                    let line = format!("\u{FFFF} heroku-command-exit-status: {code}\n");
                    let _ = terminal.write_all(line.as_bytes()).await;
                }
                drop(terminal);
            }
            this.release_name(&app_name, &dyno_name);
            this.runtime_line(&app_name, &dyno_name, "State changed from up to complete".into());
            let _ = exit_tx.send(code);
        });
        Ok(OneOff {
            dyno: shown,
            attached,
            exit: Box::pin(async move { exit_rx.await.unwrap_or(1) }),
            stop,
        })
    }

    /// Takes the lowest free `<type>.N` of the app and lists the dyno as `make(name)`.
    fn claim_name(&self, app: &App, process_type: &str, make: impl FnOnce(&str) -> Dyno) -> Dyno {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let dynos = running.entry(app.name.clone()).or_default();
        let name = (1..).map(|n| format!("{process_type}.{n}")).find(|name| !dynos.contains_key(name)).unwrap_or_default();
        let dyno = make(&name);
        dynos.insert(name, dyno.clone());
        dyno
    }

    fn release_name(&self, app: &str, name: &str) {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dynos) = running.get_mut(app) {
            dynos.remove(name);
            if dynos.is_empty() {
                running.remove(app);
            }
        }
    }

    fn set_state(&self, app: &str, name: &str, state: &str) -> Option<Dyno> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let dyno = running.get_mut(app)?.get_mut(name)?;
        dyno.state = state.to_string();
        dyno.updated_at = chrono::Utc::now();
        Some(dyno.clone())
    }

    /// A `paas[run.1]` line in the app's log stream.
    fn runtime_line(&self, app: &str, dyno: &str, line: String) {
        self.logs.send(LogLine {
            app: app.to_string(),
            dyno: dyno.to_string(),
            stream: LogStreamKind::Runtime,
            timestamp: SystemTime::now(),
            line,
        });
    }
}

fn read_manifest(dir: &Path) -> anyhow::Result<SlugManifest> {
    let path = dir.join("manifest.toml");
    let text = std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(SlugManifest::from_toml(&text)?)
}

/// What `command` runs in a slug with `manifest`, unpacked at `app_dir`.
fn resolve(command: &str, manifest: &SlugManifest, app_dir: &Path) -> Result<Resolved, OneOffError> {
    let (command, status_line) = match command.strip_suffix(EXIT_STATUS_SUFFIX) {
        Some(inner) => (inner, true),
        None => (command, false),
    };
    let words = split_words(command).map_err(OneOffError::Invalid)?;
    let Some((first, rest)) = words.split_first() else {
        return Err(OneOffError::Invalid("no command given: name a process type or a component, e.g. `paas run worker`".into()));
    };
    let types = || manifest.processes.keys().cloned().collect::<Vec<_>>().join(", ");
    match manifest.processes.get(first) {
        Some(ProcessKind::Wasm { component, args, .. }) => {
            let args = args.iter().chain(rest).cloned().collect();
            return Ok(Resolved { component: app_dir.join(component), args, status_line });
        }
        Some(ProcessKind::Native { .. }) => return Err(native_unsupported(command)),
        None => {}
    }
    if manifest.processes.values().any(|p| matches!(p, ProcessKind::Native { .. })) {
        return Err(native_unsupported(command));
    }
    let path = Path::new(first.trim_start_matches("/app/"));
    let inside = !path.is_absolute() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    if inside && app_dir.join(path).is_file() {
        return Ok(Resolved { component: app_dir.join(path), args: rest.to_vec(), status_line });
    }
    Err(OneOffError::Invalid(format!(
        "`{first}` is neither a process type of this app ({}) nor a component file in its slug; a wasm slug has no shell",
        types()
    )))
}

fn native_unsupported(command: &str) -> OneOffError {
    OneOffError::Unsupported(format!(
        "`{command}` is a native command; this server cannot run native one-off dynos yet (only wasm process types and components)"
    ))
}

/// Splits a command line into words as a shell would for plain words and '…' / "…" quotes
/// (with \ escapes outside single quotes); no expansions.
fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => words.extend(word.take()),
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => w.push(c),
                        None => return Err(format!("unterminated ' quote in `{line}`")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(c) => w.push(c),
                        None => return Err(format!("unterminated \" quote in `{line}`")),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> SlugManifest {
        let mut processes = BTreeMap::new();
        let wasm = |c: &str, args: &[&str]| ProcessKind::Wasm {
            component: c.into(),
            reuse: false,
            args: args.iter().map(|a| a.to_string()).collect(),
            native: None,
        };
        processes.insert("worker".into(), wasm("bin/worker.wasm", &["--fast"]));
        processes.insert("web".into(), wasm("bin/web.wasm", &[]));
        SlugManifest { version: 1, stack: "wasi".into(), buildpack: None, source_version: None, processes }
    }

    #[test]
    fn words_split_like_a_shell() {
        assert_eq!(split_words(" a  'b c' \"d \\\"e\\\"\" f\\ g ''").unwrap(), ["a", "b c", "d \"e\"", "f g", ""]);
        assert!(split_words("a 'b").unwrap_err().contains("unterminated"));
    }

    #[test]
    fn commands_resolve_to_process_types_and_components() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("bin")).unwrap();
        std::fs::write(dir.path().join("bin/tool.wasm"), b"").unwrap();
        let m = manifest();
        let got = resolve("worker 3 'x y'", &m, dir.path()).unwrap();
        assert_eq!(got, Resolved { component: dir.path().join("bin/worker.wasm"), args: vec!["--fast".into(), "3".into(), "x y".into()], status_line: false });
        let got = resolve("bin/tool.wasm a ; echo \"\u{FFFF} heroku-command-exit-status: $?\"", &m, dir.path()).unwrap();
        assert_eq!(got, Resolved { component: dir.path().join("bin/tool.wasm"), args: vec!["a".into()], status_line: true });
        assert_eq!(resolve("/app/bin/tool.wasm", &m, dir.path()).unwrap().component, dir.path().join("bin/tool.wasm"));
        for bad in ["bash", "../etc/passwd", "/etc/passwd", ""] {
            assert!(matches!(resolve(bad, &m, dir.path()), Err(OneOffError::Invalid(_))), "{bad}");
        }
        let err = resolve("bash", &m, dir.path()).unwrap_err().to_string();
        assert!(err.contains("(web, worker)"), "{err}");
    }
}
