//! `paas builds`: lists an app's newest builds.

use anyhow::Result;
use clap::Args;

use super::newest::NewestArgs;
use crate::models::BuildView;
use crate::output;

/// List an app's builds, newest first.
#[derive(Debug, Args)]
pub struct BuildsCommand {
    #[command(flatten)]
    newest: NewestArgs,
}

impl BuildsCommand {
    /// `GET /apps/{app}/builds` with `Range: created_at ..; max=N, order=desc`.
    pub async fn run(self) -> Result<()> {
        self.newest
            .print("builds", "created_at", |name, mut builds: Vec<BuildView>| {
                builds.sort_by(|a, b| b.created_at.cmp(&a.created_at));
                render(name, &builds)
            })
            .await
    }
}

/// `=== app Builds`, then `id  status  email  time` rows.
fn render(app: &str, builds: &[BuildView]) -> String {
    if builds.is_empty() {
        return format!("{} has no builds.\n", output::app(app));
    }
    let rows: Vec<Vec<String>> = builds
        .iter()
        .map(|build| {
            vec![
                build.id.clone(),
                build.status.clone(),
                build.user.email.clone(),
                output::time(Some(&build.created_at)),
            ]
        })
        .collect();
    format!("=== {app} Builds\n\n{}", output::table(&rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_id_status_and_user() {
        let builds: Vec<BuildView> = serde_json::from_value(serde_json::json!([
            {"id": "b2", "status": "failed", "user": {"email": "a@example.com"}},
            {"id": "b1", "status": "succeeded", "user": {"email": "a@example.com"}}
        ]))
        .unwrap();
        assert_eq!(
            render("myapp", &builds),
            "=== myapp Builds\n\nb2  failed     a@example.com\nb1  succeeded  a@example.com\n"
        );
        assert_eq!(render("myapp", &[]), "⬢ myapp has no builds.\n");
    }
}
