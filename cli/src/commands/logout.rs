//! `paas logout`: removes the stored API key of the API host (and `host:port`) from `~/.netrc`.

use anyhow::Result;
use clap::Args;

use crate::credentials;
use crate::netrc;
use crate::output::Action;

/// Log out: forget the stored API key.
#[derive(Debug, Args)]
pub struct LogoutCommand {}

impl LogoutCommand {
    /// Removes the netrc entry of the API host the client is logged in to, if any.
    pub async fn run(self) -> Result<()> {
        let action = Action::start("Logging out");
        if let Some(url) = credentials::load_config()?.api_url {
            let path = credentials::netrc_path()?;
            let before = netrc::read(&path)?;
            let after = credentials::machines(&url)?.iter().fold(before.clone(), |text, machine| netrc::remove(&text, machine));
            if after != before {
                netrc::write(&path, &after)?;
            }
        }
        action.done();
        Ok(())
    }
}
