//! `paas members:set EMAIL --role ROLE -t TEAM`: changes a member's role.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::credentials;
use crate::output::Action;
use crate::team_arg::TeamArg;

/// Set a member's role in a team.
#[derive(Debug, Args)]
pub struct MembersSetCommand {
    /// The member's email.
    email: String,
    /// Their new role: admin, member or viewer.
    #[arg(short = 'r', long)]
    role: String,
    #[command(flatten)]
    team: TeamArg,
}

impl MembersSetCommand {
    /// `PATCH /teams/{team}/members {"email", "role"}`.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let team = &self.team.team;
        let action = Action::start(&format!("Adding {} to {team} as {}", self.email, self.role));
        api.patch(&format!("/teams/{}/members", seg(team)), &json!({ "email": self.email, "role": self.role })).await?;
        action.done();
        Ok(())
    }
}
