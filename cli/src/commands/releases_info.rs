//! `paas releases:info [vN]`: shows one release (the newest by default).

use anyhow::{Result, bail};
use clap::Args;

use crate::api::{Api, parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{ReleaseView, description_with_status};
use crate::output;

/// Show one release: who made it, what it changed, and when.
#[derive(Debug, Args)]
pub struct ReleasesInfoCommand {
    /// The release: vN, N or its id [default: the newest]
    release: Option<String>,
    #[command(flatten)]
    app: AppArg,
    /// Print the release as JSON.
    #[arg(long)]
    json: bool,
}

impl ReleasesInfoCommand {
    /// `GET /apps/{app}/releases/{version}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let value = match &self.release {
            Some(release) => get_release(&api, &name, release).await?,
            None => newest(&api, &name).await?,
        };
        if self.json {
            output::json(&value);
            return Ok(());
        }
        let release: ReleaseView = parse(value)?;
        let pairs = [
            ("By", release.user.email.clone()),
            ("Change", description_with_status(&release)),
            ("Current", release.current.to_string()),
            ("Slug", release.slug.as_ref().map(|slug| slug.id.clone()).unwrap_or_default()),
            ("When", output::time(Some(&release.created_at))),
        ];
        output::header(&format!("Release v{}", release.version));
        print!("{}", output::styled_object(&pairs));
        Ok(())
    }
}

/// A release given as `vN`, `N` or an id.
pub async fn get_release(api: &Api, app: &str, release: &str) -> Result<serde_json::Value> {
    api.get(&format!("/apps/{}/releases/{}", seg(app), seg(&version_or_id(release)))).await
}

async fn newest(api: &Api, app: &str) -> Result<serde_json::Value> {
    let page = api.page(&format!("/apps/{}/releases", seg(app)), "version ..; order=desc, max=1").await?;
    match page.into_iter().next() {
        Some(release) => Ok(release),
        None => bail!("{} has no releases yet", output::app(app)),
    }
}

/// `v3` → `3`; anything else as given.
pub fn version_or_id(release: &str) -> String {
    match release.strip_prefix(['v', 'V']) {
        Some(number) if !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) => number.to_string(),
        _ => release.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_or_id_strips_the_v_of_a_version_only() {
        assert_eq!(version_or_id("v3"), "3");
        assert_eq!(version_or_id("3"), "3");
        assert_eq!(version_or_id("V12"), "12");
        assert_eq!(version_or_id("v"), "v");
        assert_eq!(version_or_id("vabc"), "vabc");
    }
}
