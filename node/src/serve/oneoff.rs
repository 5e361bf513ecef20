//! One-off dynos on this node (`run.1`, `release.1`, `scheduler.1`): the command resolved
//! against the app's current release, run as a `wasi:cli` component with the release's config
//! vars, in the same sandbox, scratch filesystem and limits as the app's other dynos, plus a time
//! limit. Attached, stdin and output are the caller's; detached, output goes to the log stream.
//!
//! A command names, in a wasm slug, a Procfile process type (its component and arguments, then
//! the command's further words) or a component file in the slug (then its arguments). The heroku
//! CLI's `-x` wraps the command as `<cmd> ; echo "\uFFFF heroku-command-exit-status: $?"`; a wasm
//! slug has no shell, so that exact suffix is recognised and the status line written after `<cmd>`
//! exits. In a native slug, the command is a shell command (a process type standing for its
//! command line), run in a native container like the app's other native dynos; attached from a
//! terminal, on a pty.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use paas_builder::tree::{TenantTree, UntrustedPath};
use paas_builder::{ProcessKind, SlugManifest, SlugStore};
use paas_platform::Ledger;
use paas_platform::grid::slugs::PeerSlugs;
use paas_platform::model::{App, Dyno};
use paas_platform::serving::{Attached, OneOff, OneOffError, OneOffRequest, StopOneOff};
use paas_metrics::DynoMemory;
use paas_runtime::{
    AttachedOutput, CommandDyno, Component, DynoSpec, ExitStatus, LogSink, NativeDyno, NativeRuntime, Runtime,
    Stdin, UsageProbe, WasmUsage, attached_output,
};
use tokio::io::{AsyncRead, AsyncWriteExt};

use super::desired::{dyno_size, unpacked_slug};
use super::directory::dyno_id;
use crate::error::ServeError;

/// A boxed future, as the platform's seam hands them over.
type BoxFuture<T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send>>;

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
    /// Native dynos (runc), when the node runs them.
    pub native: Option<NativeRuntime>,
    /// The ledger: releases, slugs.
    pub ledger: Arc<dyn Ledger>,
    /// The slug store.
    pub slugs: SlugStore,
    /// Where slugs are unpacked (shared with the supervisor's dynos).
    pub unpacked: PathBuf,
    /// Where a slug missing here is fetched from: the other nodes of the grid.
    pub peers: Option<Arc<PeerSlugs>>,
    /// Dyno log lines (into the app's log stream).
    pub logs: LogSink,
    /// App name → its running one-off dynos by name.
    pub running: Mutex<HashMap<String, BTreeMap<String, Running>>>,
    /// This node shares its ledger with others: names are drawn from `run.1000`–`run.9999`
    /// (as Heroku's `run.4711`), so one-off dynos of different nodes do not share a name.
    pub grid: bool,
}

/// A running one-off dyno.
pub struct Running {
    /// As the API shows it.
    dyno: Dyno,
    /// Stops it (once started).
    stop: Option<StopOneOff>,
    /// What it uses (once started), for `ps` and the metrics.
    usage: Option<Usage>,
}

/// Reads a one-off dyno's memory and CPU time while it runs.
#[derive(Clone)]
enum Usage {
    /// Its instance's linear memory and its guest's CPU time.
    Wasm(WasmUsage),
    /// Its container's cgroup.
    Native(UsageProbe),
}

/// What a one-off dyno runs, resolved against the release.
#[derive(Debug, PartialEq, Eq)]
enum Resolved {
    /// A `wasi:cli` component and its arguments.
    Wasm {
        /// The component's path in the app's tree, as the slug names it (untrusted: loaded
        /// through [`paas_runtime::Runtime::load_slug_component`]).
        component: PathBuf,
        args: Vec<String>,
        /// The heroku CLI's `-x`: write its exit-status line after the command exits.
        status_line: bool,
    },
    /// A shell command in a native container.
    Native {
        command: String,
        /// As for wasm: the line is written after the exit (the shell's `echo` would miss an
        /// `exit 3` in the command).
        status_line: bool,
    },
}

