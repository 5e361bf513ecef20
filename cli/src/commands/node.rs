//! `paas node …`: setting up this machine as a paas node (`paas node install`).

use clap::{Args, Subcommand};

use super::node_install::NodeInstallCommand;

/// Set this machine up as a paas node.
#[derive(Debug, Args)]
pub struct NodeCommand {
    #[command(subcommand)]
    command: NodeSubcommand,
}

#[derive(Debug, Subcommand)]
enum NodeSubcommand {
    /// Install `paas server` as a systemd service: the unit, its settings file and the data dir.
    Install(NodeInstallCommand),
}

impl NodeCommand {
    /// Runs the chosen `paas node` subcommand.
    pub fn run(self) -> anyhow::Result<()> {
        match self.command {
            NodeSubcommand::Install(command) => command.run(),
        }
    }
}
