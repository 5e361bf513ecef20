//! `paas releases`: lists an app's newest releases.

use anyhow::Result;
use clap::Args;

use super::newest::NewestArgs;
use crate::models::{ReleaseView, description_with_status};
use crate::output;

/// List an app's releases, newest first.
#[derive(Debug, Args)]
pub struct ReleasesCommand {
    #[command(flatten)]
    newest: NewestArgs,
}

impl ReleasesCommand {
    /// `GET /apps/{app}/releases` with `Range: version ..; max=N, order=desc`.
    pub async fn run(self) -> Result<()> {
        self.newest
            .print("releases", "version", |name, mut releases: Vec<ReleaseView>| {
                releases.sort_by_key(|release| std::cmp::Reverse(release.version));
                render(name, &releases)
            })
            .await
    }
}

/// `=== app Releases - Current: vN`, then `vN  description  email  time` rows.
fn render(app: &str, releases: &[ReleaseView]) -> String {
    if releases.is_empty() {
        return format!("No releases on {}\n", output::app(app));
    }
    let mut out = match releases.iter().find(|release| release.current) {
        Some(current) => format!("=== {app} Releases - Current: v{}\n\n", current.version),
        None => format!("=== {app} Releases\n\n"),
    };
    let rows: Vec<Vec<String>> = releases
        .iter()
        .map(|release| {
            vec![
                format!("v{}", release.version),
                description_with_status(release),
                release.user.email.clone(),
                output::time(Some(&release.created_at)),
            ]
        })
        .collect();
    out.push_str(&output::table(&rows));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_shows_the_current_release_and_aligned_rows() {
        let releases: Vec<ReleaseView> = serde_json::from_value(serde_json::json!([
            {"version": 2, "description": "Set FOO config vars", "user": {"email": "a@example.com"}, "current": true},
            {"version": 1, "description": "Initial release", "user": {"email": "a@example.com"}, "current": false}
        ]))
        .unwrap();
        assert_eq!(
            render("myapp", &releases),
            "=== myapp Releases - Current: v2\n\nv2  Set FOO config vars  a@example.com\nv1  Initial release      a@example.com\n"
        );
        assert_eq!(render("myapp", &[]), "No releases on ⬢ myapp\n");
    }
}
