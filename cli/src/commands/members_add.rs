//! `paas members:add EMAIL --role ROLE -t TEAM`: adds a user to a team (or sets their role).

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::credentials;
use crate::output::Action;
use crate::team_arg::TeamArg;

/// Add a user to a team.
#[derive(Debug, Args)]
pub struct MembersAddCommand {
    /// The user's email.
    email: String,
    /// Their role: admin, member or viewer.
    #[arg(short = 'r', long)]
    role: String,
    #[command(flatten)]
    team: TeamArg,
}

impl MembersAddCommand {
    /// `PUT /teams/{team}/members {"email", "role"}`.
    pub async fn run(self) -> Result<()> {
        set_member(&self.team.team, &self.email, &self.role, true).await
    }
}

/// Adds a member or sets their role (`PUT`, `create`), or only sets it (`PATCH`), saying so as
/// Heroku's CLI does for both.
pub async fn set_member(team: &str, email: &str, role: &str, create: bool) -> Result<()> {
    let api = credentials::connect()?;
    let action = Action::start(&format!("Adding {email} to {team} as {role}"));
    let (path, body) = (format!("/teams/{}/members", seg(team)), json!({ "email": email, "role": role }));
    if create {
        api.put(&path, &body).await?;
    } else {
        api.patch(&path, &body).await?;
    }
    action.done();
    Ok(())
}
