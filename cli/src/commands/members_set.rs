//! `paas members:set EMAIL --role ROLE -t TEAM`: changes a member's role.

use anyhow::Result;
use clap::Args;

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
        super::members_add::set_member(&self.team.team, &self.email, &self.role, false).await
    }
}
