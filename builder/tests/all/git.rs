//! Git smart HTTP end to end: a real `git push` and `git clone` against the router served by a
//! real axum server on 127.0.0.1:0, with test implementations of the platform's seams.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use paas_builder::{
    Access, BuildLedger, BuildRecord, BuildSettings, BuiltSlug, Decision, Deployer, GitAuth, GitServer, OutputSink,
};
use tokio::io::AsyncBufReadExt;

use crate::support::{builder, hello_wasm_app, repo_root, write_executable};

/// Keys: `owner-key` may push and clone, `stranger-key` is valid but has no access.
struct TestAuth;

#[async_trait::async_trait]
impl GitAuth for TestAuth {
    async fn authorize(&self, app: &str, api_key: &str, _access: Access) -> Decision {
        match (app, api_key) {
            ("no-such-app", _) => Decision::NoSuchApp,
            (_, "owner-key") => Decision::Allow { user: "owner@example.com".into() },
            (_, "stranger-key") => Decision::Forbidden,
            _ => Decision::Unauthenticated,
        }
    }
}

/// Stands in for the release ledger.
#[derive(Default)]
struct TestLedger {
    config_vars: Mutex<BTreeMap<String, String>>,
    releases: Mutex<Vec<(String, String, String)>>,
    builds: Mutex<Vec<BuildRecord>>,
}

#[async_trait::async_trait]
impl BuildLedger for TestLedger {
    async fn settings(&self, _app: &str) -> Result<BuildSettings, paas_builder::BoxError> {
        Ok(BuildSettings { config_vars: self.config_vars.lock().unwrap().clone(), buildpack_url: None })
    }

    async fn release(&self, app: &str, build: &BuiltSlug, description: &str, _out: &dyn OutputSink) -> Result<u32, paas_builder::BoxError> {
        let mut releases = self.releases.lock().unwrap();
        releases.push((app.to_string(), build.slug.id.clone(), description.to_string()));
        Ok(releases.len() as u32)
    }

    async fn record_build(&self, record: BuildRecord) {
        self.builds.lock().unwrap().push(record);
    }
}

struct Server {
    base: String,
    ledger: Arc<TestLedger>,
    git: GitServer,
    _data: tempfile::TempDir,
    home: tempfile::TempDir,
}

async fn serve() -> Server {
    let data = tempfile::tempdir().unwrap();
    let ledger = Arc::new(TestLedger::default());
    let deployer = Deployer::new(Arc::new(builder(data.path())), ledger.clone());
    let git = GitServer::start(data.path().join("repos"), Arc::new(TestAuth), Arc::new(deployer)).await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = git.router();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server { base, ledger, git, _data: data, home: tempfile::tempdir().unwrap() }
}

impl Server {
    fn url(&self, key: &str, app: &str) -> String {
        self.base.replace("http://", &format!("http://anyone:{key}@")) + &format!("/{app}.git")
    }

    /// Runs git in `dir` with a private HOME and no prompts.
    async fn git(&self, dir: &Path, args: &[&str]) -> Output {
        tokio::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("HOME", self.home.path())
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_AUTHOR_NAME", "Test")
            .env("GIT_AUTHOR_EMAIL", "test@example.com")
            .env("GIT_COMMITTER_NAME", "Test")
            .env("GIT_COMMITTER_EMAIL", "test@example.com")
            .output()
            .await
            .unwrap()
    }

    async fn commit_all(&self, dir: &Path, message: &str) {
        assert!(self.git(dir, &["add", "-A"]).await.status.success());
        let out = self.git(dir, &["commit", "--quiet", "-m", message]).await;
        assert!(out.status.success(), "{out:?}");
    }

    fn releases(&self) -> usize {
        self.ledger.releases.lock().unwrap().len()
    }
}

/// `remote:` lines of a push's stderr, without the prefix.
fn remote_lines(output: &Output) -> Vec<String> {
    String::from_utf8_lossy(&output.stderr)
        .lines()
        .filter_map(|l| l.strip_prefix("remote: "))
        .map(|l| l.trim_end().to_string())
        .collect()
}

