//! Git smart HTTP (`/<app>.git/info/refs`, `git-receive-pack`, `git-upload-pack`) over a bare
//! repository per app, served by the system `git` as an axum [`Router`] to merge into the API
//! listener.
//!
//! Pushes to `main`/`master` build during `receive-pack`: each bare repo has a `pre-receive`
//! hook (bash) that connects back to a listener on 127.0.0.1 opened by [`GitServer::start`],
//! presents the one-time token given to that `receive-pack` in its environment, and relays the
//! build's output, which git sends to the pusher as `remote:` lines while it runs. A failed build
//! makes the hook exit 1, so git rejects the push and the refs stay where they were.
//!
//! Authentication is HTTP basic with any user name and the API key as the password (what
//! `~/.netrc` holds); [`GitAuth`] decides who may read or write which app.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::io::ReaderStream;

use crate::build::is_valid_app_name;
use crate::deploy::DeployError;
use crate::output::OutputSink;
use crate::report::{Rejection, ReportRewriter};
use crate::source::Source;

/// What a git request wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Clone or fetch (`git-upload-pack`).
    Read,
    /// Push (`git-receive-pack`).
    Write,
}

/// The answer of [`GitAuth::authorize`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Go ahead; `user` is who it is (e.g. their email), for logs and build records.
    Allow {
        /// Who the key belongs to.
        user: String,
    },
    /// The key is unknown: 401, git asks for other credentials.
    Unauthenticated,
    /// The key is valid but may not do this to this app: 403.
    Forbidden,
    /// No such app: 404.
    NoSuchApp,
}

/// Decides whether an API key may read or write an app's repository (the platform implements it:
/// the owner, collaborators and operators may).
#[async_trait::async_trait]
pub trait GitAuth: Send + Sync {
    /// May the holder of `api_key` do `access` on `app`?
    async fn authorize(&self, app: &str, api_key: &str, access: Access) -> Decision;
}

/// A push of `main` or `master`, in the `pre-receive` hook: the new commit is in quarantine until
/// the handler returns `Ok`.
#[derive(Debug, Clone)]
pub struct Push {
    /// The app.
    pub app: String,
    /// Who pushed (from [`Decision::Allow`]).
    pub user: String,
    /// `refs/heads/main` or `refs/heads/master`.
    pub ref_name: String,
    /// The ref's commit before the push (40 zeros for a new ref).
    pub old_rev: String,
    /// The pushed commit.
    pub new_rev: String,
    /// The pushed tree, readable while the hook runs ([`Source::Git`] with the quarantine).
    pub source: Source,
}

/// What happens on a push of `main`/`master` (the server builds and releases; see
/// [`crate::deploy::Deployer`]). Lines written to `out` reach the pusher as `remote:` lines.
#[async_trait::async_trait]
pub trait PushHandler: Send + Sync {
    /// Builds the push; `Err(reason)` rejects it (write the details to `out` first).
    async fn push(&self, push: Push, out: &dyn OutputSink) -> Result<(), DeployError>;
}

#[async_trait::async_trait]
impl PushHandler for crate::deploy::Deployer {
    async fn push(&self, push: Push, out: &dyn OutputSink) -> Result<(), DeployError> {
        let short = &push.new_rev[..push.new_rev.len().min(7)];
        let description = format!("Deploy {short}");
        self.deploy(&push.app, push.source, Some(push.new_rev.clone()), &description, out).await.map(|_| ())
    }
}

/// The git endpoint: bare repositories under one folder, the hook listener, the seams.
#[derive(Clone)]
pub struct GitServer {
    inner: Arc<Inner>,
}

