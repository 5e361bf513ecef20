//! `paas version`: prints the binary's version.

use clap::Args;

/// Print the version of this paas binary.
#[derive(Debug, Args)]
pub struct VersionCommand {}

impl VersionCommand {
    /// Prints `paas <version>`.
    pub fn run(self) -> anyhow::Result<()> {
        println!("paas {}", env!("CARGO_PKG_VERSION"));
        Ok(())
    }
}
