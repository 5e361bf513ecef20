//! `paas access`: lists who can use an app: its owner and its collaborators.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::{parse, parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{App, Collaborator};
use crate::output;

/// List who has access to an app.
#[derive(Debug, Args)]
pub struct AccessCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the collaborators as JSON.
    #[arg(long)]
    json: bool,
}

impl AccessCommand {
    /// `GET /apps/{app}` and `GET /apps/{app}/collaborators`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let app: App = parse(api.get(&format!("/apps/{}", seg(&name))).await?)?;
        let values = api.list(&format!("/apps/{}/collaborators", seg(&name)), None).await?;
        if self.json {
            output::json(&Value::Array(values));
            return Ok(());
        }
        let collaborators: Vec<Collaborator> = parse_all(values)?;
        output::header(&format!("{name} Access List"));
        print!("{}", render(&app, &collaborators));
        Ok(())
    }
}

/// All four permissions, as the server lists them.
const ALL: [&str; 4] = ["view", "deploy", "operate", "manage"];

/// A collaborator's permissions, `view, deploy` (all four when the server lists none: a personal
/// app's full collaborator).
fn permissions(collaborator: &Collaborator) -> String {
    match &collaborator.permissions {
        Some(list) => list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
        None => ALL.join(", "),
    }
}

/// `email  role` rows: the owner first (a team app's owner is its team: not listed), then the
/// collaborators by email; a permissions column when someone holds fewer than all four.
fn render(app: &App, collaborators: &[Collaborator]) -> String {
    let owner = app.owner_email();
    let owner = if owner.ends_with("@herokumanager.com") { "" } else { owner };
    let mut others: Vec<&Collaborator> = collaborators.iter().filter(|c| c.user.email != owner).collect();
    others.sort_by(|a, b| a.user.email.cmp(&b.user.email));
    let narrowed = others.iter().any(|c| c.permissions.as_ref().is_some_and(|p| p.len() < ALL.len()));
    let mut rows = Vec::new();
    if !owner.is_empty() {
        let mut row = vec![owner.to_string(), "owner".to_string()];
        if narrowed {
            row.push(ALL.join(", "));
        }
        rows.push(row);
    }
    for collaborator in others {
        let mut row = vec![collaborator.user.email.clone(), collaborator.role.clone().unwrap_or_else(|| "collaborator".into())];
        if narrowed {
            row.push(permissions(collaborator));
        }
        rows.push(row);
    }
    output::table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::UserRef;

    #[test]
    fn render_puts_the_owner_first_whether_or_not_it_is_listed() {
        let app = App { owner: Some(UserRef { email: "a@example.com".into() }), ..App::default() };
        let collaborators: Vec<Collaborator> = serde_json::from_value(serde_json::json!([
            {"user": {"email": "c@example.com"}, "role": "collaborator"},
            {"user": {"email": "a@example.com"}, "role": "owner"},
            {"user": {"email": "b@example.com"}}
        ]))
        .unwrap();
        assert_eq!(
            render(&app, &collaborators),
            "a@example.com  owner\nb@example.com  collaborator\nc@example.com  collaborator\n"
        );
    }

    #[test]
    fn render_shows_permissions_when_someone_holds_fewer_than_all() {
        let app = App { owner: Some(UserRef { email: "acme@herokumanager.com".into() }), ..App::default() };
        let collaborators: Vec<Collaborator> = serde_json::from_value(serde_json::json!([
            {"user": {"email": "d@example.com"}, "role": "collaborator", "permissions": [{"name": "view"}, {"name": "deploy"}]},
            {"user": {"email": "c@example.com"}, "role": "collaborator",
             "permissions": [{"name": "view"}, {"name": "deploy"}, {"name": "operate"}, {"name": "manage"}]}
        ]))
        .unwrap();
        assert_eq!(
            render(&app, &collaborators),
            "c@example.com  collaborator  view, deploy, operate, manage\nd@example.com  collaborator  view, deploy\n"
        );
    }
}
