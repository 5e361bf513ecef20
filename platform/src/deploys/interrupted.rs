//! Builds a killed `paas server` left `pending`: at the node's next start each of its builds is
//! marked `failed`, with a line saying why in its output (`paas builds:output`) and in the app's
//! log; builds other nodes of the grid run are theirs. Their release, if any, was never recorded (the ledger records a release in one statement after its release
//! phase), so nothing half-made goes live.

use uuid::Uuid;

use crate::ledger::{Ledger, LedgerError};
use crate::logplex::Logplex;
use crate::model::{BUILD_FAILED, Build};

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

/// Marks this node's pending builds failed (call once at start, before any build runs), and
/// those no node recorded; returns how many there were. Another node's running builds are left
/// alone: on a shared ledger they are still running there.
pub async fn fail_interrupted_builds(ledger: &dyn Ledger, logs: &Logplex, node_id: Uuid) -> Result<usize, LedgerError> {
    let mut failed = 0;
    for (app, build) in ledger.interrupted_builds(node_id).await? {
        fail_build(ledger, logs, &app, &build, INTERRUPTED).await?;
        tracing::info!(app = %app, build = %build.id, "marked an interrupted build failed");
        failed += 1;
    }
    Ok(failed)
}
