//! `paas completions SHELL`: prints a shell completion script.

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Args, CommandFactory};
use clap_complete::Shell;

/// Print a completion script for bash, zsh, fish, elvish or powershell.
#[derive(Debug, Args)]
pub struct CompletionsCommand {
    /// The shell to complete for.
    shell: Shell,
}

impl CompletionsCommand {
    /// Writes the script to stdout, e.g. `paas completions bash > /etc/bash_completion.d/paas`.
    pub fn run(self) -> Result<()> {
        let mut command = super::Cli::command();
        let mut script = Vec::new();
        clap_complete::generate(self.shell, &mut command, "paas", &mut script);
        // `paas completions bash | head` ends by SIGPIPE, as every client command does (main.rs).
        std::io::stdout().write_all(&script).context("cannot write the completion script")
    }
}