struct Inner {
    repos_dir: PathBuf,
    auth: Arc<dyn GitAuth>,
    handler: Arc<dyn PushHandler>,
    hook_addr: SocketAddr,
    pending: Mutex<HashMap<String, Pending>>,
    accept_task: tokio::task::JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

#[derive(Debug, Clone)]
struct Pending {
    app: String,
    user: String,
    rejection: Rejection,
}

/// The `pre-receive` hook installed in every repository.
const HOOK: &str = r#"#!/usr/bin/env bash
# paas pre-receive hook: hands the pushed refs to the paas server, which builds the app and
# streams the output back; a failed build exits 1, so git rejects the push.
if [ -z "$PAAS_HOOK_PORT" ]; then
  echo " !     This repository only accepts pushes through the paas server." >&2
  exit 1
fi
if ! exec 3<>"/dev/tcp/127.0.0.1/$PAAS_HOOK_PORT"; then
  echo " !     The paas build service is unreachable." >&2
  exit 1
fi
{
  printf '%s\n' "$PAAS_HOOK_TOKEN"
  printf 'GIT_OBJECT_DIRECTORY=%s\n' "$GIT_OBJECT_DIRECTORY"
  printf 'GIT_ALTERNATE_OBJECT_DIRECTORIES=%s\n' "$GIT_ALTERNATE_OBJECT_DIRECTORIES"
  printf 'GIT_QUARANTINE_PATH=%s\n' "$GIT_QUARANTINE_PATH"
  printf '\n'
  cat
  printf 'end\n'
} >&3
status=1
while IFS= read -r line <&3; do
  case "$line" in
    "paas-hook-exit "*) status=${line#paas-hook-exit } ;;
    *) printf '%s\n' "$line" ;;
  esac
done
exit "$status"
"#;

/// The most one push may send: `receive.maxInputSize` of every `receive-pack` (git refuses a
/// bigger pack with `fatal: pack exceeds maximum allowed size`), and the most a gzip'd
/// `git-receive-pack` request body may inflate to: 1 GiB.
pub const MAX_PUSH_SIZE: u64 = 1 << 30;

/// The most a `git-upload-pack` request body (the wants and haves of a fetch) may be, inflated:
/// 64 MiB.
pub const MAX_FETCH_REQUEST_SIZE: u64 = 64 << 20;

impl GitServer {
    /// Opens the hook listener on 127.0.0.1 and serves repositories in `repos_dir` (e.g.
    /// `<data-dir>/repos`), created on first use. Must run inside a tokio runtime.
    pub async fn start(
        repos_dir: impl Into<PathBuf>,
        auth: Arc<dyn GitAuth>,
        handler: Arc<dyn PushHandler>,
    ) -> io::Result<GitServer> {
        let repos_dir = repos_dir.into();
        tokio::fs::create_dir_all(&repos_dir).await?;
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let hook_addr = listener.local_addr()?;
        let inner = Arc::new_cyclic(|weak: &std::sync::Weak<Inner>| {
            let weak = weak.clone();
            let accept_task = tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let Some(inner) = weak.upgrade() else { break };
                    tokio::spawn(async move {
                        if let Err(e) = inner.serve_hook(stream).await {
                            tracing::warn!("pre-receive hook connection: {e}");
                        }
                    });
                }
            });
            Inner {
                repos_dir,
                auth,
                handler,
                hook_addr,
                pending: Mutex::default(),
                accept_task,
            }
        });
        Ok(GitServer { inner })
    }

    /// The routes `/{app}.git/info/refs`, `/{app}.git/git-receive-pack` and
    /// `/{app}.git/git-upload-pack`, to merge into the API router.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/{repo}/info/refs", get(info_refs))
            .route("/{repo}/git-receive-pack", post(receive_pack))
            .route("/{repo}/git-upload-pack", post(upload_pack))
            .with_state(self.inner.clone())
    }

    /// The app's bare repository folder.
    pub fn repo_dir(&self, app: &str) -> PathBuf {
        self.inner.repo_dir(app)
    }

    /// Creates the app's bare repository (default branch `main`) if missing, and (re)writes its
    /// `pre-receive` hook. Idempotent.
    pub async fn ensure_repo(&self, app: &str) -> io::Result<PathBuf> {
        self.inner.ensure_repo(app).await
    }

    /// Deletes the app's repository (when the app is destroyed).
    pub async fn delete_repo(&self, app: &str) -> io::Result<()> {
        match tokio::fs::remove_dir_all(self.inner.repo_dir(app)).await {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }
}

