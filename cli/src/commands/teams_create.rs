//! `paas teams:create NAME`: a new team, with you as its admin.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::credentials;
use crate::output::Action;

/// Create a team; you become its admin.
#[derive(Debug, Args)]
pub struct TeamsCreateCommand {
    /// The team's name: 3 to 30 lowercase letters, digits and dashes.
    name: String,
}

impl TeamsCreateCommand {
    /// `POST /teams {"name"}`.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let action = Action::start(&format!("Creating team {}", self.name));
        api.post("/teams", &json!({ "name": self.name })).await?;
        action.done();
        Ok(())
    }
}
