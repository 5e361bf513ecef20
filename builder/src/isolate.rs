//! Keeping a build away from other apps' data: each buildpack process runs in its own mount
//! namespace (`unshare --mount`, util-linux) where the data dir is covered by an empty tmpfs and
//! only this build's folder and this app's cache are mounted back. Repositories, slugs, other
//! apps' caches and builds, and the server's database are not visible.
//!
//! Needs root or unprivileged user namespaces (then `unshare --user --map-root-user` is used);
//! [`Isolation::probe`] finds what works on this host, and builds run unisolated (with a
//! warning) where nothing does.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The `sh` script run inside the new namespace: `STAGE HIDE KEEP… -- PROGRAM ARGS…`.
const SCRIPT: &str = r#"set -e
stage=$1 hide=$2
shift 2
i=0
for keep in "$@"; do
  [ "$keep" = "--" ] && break
  i=$((i + 1)); mkdir -p "$stage/$i"; mount --bind "$keep" "$stage/$i"
done
mount -t tmpfs -o mode=0755 paas-build "$hide"
i=0
while [ "$1" != "--" ]; do
  i=$((i + 1)); mkdir -p "$1"; mount --bind "$stage/$i" "$1"; shift
done
shift
exec "$@"
"#;

/// How to isolate the processes of one build.
#[derive(Debug, Clone)]
pub struct Isolation {
    /// The `unshare` command line that works here.
    pub unshare: Vec<OsString>,
    /// The folder to cover (the data dir).
    pub hide: PathBuf,
    /// Folders under it to keep (the build's folder, the app's cache).
    pub keep: Vec<PathBuf>,
    /// An empty folder outside `hide` for staging the kept folders.
    pub stage: PathBuf,
}

impl Isolation {
    /// The `unshare` invocation that can make a private mount namespace here, if any.
    pub fn probe() -> Option<Vec<OsString>> {
        let candidates: [&[&str]; 2] = [
            &["unshare", "--mount", "--propagation", "private"],
            &["unshare", "--user", "--map-root-user", "--mount", "--propagation", "private"],
        ];
        candidates.into_iter().find_map(|candidate| {
            let status = Command::new(candidate[0])
                .args(&candidate[1..])
                .args(["--", "sh", "-c", "mount -t tmpfs paas-probe /mnt 2>/dev/null || mount -t tmpfs paas-probe /tmp"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .ok()?;
            status.success().then(|| candidate.iter().map(OsString::from).collect())
        })
    }

    /// The command line prefix that runs a program isolated.
    pub fn prefix(&self) -> Vec<OsString> {
        let mut argv = self.unshare.clone();
        argv.extend(["--", "sh", "-c", SCRIPT, "paas-isolate"].map(OsString::from));
        argv.push(self.stage.clone().into());
        argv.push(self.hide.clone().into());
        argv.extend(self.keep.iter().map(|p| OsString::from(p.as_os_str())));
        argv.push("--".into());
        argv
    }
}

/// Whether `path` is `dir` or below it.
pub(crate) fn is_within(path: &Path, dir: &Path) -> bool {
    path.starts_with(dir)
}
