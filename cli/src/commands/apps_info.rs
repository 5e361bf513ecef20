//! `paas apps:info`: shows an app's owner, URLs, region, stack, collaborators and dynos.

use std::collections::BTreeMap;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::{parse, parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{AppView, CollaboratorView, DynoView};
use crate::output;

/// Show detailed information about an app.
#[derive(Debug, Args)]
pub struct AppsInfoCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the app, its collaborators and its dynos as JSON.
    #[arg(long)]
    json: bool,
}

impl AppsInfoCommand {
    /// `GET /apps/{app}`, `/apps/{app}/collaborators` and `/apps/{app}/dynos`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let app_value = api.get(&format!("/apps/{}", seg(&name))).await?;
        let collaborators = api.list(&format!("/apps/{}/collaborators", seg(&name)), None).await?;
        // Listing dynos is not essential to the answer: a server that cannot do it shows none.
        let dynos = api.list(&format!("/apps/{}/dynos", seg(&name)), None).await.unwrap_or_default();
        if self.json {
            output::json(&json!({ "app": app_value, "collaborators": collaborators, "dynos": dynos }));
            return Ok(());
        }
        let app: AppView = parse(app_value)?;
        print!("{}", render(&app, &parse_all(collaborators)?, &parse_all(dynos)?));
        Ok(())
    }
}

fn render(app: &AppView, collaborators: &[CollaboratorView], dynos: &[DynoView]) -> String {
    let mut pairs: Vec<(&str, String)> = Vec::new();
    let others: Vec<&str> = collaborators
        .iter()
        .map(|c| c.user.email.as_str())
        .filter(|email| *email != app.owner.email)
        .collect();
    if !others.is_empty() {
        pairs.push(("Collaborators", others.join("\n")));
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for dyno in dynos {
        *counts.entry(dyno.process_type.as_str()).or_default() += 1;
    }
    if !counts.is_empty() {
        let text: Vec<String> = counts.iter().map(|(kind, n)| format!("{kind}: {n}")).collect();
        pairs.push(("Dynos", text.join("\n")));
    }
    pairs.push(("Git URL", app.git_url.clone()));
    pairs.push(("Owner", app.owner.email.clone()));
    pairs.push(("Region", app.region.name.clone()));
    pairs.push(("Released At", output::time(app.released_at.as_deref())));
    pairs.push(("Stack", app.stack.name.clone()));
    pairs.push(("Web URL", app.web_url.clone()));
    format!("=== {}\n\n{}", app.name, output::styled_object(&pairs))
}


#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_fields_alphabetically_and_leaves_out_the_owner_from_collaborators() {
        let app: AppView = serde_json::from_value(json!({
            "name": "myapp", "owner": {"email": "a@example.com"}, "region": {"name": "local"},
            "stack": {"name": "wasm"}, "git_url": "http://h/myapp.git", "web_url": "http://myapp.localhost/"
        }))
        .unwrap();
        let collaborators: Vec<CollaboratorView> = serde_json::from_value(json!([
            {"user": {"email": "a@example.com"}, "role": "owner"},
            {"user": {"email": "b@example.com"}, "role": "collaborator"}
        ]))
        .unwrap();
        assert_eq!(
            render(&app, &collaborators, &[]),
            "=== myapp\n\nCollaborators: b@example.com\nGit URL:       http://h/myapp.git\nOwner:         a@example.com\n\
             Region:        local\nReleased At:\nStack:         wasm\nWeb URL:       http://myapp.localhost/\n"
        );
    }
}
