//! `paas releases`: lists an app's newest releases.

use anyhow::Result;
use clap::Args;

use super::newest;
use crate::app_arg::AppArg;
use crate::models::{ReleaseView, description_with_status};
use crate::output;

/// List an app's releases, newest first.
#[derive(Debug, Args)]
pub struct ReleasesCommand {
    #[command(flatten)]
    app: AppArg,
    /// How many releases to show.
    #[arg(short = 'n', long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1000))]
    num: u32,
    /// Print the releases as JSON.
    #[arg(long)]
    json: bool,
}

impl ReleasesCommand {
    /// `GET /apps/{app}/releases` with `Range: version ..; max=N, order=desc`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        newest::print(&name, "releases", "version", self.num, self.json, |mut releases: Vec<ReleaseView>| {
            releases.sort_by_key(|release| std::cmp::Reverse(release.version));
            render(&name, &releases)
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
