//! `paas nodes:token`: a join token for a new node (operator only, `POST /nodes/tokens`), valid
//! for an hour and once: on the new machine, `paas server --database-url postgres://… --join TOKEN`.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;

use crate::credentials;
use crate::output;

/// Make a join token for a new node of the grid (operator only).
#[derive(Debug, Args)]
pub struct NodesTokenCommand {
    /// Print the token and its expiry as JSON.
    #[arg(long)]
    json: bool,
}

impl NodesTokenCommand {
    /// `POST /nodes/tokens`; the token goes to stdout, how to use it to stderr.
    pub async fn run(self) -> Result<()> {
        let value = credentials::connect()?.post("/nodes/tokens", &json!({})).await?;
        if self.json {
            output::json(&value);
            return Ok(());
        }
        let Some(token) = value["token"].as_str() else { bail!("the server gave no token (is it a paas server?)") };
        println!("{token}");
        eprintln!(
            "On the new machine: paas server --database-url postgres://… --join {token}\n(valid once, until {})",
            output::time(value["expires_at"].as_str())
        );
        Ok(())
    }
}
