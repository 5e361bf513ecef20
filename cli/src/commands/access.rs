//! `paas access`: lists who can use an app: its owner and its collaborators.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::{parse, parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{AppView, CollaboratorView};
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
        let app: AppView = parse(api.get(&format!("/apps/{}", seg(&name))).await?)?;
        let values = api.list(&format!("/apps/{}/collaborators", seg(&name)), None).await?;
        if self.json {
            output::json(&Value::Array(values));
            return Ok(());
        }
        let collaborators: Vec<CollaboratorView> = parse_all(values)?;
        output::header(&format!("{name} Access List"));
        print!("{}", render(&app, &collaborators));
        Ok(())
    }
}

/// All four permissions, as the server lists them.
const ALL: [&str; 4] = ["view", "deploy", "operate", "manage"];

/// A collaborator's permissions, `view, deploy` (all four when the server lists none: a personal
/// app's full collaborator).
fn permissions(collaborator: &CollaboratorView) -> String {
    match &collaborator.permissions {
        Some(list) => list.iter().map(|p| p.name.as_str()).collect::<Vec<_>>().join(", "),
        None => ALL.join(", "),
    }
}

/// `email  role` rows: the owner first (a team app's owner is its team: not listed), then the
/// collaborators by email; a permissions column when someone holds fewer than all four.
fn render(app: &AppView, collaborators: &[CollaboratorView]) -> String {
    let owner = app.owner.email.as_str();
    let owner = if owner.ends_with("@herokumanager.com") { "" } else { owner };
    let mut others: Vec<&CollaboratorView> = collaborators.iter().filter(|c| c.user.email != owner).collect();
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
        let mut row = vec![collaborator.user.email.clone(), if collaborator.role.is_empty() { "collaborator".into() } else { collaborator.role.clone() }];
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
    use paas_platform::api::views::EmailRef;

    #[test]
    fn render_puts_the_owner_first_whether_or_not_it_is_listed() {
        let app = AppView { owner: EmailRef { email: "a@example.com".into(), ..EmailRef::default() }, ..AppView::default() };
        let collaborators: Vec<CollaboratorView> = serde_json::from_value(serde_json::json!([
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
        let app = AppView { owner: EmailRef { email: "acme@herokumanager.com".into(), ..EmailRef::default() }, ..AppView::default() };
        let collaborators: Vec<CollaboratorView> = serde_json::from_value(serde_json::json!([
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
