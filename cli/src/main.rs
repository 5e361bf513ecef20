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
mod team_arg;
mod usage;

/// Every allocation of the server and the client goes through mimalloc (README, Performance).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Puts back the default action of `SIGPIPE`, which Rust's runtime sets to ignored: a write to
/// a pipe whose reader has gone (`paas logs | head`) then ends the process silently, as it ends
/// `cat`, instead of `println!` panicking on `EPIPE`. Sockets are unaffected (std sends with
/// `MSG_NOSIGNAL`), so only the standard streams end the command.
#[allow(unsafe_code)] // the one call into libc: std has no safe way to set a signal's action
fn die_of_a_closed_pipe() {
    // SAFETY: called first thing in `main`, before any other thread exists; `SIG_DFL` installs
    // no handler.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = commands::Cli::parse();
    if cli.ends_with_its_reader() {
        die_of_a_closed_pipe();
    }
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
