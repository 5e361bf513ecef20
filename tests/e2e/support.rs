//! The test harness: starts a real `paas server` on port 0 with a temporary data dir, and runs
//! the real `paas` client against it with a temporary `HOME`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// The path of the `paas` binary under test.
pub fn paas_bin() -> &'static str {
    env!("CARGO_BIN_EXE_paas")
}

/// A running `paas server`, killed when dropped.
pub struct TestServer {
    child: Child,
    /// `http://127.0.0.1:PORT` of the Platform API (no trailing slash).
    pub api_url: String,
    /// `http://127.0.0.1:PORT` of the router (no trailing slash).
    pub router_url: String,
    /// The operator's API key, read from `<data-dir>/operator-api-key`.
    pub operator_key: String,
    /// Every line the server printed to stdout, as it printed them.
    pub stdout: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    /// Holds the data dir (and the client's home) until the server is dropped.
    pub dir: tempfile::TempDir,
    /// The server's data dir (`<dir>/data` unless started otherwise).
    data_dir: PathBuf,
}

impl TestServer {
    /// Starts `paas server` with a fresh data dir.
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("temp dir");
        Self::start_in(dir)
    }

    /// Starts `paas server` on the data dir `<dir>/data` (which may hold a previous server's state).
    pub fn start_in(dir: tempfile::TempDir) -> TestServer {
        Self::start_with(dir, &[])
    }

    /// Starts `paas server` on the data dir `<dir>/data` with extra arguments (`--database-url …`).
    pub fn start_with(dir: tempfile::TempDir, extra_args: &[&str]) -> TestServer {
        let data_dir = dir.path().join("data");
        let mut command = Command::new(paas_bin());
        command
            .arg("server")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"])
            .args(["--domain", "localhost"])
            .args(extra_args);
        Self::spawn(command, dir, data_dir)
    }

    /// Starts `command` (a `paas server` listening on free ports) with `HOME` `<dir>/home`, and
    /// waits for the addresses it prints; `data_dir` is where it keeps its data.
    /// Each server takes a container network of its own unless the command names one: a /24 of
    /// 10.240.0.0/12 no other server of this host holds, kept in `<dir>/dyno-network` so that a
    /// server restarted on the same dir has the same (and removes what a crashed one left there).
    pub fn spawn(mut command: Command, dir: tempfile::TempDir, data_dir: PathBuf) -> TestServer {
        std::fs::create_dir_all(dir.path().join("home")).expect("home dir");
        if !command.get_envs().any(|(k, _)| k == "PAAS_DYNO_NETWORK") {
            let kept = dir.path().join("dyno-network");
            let range = std::fs::read_to_string(&kept).unwrap_or_else(|_| {
                let within = paas_sandbox::net::STANDALONE_RANGE.parse().expect("range");
                let range = paas_sandbox::net::free_range(within, 24).map_or("host".to_string(), |r| r.to_string());
                std::fs::write(&kept, &range).expect("write dyno-network");
                range
            });
            command.env("PAAS_DYNO_NETWORK", range);
        }
        let mut child = command
            .env("HOME", dir.path().join("home"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start paas server");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (found_tx, found_rx) = mpsc::channel();
        {
            let lines = lines.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    println!("[paas server] {line}");
                    // Plain HTTP only: `API listening on https://…` (--api-tls-listen) is read by its test.
                    for (prefix, which) in [("API listening on http://", "api"), ("Router listening on http://", "router")] {
                        if let Some(rest) = line.strip_prefix(prefix) {
                            let _ = found_tx.send((which, format!("http://{}", rest.trim_end_matches('/'))));
                        }
                    }
                    lines.lock().unwrap().push(line);
                }
            });
        }
        let (mut api_url, mut router_url) = (None, None);
        while api_url.is_none() || router_url.is_none() {
            match found_rx.recv_timeout(Duration::from_secs(60)) {
                Ok(("api", url)) => api_url = Some(url),
                Ok((_, url)) => router_url = Some(url),
                Err(_) => {
                    let _ = child.kill();
                    panic!("paas server did not print both listening addresses within 60 s");
                }
            }
        }
        let operator_key = std::fs::read_to_string(data_dir.join("operator-api-key"))
            .expect("operator-api-key written on first start")
            .trim()
            .to_string();
        TestServer {
            child,
            api_url: api_url.unwrap(),
            router_url: router_url.unwrap(),
            operator_key,
            stdout: lines,
            dir,
            data_dir,
        }
    }

    /// The server process's id (for `/proc/<pid>/status`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's peak resident memory (`VmHWM`) so far, in MiB.
    pub fn peak_rss_mib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("the server's /proc status");
        let line = status.lines().find(|l| l.starts_with("VmHWM:")).expect("VmHWM");
        line.split_whitespace().nth(1).and_then(|kib| kib.parse::<u64>().ok()).expect("VmHWM in kB") >> 10
    }

    /// The server's data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.data_dir.clone()
    }

    /// The `HOME` given to clients run by [`TestServer::paas`].
    pub fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    /// Stops the server with SIGTERM and gives back its temp dir, to start another on it.
    pub fn stop(mut self) -> tempfile::TempDir {
        terminate(&mut self.child);
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    /// Kills the server with SIGKILL (a crash: it stops nothing) and gives back its temp dir, to
    /// start another on it.
    pub fn crash(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().expect("temp dir");
        std::mem::replace(&mut self.dir, dir)
    }

    /// Stops the server with SIGTERM (SIGKILL after 5 s) and gives back how it exited.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        terminate(&mut self.child);
        let status = self.child.wait().expect("wait for paas server");
        // Let the stdout reader catch up with the last lines.
        std::thread::sleep(Duration::from_millis(100));
        status
    }

    /// Stops the server with SIGTERM, waits up to `limit` for it to exit (SIGKILL after) and
    /// gives back how it exited.
    pub fn terminate_within(&mut self, limit: Duration) -> std::process::ExitStatus {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill").arg("-TERM").arg(self.child.id().to_string()).status();
        }
        let deadline = std::time::Instant::now() + limit;
        while let Ok(None) = self.child.try_wait() {
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let status = self.child.wait().expect("wait for paas server");
        std::thread::sleep(Duration::from_millis(100));
        status
    }

    /// A `paas` client command with `HOME` set to the test's home and the API URL and key of
    /// `key` in the environment.
    pub fn paas_as(&self, key: &str) -> Command {
        let mut command = Command::new(paas_bin());
        command
            .env("HOME", self.home())
            .env("PAAS_API_URL", &self.api_url)
            .env("PAAS_API_KEY", key)
            .current_dir(self.home())
            .stdin(Stdio::null());
        command
    }

    /// A `paas` client command run as the operator.
    pub fn paas(&self) -> Command {
        self.paas_as(&self.operator_key)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

fn terminate(child: &mut Child) {
    if let Ok(None) = child.try_wait() {
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        for _ in 0..100 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Runs a command, and panics with its output unless it exits 0. Gives back stdout.
pub fn ok(command: &mut Command) -> String {
    let output = run(command);
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs a command to completion, capturing its output.
pub fn run(command: &mut Command) -> Output {
    command.output().unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

/// The workspace's root (`examples/`, `bench/` live under it).
pub fn repo_root() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// `git` in `dir` with `home` as HOME (its `.netrc`), no prompts and a fixed author; its output,
/// whatever it exits with.
pub fn try_git(home: &Path, dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("run git")
}

/// [`try_git`], panicking with git's output unless it exits 0.
pub fn git(home: &Path, dir: &Path, args: &[&str]) -> Output {
    let output = try_git(home, dir, args);
    assert!(
        output.status.success(),
        "git {args:?}: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// `paas login` as `key` with `home` as HOME: writes the `.netrc` that `git push` then uses.
pub fn login(server: &TestServer, home: &Path, key: &str) {
    let mut command = Command::new(paas_bin());
    command.args(["login", "--api-url", &server.api_url, "--api-key", key]).env("HOME", home);
    ok(command.env_remove("PAAS_API_URL").env_remove("PAAS_API_KEY"));
}

/// A git repo in a temp dir holding a copy of `examples/<example>`, committed on `main`
/// (hello-wasm with its component built).
pub fn example_repo(home: &Path, example: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    paas_builder::source::copy_tree(&repo_root().join("examples").join(example), dir.path()).unwrap();
    if example == "hello-wasm" {
        std::fs::copy(hello_wasm_component(), dir.path().join("hello.wasm")).unwrap();
    }
    git(home, dir.path(), &["init", "--quiet", "--initial-branch=main"]);
    git(home, dir.path(), &["add", "-A"]);
    git(home, dir.path(), &["commit", "--quiet", "-m", "First"]);
    dir
}

/// Builds `examples/hello-wasm/component` (the component is built, never checked in).
pub fn hello_wasm_component() -> PathBuf {
    let target = std::env::temp_dir().join("paas-e2e/hello-wasm-target");
    let status = Command::new("cargo")
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(repo_root().join("examples/hello-wasm/component/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building the hello-wasm component");
    target.join("wasm32-wasip2/release/hello_wasm.wasm")
}

/// [`example_repo`] with the `paas` remote of a new app `app`, created by the operator, who is
/// logged in with the server's home.
pub fn app_repo(server: &TestServer, example: &str, app: &str) -> tempfile::TempDir {
    login(server, &server.home(), &server.operator_key);
    let repo = example_repo(&server.home(), example);
    ok(server.paas().args(["apps:create", app]).current_dir(repo.path()).env_remove("PAAS_APP"));
    repo
}

/// `git push paas main` of `repo` (panics unless it succeeds); its output, where the build's
/// lines come back as `remote:` lines.
pub fn push(server: &TestServer, repo: &Path) -> Output {
    git(&server.home(), repo, &["push", "paas", "main"])
}

/// [`app_repo`] then [`push`]: the app `app` runs `examples/<example>`'s first release.
pub fn push_example(server: &TestServer, example: &str, app: &str) -> tempfile::TempDir {
    let repo = app_repo(server, example, app);
    push(server, repo.path());
    repo
}

/// Waits until `app` answers `/boot` with another id than `before` (its dyno was replaced).
pub fn replaced(server: &TestServer, app: &str, before: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while router_get(server, app, "/boot") == (200, before.to_string()) || router_get(server, app, "/boot").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "{app}: its dyno was not replaced");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// What a child process writes to the streams it was given, gathered as it comes by a thread
/// per stream (for a conversation: wait for a prompt, then answer it).
pub struct Gathered {
    seen: Arc<Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Gathered {
    pub fn start(streams: impl IntoIterator<Item = Box<dyn Read + Send>>) -> Gathered {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let readers = streams
            .into_iter()
            .map(|mut stream| {
                let seen = seen.clone();
                std::thread::spawn(move || {
                    let mut buf = [0u8; 4096];
                    while let Ok(n) = stream.read(&mut buf) {
                        if n == 0 {
                            break;
                        }
                        seen.lock().unwrap().extend_from_slice(&buf[..n]);
                    }
                })
            })
            .collect();
        Gathered { seen, readers }
    }

    /// What has come so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }

    /// Waits until what has come contains `want`, for up to 30 s.
    pub fn wait_for(&self, want: &str) {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !self.text().contains(want) {
            assert!(std::time::Instant::now() < deadline, "no {want:?} in {:?}", self.text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until the streams end; all that came.
    pub fn finish(self) -> String {
        for reader in self.readers {
            reader.join().unwrap();
        }
        String::from_utf8_lossy(&self.seen.lock().unwrap()).into_owned()
    }
}

/// A temporary folder that other users may pass through (0711, search only), as they would
/// through /var/lib: the add-on servers (users postgres and redis) reach the data dir in it.
pub fn searchable_tempdir() -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o711)).unwrap();
    dir
}

/// `GET path` of `app` through the router (`Host: <app>.localhost`): status and body.
pub fn router_get(server: &TestServer, app: &str, path: &str) -> (u16, String) {
    let url = format!("{}{path}", server.router_url);
    let output = run(Command::new("curl")
        .args(["-sS", "-m", "10", "-o", "-", "-w", "\n%{http_code}", "-H", &format!("Host: {app}.localhost")])
        .arg(&url));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or_else(|| panic!("curl printed {text:?}"));
    (status.parse().unwrap_or(0), body.to_string())
}

/// Polls `GET path` of `app` through the router until it answers `want` (releases, config
/// changes and new dynos reach the router asynchronously), for up to `within`.
pub fn eventually_get(server: &TestServer, app: &str, path: &str, want: (u16, &str), within: Duration) {
    let deadline = std::time::Instant::now() + within;
    loop {
        let got = router_get(server, app, path);
        if (got.0, got.1.as_str()) == want {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{app} GET {path}: wanted {want:?}, still {got:?}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// A buildpack of a test's own, in a folder the build's unprivileged uid can read: each
/// `(name, script)` becomes the executable `bin/<name>`.
pub fn buildpack(scripts: &[(&str, &str)]) -> tempfile::TempDir {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for (name, script) in scripts {
        std::fs::write(bin.join(name), script).unwrap();
        std::fs::set_permissions(bin.join(name), std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for folder in [dir.path(), &bin] {
        std::fs::set_permissions(folder, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}
