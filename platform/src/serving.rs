//! The seams between the platform and what serves apps on this node (the dyno supervisor and
//! the router, which paas-node composes with the platform): change notifications after every
//! committed write, the dynos shown by `GET /apps/{app}/dynos`, and one-off dynos
//! ([`DynoDirectory::start_oneoff`]).
//!
//! A one-off dyno runs a command from the app's current release and config as `run.N` (or
//! `release.N`, `scheduler.N`: the request's process type), with the same sandbox, scratch
//! filesystem and limits as the app's other dynos, and a time limit (1 hour by default). `ps` and
//! `GET /apps/{app}/dynos` list it while it runs; its state changes are in the app's log stream.
//! Attached ([`OneOffRequest::attach`]), its stdin and output are the caller's ([`Attached`]:
//! the rendezvous of `heroku run`, or the release phase reading everything with
//! [`OneOff::finish`]); detached, its output goes to the log stream as `app[run.1]`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures::future::BoxFuture;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};

use crate::model::{App, Dyno};

/// Something changed for an app; the serving side reconciles it from the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An app was created: look at every app.
    Apps,
    /// The app's releases, formation, config, domains, maintenance, name or existence changed.
    /// The app is named as it was before the write (name or id).
    App(String),
    /// `ps:restart` / `ps:stop`: restart all dynos (`None`), a process type or one dyno.
    Restart {
        /// The app (name or id).
        app: String,
        /// `web`, `web.1` or everything.
        target: Option<String>,
    },
}

/// One change as the serving side receives it; dropping `done` says it has been applied.
#[derive(Debug)]
pub struct Notice {
    /// What changed.
    pub change: Change,
    /// Dropped (or sent to) once the change is applied.
    pub done: oneshot::Sender<()>,
}

/// How long a write's response waits for its change to be applied (dynos started, routes
/// published), so that a client's next request sees it.
pub const APPLY_WAIT: Duration = Duration::from_secs(10);

/// The sending side of the change feed. Sending never blocks.
#[derive(Debug, Clone)]
pub struct Changes(mpsc::UnboundedSender<Notice>);

impl Changes {
    /// A feed and its receiving end.
    pub fn channel() -> (Changes, mpsc::UnboundedReceiver<Notice>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Changes(tx), rx)
    }

    /// Reports a change; the receiver resolves once it is applied (at once when nobody listens).
    pub fn send(&self, change: Change) -> oneshot::Receiver<()> {
        let (done, applied) = oneshot::channel();
        let _ = self.0.send(Notice { change, done });
        applied
    }
}

/// What a write handler changed for the serving side, returned as a part of its response:
/// `Ok((Changed::app(&app.name), Json(view)))`. [`notify_changes`] reports it once the response
/// is a success. Handlers whose writes change nothing the serving side runs return none; a
/// deploy reports its release itself when it is made ([`crate::deploys`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed(pub Change);

impl Changed {
    /// An app was created.
    pub fn apps() -> Changed {
        Changed(Change::Apps)
    }

    /// The app's desired state changed (release, formation, config, domains, features,
    /// add-ons, maintenance, name, existence); `app` as the ledger found it before the write.
    pub fn app(app: &str) -> Changed {
        Changed(Change::App(app.to_string()))
    }

    /// A restart or stop of the app's dynos: all (`None`), a process type or one dyno.
    pub fn restart(app: &str, target: Option<&str>) -> Changed {
        Changed(Change::Restart { app: app.to_string(), target: target.map(str::to_string) })
    }
}

impl axum::response::IntoResponseParts for Changed {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut parts: axum::response::ResponseParts) -> Result<axum::response::ResponseParts, Self::Error> {
        parts.extensions_mut().insert(self);
        Ok(parts)
    }
}

/// Middleware: after a successful write whose handler said what it changed ([`Changed`]),
/// reports the change and waits (up to [`APPLY_WAIT`]) until it is applied, so that the
/// client's next request sees it. It also lends the feed to the handlers as a request extension
/// (`Option<Extension<Changes>>`): work that outlives the request (a write in a detached task,
/// an app setup's formation after its build) reports through it itself, since a client hanging
/// up drops this middleware with the handler.
pub async fn notify_changes(State(changes): State<Changes>, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(changes.clone());
    let mut response = next.run(request).await;
    let Some(Changed(change)) = response.extensions_mut().remove::<Changed>() else { return response };
    if response.status().is_success() {
        let _ = tokio::time::timeout(APPLY_WAIT, changes.send(change)).await;
    }
    response
}

/// The dynos running an app, as `GET /apps/{app}/dynos` lists them, and one-off dynos started
/// from the app's current release (`POST /apps/{app}/dynos`, the release phase, the scheduler).
#[async_trait::async_trait]
pub trait DynoDirectory: Send + Sync + 'static {
    /// The app's dynos, one-off first then by process type and number.
    async fn dynos(&self, app: &App) -> Vec<Dyno>;

    /// The app's dynos with the name of the node that runs each (a grid's directory lists every
    /// node's; `None`: this directory does not say).
    async fn dynos_by_node(&self, app: &App) -> Vec<(Dyno, Option<String>)> {
        self.dynos(app).await.into_iter().map(|dyno| (dyno, None)).collect()
    }

    /// Starts a one-off dyno (see [`OneOffRequest`]) from the app's current release and config;
    /// answers once it runs. Its exit code and, when attached, its terminal come with it.
    async fn start_oneoff(&self, app: &App, request: OneOffRequest) -> Result<OneOff, OneOffError> {
        let _ = (app, request);
        Err(OneOffError::Unsupported("this server runs no dynos".into()))
    }

    /// How many one-off dynos of the app run now, started or starting (the API's limit per app
    /// counts them); none where the directory runs none.
    async fn oneoffs_running(&self, app: &App) -> usize {
        let _ = app;
        0
    }
}