impl Inner {
    fn repo_dir(&self, app: &str) -> PathBuf {
        self.repos_dir.join(format!("{app}.git"))
    }

    async fn ensure_repo(&self, app: &str) -> io::Result<PathBuf> {
        let dir = self.repo_dir(app);
        if !dir.join("HEAD").exists() {
            let output = tokio::process::Command::new("git")
                .args(["init", "--quiet", "--bare", "--initial-branch=main"])
                .arg(&dir)
                .output()
                .await?;
            if !output.status.success() {
                return Err(io::Error::other(format!(
                    "git init: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
        }
        let hook = dir.join("hooks/pre-receive");
        if tokio::fs::read_to_string(&hook).await.ok().as_deref() != Some(HOOK) {
            tokio::fs::create_dir_all(dir.join("hooks")).await?;
            let temp = dir.join("hooks/.pre-receive.new");
            tokio::fs::write(&temp, HOOK).await?;
            use std::os::unix::fs::PermissionsExt;
            tokio::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)).await?;
            tokio::fs::rename(&temp, &hook).await?;
        }
        Ok(dir)
    }

    /// Checks the request's credentials; `Err` is the response to send.
    async fn authorize(&self, repo: &str, headers: &HeaderMap, access: Access) -> Result<(String, String), Response> {
        let app = repo.strip_suffix(".git").filter(|a| is_valid_app_name(a)).ok_or_else(|| {
            (StatusCode::NOT_FOUND, "Not found: repositories are /<app>.git\n").into_response()
        })?;
        let Some(key) = basic_password(headers) else {
            return Err(unauthorized());
        };
        match self.auth.authorize(app, &key, access).await {
            Decision::Allow { user } => Ok((app.to_string(), user)),
            Decision::Unauthenticated => Err(unauthorized()),
            Decision::Forbidden => Err((
                StatusCode::FORBIDDEN,
                format!("You do not have access to the app {app}.\n"),
            )
                .into_response()),
            Decision::NoSuchApp => Err((StatusCode::NOT_FOUND, format!("Couldn't find the app {app}.\n")).into_response()),
        }
    }

    /// [`Inner::authorize`], then the app's repository (created if new): the app, the user and
    /// the repository's folder; `Err` is the response to send.
    async fn open_repo(
        &self,
        repo: &str,
        headers: &HeaderMap,
        access: Access,
    ) -> Result<(String, String, PathBuf), Response> {
        let (app, user) = self.authorize(repo, headers, access).await?;
        let dir = self.ensure_repo(&app).await.map_err(internal)?;
        Ok((app, user, dir))
    }

    /// One hook connection: token, git environment, ref updates, then the build's output.
    async fn serve_hook(self: Arc<Self>, stream: TcpStream) -> io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        let token = lines.next_line().await?.unwrap_or_default();
        let pending = self.pending.lock().expect("pending").remove(&token);
        let Some(pending) = pending else {
            write.write_all(b" !     Unknown push.\npaas-hook-exit 1\n").await?;
            return Ok(());
        };
        let mut env = Vec::new();
        while let Some(line) = lines.next_line().await? {
            if line.is_empty() {
                break;
            }
            const QUARANTINE: [&str; 3] = ["GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH"];
            if let Some((key, value)) = line.split_once('=')
                && QUARANTINE.contains(&key)
                && !value.is_empty()
            {
                env.push((key.to_string(), value.to_string()));
            }
        }
        let mut updates = Vec::new();
        while let Some(line) = lines.next_line().await? {
            if line == "end" {
                break;
            }
            let parts: Vec<&str> = line.split(' ').collect();
            if let [old, new, name] = parts[..] {
                updates.push((old.to_string(), new.to_string(), name.to_string()));
            }
        }

        // The build waits for a slow pusher (StreamOutput), and goes on when the pusher is gone.
        let (tx, mut rx) = crate::output::stream();
        let writer = tokio::spawn(async move {
            let mut connected = true;
            while let Some(line) = rx.next().await {
                let mut bytes = line.into_bytes();
                bytes.push(b'\n');
                connected = connected && write.write_all(&bytes).await.is_ok();
            }
            write
        });
        let result = self.on_push(&pending, updates, env, &tx).await;
        let ok = result.is_ok();
        *pending.rejection.lock().expect("rejection") = result.err().map(|rejected| rejected.to_string());
        drop(tx);
        let mut write = writer.await.map_err(io::Error::other)?;
        write.write_all(format!("paas-hook-exit {}\n", if ok { 0 } else { 1 }).as_bytes()).await?;
        write.shutdown().await
    }

    async fn on_push(
        &self,
        pending: &Pending,
        updates: Vec<(String, String, String)>,
        env: Vec<(String, String)>,
        out: &crate::output::StreamOutput,
    ) -> Result<(), Rejected> {
        let is_deleted = |rev: &str| rev.bytes().all(|b| b == b'0');
        let deployed = ["refs/heads/main", "refs/heads/master"];
        let mut build = None;
        for (old, new, name) in updates {
            if deployed.contains(&name.as_str()) {
                if is_deleted(&new) {
                    out.error(&format!("Deleting {name} is not allowed: it is the deployed branch."));
                    return Err(Rejected::DeletesDeployedBranch);
                }
                if build.is_none() || name == "refs/heads/main" {
                    build = Some((old, new, name));
                }
            } else {
                out.step(&format!("Pushed {name}: only main and master are built, skipping the build."));
            }
        }
        let Some((old_rev, new_rev, ref_name)) = build else { return Ok(()) };
        let push = Push {
            app: pending.app.clone(),
            user: pending.user.clone(),
            ref_name,
            old_rev,
            new_rev: new_rev.clone(),
            source: Source::Git { repo: self.repo_dir(&pending.app), rev: new_rev, env },
        };
        self.handler.push(push, out).await.map_err(|_| Rejected::BuildFailed)
    }
}

/// Why a push was rejected, as receive-pack's report says (the details went to the pusher as
/// `remote:` lines already).
#[derive(Debug, thiserror::Error)]
enum Rejected {
    /// The push deletes `main` or `master`.
    #[error("deleting the deployed branch is not allowed")]
    DeletesDeployedBranch,
    /// The build or its release failed.
    #[error("build failed")]
    BuildFailed,
}

fn unauthorized() -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "Invalid credentials: use your API key as the password (paas login writes ~/.netrc).\n").into_response();
    response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"paas\""));
    response
}

