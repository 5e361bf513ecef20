//! What a killed `paas server` leaves of its builds, and ending it at the next start
//! ([`end_leftovers`]): the process groups of insecure build steps (each recorded in
//! `builds/.groups/<pgid>` while it runs, see [`GroupRecord`]), build disks still mounted
//! (`builds/<app>.disk`), insecure builds' work folders (`builds/<app>-XXXX`) and half-written
//! slugs (`slugs/.incoming-*`). Sandboxed steps run in containers, which the node's sandbox
//! removes at start (`Sandbox::cleanup_stale`) before this runs.

use std::io;
use std::path::{Path, PathBuf};

/// The folder below `builds/` where running insecure steps record their process groups.
pub const GROUPS_DIR: &str = ".groups";

/// An insecure build step's process group, recorded in the data dir while it runs: dropping it
/// (the step ended, or its build was cancelled) kills the group and removes the record; a server
/// killed with SIGKILL leaves the record for [`end_leftovers`] at the next start.
#[derive(Debug)]
pub(crate) struct GroupRecord {
    path: PathBuf,
    pgid: u32,
}

impl GroupRecord {
    /// Records group `pgid` (its leader's start time too, so a reused pid is never taken for it).
    pub(crate) fn new(builds_dir: &Path, pgid: u32) -> io::Result<GroupRecord> {
        let dir = builds_dir.join(GROUPS_DIR);
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(pgid.to_string());
        let started = Stat::read(pgid).map(|s| s.started).unwrap_or_default();
        std::fs::write(&path, started.to_string())?;
        Ok(GroupRecord { path, pgid })
    }
}

impl Drop for GroupRecord {
    fn drop(&mut self) {
        kill_group(self.pgid);
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Sends SIGKILL to process group `pgid` (one already gone is ignored).
pub(crate) fn kill_group(pgid: u32) {
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pgid}")])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status();
}

/// What `/proc/<pid>/stat` says of a process.
#[derive(Debug, Clone, Copy)]
struct Stat {
    group: u32,
    started: u64,
}

impl Stat {
    fn read(pid: u32) -> Option<Stat> {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // `pid (comm) state ppid pgrp …`: comm may hold spaces and parentheses.
        let fields: Vec<&str> = text.get(text.rfind(')')? + 1..)?.split_whitespace().collect();
        if fields.first() == Some(&"Z") {
            return None; // a zombie: already dead, waiting for its parent
        }
        Some(Stat { group: fields.get(2)?.parse().ok()?, started: fields.get(19)?.parse().ok()? })
    }
}

/// Every process now: (pid, its stat).
fn processes() -> Vec<(u32, Stat)> {
    let Ok(entries) = std::fs::read_dir("/proc") else { return Vec::new() };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, Stat::read(pid)?)))
        .collect()
}

/// A process's command line, for the log (`bin/compile /data/builds/…`, at most 120 characters).
fn command_line(pid: u32) -> String {
    let raw = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    let text: String = String::from_utf8_lossy(&raw).replace('\0', " ").trim().chars().take(120).collect();
    if text.is_empty() { format!("pid {pid}") } else { text }
}

/// Ends what a previous `paas server` on `data_dir` left of its builds; returns one line per
/// thing ended or removed (for the start-up log). Call once at start, before any build runs, after
/// the node's stale containers are removed.
pub fn end_leftovers(data_dir: &Path) -> Vec<String> {
    let builds = data_dir.join("builds");
    let mut ended = end_stale_groups(&builds.join(GROUPS_DIR), data_dir);
    ended.extend(unmount_stale_disks(&builds));
    // Nothing is mounted below builds/ now (else it is left alone): the work folders can go.
    let still_mounted = mounts_under(&builds);
    if let Ok(entries) = std::fs::read_dir(&builds) {
        for entry in entries.flatten() {
            let path = entry.path();
            if entry.file_name() == GROUPS_DIR || still_mounted.iter().any(|m| m.starts_with(&path)) {
                continue;
            }
            if std::fs::remove_dir_all(&path).is_ok() {
                ended.push(format!("removed the build folder {}", path.display()));
            }
        }
    }
    remove_with_prefix(&data_dir.join("slugs"), ".incoming-", &mut ended);
    ended
}

/// Unmounts every build disk still mounted under `builds` (a crashed server's), lazily where a
/// plain unmount fails, and removes its mount point once empty; one line per disk unmounted.
pub(crate) fn unmount_stale_disks(builds: &Path) -> Vec<String> {
    let mut unmounted = Vec::new();
    for mountpoint in mounts_under(builds) {
        if umount(&mountpoint, false) || umount(&mountpoint, true) {
            let _ = std::fs::remove_dir(&mountpoint);
            unmounted.push(format!("unmounted the build disk at {}", mountpoint.display()));
        } else {
            tracing::warn!(path = %mountpoint.display(), "cannot unmount a stale build disk");
        }
    }
    unmounted
}

