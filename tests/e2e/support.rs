//! The test harness: starts a real `paas server` on port 0 with a temporary data dir, and runs
//! the real `paas` client against it with a temporary `HOME`.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
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
        std::fs::create_dir_all(dir.path().join("home")).expect("home dir");
        let mut child = Command::new(paas_bin())
            .arg("server")
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0"])
            .args(["--domain", "localhost"])
            .args(extra_args)
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
                    for (prefix, which) in [("API listening on ", "api"), ("Router listening on ", "router")] {
                        if let Some(url) = line.strip_prefix(prefix) {
                            let _ = found_tx.send((which, url.trim_end_matches('/').to_string()));
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
        }
    }

    /// The server's data dir.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
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

    /// Stops the server with SIGTERM (SIGKILL after 5 s) and gives back how it exited.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        terminate(&mut self.child);
        let status = self.child.wait().expect("wait for paas server");
        // Let the stdout reader catch up with the last lines.
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
