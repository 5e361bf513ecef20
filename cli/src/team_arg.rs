//! `-t/--team TEAM`, the team a `members*` or team-app command acts on (Heroku's flag).

use clap::Args;

/// The team flag, required.
#[derive(Debug, Args)]
pub struct TeamArg {
    /// The team.
    #[arg(short = 't', long = "team", value_name = "TEAM")]
    pub team: String,
}