impl OneOffs {
    /// The running one-off dynos of `app`.
    pub fn of(&self, app: &str) -> Vec<Dyno> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        running.get(app).map(|dynos| dynos.values().map(|r| r.dyno.clone()).collect()).unwrap_or_default()
    }

    /// `ps:stop` / `ps:restart` of a one-off dyno (`run.1`) or of all of a type (`run`): stops
    /// them; false when none matches.
    pub fn stop(&self, app: &str, target: &str) -> bool {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let matching: Vec<&Running> = running
            .get(app)
            .map(|dynos| dynos.values().filter(|r| r.dyno.name == target || r.dyno.process_type == target).collect())
            .unwrap_or_default();
        for one in &matching {
            if let Some(stop) = &one.stop {
                stop.stop();
            }
        }
        !matching.is_empty()
    }

    /// At shutdown: asks every one-off dyno of every app to stop (SIGTERM, SIGKILL after the
    /// grace period), then waits until all have ended, at most the grace period and 5 s more.
    pub async fn stop_all(&self) {
        {
            let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            for one in running.values().flat_map(BTreeMap::values) {
                if let Some(stop) = &one.stop {
                    stop.stop();
                }
            }
        }
        let deadline = tokio::time::Instant::now() + STOP_GRACE + Duration::from_secs(5);
        while !self.running.lock().unwrap_or_else(|e| e.into_inner()).is_empty() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Starts a one-off dyno of `app`.
    pub async fn start(self: &Arc<Self>, app: &App, request: OneOffRequest) -> Result<OneOff, OneOffError> {
        let failed = |e: ServeError| OneOffError::Failed(crate::error::chain(&e));
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
            .ok_or_else(|| failed(ServeError::SlugMissing))?;
        let dir = unpacked_slug(&self.slugs, self.peers.as_deref(), &slug.checksum, &self.unpacked)
            .await
            .map_err(failed)?;
        // The manifest's own error only: the pusher reads it (release phase), not the server's paths.
        let manifest =
            paas_builder::slug::read_unpacked_manifest(&dir).map_err(|e| OneOffError::Failed(crate::error::chain(&e)))?;
        let app_dir = dir.join("app");
        let resolved = resolve(&request.command, &manifest, &app_dir)?;
        let size = request.size.clone().unwrap_or_else(|| "Basic".into());
        let runtime_size = dyno_size(&size);
        let component = match &resolved {
            Resolved::Wasm { component, .. } => {
                let (runtime, root, path) = (self.runtime.clone(), app_dir.clone(), component.clone());
                let loaded = tokio::task::spawn_blocking(move || runtime.load_slug_component(&root, &path))
                    .await
                    .map_err(|e| OneOffError::Failed(format!("loading {} stopped: {e}", component.display())))?
                    .map_err(|e| OneOffError::Invalid(format!("cannot load {}: {e}", component.display())))?;
                Some(loaded)
            }
            Resolved::Native { .. } if self.native.is_none() => {
                return Err(OneOffError::Unsupported(format!(
                    "`{}` is a native command, and native dynos are disabled on this server (runc is missing: see paas server --container-runtime)",
                    shown_command(&request.command)
                )));
            }
            Resolved::Native { .. } => None,
        };

        let listed = self.claim_name(app, &request.process_type, |name| Dyno {
            id: dyno_id(app, name),
            app_id: app.id,
            name: name.to_string(),
            process_type: request.process_type.clone(),
            command: shown_command(&request.command).to_string(),
            size: size.clone(),
            state: "starting".into(),
            release_version: release.version,
            created_at: chrono::Utc::now(),
            updated_at: chrono::Utc::now(),
        });
        let name = listed.name.clone();
        let mut spec = DynoSpec::new(&app.name, &name);
        spec.env = release.config_vars.clone();
        // The app's add-ons, as its other dynos.
        spec.network.services = super::desired::attached_endpoints(self.ledger.as_ref(), app).await.map_err(failed)?;
        spec.env.extend(request.env.clone());
        spec.size = runtime_size;
        let mut limits = runtime_size.limits();
        limits.run_timeout = Some(request.time_limit);
        spec.limits = Some(limits);
        spec.app_dir = Some(app_dir);
        spec.logs = self.logs.clone();
        let say = |line: String| self.runtime_line(&app.name, &name, line);
        say(format!("Starting process with command `{}`", shown_command(&request.command)));

        let started = match (resolved, component, &self.native) {
            (Resolved::Wasm { args, status_line, .. }, Some(component), _) => {
                start_wasm(&self.runtime, &component, spec, args, request.attach, status_line).map_err(|e| e.to_string())
            }
            (Resolved::Native { command, status_line }, _, Some(native)) => {
                // A client with a terminal sends its size: the dyno gets a pty of that size.
                let size = ["LINES", "COLUMNS"].map(|k| request.env.get(k).and_then(|v| v.parse::<u16>().ok()));
                let terminal = match size {
                    [Some(rows), Some(cols)] => Some((rows, cols)),
                    _ => None,
                };
                let how = NativeRun { attach: request.attach, terminal, time_limit: request.time_limit, status_line };
                start_native(native, spec, &command, how).map_err(|e| e.to_string())
            }
            _ => Err("the dyno's runtime is missing".to_string()),
        };
        let started = match started {
            Ok(started) => started,
            Err(e) => {
                self.release_name(&app.name, &name);
                say(format!("Process failed to start: {e}"));
                return Err(OneOffError::Invalid(format!("cannot run `{}`: {e}", shown_command(&request.command))));
            }
        };
        let (stop, stopped) = StopOneOff::new();
        let shown = self.set_up(&app.name, &name, &stop, started.usage.clone()).unwrap_or(listed);
        say("State changed from starting to up".into());

        let (exit_tx, exit_rx) = tokio::sync::oneshot::channel();
        let this = self.clone();
        let (app_name, dyno_name) = (app.name.clone(), name.clone());
        tokio::spawn(async move {
            let code = (started.finish)(stopped).await.code();
            this.release_name(&app_name, &dyno_name);
            this.runtime_line(&app_name, &dyno_name, "State changed from up to complete".into());
            let _ = exit_tx.send(code);
        });
        Ok(OneOff {
            dyno: shown,
            attached: started.attached,
            exit: Box::pin(async move { exit_rx.await.unwrap_or(1) }),
            stop,
        })
    }

    /// Takes the lowest free `<type>.N` of the app and lists the dyno as `make(name)`.
    fn claim_name(&self, app: &App, process_type: &str, make: impl FnOnce(&str) -> Dyno) -> Dyno {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let dynos = running.entry(app.name.clone()).or_default();
        let name = if self.grid {
            // Random, so that another node's one-off dynos (which this one cannot see) are
            // unlikely to share it; never one running here.
            std::iter::repeat_with(|| format!("{process_type}.{}", 1000 + uuid::Uuid::new_v4().as_u128() % 9000))
                .take(1000)
                .chain((10_000..).map(|n| format!("{process_type}.{n}")))
                .find(|name| !dynos.contains_key(name))
                .unwrap_or_default()
        } else {
            (1..).map(|n| format!("{process_type}.{n}")).find(|name| !dynos.contains_key(name)).unwrap_or_default()
        };
        let dyno = make(&name);
        dynos.insert(name, Running { dyno: dyno.clone(), stop: None, usage: None });
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

    /// The dyno is up: its state, and how to stop it.
    fn set_up(&self, app: &str, name: &str, stop: &StopOneOff, usage: Usage) -> Option<Dyno> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let one = running.get_mut(app)?.get_mut(name)?;
        one.dyno.state = "up".to_string();
        one.dyno.updated_at = chrono::Utc::now();
        one.stop = Some(stop.clone());
        one.usage = Some(usage);
        Some(one.dyno.clone())
    }

    /// The apps with one-off dynos running here.
    pub fn apps(&self) -> Vec<String> {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).keys().cloned().collect()
    }

    /// Each running one-off dyno of `app` with its memory and CPU time (a wasm one's instance
    /// and guest calls, a native one's cgroup).
    pub fn usage(&self, app: &str) -> Vec<DynoMemory> {
        let running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let Some(dynos) = running.get(app) else { return Vec::new() };
        dynos
            .values()
            .filter_map(|one| {
                let (memory_bytes, cpu_seconds) = match one.usage.as_ref()? {
                    Usage::Wasm(usage) => (usage.memory_bytes(), Some(usage.cpu().seconds())),
                    Usage::Native(probe) => (probe.bytes(), probe.cpu_seconds()),
                };
                let (name, process_type) = (one.dyno.name.clone(), one.dyno.process_type.clone());
                Some(DynoMemory { name, process_type, memory_bytes, cpu_seconds })
            })
            .collect()
    }

    /// A `paas[run.1]` line in the app's log stream.
    fn runtime_line(&self, app: &str, dyno: &str, line: String) {
        self.logs.runtime_line(app, dyno, line);
    }
}

