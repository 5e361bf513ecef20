//! `paas auth:whoami`: prints the email of the user the API key belongs to.

use anyhow::Result;
use clap::Args;

use crate::api::parse;
use crate::credentials;
use crate::models::AccountView;
use crate::output;

/// Display the current user's email.
#[derive(Debug, Args)]
pub struct WhoamiCommand {
    /// Print the account as JSON.
    #[arg(long)]
    json: bool,
}

impl WhoamiCommand {
    /// `GET /account`.
    pub async fn run(self) -> Result<()> {
        let value = credentials::connect()?.get("/account").await?;
        if self.json {
            output::json(&value);
            return Ok(());
        }
        let account: AccountView = parse(value)?;
        println!("{}", account.email);
        Ok(())
    }
}