/// Removes the entries of `dir` whose names start with `prefix` (half-written files or folders:
/// `.incoming-…` slugs, `.unpacking-…` trees), adding a line to `removed` for each.
pub fn remove_with_prefix(dir: &Path, prefix: &str, removed: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        if !entry.file_name().to_string_lossy().starts_with(prefix) {
            continue;
        }
        let path = entry.path();
        let gone = match entry.file_type() {
            Ok(kind) if kind.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
        if gone.is_ok() {
            removed.push(format!("removed the partial {}", path.display()));
        }
    }
}

/// Kills every recorded group still alive: one whose leader is the recorded process (same start
/// time), or one of whose members works under `data_dir` (the leader gone, its children left).
fn end_stale_groups(records: &Path, data_dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(records) else { return Vec::new() };
    let all = processes();
    let mut ended = Vec::new();
    for entry in entries.flatten() {
        let Some(pgid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let started: Option<u64> = std::fs::read_to_string(entry.path()).ok().and_then(|t| t.trim().parse().ok());
        let members: Vec<u32> = all.iter().filter(|(_, s)| s.group == pgid).map(|(pid, _)| *pid).collect();
        let leader = all.iter().any(|(pid, s)| *pid == pgid && s.group == pgid && Some(s.started) == started);
        let ours = leader
            || members.iter().any(|pid| std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(data_dir)));
        if ours && !members.is_empty() {
            let what = command_line(members[0]);
            kill_group(pgid);
            ended.push(format!("killed the build process group {pgid} ({} processes: {what})", members.len()));
        }
        let _ = std::fs::remove_file(entry.path());
    }
    ended
}

/// The mount points at or below `dir`, deepest first.
fn mounts_under(dir: &Path) -> Vec<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut found: Vec<PathBuf> = text
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape(field)))
        .filter(|mount| mount.starts_with(dir) && mount != dir)
        .collect();
    found.sort_by_key(|m| std::cmp::Reverse(m.components().count()));
    found.dedup();
    found
}

/// mountinfo's octal escapes (`\040` for a space) undone.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| u8::from_str_radix(std::str::from_utf8(d).ok()?, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn umount(path: &Path, lazy: bool) -> bool {
    let mut command = std::process::Command::new("umount");
    if lazy {
        command.arg("--lazy");
    }
    command.arg(path).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    command.status().is_ok_and(|s| s.success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_undone() {
        assert_eq!(unescape("/data\\040dir/builds/a.disk"), "/data dir/builds/a.disk");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn a_recorded_group_left_running_is_killed_and_its_record_removed() {
        use std::os::unix::process::CommandExt;
        let data = tempfile::tempdir().unwrap();
        let builds = data.path().join("builds");
        std::fs::create_dir_all(&builds).unwrap();
        // A step's group whose server died: its leader and a child, both still running.
        let mut leader = std::process::Command::new("sh")
            .args(["-c", "sleep 300 & wait"])
            .current_dir(&builds)
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = leader.id();
        std::mem::forget(GroupRecord::new(&builds, pgid).unwrap());
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(processes().iter().filter(|(_, s)| s.group == pgid).count() >= 2);
        let ended = end_leftovers(data.path());
        assert!(ended.iter().any(|l| l.starts_with(&format!("killed the build process group {pgid}"))), "{ended:?}");
        leader.wait().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(200));
        assert!(processes().iter().all(|(_, s)| s.group != pgid), "the child died too");
        assert!(!builds.join(GROUPS_DIR).join(pgid.to_string()).exists());
    }

    #[test]
    fn a_record_whose_group_is_gone_is_only_removed() {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join("builds").join(GROUPS_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        // pid 1's group is not a build's: its start time differs and it does not work under data.
        std::fs::write(dir.join("1"), "12345").unwrap();
        std::fs::write(data.path().join("builds").join(".groups").join("junk"), "").unwrap();
        assert!(end_leftovers(data.path()).iter().all(|l| !l.contains("process group")));
        assert!(!dir.join("1").exists());
    }

    #[test]
    fn half_written_slugs_and_work_folders_are_removed() {
        let data = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(data.path().join("builds/app-x1y2/app")).unwrap();
        std::fs::create_dir_all(data.path().join("slugs")).unwrap();
        std::fs::write(data.path().join("slugs/.incoming-abc"), "half").unwrap();
        std::fs::write(data.path().join("slugs/whole.tar.gz"), "whole").unwrap();
        let ended = end_leftovers(data.path());
        assert_eq!(ended.len(), 2, "{ended:?}");
        assert!(!data.path().join("builds/app-x1y2").exists());
        assert!(!data.path().join("slugs/.incoming-abc").exists());
        assert!(data.path().join("slugs/whole.tar.gz").exists());
    }
}