/// A started one-off process, wasm or native.
struct Started {
    attached: Option<Attached>,
    usage: Usage,
    /// Runs it to its end, or until the future it is given resolves (then stops it).
    finish: Box<dyn FnOnce(BoxFuture<()>) -> BoxFuture<ExitStatus> + Send>,
}

/// Starts a `wasi:cli` component; attached, its stdin and output are the caller's, and with the
/// heroku CLI's `-x` (`status_line`) the exit-status line follows the output.
fn start_wasm(
    runtime: &Runtime,
    component: &Component,
    mut spec: DynoSpec,
    args: Vec<String>,
    attach: bool,
    status_line: bool,
) -> Result<Started, paas_runtime::StartError> {
    let (stdin, attached, terminal) = if attach {
        let (caller, guest) = tokio::io::duplex(STDIN_BUFFER);
        let (output, reader) = attached_output();
        spec.attached = Some(output.clone());
        let (_, caller_stdin) = tokio::io::split(caller);
        let attached = Attached { stdin: Box::new(caller_stdin), output: Box::new(reader), terminal: false };
        (Stdin::Reader(Box::new(guest)), Some(attached), Some(output))
    } else {
        (Stdin::Empty, None, None)
    };
    let dyno = CommandDyno::start(runtime, component, spec, args, stdin)?;
    let usage = Usage::Wasm(dyno.usage());
    let finish = Box::new(move |stopped: BoxFuture<()>| -> BoxFuture<ExitStatus> {
        Box::pin(async move {
            let status = dyno.wait_or_stop(stopped, STOP_GRACE).await;
            write_status_line(terminal, status_line, &status).await;
            status
        })
    });
    Ok(Started { attached, usage, finish })
}

