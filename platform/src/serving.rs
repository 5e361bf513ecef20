//! The seams between the platform and what serves apps on this node (the dyno supervisor and
//! the router, composed by the `paas` binary, which owns the wasm runtime): change notifications
//! after every committed write, the dynos shown by `GET /apps/{app}/dynos`, and the hook
//! `paas server` starts the serving side with.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::ledger::Ledger;
use crate::model::{App, Dyno};

/// Something changed for an app; the serving side reconciles it from the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// An app was created: look at every app.
    Apps,
    /// The app's releases, formation, config, domains, maintenance, name or existence changed.
    /// The app is named as the request named it (name or id).
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

/// What a write request changed, from its method and path: `None` for reads and other paths.
pub fn change_of(method: &Method, path: &str) -> Option<Change> {
    if method == Method::GET || method == Method::HEAD {
        return None;
    }
    if method == Method::POST && path.trim_end_matches('/') == "/apps" {
        return Some(Change::Apps);
    }
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    match parts.as_slice() {
        [repo, "git-receive-pack"] if method == Method::POST => {
            repo.strip_suffix(".git").map(|app| Change::App(app.to_string()))
        }
        ["apps", app, "dynos"] if method == Method::DELETE => Some(Change::Restart { app: app.to_string(), target: None }),
        ["apps", app, "dynos", dyno] | ["apps", app, "formations", dyno] if method == Method::DELETE => {
            Some(Change::Restart { app: app.to_string(), target: Some(dyno.to_string()) })
        }
        // Log sessions and drains change nothing the serving side runs.
        ["apps", _, "log-sessions" | "log-drains", ..] => None,
        ["apps", app, "dynos", dyno, "actions", "stop"] => {
            Some(Change::Restart { app: app.to_string(), target: Some(dyno.to_string()) })
        }
        ["apps", app, ..] => Some(Change::App(app.to_string())),
        _ => None,
    }
}

/// Middleware: after a successful write, reports what it changed and waits (up to
/// [`APPLY_WAIT`]) until it is applied. A streamed response (`git push`, whose build and release
/// happen while the response streams) reports when it ends, without waiting.
pub async fn notify_changes(State(changes): State<Changes>, request: Request, next: Next) -> Response {
    let change = change_of(request.method(), request.uri().path());
    let response = next.run(request).await;
    let Some(change) = change else { return response };
    if !response.status().is_success() {
        return response;
    }
    if !is_git_response(&response) {
        let _ = tokio::time::timeout(APPLY_WAIT, changes.send(change)).await;
        return response;
    }
    struct OnDrop(Option<(Changes, Change)>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            if let Some((changes, change)) = self.0.take() {
                let _ = changes.send(change);
            }
        }
    }
    let guard = OnDrop(Some((changes, change)));
    response.map(|body| {
        axum::body::Body::new(body.map_frame(move |frame| {
            let _ = &guard;
            frame
        }))
    })
}

/// Whether the response is git's (`application/x-git-receive-pack-result`), streamed.
fn is_git_response(response: &Response) -> bool {
    response
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-git-"))
}

/// The dynos running an app, as `GET /apps/{app}/dynos` lists them.
#[async_trait::async_trait]
pub trait DynoDirectory: Send + Sync + 'static {
    /// The app's dynos, one-off first then by process type and number.
    async fn dynos(&self, app: &App) -> Vec<Dyno>;
}

/// What the serving side is given when `paas server` starts.
pub struct ServeContext {
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    /// The server's data directory.
    pub data_dir: PathBuf,
    /// Apps answer at `<app>.<domain>`.
    pub domain: String,
    /// The router's listener.
    pub router_listener: TcpListener,
    /// Every committed change, as it happens.
    pub changes: mpsc::UnboundedReceiver<Notice>,
    /// The log collator: dyno, router and state-change lines go here.
    pub logs: crate::logplex::Logplex,
    /// Resolves when the server shuts down.
    pub shutdown: BoxFuture<'static, ()>,
}

/// The started serving side.
pub struct Serving {
    /// Its dynos, for the API.
    pub dynos: Arc<dyn DynoDirectory>,
    /// Runs the router and the supervisor until shutdown (then stops every dyno).
    pub task: BoxFuture<'static, anyhow::Result<()>>,
}

/// Starts what serves apps (router, dyno supervisor) for `paas server`.
#[async_trait::async_trait]
pub trait ServeApps: Send + Sync + 'static {
    /// Starts serving; called once the ledger is open and the listeners are bound.
    async fn start(&self, context: ServeContext) -> anyhow::Result<Serving>;
}

/// A [`ServeApps`] as `paas server`'s config holds it.
#[derive(Clone)]
pub struct SharedServe(pub Arc<dyn ServeApps>);

impl std::fmt::Debug for SharedServe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedServe")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(a: &str) -> Option<Change> {
        Some(Change::App(a.to_string()))
    }

    fn restart(a: &str, t: Option<&str>) -> Option<Change> {
        Some(Change::Restart { app: a.to_string(), target: t.map(str::to_string) })
    }

    #[test]
    fn writes_are_told_apart_from_reads_and_restarts() {
        assert_eq!(change_of(&Method::GET, "/apps/hello/formation"), None);
        assert_eq!(change_of(&Method::PATCH, "/apps/hello/formation"), app("hello"));
        assert_eq!(change_of(&Method::PATCH, "/apps/hello/config-vars"), app("hello"));
        assert_eq!(change_of(&Method::POST, "/apps/hello/releases"), app("hello"));
        assert_eq!(change_of(&Method::DELETE, "/apps/hello"), app("hello"));
        assert_eq!(change_of(&Method::POST, "/apps/hello/domains"), app("hello"));
        assert_eq!(change_of(&Method::POST, "/hello.git/git-receive-pack"), app("hello"));
        assert_eq!(change_of(&Method::POST, "/apps"), Some(Change::Apps));
        assert_eq!(change_of(&Method::POST, "/account"), None);
        assert_eq!(change_of(&Method::POST, "/apps/hello/log-sessions"), None);
        assert_eq!(change_of(&Method::DELETE, "/apps/hello/log-drains/d.1"), None);
        assert_eq!(change_of(&Method::DELETE, "/apps/hello/dynos"), restart("hello", None));
        assert_eq!(change_of(&Method::DELETE, "/apps/hello/dynos/web.1"), restart("hello", Some("web.1")));
        assert_eq!(change_of(&Method::DELETE, "/apps/hello/formations/web"), restart("hello", Some("web")));
        assert_eq!(change_of(&Method::POST, "/apps/hello/dynos/web.2/actions/stop"), restart("hello", Some("web.2")));
    }
}