/// The password of a `Basic` authorization header.
fn basic_password(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value.strip_prefix("Basic ").or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let (_, password) = String::from_utf8(decoded).ok()?.split_once(':').map(|(u, p)| (u.to_string(), p.to_string()))?;
    (!password.is_empty()).then_some(password)
}

#[derive(serde::Deserialize)]
struct ServiceQuery {
    service: Option<String>,
}

async fn info_refs(
    State(inner): State<Arc<Inner>>,
    UrlPath(repo): UrlPath<String>,
    Query(query): Query<ServiceQuery>,
    headers: HeaderMap,
) -> Response {
    let (service, access) = match query.service.as_deref() {
        Some("git-upload-pack") => ("upload-pack", Access::Read),
        Some("git-receive-pack") => ("receive-pack", Access::Write),
        _ => return (StatusCode::FORBIDDEN, "Only the smart HTTP protocol is served.\n").into_response(),
    };
    let dir = match inner.open_repo(&repo, &headers, access).await {
        Ok((_, _, dir)) => dir,
        Err(response) => return response,
    };
    let mut command = git_command(service, &dir, &headers);
    command.arg("--advertise-refs");
    let output = match command.stdin(Stdio::null()).output().await {
        Ok(output) if output.status.success() => output.stdout,
        Ok(output) => return internal(io::Error::other(String::from_utf8_lossy(&output.stderr).into_owned())),
        Err(e) => return internal(e),
    };
    let mut body = pkt_line(&format!("# service=git-{service}\n"));
    body.extend_from_slice(b"0000");
    body.extend_from_slice(&output);
    git_response(&format!("application/x-git-{service}-advertisement"), Body::from(body))
}