/// How a native one-off runs.
struct NativeRun {
    /// Its stdio is the caller's.
    attach: bool,
    /// The client's terminal size (rows, columns): the dyno gets a pty.
    terminal: Option<(u16, u16)>,
    /// Stopped after this long.
    time_limit: Duration,
    /// Write the heroku CLI's exit-status line after the output.
    status_line: bool,
}

/// Starts a shell command in a native container (`bash -c`); attached, its stdout and stderr
/// are merged for the caller, on a pty when the client has a terminal.
fn start_native(
    native: &NativeRuntime,
    mut spec: DynoSpec,
    command: &str,
    how: NativeRun,
) -> Result<Started, paas_runtime::NativeError> {
    spec.port = paas_runtime::free_port().unwrap_or(spec.port);
    let mut copies = Vec::new();
    let (dyno, attached, terminal) = if how.attach {
        let (dyno, stdio) = match how.terminal {
            Some((rows, cols)) => NativeDyno::attach_tty(native, spec, command, rows, cols)?,
            None => NativeDyno::attach(native, spec, command)?,
        };
        let (output, reader) = attached_output();
        for mut stream in [Box::new(stdio.stdout) as Box<dyn AsyncRead + Send + Unpin>, Box::new(stdio.stderr)] {
            let mut output = output.clone();
            copies.push(tokio::spawn(async move {
                let _ = tokio::io::copy(&mut stream, &mut output).await;
            }));
        }
        let attached = Attached { stdin: Box::new(stdio.stdin), output: Box::new(reader), terminal: how.terminal.is_some() };
        (dyno, Some(attached), Some(output))
    } else {
        (NativeDyno::start(native, spec, command, Stdin::Empty)?, None, None)
    };
    let (time_limit, status_line) = (how.time_limit, how.status_line);
    let usage = Usage::Native(dyno.usage_probe());
    let finish = Box::new(move |stopped: BoxFuture<()>| -> BoxFuture<ExitStatus> {
        Box::pin(async move {
            let finished = async {
                while !dyno.is_finished() {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            };
            let status = tokio::select! {
                () = finished => dyno.wait().await,
                () = stopped => dyno.stop(STOP_GRACE).await,
                () = tokio::time::sleep(time_limit) => {
                    dyno.stop(STOP_GRACE).await;
                    ExitStatus::TimedOut
                }
            };
            for copy in copies {
                let _ = copy.await;
            }
            write_status_line(terminal, status_line, &status).await;
            status
        })
    });
    Ok(Started { attached, usage, finish })
}

/// After the whole output: the exit-status line when asked for; then the output ends (this
/// was its last writer).
async fn write_status_line(terminal: Option<AttachedOutput>, status_line: bool, status: &ExitStatus) {
    if let Some(mut terminal) = terminal
        && status_line
    {
        let line = format!("\u{FFFF} heroku-command-exit-status: {}\n", status.code());
        let _ = terminal.write_all(line.as_bytes()).await;
    }
}

/// The command as shown (`ps`, logs): without the heroku CLI's exit-status suffix.
fn shown_command(command: &str) -> &str {
    command.strip_suffix(EXIT_STATUS_SUFFIX).unwrap_or(command)
}

/// What `command` runs in a slug with `manifest`, unpacked at `app_dir`. In a native slug, a
/// Procfile process type stands for its command line and anything else is a shell command.
fn resolve(command: &str, manifest: &SlugManifest, app_dir: &Path) -> Result<Resolved, OneOffError> {
    let (inner, status_line) = match command.strip_suffix(EXIT_STATUS_SUFFIX) {
        Some(inner) => (inner, true),
        None => (command, false),
    };
    let words = split_words(inner).map_err(OneOffError::Invalid)?;
    let Some((first, rest)) = words.split_first() else {
        return Err(OneOffError::Invalid("no command given: name a process type or a component, e.g. `paas run worker`".into()));
    };
    let native_slug = manifest.stack != paas_builder::manifest::WASI_STACK;
    match manifest.processes.get(first) {
        Some(ProcessKind::Wasm { component, args, .. }) => {
            let args = args.iter().chain(rest).cloned().collect();
            return Ok(Resolved::Wasm { component: PathBuf::from(component), args, status_line });
        }
        Some(ProcessKind::Native { command: line }) => {
            // The process type's command line, then the rest as typed (quotes and all).
            let after = inner.trim_start().strip_prefix(first.as_str()).unwrap_or_default();
            return Ok(Resolved::Native { command: format!("{line}{after}"), status_line });
        }
        None if native_slug => return Ok(Resolved::Native { command: inner.to_string(), status_line }),
        None => {}
    }
    let path = Path::new(first.trim_start_matches("/app/"));
    let inside = !path.is_absolute() && path.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    let in_tree = TenantTree::open(app_dir).is_ok_and(|tree| tree.is_file(UntrustedPath::new(path)));
    if inside && in_tree {
        return Ok(Resolved::Wasm { component: path.to_path_buf(), args: rest.to_vec(), status_line });
    }
    let types = manifest.processes.keys().cloned().collect::<Vec<_>>().join(", ");
    Err(OneOffError::Invalid(format!(
        "`{first}` is neither a process type of this app ({types}) nor a component file in its slug; a wasm slug has no shell"
    )))
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
        SlugManifest { version: 1, stack: paas_builder::manifest::WASI_STACK.into(), buildpack: None, source_version: None, processes }
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
        let wasm = |c: &str, args: &[&str], status_line| Resolved::Wasm {
            component: PathBuf::from(c),
            args: args.iter().map(|a| a.to_string()).collect(),
            status_line,
        };
        assert_eq!(got, wasm("bin/worker.wasm", &["--fast", "3", "x y"], false));
        let got = resolve("bin/tool.wasm a ; echo \"\u{FFFF} heroku-command-exit-status: $?\"", &m, dir.path()).unwrap();
        assert_eq!(got, wasm("bin/tool.wasm", &["a"], true));
        assert_eq!(resolve("/app/bin/tool.wasm", &m, dir.path()).unwrap(), wasm("bin/tool.wasm", &[], false));
        let host = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(host.path(), dir.path().join("bin/host.wasm")).unwrap();
        for bad in ["bash", "../etc/passwd", "/etc/passwd", "", "bin/host.wasm"] {
            assert!(matches!(resolve(bad, &m, dir.path()), Err(OneOffError::Invalid(_))), "{bad}");
        }
        let err = resolve("bash", &m, dir.path()).unwrap_err().to_string();
        assert!(err.contains("(web, worker)"), "{err}");
    }

    #[test]
    fn in_a_native_slug_commands_are_shell_commands_and_types_their_command_lines() {
        let mut m = manifest();
        m.stack = "paas-24".into();
        m.processes.insert("clock".into(), ProcessKind::Native { command: "python clock.py --every 5".into() });
        let dir = Path::new("/nowhere");
        let native = |c: &str, status_line| Resolved::Native { command: c.into(), status_line };
        assert_eq!(resolve("ls -la /app", &m, dir).unwrap(), native("ls -la /app", false));
        let x = "clock 'a b' ; echo \"\u{FFFF} heroku-command-exit-status: $?\"";
        assert_eq!(resolve(x, &m, dir).unwrap(), native("python clock.py --every 5 'a b'", true));
        assert!(matches!(resolve("worker", &m, dir).unwrap(), Resolved::Wasm { .. }), "a wasm process type of a mixed slug stays wasm");
    }
}
