//! `paas members:remove EMAIL -t TEAM`: removes a member; their access to the team's apps ends
//! at once.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::credentials;
use crate::output::Action;
use crate::team_arg::TeamArg;

/// Remove a user from a team.
#[derive(Debug, Args)]
pub struct MembersRemoveCommand {
    /// The member's email.
    email: String,
    #[command(flatten)]
    team: TeamArg,
}

impl MembersRemoveCommand {
    /// `DELETE /teams/{team}/members/{email}`.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let team = &self.team.team;
        let action = Action::start(&format!("Removing {} from {team}", self.email));
        api.delete(&format!("/teams/{}/members/{}", seg(team), seg(&self.email))).await?;
        action.done();
        Ok(())
    }
}