async fn new_repo(server: &Server, files: impl FnOnce(&Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    assert!(server.git(dir.path(), &["init", "--quiet", "--initial-branch=main"]).await.status.success());
    files(dir.path());
    server.commit_all(dir.path(), "First").await;
    dir
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_builds_releases_and_streams_then_rejects_failures_and_non_fast_forwards() {
    let server = serve().await;
    let app = new_repo(&server, hello_wasm_app).await;
    let url = server.url("owner-key", "hello-app");

    let push = server.git(app.path(), &["push", &url, "main"]).await;
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    let lines = remote_lines(&push);
    let size = std::fs::metadata(app.path().join("hello.wasm")).unwrap().len() / 1024;
    assert_eq!(
        lines[..7],
        [
            "-----> Building with wasm buildpack".to_string(),
            "-----> WebAssembly app detected".to_string(),
            "-----> Checking the components named in the Procfile".to_string(),
            format!("       web: hello.wasm ({size} KiB, component)"),
            "-----> Discovering process types".to_string(),
            "       Procfile declares types -> web".to_string(),
            "-----> Compressing...".to_string(),
        ]
    );
    assert_eq!(lines.last().unwrap(), "-----> Launching... done, v1");
    let head = String::from_utf8(server.git(app.path(), &["rev-parse", "HEAD"]).await.stdout).unwrap();
    {
        let releases = server.ledger.releases.lock().unwrap();
        assert_eq!(releases.len(), 1);
        assert_eq!(releases[0].0, "hello-app");
        assert_eq!(releases[0].2, format!("Deploy {}", &head[..7]));
        let builds = server.ledger.builds.lock().unwrap();
        assert_eq!(builds[0].source_version.as_deref(), Some(head.trim()));
        assert_eq!(builds[0].release, Some(1));
        assert_eq!(builds[0].buildpack.as_deref(), Some("wasm"));
        assert_eq!(builds[0].output, lines);
    }

    // A failed build rejects the push: the ref does not move, no release is made.
    std::fs::write(app.path().join("hello.wasm"), b"\0asm\x01\0\0\0").unwrap();
    server.commit_all(app.path(), "Ship a core module").await;
    let push = server.git(app.path(), &["push", &url, "main"]).await;
    assert!(!push.status.success());
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(stderr.contains(" ! [remote rejected] main -> main (build failed)"), "{stderr}");
    let lines = remote_lines(&push);
    assert!(lines.contains(&" !     web: hello.wasm is a core WebAssembly module, not a component.".to_string()), "{lines:#?}");
    assert_eq!(
        lines[lines.len() - 4..],
        [
            "",
            " !     failed to compile WebAssembly app: bin/compile of the wasm buildpack exited with status 1",
            "",
            " !     Push failed"
        ]
    );
    assert_eq!(server.releases(), 1);
    {
        let builds = server.ledger.builds.lock().unwrap();
        assert_eq!(builds.len(), 2);
        assert_eq!((builds[1].release, builds[1].slug_id.as_ref()), (None, None));
        assert_eq!(
            builds[1].error.as_deref(),
            Some("failed to compile WebAssembly app: bin/compile of the wasm buildpack exited with status 1")
        );
    }
    let remote_head = server.git(&server.git.repo_dir("hello-app"), &["rev-parse", "main"]).await;
    assert_eq!(String::from_utf8_lossy(&remote_head.stdout), head);

    // A diverging history is refused without --force, like git does, and builds with it.
    assert!(server.git(app.path(), &["reset", "--quiet", "--hard", "HEAD~1"]).await.status.success());
    std::fs::write(app.path().join("README.md"), "changed\n").unwrap();
    server.commit_all(app.path(), "Second").await;
    let clone = tempfile::tempdir().unwrap();
    let cloned = server.git(clone.path(), &["clone", "--quiet", &url, "copy"]).await;
    assert!(cloned.status.success(), "{cloned:?}");
    std::fs::write(clone.path().join("copy/other.txt"), "x").unwrap();
    server.commit_all(&clone.path().join("copy"), "Elsewhere").await;
    let push = server.git(&clone.path().join("copy"), &["push", "--quiet", "origin", "main"]).await;
    assert!(push.status.success(), "{push:?}");
    assert_eq!(server.releases(), 2);
    let push = server.git(app.path(), &["push", &url, "main"]).await;
    assert!(!push.status.success());
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(stderr.contains("! [rejected]        main -> main (fetch first)"), "{stderr}");
    assert_eq!(server.releases(), 2);
    let push = server.git(app.path(), &["push", "--force", &url, "main"]).await;
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    assert_eq!(remote_lines(&push).last().unwrap(), "-----> Launching... done, v3");

    // Other branches are accepted without a build.
    let push = server.git(app.path(), &["push", &url, "main:feature"]).await;
    assert!(push.status.success());
    assert_eq!(remote_lines(&push), ["-----> Pushed refs/heads/feature: only main and master are built, skipping the build."]);
    assert_eq!(server.releases(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushes_and_clones_without_access_are_refused() {
    let server = serve().await;
    let app = new_repo(&server, |dir| std::fs::write(dir.join("README"), "x").unwrap()).await;

    let push = server.git(app.path(), &["push", &server.url("stranger-key", "their-app"), "main"]).await;
    assert!(!push.status.success());
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(stderr.contains("The requested URL returned error: 403"), "{stderr}");

    let push = server.git(app.path(), &["push", &server.url("wrong-key", "their-app"), "main"]).await;
    assert!(!push.status.success());
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(stderr.contains("Authentication failed"), "{stderr}");

    let no_credentials = format!("{}/their-app.git", server.base);
    let clone = server.git(app.path(), &["clone", &no_credentials, "copy"]).await;
    assert!(!clone.status.success());

    let response = raw_get(&format!("{}/their-app.git/info/refs?service=git-upload-pack", server.base)).await;
    assert!(response.starts_with("HTTP/1.1 401"), "{response}");
    assert!(response.to_ascii_lowercase().contains("www-authenticate: basic realm=\"paas\""), "{response}");

    let push = server.git(app.path(), &["push", &server.url("owner-key", "no-such-app"), "main"]).await;
    assert!(String::from_utf8_lossy(&push.stderr).contains("not found"), "{push:?}");
    assert_eq!(server.releases(), 0);
}

/// A GET with no credentials, answered as text.
async fn raw_get(url: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn build_output_reaches_the_pusher_while_the_build_runs() {
    let server = serve().await;
    let buildpack = tempfile::tempdir().unwrap();
    write_executable(
        &buildpack.path().join("bin/compile"),
        "#!/bin/sh\necho '-----> first'\nsleep 2\necho '-----> second'\n",
    );
    server.ledger.config_vars.lock().unwrap().insert("BUILDPACK_URL".into(), buildpack.path().display().to_string());
    let app = new_repo(&server, |dir| std::fs::write(dir.join("README"), "x").unwrap()).await;

    let mut child = tokio::process::Command::new("git")
        .args(["push", "--progress", &server.url("owner-key", "slow-app"), "main"])
        .current_dir(app.path())
        .env("HOME", server.home.path())
        .env("GIT_TERMINAL_PROMPT", "0")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let mut seen: Vec<(String, Instant)> = Vec::new();
    while let Some(line) = lines.next_line().await.unwrap() {
        for part in line.split('\r') {
            seen.push((part.trim_end().to_string(), Instant::now()));
        }
    }
    assert!(child.wait().await.unwrap().success());
    let at = |text: &str| seen.iter().find(|(l, _)| l == text).unwrap_or_else(|| panic!("{text} in {seen:#?}")).1;
    let gap = at("remote: -----> second") - at("remote: -----> first");
    assert!(gap >= Duration::from_millis(1500), "the first line arrived {gap:?} before the second");
    assert_eq!(server.releases(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tarball_deploys_like_a_push() {
    let data = tempfile::tempdir().unwrap();
    let ledger = Arc::new(TestLedger::default());
    let deployer = Deployer::new(Arc::new(builder(data.path())), ledger.clone());
    let tarball = data.path().join("source.tar.gz");
    let status = std::process::Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(repo_root().join("examples/static-site"))
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    let out = paas_builder::CollectOutput::default();
    let deployed = deployer
        .deploy("static-app", paas_builder::Source::Tarball(PathBuf::from(&tarball)), None, "Deploy from tarball", &out)
        .await
        .unwrap();
    assert_eq!(deployed.version, 1);
    assert_eq!(deployed.build.buildpack, "static");
    assert_eq!(out.lines().last().unwrap(), "-----> Launching... done, v1");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pushing_the_rust_and_static_examples_and_a_broken_rust_app() {
    let server = serve().await;
    let url = |app: &str| server.url("owner-key", app);
    let copy = |example: &'static str| {
        move |dir: &Path| paas_builder::source::copy_tree(&repo_root().join(example), dir).unwrap()
    };

    let hello = new_repo(&server, copy("examples/hello-rust")).await;
    let push = server.git(hello.path(), &["push", &url("hello-rust"), "main"]).await;
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    let lines = remote_lines(&push);
    assert_eq!(lines[..2], ["-----> Building with rust buildpack", "-----> Rust app detected"]);
    assert!(lines.iter().any(|l| l.trim_start().starts_with("Compiling hello-rust v0.1.0")), "{lines:#?}");
    assert!(lines.contains(&"       web: target/wasm32-wasip2/release/hello-rust.wasm".to_string()), "{lines:#?}");
    assert_eq!(lines.last().unwrap(), "-----> Launching... done, v1");

    let site = new_repo(&server, copy("examples/static-site")).await;
    let push = server.git(site.path(), &["push", &url("static-site"), "main"]).await;
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
    let lines = remote_lines(&push);
    assert_eq!(lines[..2], ["-----> Building with static buildpack", "-----> Static app detected"]);
    assert_eq!(lines.last().unwrap(), "-----> Launching... done, v2");

    let broken = new_repo(&server, copy("builder/tests/fixtures/broken-rust")).await;
    let push = server.git(broken.path(), &["push", &url("broken-rust"), "main"]).await;
    assert!(!push.status.success());
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert!(stderr.contains("remote:        error[E0308]: mismatched types"), "{stderr}");
    assert!(stderr.contains(" ! [remote rejected] main -> main (build failed)"), "{stderr}");
    assert_eq!(server.releases(), 2, "no release for the broken app");
}

/// The peak resident memory of this process (`VmHWM`), in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `len` zero bytes, gzip'd (a gzip bomb: about a thousandth of that).
pub fn gzip_bomb(len: u64) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let zeros = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(zeros.len() as u64) as usize;
        encoder.write_all(&zeros[..n]).unwrap();
        left -= n as u64;
    }
    encoder.finish().unwrap()
}

/// Sends `POST path` with `body` as `Content-Encoding: gzip` and the owner's key; the status
/// code and body of the answer.
pub async fn post_gzip(base: &str, path: &str, body: &[u8]) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use base64::Engine;
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("anyone:owner-key");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\nContent-Type: application/x-git-receive-pack-request\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(body).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer.split(' ').nth(1).unwrap().parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

#[tokio::test]
async fn a_gzip_bomb_on_receive_pack_is_refused_without_inflating_it_in_memory() {
    let server = serve().await;
    let bomb = gzip_bomb(paas_builder::git::MAX_PUSH_SIZE + (1 << 20));
    let before = peak_rss_kib();
    let (status, body) = post_gzip(&server.base, "/bomb-app.git/git-receive-pack", &bomb).await;
    let grew_mib = (peak_rss_kib() - before) >> 10;
    assert_eq!(status, 413, "{body}");
    assert!(body.contains("inflates to more than 1024 MiB, paas's limit"), "{body}");
    assert!(grew_mib < 128, "the server's peak RSS grew by {grew_mib} MiB");
    let leftovers: Vec<_> = std::fs::read_dir(server.git.repo_dir("bomb-app").parent().unwrap()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "only the repository, no inflated leftovers: {leftovers:?}");
    // The server still serves pushes.
    let app = new_repo(&server, hello_wasm_app).await;
    let push = server.git(app.path(), &["push", &server.url("owner-key", "after-bomb"), "main"]).await;
    assert!(push.status.success(), "{}", String::from_utf8_lossy(&push.stderr));
}
