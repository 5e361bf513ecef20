//! `paas apps:create [NAME]`: creates an app (the server picks a random name when none is given)
//! and, inside a git repo, points the `paas` git remote at it.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::parse;
use crate::credentials;
use crate::git;
use crate::models::AppView;
use crate::output::{self, Action};

/// Create an app.
#[derive(Debug, Args)]
pub struct AppsCreateCommand {
    /// The app's name: 3 to 30 lowercase letters, digits and dashes [default: a random name]
    name: Option<String>,
    /// Create the app in this team (you need the member or admin role).
    #[arg(short = 't', long)]
    team: Option<String>,
    /// With --team: lock the app (team members get no implicit access).
    #[arg(long, requires = "team")]
    locked: bool,
    /// Do not add or update the `paas` git remote.
    #[arg(long)]
    no_remote: bool,
    /// Print the new app as JSON.
    #[arg(long)]
    json: bool,
}

impl AppsCreateCommand {
    /// `POST /apps {"name"}` (or `POST /teams/apps {"name", "team"}`), then `git remote add paas <api-url>/<name>.git` inside a repo.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        // Without a name, the server picks one (`POST /apps {}`), as Heroku's does.
        let (message, mut body) = match &self.name {
            Some(name) => (format!("Creating {}", output::app(name)), json!({ "name": name })),
            None => ("Creating app".to_string(), json!({})),
        };
        // In a team: `POST /teams/apps`, as Heroku's CLI does.
        let path = match &self.team {
            Some(team) => {
                body["team"] = json!(team);
                if self.locked {
                    body["locked"] = json!(true);
                }
                "/teams/apps"
            }
            None => "/apps",
        };
        let action = Action::start(&message);
        let value = api.post(path, &body).await?;
        let app: AppView = parse(value.clone())?;
        match &self.name {
            Some(_) => action.done(),
            None => action.done_with(&output::app(&app.name)),
        }
        let git_url = git::app_url(api.base_url(), &app.name);
        if !self.no_remote && git::in_repo() {
            git::set_remote(git::REMOTE, &git_url)?;
        }
        if self.json {
            output::json(&value);
        } else {
            println!("{} | {git_url}", app.web_url);
        }
        Ok(())
    }
}