async fn receive_pack(
    State(inner): State<Arc<Inner>>,
    UrlPath(repo): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let (app, user, dir) = match inner.open_repo(&repo, &headers, Access::Write).await {
        Ok(opened) => opened,
        Err(response) => return response,
    };
    let token = hex::encode(rand::random::<[u8; 32]>());
    let rejection = Rejection::default();
    let pending = Pending { app, user, rejection: rejection.clone() };
    inner.pending.lock().expect("pending").insert(token.clone(), pending);
    let mut command = git_command("receive-pack", &dir, &headers);
    command
        .env("PAAS_HOOK_PORT", inner.hook_addr.port().to_string())
        .env("PAAS_HOOK_TOKEN", &token);
    let forget = {
        let inner = inner.clone();
        move || {
            inner.pending.lock().expect("pending").remove(&token);
        }
    };
    run_service(command, body, &headers, "receive-pack", Some(rejection), forget, &inner.repos_dir).await
}

async fn upload_pack(
    State(inner): State<Arc<Inner>>,
    UrlPath(repo): UrlPath<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let dir = match inner.open_repo(&repo, &headers, Access::Read).await {
        Ok((_, _, dir)) => dir,
        Err(response) => return response,
    };
    run_service(git_command("upload-pack", &dir, &headers), body, &headers, "upload-pack", None, || {}, &inner.repos_dir).await
}

/// `git <service> --stateless-rpc DIR` with a minimal environment.
fn git_command(service: &str, dir: &Path, headers: &HeaderMap) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("git");
    command
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .arg("-c")
        .arg(format!("receive.maxInputSize={MAX_PUSH_SIZE}"))
        .arg(service)
        .arg("--stateless-rpc");
    if let Some(protocol) = headers.get("git-protocol").and_then(|v| v.to_str().ok()) {
        command.env("GIT_PROTOCOL", protocol);
    }
    command.arg(dir);
    command.kill_on_drop(true);
    command
}

/// Streams the request body into the service and its output back as the response body. A
/// gzip'd body is first inflated into an unnamed temporary file in `scratch`, as a stream and at
/// most [`body_limit`] bytes, so a gzip bomb costs neither memory nor more than that much disk and
/// is answered `413` with a message saying so; a plain body is streamed as it comes (git itself
/// enforces `receive.maxInputSize` on pushes), cut at the same limit.
async fn run_service(
    mut command: tokio::process::Command,
    body: Body,
    headers: &HeaderMap,
    service: &str,
    rejection: Option<Rejection>,
    on_exit: impl FnOnce() + Send + 'static,
    scratch: &Path,
) -> Response {
    let limit = body_limit(service);
    let gzipped = headers.get(header::CONTENT_ENCODING).is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"));
    let input = body.into_data_stream().map_err(io::Error::other);
    let mut reader: Box<dyn tokio::io::AsyncRead + Send + Unpin> = if gzipped {
        match inflate(input, limit, scratch).await {
            Ok(file) => Box::new(tokio::fs::File::from_std(file)),
            Err(e) => {
                on_exit();
                return inflate_refusal(service, limit, e);
            }
        }
    } else {
        Box::new(tokio::io::AsyncReadExt::take(tokio_util::io::StreamReader::new(input), limit))
    };
    let mut child = match command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::inherit()).spawn() {
        Ok(child) => child,
        Err(e) => {
            on_exit();
            return internal(e);
        }
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    tokio::spawn(async move {
        if let Err(e) = tokio::io::copy(&mut reader, &mut stdin).await {
            tracing::debug!("git request body: {e}");
        }
        drop(stdin);
        let _ = child.wait().await;
        on_exit();
    });
    let output = ReaderStream::new(stdout);
    let body = match rejection {
        None => Body::from_stream(output),
        Some(rejection) => {
            let rewriter = Arc::new(Mutex::new(ReportRewriter::new(rejection)));
            let rest = rewriter.clone();
            let rewritten = output.map_ok(move |chunk| rewriter.lock().expect("rewriter").feed(&chunk));
            let end = futures::stream::once(async move { Ok(rest.lock().expect("rewriter").finish()) });
            Body::from_stream(rewritten.chain(end))
        }
    };
    git_response(&format!("application/x-git-{service}-result"), body)
}

