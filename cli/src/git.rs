//! The git side of the client: which app the `paas` remote of the current repo points to, and
//! adding or removing that remote (`<api-url>/<app>.git`). Runs the `git` program.

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

/// The name of the git remote the client reads and writes.
pub const REMOTE: &str = "paas";

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git").args(args).stdin(Stdio::null()).stderr(Stdio::null()).output().ok()?;
    output.status.success().then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// Whether the current directory is inside a git work tree.
pub fn in_repo() -> bool {
    git(&["rev-parse", "--is-inside-work-tree"]).as_deref() == Some("true")
}

/// The URL of `remote` in the current repo, if there is one.
pub fn remote_url(remote: &str) -> Option<String> {
    git(&["config", "--get", &format!("remote.{remote}.url")]).filter(|url| !url.is_empty())
}

/// The app a git URL points to: `http(s)://host/<app>.git`, `ssh://git@host/<app>.git` or
/// `git@host:<app>.git`.
pub fn app_from_url(url: &str) -> Option<String> {
    let path = url.trim().trim_end_matches('/');
    let last = path.rsplit(['/', ':']).next()?;
    let app = last.strip_suffix(".git").unwrap_or(last);
    (!app.is_empty() && !app.contains('@') && path.len() > last.len()).then(|| app.to_string())
}

/// The app of the `paas` remote of the current repo.
pub fn remote_app() -> Option<String> {
    app_from_url(&remote_url(REMOTE)?)
}

/// The git URL of `app` on the API at `api_url`.
pub fn app_url(api_url: &str, app: &str) -> String {
    format!("{}/{app}.git", api_url.trim_end_matches('/'))
}

/// Points `remote` at `url` in the current repo, adding it if it is missing.
pub fn set_remote(remote: &str, url: &str) -> Result<()> {
    let verb = if remote_url(remote).is_some() { "set-url" } else { "add" };
    let status = Command::new("git")
        .args(["remote", verb, remote, url])
        .stdin(Stdio::null())
        .status()
        .context("cannot run git")?;
    if !status.success() {
        bail!("`git remote {verb} {remote} {url}` failed ({status})");
    }
    Ok(())
}

/// Removes `remote` from the current repo.
pub fn remove_remote(remote: &str) -> Result<()> {
    let status = Command::new("git")
        .args(["remote", "remove", remote])
        .stdin(Stdio::null())
        .status()
        .context("cannot run git")?;
    if !status.success() {
        bail!("`git remote remove {remote}` failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn app_from_url_reads_http_and_ssh_remotes() {
        assert_eq!(app_from_url("http://127.0.0.1:5000/myapp.git").as_deref(), Some("myapp"));
        assert_eq!(app_from_url("https://paas.example.com/my-app.git/").as_deref(), Some("my-app"));
        assert_eq!(app_from_url("https://paas.example.com/my-app").as_deref(), Some("my-app"));
        assert_eq!(app_from_url("git@paas.example.com:myapp.git").as_deref(), Some("myapp"));
        assert_eq!(app_from_url("ssh://git@paas.example.com/myapp.git").as_deref(), Some("myapp"));
        assert_eq!(app_from_url("myapp.git"), None);
        assert_eq!(app_from_url("http://host/.git"), None);
    }

    #[test]
    fn app_url_joins_the_api_url_and_the_app() {
        assert_eq!(app_url("http://127.0.0.1:5000/", "myapp"), "http://127.0.0.1:5000/myapp.git");
    }
}
