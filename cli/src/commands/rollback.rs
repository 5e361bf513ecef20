//! `paas rollback [vN]`: makes a new release with the slug and config vars of an old one (by
//! default the release before the newest).

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;

use super::releases_info::get_release;
use crate::api::{parse, parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::ReleaseView;
use crate::output::{self, Action};

/// Roll back to an earlier release (a new release with its code and config vars).
#[derive(Debug, Args)]
pub struct RollbackCommand {
    /// The release to roll back to: vN, N or its id [default: the one before the newest]
    release: Option<String>,
    #[command(flatten)]
    app: AppArg,
}

impl RollbackCommand {
    /// Finds the target release, then `POST /apps/{app}/releases {"release": id}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let target: ReleaseView = match &self.release {
            Some(release) => parse(get_release(&api, &name, release).await?)?,
            None => {
                let page = api.page(&format!("/apps/{}/releases", seg(&name)), "version ..; max=10, order=desc").await?;
                let mut releases: Vec<ReleaseView> = parse_all(page)?;
                releases.sort_by_key(|release| std::cmp::Reverse(release.version));
                match previous(releases) {
                    Some(release) => release,
                    None => bail!("{} has no earlier release to roll back to", output::app(&name)),
                }
            }
        };
        let action = Action::start(&format!("Rolling back {} to v{}", output::app(&name), target.version));
        let release_ref = if target.id.is_empty() { json!(target.version) } else { json!(target.id) };
        let created: ReleaseView =
            parse(api.post(&format!("/apps/{}/releases", seg(&name)), &json!({ "release": release_ref })).await?)?;
        action.done_with(&format!("v{}", created.version));
        Ok(())
    }
}

/// The release to roll back to by default: the second newest that may be rolled back to.
fn previous(newest_first: Vec<ReleaseView>) -> Option<ReleaseView> {
    newest_first
        .into_iter()
        .filter(|release| release.eligible_for_rollback != Some(false))
        .filter(|release| release.status.is_empty() || release.status == "succeeded")
        .nth(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previous_skips_releases_that_cannot_be_rolled_back_to() {
        let releases: Vec<ReleaseView> = serde_json::from_value(json!([
            {"version": 4, "status": "succeeded"},
            {"version": 3, "status": "failed"},
            {"version": 2, "eligible_for_rollback": false},
            {"version": 1}
        ]))
        .unwrap();
        assert_eq!(previous(releases).map(|r| r.version), Some(1));
        assert!(previous(vec![ReleaseView::default()]).is_none());
    }
}
