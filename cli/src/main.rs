//! The `paas` binary: parses the command line and hands each subcommand to its module in
//! `commands/`; the logic lives in the library crates.

use std::process::ExitCode;

use clap::Parser;

mod api;
mod app_arg;
mod attach;
mod builtin;
mod commands;
mod credentials;
mod git;
mod models;
mod netrc;
mod output;
mod precompile;
mod serve;
mod team_arg;
mod usage;

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli.run()) {
        Ok(()) => ExitCode::SUCCESS,
        // Usage errors exit 2, as clap's own do; everything else 1.
        Err(error) if error.is::<usage::UsageError>() => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            if let Some(refused) = error.downcast_ref::<api::ApiError>()
                && (refused.status == 401 || refused.id == "unauthorized")
            {
                if credentials::env("PAAS_API_KEY").is_some() {
                    eprintln!("hint: the API key in PAAS_API_KEY was refused");
                } else {
                    eprintln!("hint: log in again with `paas login --api-url URL --api-key KEY`");
                }
            }
            ExitCode::FAILURE
        }
    }
}
