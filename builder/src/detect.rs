//! Choosing the buildpack: `bin/detect` of each built-in one in order, or the override named by
//! `BUILDPACK_URL` (a built-in's name, a local folder, or a git URL with an optional `#ref`,
//! cloned with the stack's `git` in the build's sandbox, within [`CLONE_TIME_LIMIT`]).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

use crate::buildpack::Buildpack;
use crate::output::{Discard, OutputSink};
use crate::process::{self, Limits, RunError, Stdout};

/// The built-in buildpacks tried first, in this order; any other folder in the buildpacks
/// folder is tried after them, by name, and [`FALLBACK`] last of all. Heroku's order for the
/// languages it shares (ruby before nodejs: a Rails app has a package.json; every language before
/// `static`: a Rack, PHP or Go app may have a `public/`).
pub const BUILTIN_ORDER: &[&str] = &["wasm", "rust", "ruby", "python", "nodejs", "java", "php", "go", "static"];

/// How long cloning a `BUILDPACK_URL` may take (within the build's own time limit).
pub const CLONE_TIME_LIMIT: Duration = Duration::from_secs(120);

/// The buildpack tried last: any repo with a Procfile runs as it is, natively.
pub const FALLBACK: &str = "procfile";

/// The buildpacks in `dir`, in detection order.
pub fn buildpacks_in(dir: &Path) -> Vec<Buildpack> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
        .unwrap_or_default();
    names.sort_by_key(|name| {
        let position = BUILTIN_ORDER.iter().position(|b| b == name).unwrap_or(BUILTIN_ORDER.len());
        (name == FALLBACK, position, name.clone())
    });
    names.iter().filter_map(|name| Buildpack::open(&dir.join(name), name)).collect()
}

/// Runs `bin/detect BUILD_DIR` of each buildpack in order; the first that exits 0 wins, with the
/// name it printed (e.g. `Rust`). `Ok(None)` when none does. One process (one container in a
/// sandboxed build) runs them all: [`DETECT_ALL`].
pub async fn detect(
    buildpacks: &[Buildpack],
    build_dir: &Path,
    env: &[(String, OsString)],
    limits: &Limits,
) -> Result<Option<(Buildpack, String)>, RunError> {
    let mut args: Vec<OsString> = vec!["-c".into(), DETECT_ALL.into(), "detect".into(), build_dir.into()];
    args.extend(buildpacks.iter().map(|b| b.dir.clone().into_os_string()));
    let done = process::run(Path::new("/bin/bash"), &args, build_dir, env, limits, Stdout::Capture, &Discard).await?;
    let mut lines = done.stdout.lines();
    let index = lines.next().and_then(|i| i.trim().parse::<usize>().ok()).filter(|_| done.status.success());
    Ok(index.and_then(|i| buildpacks.get(i)).map(|buildpack| {
        let name = lines.next().unwrap_or("").trim();
        (buildpack.clone(), if name.is_empty() { buildpack.name.clone() } else { name.to_string() })
    }))
}

/// `bash -c DETECT_ALL detect BUILD_DIR BUILDPACK…`: each buildpack's `bin/detect BUILD_DIR` in
/// order (none: it applies); prints the index of the first that exits 0 and the first line it
/// printed; exits 1 when none does.
pub const DETECT_ALL: &str = r#"build=$1; shift; i=0
for bp in "$@"; do
  if [ ! -d "$bp/bin" ]; then i=$((i + 1)); continue; fi
  if [ ! -x "$bp/bin/detect" ]; then printf '%s\n\n' "$i"; exit 0; fi
  if out=$("$bp/bin/detect" "$build" 2>/dev/null); then printf '%s\n%s\n' "$i" "${out%%$'\n'*}"; exit 0; fi
  i=$((i + 1))
done
exit 1"#;

