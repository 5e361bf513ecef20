//! Running one buildpack executable: a cleaned environment, its own process group, output
//! streamed line by line (stdout and stderr merged in order), a deadline and a memory limit.
//!
//! Limits without `unsafe`: the memory limit is `RLIMIT_AS` set by running the executable through
//! `prlimit --as=BYTES --` (util-linux) when it is installed; it bounds virtual memory, so keep it
//! generous (compilers reserve more than they use). On the deadline the whole process group is
//! killed with `kill -KILL -- -PGID`; stragglers left in the group when the executable exits are
//! killed too, so nothing a build started outlives it. Isolation from other apps' data is
//! [`crate::isolate`]'s.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use crate::output::OutputSink;

/// Limits on one build.
#[derive(Debug, Clone)]
pub struct Limits {
    /// When the whole build must be over.
    pub deadline: Instant,
    /// The build's time limit, for messages.
    pub time_limit: Duration,
    /// `RLIMIT_AS` in bytes for each process (needs `prlimit`), or none.
    pub memory: Option<u64>,
    /// The mount namespace to run in, if builds are isolated.
    pub isolation: Option<crate::isolate::Isolation>,
}

/// A process that could not run to completion.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// It could not be started.
    #[error("could not run {program}: {source}")]
    Spawn {
        /// The executable.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The deadline passed; its process group was killed.
    #[error("timed out after {} s and was killed", .0.as_secs())]
    TimedOut(Duration),
}

/// What a finished process left.
#[derive(Debug)]
pub struct Finished {
    /// Its exit status.
    pub status: ExitStatus,
    /// Its stdout when captured, else empty.
    pub stdout: String,
}

/// How to treat the process's stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdout {
    /// Merge it with stderr into the sink.
    Stream,
    /// Keep it (returned in [`Finished::stdout`]); only stderr goes to the sink.
    Capture,
}

/// Runs `program args…` in `cwd` with exactly `env`, sending output lines to `out`.
pub async fn run(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &[(String, OsString)],
    limits: &Limits,
    stdout_mode: Stdout,
    out: &dyn OutputSink,
) -> Result<Finished, RunError> {
    let spawn_error = |source| RunError::Spawn { program: program.to_path_buf(), source };
    let mut argv: Vec<OsString> = limits.isolation.as_ref().map(|i| i.prefix()).unwrap_or_default();
    if let (Some(bytes), Some(prlimit)) = (limits.memory, prlimit()) {
        argv.extend([prlimit.into(), format!("--as={bytes}").into(), "--".into()]);
    }
    argv.push(program.into());
    let mut command = tokio::process::Command::new(&argv[0]);
    command.args(&argv[1..]);
    let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
    let stdout = match stdout_mode {
        Stdout::Stream => Stdio::from(writer.try_clone().map_err(spawn_error)?),
        Stdout::Capture => Stdio::piped(),
    };
    command
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(stdout)
        .stderr(writer)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = command.spawn().map_err(spawn_error)?;
    drop(command); // closes our copies of the pipe's write end
    let group = child.id();

    let (line_tx, mut lines) = tokio::sync::mpsc::unbounded_channel::<String>();
    std::thread::spawn(move || {
        for line in BufReader::new(reader).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line);
            if line_tx.send(line.trim_end_matches('\r').to_string()).is_err() {
                break;
            }
        }
    });
    let captured = child.stdout.take().map(|mut pipe| {
        tokio::spawn(async move {
            let mut text = String::new();
            let _ = tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut text).await;
            text
        })
    });

    let deadline = tokio::time::sleep_until(limits.deadline);
    tokio::pin!(deadline);
    let mut lines_open = true;
    let status = loop {
        tokio::select! {
            line = lines.recv(), if lines_open => match line {
                Some(line) => out.line(&line),
                None => lines_open = false,
            },
            status = child.wait() => break status.map_err(spawn_error)?,
            () = &mut deadline => {
                kill_group(group);
                let _ = child.wait().await;
                while let Ok(line) = lines.try_recv() {
                    out.line(&line);
                }
                return Err(RunError::TimedOut(limits.time_limit));
            }
        }
    };
    kill_group(group);
    // The group is gone, so the pipe closes; wait briefly in case something left the group.
    let drain = async {
        while let Some(line) = lines.recv().await {
            out.line(&line);
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
    let stdout = match captured {
        Some(task) => task.await.unwrap_or_default(),
        None => String::new(),
    };
    Ok(Finished { status, stdout })
}

/// Kills a process group (ignoring a group already gone).
fn kill_group(group: Option<u32>) {
    if let Some(group) = group {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{group}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn prlimit() -> Option<PathBuf> {
    ["/usr/bin/prlimit", "/bin/prlimit"].iter().map(PathBuf::from).find(|p| p.exists())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output::CollectOutput;

    fn limits(seconds: u64) -> Limits {
        let time_limit = Duration::from_secs(seconds);
        Limits { deadline: Instant::now() + time_limit, time_limit, memory: None, isolation: None }
    }

    fn sh(script: &str) -> (PathBuf, Vec<OsString>) {
        (PathBuf::from("/bin/sh"), vec!["-c".into(), script.into()])
    }

    fn env() -> Vec<(String, OsString)> {
        vec![("PATH".into(), "/usr/bin:/bin".into())]
    }

    #[tokio::test]
    async fn streams_merged_lines_and_captures_stdout_with_a_clean_environment() {
        let out = CollectOutput::default();
        let (program, args) = sh("echo one; echo two >&2; echo \"home=${HOME:-unset}\"");
        let done = run(&program, &args, Path::new("/"), &env(), &limits(10), Stdout::Stream, &out).await.unwrap();
        assert!(done.status.success());
        assert_eq!(out.lines(), ["one", "two", "home=unset"]);

        let out = CollectOutput::default();
        let (program, args) = sh("echo kept; echo shown >&2; exit 3");
        let done = run(&program, &args, Path::new("/"), &env(), &limits(10), Stdout::Capture, &out).await.unwrap();
        assert_eq!(done.status.code(), Some(3));
        assert_eq!(done.stdout, "kept\n");
        assert_eq!(out.lines(), ["shown"]);
    }

    #[tokio::test]
    async fn the_deadline_kills_the_whole_process_group() {
        let out = CollectOutput::default();
        let marker = tempfile::tempdir().unwrap();
        let script = format!("(sleep 3; touch {}/survived) & echo started; sleep 30", marker.path().display());
        let (program, args) = sh(&script);
        let started = std::time::Instant::now();
        let error = run(&program, &args, Path::new("/"), &env(), &limits(1), Stdout::Stream, &out).await.unwrap_err();
        assert_eq!(error.to_string(), "timed out after 1 s and was killed");
        assert!(started.elapsed() < Duration::from_secs(3));
        assert_eq!(out.lines(), ["started"]);
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert!(!marker.path().join("survived").exists(), "the background child was killed too");
    }

    #[tokio::test]
    async fn the_memory_limit_applies_through_prlimit() {
        let out = CollectOutput::default();
        let mut limits = limits(10);
        limits.memory = Some(64 * 1024 * 1024);
        let (program, args) = sh("prlimit --as --output=SOFT --noheadings");
        let done = run(&program, &args, Path::new("/"), &env(), &limits, Stdout::Stream, &out).await.unwrap();
        assert!(done.status.success(), "{:?}", out.lines());
        assert_eq!(out.lines(), ["67108864"]);
    }
}
