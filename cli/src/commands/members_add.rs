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
        let api = credentials::connect()?;
        let team = &self.team.team;
        let action = Action::start(&format!("Adding {} to {team} as {}", self.email, self.role));
        api.put(&format!("/teams/{}/members", seg(team)), &json!({ "email": self.email, "role": self.role })).await?;
        action.done();
        Ok(())
    }
}