/// How long a one-off dyno may run before it is stopped, unless asked otherwise: 1 hour.
pub const ONEOFF_TIME_LIMIT: Duration = Duration::from_secs(3600);

/// A one-off dyno to start.
///
/// ```text
/// let mut request = OneOffRequest::new("release", "migrate --all");   // dyno release.N
/// request.attach = true;                                             // output to the caller
/// let oneoff = directory.start_oneoff(&app, request).await?;
/// let (code, output) = oneoff.finish().await;                        // empty stdin; all output
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOffRequest {
    /// What runs. For a wasm slug: a Procfile process type (its component and arguments, then
    /// these arguments) or the path of a component in the slug, then arguments. For a native slug:
    /// a shell command.
    pub command: String,
    /// Variables set over the release's config vars.
    pub env: BTreeMap<String, String>,
    /// Heroku's size name (`Standard-2X`); `None`: `Basic`.
    pub size: Option<String>,
    /// The process type, and the dyno's name before its number: `run` (`run.1`), `release`,
    /// `scheduler`.
    pub process_type: String,
    /// Attached: stdin from the caller and output to it ([`OneOff::attached`]). Detached: no
    /// stdin, output to the app's log stream as `app[run.1]`.
    pub attach: bool,
    /// The dyno is stopped after this long (exit code 124).
    pub time_limit: Duration,
    /// The release to run instead of the app's current one: the release phase runs the release
    /// about to be made (not in the ledger yet: its slug and config vars are).
    pub release: Option<crate::model::Release>,
}

impl OneOffRequest {
    /// A detached dyno of `process_type` running `command`, no extra variables, default size,
    /// [`ONEOFF_TIME_LIMIT`].
    pub fn new(process_type: impl Into<String>, command: impl Into<String>) -> Self {
        OneOffRequest {
            command: command.into(),
            env: BTreeMap::new(),
            size: None,
            process_type: process_type.into(),
            attach: false,
            time_limit: ONEOFF_TIME_LIMIT,
            release: None,
        }
    }
}

/// A started one-off dyno.
pub struct OneOff {
    /// The dyno as the API shows it (`run.1`, `up`).
    pub dyno: Dyno,
    /// Its terminal, when attached.
    pub attached: Option<Attached>,
    /// Resolves to its exit code once it has exited (124: its time limit; 137: stopped).
    pub exit: BoxFuture<'static, i32>,
    /// Stops it.
    pub stop: StopOneOff,
}

impl std::fmt::Debug for OneOff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneOff").field("dyno", &self.dyno.name).field("attached", &self.attached.is_some()).finish()
    }
}

impl OneOff {
    /// Closes stdin, then waits for the exit: the exit code and all the output (empty when
    /// detached: the output went to the log stream).
    pub async fn finish(self) -> (i32, Vec<u8>) {
        let mut output = Vec::new();
        let reading = async {
            if let Some(Attached { stdin, output: mut reader, .. }) = self.attached {
                drop(stdin);
                let _ = tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut output).await;
            }
        };
        let ((), code) = tokio::join!(reading, self.exit);
        (code, output)
    }
}

/// The terminal of an attached one-off dyno.
pub struct Attached {
    /// The dyno's stdin; dropping it (or shutting it down) is end of file.
    pub stdin: Box<dyn AsyncWrite + Send + Unpin>,
    /// Its stdout and stderr, as written; end of file once it has exited.
    pub output: Box<dyn AsyncRead + Send + Unpin>,
    /// The dyno has a terminal of its own (a pty): the client's bytes (Ctrl-C included) and the
    /// output pass as they are. Otherwise the rendezvous stands in for one for a client that has.
    pub terminal: bool,
}

/// Stops a one-off dyno (it is asked to exit, then killed after a grace period). Cheap to clone.
#[derive(Debug, Clone)]
pub struct StopOneOff(Arc<tokio::sync::watch::Sender<bool>>);

impl StopOneOff {
    /// A handle and what the dyno's runner waits on: it resolves once [`StopOneOff::stop`] is called.
    pub fn new() -> (StopOneOff, BoxFuture<'static, ()>) {
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let stopped = Box::pin(async move {
            if rx.wait_for(|stop| *stop).await.is_err() {
                // Every handle is gone without stopping: never.
                std::future::pending::<()>().await;
            }
        });
        (StopOneOff(Arc::new(tx)), stopped)
    }

    /// Stops the dyno (again: nothing more).
    pub fn stop(&self) {
        self.0.send_replace(true);
    }
}

/// Why a one-off dyno could not start.
#[derive(Debug, thiserror::Error)]
pub enum OneOffError {
    /// The app has no release with a slug yet.
    #[error("{0} has no release to run yet: deploy it first (git push, or paas deploy)")]
    NoRelease(String),
    /// The request cannot be carried out (unknown command, bad size, …); the message says why.
    #[error("{0}")]
    Invalid(String),
    /// This server cannot run such a dyno.
    #[error("{0}")]
    Unsupported(String),
    /// Starting it failed on the server.
    #[error("{0}")]
    Failed(String),
}
