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

/// `email  role` rows: the owner first, then the collaborators by email.
fn render(app: &App, collaborators: &[Collaborator]) -> String {
    let owner = app.owner_email();
    let mut others: Vec<(&str, &str)> = collaborators
        .iter()
        .filter(|c| c.user.email != owner)
        .map(|c| (c.user.email.as_str(), c.role.as_deref().unwrap_or("collaborator")))
        .collect();
    others.sort();
    let mut rows = Vec::new();
    if !owner.is_empty() {
        rows.push(vec![owner.to_string(), "owner".to_string()]);
    }
    rows.extend(others.into_iter().map(|(email, role)| vec![email.to_string(), role.to_string()]));
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
}
