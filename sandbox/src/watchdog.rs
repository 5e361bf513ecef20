//! The containers die with the server: a watchdog process, started once by `paas server`, waits
//! for the end of a pipe whose only writer is the server. However the server ends (SIGKILL, an
//! OOM kill, a panic), the kernel closes that pipe, and the watchdog kills and deletes every
//! container under the server's state root: builds, release phases, one-offs and native dynos.
//! runc has no parent-death signal of its own, and `PR_SET_PDEATHSIG` is out of reach without
//! `unsafe`; a pipe needs neither. What the watchdog leaves (bundles, network namespaces, build
//! disks) the next start's cleanup removes.

use std::io::PipeWriter;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

use crate::{Sandbox, SandboxError};

/// The `sh` script the watchdog runs: `RUNC ROOT`. `cat` returns when the server's end of its
/// stdin closes; then every container of the root is killed and deleted. The root's folders name
/// them: `runc list` was seen to leave out a running one-off's container (1.1.5, its `runc run`
/// attached to the killed server's pipes). Last, any `RUNC --root ROOT run …` still alive is
/// killed: one was seen to outlive its deleted container (as in `Runc::kill_orphaned_runs`).
const SCRIPT: &str = r#"cat >/dev/null
for id in $(ls "$2"); do
  "$1" --root "$2" kill "$id" KILL 2>/dev/null
  "$1" --root "$2" delete --force "$id" 2>/dev/null
done
for p in /proc/[0-9]*; do
  case "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)" in
    "$1 --root $2 run "*) kill -KILL "${p#/proc/}" 2>/dev/null ;;
  esac
done
"#;

/// The running watchdog: hold it for as long as the server runs (dropping it fires it).
#[derive(Debug)]
pub struct Watchdog {
    _server_end: PipeWriter,
    child: Child,
}

impl Watchdog {
    /// The watchdog's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Sandbox {
    /// Starts the watchdog that kills and deletes this sandbox's containers once this process
    /// is gone. It runs in a process group of its own, so that a Ctrl-C to the server's terminal
    /// does not end it before the server has stopped.
    pub fn watchdog(&self) -> Result<Watchdog, SandboxError> {
        let failed = |e: std::io::Error| SandboxError::Runtime {
            binary: "sh".into(),
            detail: format!("cannot start the containers' watchdog: {e}"),
        };
        let (reader, server_end) = std::io::pipe().map_err(failed)?;
        let runc = self.runc();
        let child = Command::new("sh")
            .args(["-c", SCRIPT, "paas-watchdog"])
            .arg(&runc.binary)
            .arg(&runc.root)
            .stdin(reader)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(failed)?;
        Ok(Watchdog { _server_end: server_end, child })
    }
}
