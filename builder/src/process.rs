//! Running one buildpack executable: a cleaned environment, output streamed line by line (stdout
//! and stderr merged in order), a deadline.
//!
//! In a container ([`Limits::sandbox`], see [`crate::sandbox`]): `runc run` of a bundle made for
//! the step, the executable's stdout and stderr one pipe; on the deadline every process of the
//! container is killed and the container deleted, and when the executable (the container's
//! PID 1) exits, the kernel kills whatever it left, so nothing a build started outlives it.
//!
//! Insecure builds (no sandbox) run on the host in their own process group, under `RLIMIT_AS`
//! through `prlimit --as=BYTES --` (util-linux) when installed; the deadline kills the group
//! (`kill -KILL -- -PGID`), as do stragglers left when the executable exits, and so does a
//! cancelled build (the step's future dropped); while it runs the group is recorded in
//! `builds/.groups/` ([`Limits::records`]), where the next start of a killed server finds it.

use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::time::Duration;

use tokio::time::Instant;

use crate::leftovers::GroupRecord;
use crate::output::{MAX_LINE_LENGTH, OutputSink, truncate_line};

/// Limits on one build.
#[derive(Debug, Clone)]
pub struct Limits {
    /// When the whole build must be over.
    pub deadline: Instant,
    /// The build's time limit, for messages.
    pub time_limit: Duration,
    /// `RLIMIT_AS` in bytes for each process of an insecure build (needs `prlimit`), or none.
    pub memory: Option<u64>,
    /// The build's containers; `None`: on the host (insecure builds).
    pub sandbox: Option<std::sync::Arc<crate::sandbox::StepSandbox>>,
    /// Where an insecure step records its process group while it runs (the data dir's
    /// `builds/`), so that a server killed mid-build has it killed at its next start
    /// ([`crate::leftovers`]); `None`: not recorded.
    pub records: Option<PathBuf>,
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
    /// Its container could not be made.
    #[error("could not start the build's container: {0}")]
    Container(#[from] paas_sandbox::SandboxError),
    /// Its container's network could not be made.
    #[error("could not make the build's network: {0}")]
    Network(#[from] paas_sandbox::net::NetError),
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
    // The network lease outlives the container (declared first, dropped last).
    let lease = limits.sandbox.as_ref().map(|sandbox| sandbox.lease()).transpose()?;
    let container = match (&limits.sandbox, &lease) {
        (Some(sandbox), Some(lease)) => {
            let plan = sandbox.plan(program, args, cwd, env, lease, stdout_mode == Stdout::Stream);
            Some(sandbox.sandbox.create(sandbox.name(), &sandbox.uid, &plan)?)
        }
        _ => None,
    };
    let mut command = match &container {
        Some(container) => container.command(),
        None => host_command(program, args, cwd, env, limits),
    };
    let (reader, writer) = std::io::pipe().map_err(spawn_error)?;
    let stdout = match stdout_mode {
        Stdout::Stream => Stdio::from(writer.try_clone().map_err(spawn_error)?),
        Stdout::Capture => Stdio::piped(),
    };
    command.stdin(Stdio::null()).stdout(stdout).stderr(writer).kill_on_drop(true);
    let mut child = command.spawn().map_err(spawn_error)?;
    drop(command); // closes our copies of the pipe's write end
    let group = if container.is_some() { None } else { child.id() };
    // Killed with its group when this step ends or its build is dropped (cancelled).
    let _record = match (group, &limits.records) {
        (Some(group), Some(dir)) => Some(GroupRecord::new(dir, group).map_err(spawn_error)?),
        _ => None,
    };

    // A bounded channel: when the output is not taken as fast as it comes, this thread stops
    // reading the pipe and the build blocks on its next write (memory stays bounded).
    let (line_tx, mut lines) = tokio::sync::mpsc::channel::<String>(OUTPUT_CHANNEL_LINES);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(reader);
        while let Some(line) = read_line_capped(&mut reader) {
            if line_tx.blocking_send(line).is_err() {
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
                Some(line) => {
                    out.line(&line);
                    // A sink streaming to a slow reader holds the next line back (and so, once
                    // the channel is full, the build's next write) until it has caught up.
                    let _ = tokio::time::timeout_at(limits.deadline, out.writable()).await;
                }
                None => lines_open = false,
            },
            status = child.wait() => break status.map_err(spawn_error)?,
            () = &mut deadline => {
                kill_group(group);
                if let Some(container) = &container {
                    let _ = container.kill("KILL").await;
                    let _ = container.delete().await;
                }
                let _ = child.wait().await;
                while let Ok(line) = lines.try_recv() {
                    out.line(&line);
                }
                return Err(RunError::TimedOut(limits.time_limit));
            }
        }
    };
    kill_group(group);
    if let Some(container) = &container {
        container.ended();
    }
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

/// The executable on the host, in its own process group, under `prlimit` when set.
fn host_command(
    program: &Path,
    args: &[OsString],
    cwd: &Path,
    env: &[(String, OsString)],
    limits: &Limits,
) -> tokio::process::Command {
    let mut argv: Vec<OsString> = Vec::new();
    if let (Some(bytes), Some(prlimit)) = (limits.memory, prlimit()) {
        argv.extend([prlimit.into(), format!("--as={bytes}").into(), "--".into()]);
    }
    argv.push(program.into());
    let mut command = tokio::process::Command::new(&argv[0]);
    command.args(&argv[1..]).args(args).current_dir(cwd).env_clear().envs(env.iter().map(|(k, v)| (k, v))).process_group(0);
    command
}

/// How many output lines may wait between the pipe and the sink (each at most
/// [`MAX_LINE_LENGTH`] bytes).
pub const OUTPUT_CHANNEL_LINES: usize = 64;

/// The next line of `reader` without its `\n` (and `\r`), lossily decoded; a line longer than
/// [`MAX_LINE_LENGTH`] is cut there (the rest read and dropped, never held). `None` at the end.
fn read_line_capped(reader: &mut impl BufRead) -> Option<String> {
    let mut line = Vec::new();
    let (mut cut, mut seen) = (false, false);
    loop {
        let buffer = match reader.fill_buf() {
            Ok(buffer) => buffer,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if buffer.is_empty() {
            break;
        }
        seen = true;
        let (chunk, done) = match buffer.iter().position(|&b| b == b'\n') {
            Some(end) => (&buffer[..end], Some(end + 1)),
            None => (buffer, None),
        };
        let room = (MAX_LINE_LENGTH + 4).saturating_sub(line.len());
        cut |= chunk.len() > room;
        line.extend_from_slice(&chunk[..chunk.len().min(room)]);
        let used = done.unwrap_or(buffer.len());
        reader.consume(used);
        if done.is_some() {
            break;
        }
    }
    if !seen {
        return None;
    }
    let text = String::from_utf8_lossy(&line);
    let text = text.trim_end_matches('\r');
    // A cut line holds MAX_LINE_LENGTH + 4 bytes, so truncate_line cuts and marks it.
    debug_assert!(!cut || text.len() > MAX_LINE_LENGTH);
    Some(truncate_line(text).into_owned())
}

/// Kills a process group (ignoring a group already gone).
fn kill_group(group: Option<u32>) {
    if let Some(group) = group {
        crate::leftovers::kill_group(group);
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
        Limits { deadline: Instant::now() + time_limit, time_limit, memory: None, sandbox: None, records: None }
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
    async fn a_100_mb_line_without_a_newline_is_cut_without_being_held() {
        let out = CollectOutput::default();
        let (program, args) = sh("head -c 100000000 /dev/zero | tr '\\0' x; echo; echo after");
        let done = run(&program, &args, Path::new("/"), &env(), &limits(60), Stdout::Stream, &out).await.unwrap();
        assert!(done.status.success());
        let lines = out.lines();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].len() < MAX_LINE_LENGTH + 20 && lines[0].ends_with(" (line truncated)"), "{}", lines[0].len());
        assert_eq!(lines[1], "after");
    }

    /// A sink whose reader is away until the gate opens.
    struct Gated(CollectOutput, tokio::sync::watch::Receiver<bool>);

    impl OutputSink for Gated {
        fn line(&self, line: &str) {
            self.0.line(line);
        }

        fn writable(&self) -> futures::future::BoxFuture<'_, ()> {
            let mut open = self.1.clone();
            Box::pin(async move {
                let _ = open.wait_for(|open| *open).await;
            })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_slow_sink_slows_the_build_instead_of_queueing_its_output() {
        let marker = tempfile::tempdir().unwrap();
        let done = marker.path().join("done");
        let script = format!("for i in $(seq 1000); do head -c 1000 /dev/zero | tr '\\0' x; echo; done; touch {}", done.display());
        let (program, args) = sh(&script);
        let (open, gate) = tokio::sync::watch::channel(false);
        let out = std::sync::Arc::new(Gated(CollectOutput::default(), gate));
        let sink = out.clone();
        let build = tokio::spawn(async move {
            run(&program, &args, Path::new("/"), &env(), &limits(30), Stdout::Stream, sink.as_ref()).await.unwrap()
        });
        tokio::time::sleep(Duration::from_millis(1500)).await;
        assert!(!done.exists(), "the build ran on although nobody took its output");
        assert!(out.0.lines().len() <= 1, "{} lines taken", out.0.lines().len());
        open.send(true).unwrap();
        assert!(build.await.unwrap().status.success());
        assert!(done.exists());
        assert_eq!(out.0.lines().len(), 1000);
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
