//! Builds a killed `paas server` left `pending`: at the next start each is marked `failed`, with
//! a line saying why in its output (`paas builds:output`) and in the app's log. Their release, if
//! any, was never recorded (the ledger records a release in one statement after its release
//! phase), so nothing half-made goes live.

use crate::ledger::{AppFilter, Ledger, LedgerError};
use crate::logplex::Logplex;
use crate::model::{BUILD_FAILED, BUILD_PENDING, Build};

/// The line an interrupted build's output and its app's log get.
pub const INTERRUPTED: &str = "Build failed: paas server stopped while this build ran; push again to build it";

/// The line a build cancelled by a graceful stop gets.
pub const CANCELLED: &str = "Build cancelled: paas server is stopping; push again once it is back";

/// Marks `build` failed, `line` added to its output and to the app's log.
pub async fn fail_build(ledger: &dyn Ledger, logs: &Logplex, app: &str, build: &Build, line: &str) -> Result<(), LedgerError> {
    let output = ledger.build_output(build.id).await?.unwrap_or_default();
    let output = if output.is_empty() { line.to_string() } else { format!("{output}\n{line}") };
    ledger.record_build_output(build.id, build.buildpack.as_deref(), &output).await?;
    ledger.finish_build(build.id, BUILD_FAILED, None, None).await?;
    logs.api_event(app, &format!("{line} (build {})", build.id));
    Ok(())
}

/// Marks every pending build failed (call once at start, before any build runs); returns how
/// many there were.
pub async fn fail_interrupted_builds(ledger: &dyn Ledger, logs: &Logplex) -> Result<usize, LedgerError> {
    let mut failed = 0;
    for app in ledger.list_apps(AppFilter::All).await? {
        for build in ledger.list_builds(app.id).await? {
            if build.status != BUILD_PENDING {
                continue;
            }
            fail_build(ledger, logs, &app.name, &build, INTERRUPTED).await?;
            tracing::info!(app = %app.name, build = %build.id, "marked an interrupted build failed");
            failed += 1;
        }
    }
    Ok(failed)
}
