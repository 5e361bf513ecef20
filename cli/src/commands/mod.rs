//! The subcommands of `paas`, one file each.

use clap::{Parser, Subcommand};

mod node;
mod node_install;
mod server;
mod version;

// The client commands (one file each), gathered by `client::ClientCommand`.
mod access;
mod access_add;
mod access_remove;
mod access_update;
mod addons;
mod addons_attach;
mod addons_create;
mod addons_destroy;
mod addons_detach;
mod addons_info;
mod apps;
mod apps_create;
mod apps_destroy;
mod apps_info;
mod apps_rename;
mod apps_transfer;
mod buildpacks;
mod buildpacks_clear;
mod buildpacks_set;
mod builds;
mod builds_cache_purge;
mod builds_output;
mod client;
mod completions;
mod config;
mod config_get;
mod config_set;
mod config_unset;
mod deploy;
mod domains;
mod domains_add;
mod domains_remove;
mod drains;
mod drains_add;
mod drains_remove;
mod features;
mod features_switch;
mod git_remote;
mod login;
mod logout;
mod logs;
mod maintenance;
mod metrics;
mod members;
mod members_add;
mod members_remove;
mod members_set;
mod newest;
mod nodes;
mod nodes_token;
mod ps;
mod ps_autoscale_disable;
mod ps_autoscale_enable;
mod ps_restart;
mod ps_scale;
mod ps_stop;
mod releases;
mod releases_info;
mod rollback;
mod run;
mod run_detached;
mod scheduler;
mod scheduler_add;
mod scheduler_remove;
mod teams;
mod teams_create;
mod users_create;
mod users_grant;
mod whoami;

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
    /// Run the platform (API, ledger, router) in this process.
    Server(Box<server::ServerCommand>),
    /// Set this machine up as a paas node (`paas node install`: a systemd unit and data dir).
    Node(node::NodeCommand),
    #[command(flatten)]
    Client(client::ClientCommand),
}

impl Cli {
    /// Whether this is a short-lived command whose output is read by whoever runs it (every
    /// command but `paas server`): such a command ends quietly, as `cat` does, when that reader
    /// goes away (`paas logs | head`).
    pub fn ends_with_its_reader(&self) -> bool {
        !matches!(self.command, Command::Server(_))
    }

    /// Runs the chosen subcommand.
    pub async fn run(self) -> anyhow::Result<()> {
        match self.command {
            Command::Version(command) => command.run(),
            Command::Server(command) => (*command).run().await,
            Command::Node(command) => command.run(),
            Command::Client(command) => command.run().await,
        }
    }
}
