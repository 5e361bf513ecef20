//! `paas deploy [DIR] -a APP`: builds and releases a folder without `git push` — uploads a
//! tarball of the working tree (the files git tracks or would track, when DIR is in a git repo;
//! the server drops what `.slugignore` names) and prints the build's output as it is written.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use clap::Args;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::BuildView;
use crate::output::{self, Action};

/// Build and release a folder (default: the current one) without git push.
#[derive(Debug, Args)]
pub struct DeployCommand {
    /// The folder to deploy.
    #[arg(default_value = ".")]
    dir: PathBuf,
    #[command(flatten)]
    app: AppArg,
}

impl DeployCommand {
    /// `POST /apps/{app}/builds` with the tarball, then the build's status.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let dir = self.dir.canonicalize().with_context(|| format!("cannot read {}", self.dir.display()))?;
        let files = source_files(&dir)?;
        let version = git(&dir, &["rev-parse", "HEAD"]).ok().map(|v| v.trim().to_string());
        let action = Action::start(&format!("Uploading {} ({} files)", dir.display(), files.len()));
        let tarball = tarball(&dir, &files)?;
        let api = credentials::connect()?;
        let mut path = format!("/apps/{}/builds", seg(&name));
        if let Some(version) = &version {
            path.push_str(&format!("?source_version={}", seg(version)));
        }
        let mut response = api.post_streaming(&path, "application/gzip", tarball).await?;
        action.done();
        let build_id = response
            .headers()
            .get("paas-build-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
            .context("the paas API did not say which build it started")?;
        let mut stdout = std::io::stdout();
        let mut text = Vec::new();
        while let Some(chunk) = response.chunk().await.context("the build's output was cut off")? {
            stdout.write_all(&chunk)?;
            stdout.flush()?;
            text.extend_from_slice(&chunk);
        }
        let build: BuildView = parse(api.get(&format!("/apps/{}/builds/{}", seg(&name), seg(&build_id))).await?)?;
        if build.status != "succeeded" {
            bail!("{}", failure(&String::from_utf8_lossy(&text), &name));
        }
        Ok(())
    }
}

/// Why a build failed: the last ` !     ` line of its output but `Push failed`.
fn failure(output: &str, app: &str) -> String {
    output
        .lines()
        .rev()
        .filter_map(|line| line.strip_prefix(" !     "))
        .find(|line| *line != "Push failed")
        .map(str::to_string)
        .unwrap_or_else(|| format!("the build of {} failed", output::app(app)))
}

fn git(dir: &Path, args: &[&str]) -> Result<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().context("cannot run git")?;
    if !out.status.success() {
        bail!("git {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The files to upload, relative to `dir`: what git tracks or would track (honouring
/// `.gitignore`) when `dir` is in a git work tree, else every file but `.git`.
fn source_files(dir: &Path) -> Result<Vec<PathBuf>> {
    if git(dir, &["rev-parse", "--is-inside-work-tree"]).is_ok_and(|out| out.trim() == "true") {
        let listed = git(dir, &["ls-files", "-z", "--cached", "--others", "--exclude-standard"])?;
        let files = listed
            .split('\0')
            .filter(|f| !f.is_empty())
            .map(PathBuf::from)
            .filter(|f| dir.join(f).symlink_metadata().is_ok())
            .collect();
        return Ok(files);
    }
    let mut files = Vec::new();
    walk(dir, Path::new(""), &mut files)?;
    Ok(files)
}

fn walk(root: &Path, relative: &Path, files: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(root.join(relative))?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        if entry.file_name() == ".git" {
            continue;
        }
        let path = relative.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            walk(root, &path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

/// A gzip'd tar of `files` (symlinks kept as links).
fn tarball(dir: &Path, files: &[PathBuf]) -> Result<Vec<u8>> {
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    for file in files {
        tar.append_path_with_name(dir.join(file), file).with_context(|| format!("cannot read {}", file.display()))?;
    }
    Ok(tar.into_inner()?.finish()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_is_the_last_error_line_before_push_failed() {
        let output = "-----> Building\n !     warning\n\n !     cargo build failed\n\n !     Push failed\n";
        assert_eq!(failure(output, "a"), "cargo build failed");
        assert_eq!(failure("nothing\n", "a"), "the build of ⬢ a failed");
    }
}
