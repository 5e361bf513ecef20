//! `paas apps`: lists the apps the user owns, then those they collaborate on.

use anyhow::Result;
use clap::Args;

use crate::api::{parse, parse_all};
use crate::credentials;
use crate::models::{AccountView, AppView};
use crate::output;

/// List your apps.
#[derive(Debug, Args)]
pub struct AppsCommand {
    /// List every app you can see: for an operator, every app on the server.
    #[arg(short = 'A', long)]
    all: bool,
    /// List the apps of this team.
    #[arg(short = 't', long, conflicts_with = "all")]
    team: Option<String>,
    /// Print the apps as JSON.
    #[arg(long)]
    json: bool,
}

impl AppsCommand {
    /// `GET /account` and `GET /users/~/apps` (with `--all`, `GET /apps`; with `--team`,
    /// `GET /teams/{team}/apps`), all pages.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let path = match &self.team {
            Some(team) => format!("/teams/{}/apps", crate::api::seg(team)),
            None if self.all => "/apps".to_string(),
            None => "/users/~/apps".to_string(),
        };
        let values = api.list(&path, None).await?;
        if self.json {
            output::json(&serde_json::Value::Array(values));
            return Ok(());
        }
        if let Some(team) = &self.team {
            let mut apps: Vec<AppView> = parse_all(values)?;
            apps.sort_by(|a, b| a.name.cmp(&b.name));
            print!("{}", render_team(team, &apps));
            return Ok(());
        }
        let account: AccountView = parse(api.get("/account").await?)?;
        let mut apps: Vec<AppView> = parse_all(values)?;
        apps.sort_by(|a, b| a.name.cmp(&b.name));
        print!("{}", render(&account.email, &apps));
        Ok(())
    }
}

/// A team's listing: `=== Apps in team <team>` with the names (Heroku's words).
fn render_team(team: &str, apps: &[AppView]) -> String {
    if apps.is_empty() {
        return format!("There are no apps in team {team}.\n");
    }
    let names: String = apps.iter().map(|app| format!("{}\n", app.name)).collect();
    format!("=== Apps in team {team}\n\n{names}")
}

/// The listing: `=== <email> Apps` with the names, then `=== Collaborated Apps` with owners.
fn render(email: &str, apps: &[AppView]) -> String {
    if apps.is_empty() {
        return "You have no apps.\n".to_string();
    }
    let (owned, shared): (Vec<&AppView>, Vec<&AppView>) = apps.iter().partition(|app| app.owner.email == email);
    let mut out = String::new();
    if !owned.is_empty() {
        out.push_str(&format!("=== {email} Apps\n\n"));
        for app in &owned {
            out.push_str(&format!("{}\n", app.name));
        }
    }
    if !shared.is_empty() {
        if !owned.is_empty() {
            out.push('\n');
        }
        out.push_str("=== Collaborated Apps\n\n");
        let rows: Vec<Vec<String>> =
            shared.iter().map(|app| vec![app.name.clone(), app.owner.email.clone()]).collect();
        out.push_str(&output::table(&rows));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use paas_platform::api::views::EmailRef;

    fn app(name: &str, owner: &str) -> AppView {
        AppView { name: name.into(), owner: EmailRef { email: owner.into(), ..EmailRef::default() }, ..AppView::default() }
    }

    #[test]
    fn render_splits_owned_and_collaborated_apps() {
        let apps = [app("alpha", "a@example.com"), app("beta", "b@example.com"), app("gamma", "a@example.com")];
        assert_eq!(
            render("a@example.com", &apps),
            "=== a@example.com Apps\n\nalpha\ngamma\n\n=== Collaborated Apps\n\nbeta  b@example.com\n"
        );
        assert_eq!(render("a@example.com", &[]), "You have no apps.\n");
        assert_eq!(
            render("c@example.com", &apps[1..2]),
            "=== Collaborated Apps\n\nbeta  b@example.com\n"
        );
    }
}
