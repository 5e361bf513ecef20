//! Processes of the add-on servers paas runs (the PostgreSQL cluster, Redis servers): signals,
//! liveness, and the unprivileged user a server runs as when paas runs as root.

use std::path::Path;
use std::time::Duration;

/// Sends `signal` (`-TERM`, `-INT`, `-KILL`) to `pid`.
pub(crate) fn signal(pid: u32, signal: &str) {
    let _ = std::process::Command::new("kill").arg(signal).arg(pid.to_string()).status();
}

/// Whether `pid` runs (a zombie does not: its status line says Z).
pub(crate) fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|stat| stat.rsplit(')').next().is_some_and(|rest| !rest.trim_start().starts_with('Z')))
}

/// Sends `first` to `pid`, waits up to `grace` for it to end, then kills it; true if it ended
/// before the kill.
pub(crate) async fn stop(pid: u32, first: &str, grace: Duration) -> bool {
    signal(pid, first);
    let deadline = tokio::time::Instant::now() + grace;
    while tokio::time::Instant::now() < deadline {
        if !alive(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    signal(pid, "-KILL");
    false
}

/// Whether paas runs as root (add-on servers then run as an unprivileged user).
pub(crate) fn running_as_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0) == 0
}

/// The uid and gid of the local user `name`, from `/etc/passwd`.
pub(crate) fn user_ids(name: &str) -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 3 && fields[0] == name).then(|| Some((fields[2].parse().ok()?, fields[3].parse().ok()?)))?
    })
}

/// Whether the user `uid` (called `who`) can pass through every folder above `dir`; the error
/// says which one stands in the way.
pub(crate) fn check_reachable(dir: &Path, uid: u32, who: &str) -> Result<(), String> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    for ancestor in dir.ancestors().skip(1) {
        let Ok(meta) = std::fs::metadata(ancestor) else { continue };
        if meta.permissions().mode() & 0o001 == 0 && meta.uid() != uid {
            return Err(format!(
                "the add-on server runs as the user {who}, which cannot reach {} ({} is mode {:o}): let others \
                 search it (chmod o+x)",
                dir.display(),
                ancestor.display(),
                meta.permissions().mode() & 0o7777
            ));
        }
    }
    Ok(())
}

/// A port free now on every address of `listen` (the server keeps it from then on).
pub fn free_port(listen: &[std::net::IpAddr]) -> std::io::Result<u16> {
    let mut last = std::io::Error::other("no address to listen on");
    for _ in 0..20 {
        let Some(first) = listen.first() else { break };
        let port = std::net::TcpListener::bind((*first, 0))?.local_addr()?.port();
        match listen[1..].iter().try_for_each(|ip| std::net::TcpListener::bind((*ip, port)).map(drop)) {
            Ok(()) => return Ok(port),
            Err(e) => last = e,
        }
    }
    Err(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_exists_and_this_process_is_alive() {
        assert_eq!(user_ids("root"), Some((0, 0)));
        assert_eq!(user_ids("no-such-user-here"), None);
        assert!(alive(std::process::id()));
    }
}