/// Runs one buildpack's `bin/detect`: its first line of stdout when it exits 0. A buildpack
/// without `bin/detect` always applies (it was chosen explicitly).
pub async fn detect_one(
    buildpack: &Buildpack,
    build_dir: &Path,
    env: &[(String, OsString)],
    limits: &Limits,
) -> Result<Option<String>, RunError> {
    let Some(program) = buildpack.bin("detect") else {
        return Ok(Some(buildpack.name.clone()));
    };
    let args = [build_dir.as_os_str().to_owned()];
    let done = process::run(&program, &args, build_dir, env, limits, Stdout::Capture, &Discard).await?;
    Ok(done.status.success().then(|| {
        let name = done.stdout.lines().next().unwrap_or("").trim();
        if name.is_empty() { buildpack.name.clone() } else { name.to_string() }
    }))
}

/// The host folder a `BUILDPACK_URL` names, if any: a built-in's folder, a local folder, or the
/// repository of a `file://` git URL.
pub fn local_path(url: &str, buildpacks_dir: &Path) -> Option<PathBuf> {
    if url.starts_with('/') || url.starts_with("file://") {
        let repo = url.split_once('#').map_or(url, |(r, _)| r);
        Some(PathBuf::from(repo.trim_start_matches("file://")))
    } else if !url.contains(':') && !url.contains('/') {
        Some(buildpacks_dir.join(url))
    } else {
        None
    }
}

/// Why a `BUILDPACK_URL` could not be used.
#[derive(Debug, thiserror::Error)]
pub enum BuildpackError {
    /// The folder (a local path) or the clone (a git URL) has no executable `bin/compile`.
    #[error("{0} has no executable bin/compile")]
    NoCompile(String),
    /// `git clone` could not run to its end.
    #[error("git clone {0}")]
    Clone(RunError),
    /// `git clone` failed; its first lines of stderr.
    #[error("git clone failed: {0}")]
    CloneFailed(String),
}

/// Resolves a `BUILDPACK_URL`: a built-in's name, a local folder, or a git URL (cloned into
/// `clone_dir` by `git` run as a build step, `#ref` selecting a branch or tag; `file:///path#ref`
/// clones a local repository).
pub async fn resolve(
    url: &str,
    buildpacks_dir: &Path,
    clone_dir: &Path,
    env: &[(String, OsString)],
    limits: &Limits,
) -> Result<Buildpack, BuildpackError> {
    if !url.contains('#')
        && let Some(dir) = local_path(url, buildpacks_dir)
    {
        // As the build's containers see it (at its host path, without `..` or links).
        let dir = dir.canonicalize().unwrap_or(dir);
        return Buildpack::open(&dir, url.rsplit('/').next().unwrap_or(url))
            .ok_or_else(|| BuildpackError::NoCompile(dir.display().to_string()));
    }
    let (repo, reference) = url.split_once('#').map_or((url, None), |(r, f)| (r, Some(f)));
    let mut args: Vec<OsString> =
        ["clone", "--quiet", "--depth", "1"].map(OsString::from).to_vec();
    if let Some(reference) = reference {
        args.extend(["--branch".into(), reference.into()]);
    }
    args.extend(["--".into(), repo.into(), clone_dir.into()]);
    let mut env = env.to_vec();
    env.push(("GIT_TERMINAL_PROMPT".into(), "0".into()));
    let mut limits = limits.clone();
    limits.deadline = limits.deadline.min(tokio::time::Instant::now() + CLONE_TIME_LIMIT);
    limits.time_limit = limits.time_limit.min(CLONE_TIME_LIMIT);
    let cwd = clone_dir.parent().unwrap_or(clone_dir);
    let errors = Collect::default();
    let done = process::run(Path::new("git"), &args, cwd, &env, &limits, Stdout::Capture, &errors)
        .await
        .map_err(BuildpackError::Clone)?;
    if !done.status.success() {
        let lines = errors.0.lock().unwrap_or_else(|e| e.into_inner()).join("\n");
        return Err(BuildpackError::CloneFailed(lines.trim().to_string()));
    }
    Buildpack::open(clone_dir, url).ok_or_else(|| BuildpackError::NoCompile(url.to_string()))
}

/// Keeps the first lines of `git`'s stderr for the error message.
#[derive(Default)]
struct Collect(Mutex<Vec<String>>);

impl OutputSink for Collect {
    fn line(&self, line: &str) {
        let mut lines = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if lines.len() < 20 {
            lines.push(line.chars().take(500).collect());
        }
    }
}
