//! Calling the OCI runtime binary (runc by default; crun, youki or runsc take the same
//! arguments): `run` in the foreground (the container's exit status is runc's), `kill`, `delete`
//! and `list`, always with paas's own state root so that only paas's containers are seen.

use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use tokio::process::{Child, Command};

use crate::SandboxError;
use crate::terminal::Terminal;

/// The runtime binary and the state root it is called with.
#[derive(Debug, Clone)]
pub(crate) struct Runc {
    pub binary: PathBuf,
    pub root: PathBuf,
}

impl Runc {
    /// Checks that the binary runs (`--version`), returning its first line.
    pub fn version(&self) -> Result<String, SandboxError> {
        let output = std::process::Command::new(&self.binary)
            .arg("--version")
            .output()
            .map_err(|e| self.missing(e.to_string()))?;
        if !output.status.success() {
            return Err(self.missing(format!("`--version` exited with {}", output.status)));
        }
        Ok(String::from_utf8_lossy(&output.stdout).lines().next().unwrap_or_default().to_string())
    }

    /// Starts `run --bundle DIR ID` in the foreground; stdout and stderr are piped, stdin is
    /// piped when `stdin` (else `/dev/null`).
    pub fn run(&self, bundle: &Path, id: &str, stdin: bool) -> Result<Child, SandboxError> {
        let mut command = self.run_command(bundle, id);
        command.stdin(if stdin { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
        command.spawn().map_err(|e| self.missing(e.to_string()))
    }

    /// Starts `run --bundle DIR ID` in the foreground on a new pty of `rows` × `cols` (the
    /// bundle must ask for a terminal): runc's stdin and stdout are the pty, to which it relays
    /// the container's own; its stderr (its own errors) is piped. Returns runc and the pty's
    /// host end (see [`crate::terminal`]).
    pub fn run_on_terminal(&self, bundle: &Path, id: &str, rows: u16, cols: u16) -> Result<(Child, Terminal), SandboxError> {
        let pty = |e: std::io::Error| SandboxError::Terminal(e);
        let pair = crate::terminal::open(rows, cols).map_err(pty)?;
        let stdin = pair.terminal.try_clone().map_err(pty)?;
        let mut command = self.run_command(bundle, id);
        command.stdin(Stdio::from(stdin)).stdout(Stdio::from(pair.terminal)).stderr(Stdio::piped());
        let child = command.spawn().map_err(|e| self.missing(e.to_string()))?;
        // The command (and with it this process's copies of the terminal end) goes now: the
        // host end reads EOF once runc and the container have exited.
        drop(command);
        Ok((child, Terminal::new(pair.host).map_err(pty)?))
    }

    /// `run --bundle DIR ID` as a command whose standard streams the caller sets (the container's
    /// process gets them as they are), killed if dropped.
    pub fn run_command(&self, bundle: &Path, id: &str) -> Command {
        let mut command = self.command();
        command.arg("run").arg("--bundle").arg(bundle).arg(id).kill_on_drop(true);
        command
    }

    /// Sends `signal` (`TERM`, `KILL`) to every process of the container.
    pub async fn kill(&self, id: &str, signal: &str) -> Result<(), SandboxError> {
        self.control(&["kill", "--all", id, signal]).await.map(drop)
    }

    /// Removes the container, killing it first if it still runs.
    pub async fn delete(&self, id: &str) -> Result<(), SandboxError> {
        self.control(&["delete", "--force", id]).await.map(drop)
    }

    /// The ids of the containers under the state root.
    pub async fn list(&self) -> Result<Vec<String>, SandboxError> {
        let out = self.control(&["list", "--quiet"]).await?;
        Ok(out.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect())
    }

    /// Kills with SIGKILL every `run` of this state root still alive (`<binary> --root ROOT run
    /// …` on its command line): a crashed server's `runc run`, reparented, was seen to outlive its
    /// deleted container. Call only when no container of the root runs. Returns the pids killed.
    pub fn kill_orphaned_runs(&self) -> Vec<u32> {
        let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
        let root = self.root.as_os_str().as_bytes();
        let mut killed = Vec::new();
        for pid in entries.flatten().filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok()) {
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
            let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
            if args.get(1..4) != Some(&[b"--root".as_slice(), root, b"run".as_slice()]) {
                continue;
            }
            let Some(process) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else { continue };
            if rustix::process::kill_process(process, rustix::process::Signal::KILL).is_ok() {
                killed.push(pid);
            }
        }
        killed
    }

    /// Kills and removes the container without an async runtime (from `Drop`).
    pub fn delete_now(&self, id: &str) {
        let status = std::process::Command::new(&self.binary)
            .arg("--root")
            .arg(&self.root)
            .args(["delete", "--force", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if let Err(e) = status {
            tracing::warn!(container = id, "cannot delete the container: {e}");
        }
    }

    fn command(&self) -> Command {
        let mut command = Command::new(&self.binary);
        command.arg("--root").arg(&self.root);
        command
    }

    async fn control(&self, args: &[&str]) -> Result<String, SandboxError> {
        let output =
            self.command().args(args).stdin(Stdio::null()).output().await.map_err(|e| self.missing(e.to_string()))?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        Err(SandboxError::Command {
            command: format!("{} {}", self.binary.display(), args.join(" ")),
            detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }

    fn missing(&self, detail: String) -> SandboxError {
        SandboxError::Runtime { binary: self.binary.clone(), detail }
    }
}