/// The most a request body of `service` may be (inflated, when gzip'd).
fn body_limit(service: &str) -> u64 {
    if service == "receive-pack" { MAX_PUSH_SIZE } else { MAX_FETCH_REQUEST_SIZE }
}

/// Inflates a gzip'd body into an unnamed temporary file in `scratch`, rewound; fails with
/// `FileTooLarge` past `limit` inflated bytes (having written at most that much). The compressed
/// input is fed a few KiB at a time, so memory stays at a few MiB whatever the ratio.
async fn inflate(
    input: impl futures::Stream<Item = io::Result<bytes::Bytes>> + Unpin,
    limit: u64,
    scratch: &Path,
) -> io::Result<std::fs::File> {
    use std::io::{Seek, Write};
    const SLICE: usize = 4096;
    let file = tempfile::tempfile_in(scratch)?;
    let mut decoder = flate2::write::GzDecoder::new(Capped { file, written: 0, limit });
    let mut input = input;
    while let Some(chunk) = input.next().await {
        // Blocking writes into the page cache, a slice (at most ~4 MiB inflated) at a time.
        for slice in chunk?.chunks(SLICE) {
            decoder.write_all(slice)?;
        }
    }
    let mut file = decoder.finish()?.file;
    file.rewind()?;
    Ok(file)
}

/// A file that refuses to grow past `limit` bytes.
struct Capped {
    file: std::fs::File,
    written: u64,
    limit: u64,
}

impl std::io::Write for Capped {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > self.limit {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, "inflated body over the limit"));
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The answer to a gzip'd body that could not be inflated.
fn inflate_refusal(service: &str, limit: u64, error: io::Error) -> Response {
    match error.kind() {
        io::ErrorKind::FileTooLarge => (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("The gzip'd git-{service} request inflates to more than {} MiB, paas's limit; nothing was received.\n", limit >> 20),
        )
            .into_response(),
        io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => (
            StatusCode::BAD_REQUEST,
            format!("The git-{service} request says Content-Encoding: gzip but is not valid gzip: {error}\n"),
        )
            .into_response(),
        _ => internal(error),
    }
}

fn git_response(content_type: &str, body: Body) -> Response {
    let mut response = Response::new(body);
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_str(content_type).expect("a valid content type"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache, max-age=0, must-revalidate"));
    response
}

fn pkt_line(text: &str) -> Vec<u8> {
    format!("{:04x}{text}", text.len() + 4).into_bytes()
}

fn internal(error: io::Error) -> Response {
    tracing::error!("git: {error}");
    (StatusCode::INTERNAL_SERVER_ERROR, "Internal error in the git service.\n").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkt_lines_and_basic_passwords() {
        assert_eq!(pkt_line("# service=git-upload-pack\n"), b"001e# service=git-upload-pack\n");
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjprZXk6d2l0aDpjb2xvbnM="));
        assert_eq!(basic_password(&headers).as_deref(), Some("key:with:colons"));
        headers.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic dXNlcjo="));
        assert_eq!(basic_password(&headers), None);
    }
}
