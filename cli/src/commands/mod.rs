//! The subcommands of `paas`, one file each.

use clap::{Parser, Subcommand};

mod version;

/// paas: a self-hostable Heroku whose dynos are WebAssembly components.
#[derive(Debug, Parser)]
#[command(name = "paas", version)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the version of this paas binary.
    Version(version::VersionCommand),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Version(command) => command.run(),
        }
    }
}
