//! The release phase: when a release's process types include `release` (a Procfile's `release:`
//! line), it runs as an attached one-off dyno `release.N` of the release about to be made —
//! after a build, before a rollback — and the release is recorded as current only if it exits 0.
//! Otherwise it is recorded with status `failed` (a version, never current) and the previous
//! release keeps serving. Its output goes to whoever asked (the `git push`, the rollback's
//! answer) and to the app's log stream as `app[release.1]`.
//!
//! Config var changes do not run it (Heroku's does); the release is recorded once the phase is
//! done, so a release is never seen `pending`.

use std::sync::{Arc, OnceLock};

use paas_builder::OutputSink;
use tokio::io::{AsyncBufReadExt, AsyncReadExt};
use uuid::Uuid;

use crate::ledger::{Ledger, LedgerError};
use crate::logplex::{Logplex, Source};
use crate::model::{App, NewRelease, RELEASE_PHASE, Release, UserRef};
use crate::serving::{DynoDirectory, OneOffError, OneOffRequest};

/// The most output lines of a failed release phase kept for its error message.
const KEPT_LINES: usize = 50;

/// The longest line of release phase output; longer ones are cut into lines this long.
const MAX_LINE: u64 = 16 * 1024;

/// What is being released.
#[derive(Debug, Clone)]
pub enum Candidate {
    /// A build's (or a slug's) release, with the current config vars.
    Deploy(NewRelease),
    /// A rollback to this release: its slug and config vars.
    Rollback(Release),
}

/// Why a release did not go live.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    /// The release phase exited non-zero; the release is recorded as `failed`.
    #[error("Release phase failed: exit code {code}")]
    Failed {
        /// The release, recorded as failed.
        release: Release,
        /// The phase's exit code.
        code: i32,
        /// Its last lines of output.
        output: Vec<String>,
    },
    /// The release phase could not start; the release is recorded as `failed`.
    #[error("Release phase failed: {reason}")]
    NotStarted {
        /// The release, recorded as failed.
        release: Release,
        /// Why it could not start.
        reason: OneOffError,
    },
    /// The ledger failed.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

impl ReleaseError {
    /// The release recorded as failed, if one was.
    pub fn release(&self) -> Option<&Release> {
        match self {
            ReleaseError::Failed { release, .. } | ReleaseError::NotStarted { release, .. } => Some(release),
            ReleaseError::Ledger(_) => None,
        }
    }
}

/// Makes releases, running their release phase first. Cheap to clone.
#[derive(Clone)]
pub struct ReleasePhase {
    ledger: Arc<dyn Ledger>,
    logs: Logplex,
    /// Where one-off dynos start: set once the serving side runs (see [`super::Deploys::set_dynos`]).
    dynos: Arc<OnceLock<Arc<dyn DynoDirectory>>>,
}

impl ReleasePhase {
    /// Releases through `ledger`; no dynos yet.
    pub fn new(ledger: Arc<dyn Ledger>, logs: Logplex) -> ReleasePhase {
        ReleasePhase { ledger, logs, dynos: Arc::default() }
    }

    /// Gives the dynos the release phase runs on (once; later calls are ignored).
    pub fn set_dynos(&self, dynos: Arc<dyn DynoDirectory>) {
        let _ = self.dynos.set(dynos);
    }

    /// Makes `candidate` the app's next release, after its release phase if it has one; `out`
    /// gets the phase's output as it runs.
    pub async fn release(
        &self,
        app: &App,
        user: &UserRef,
        candidate: Candidate,
        out: &dyn OutputSink,
    ) -> Result<Release, ReleaseError> {
        // However the phase is run (a push, a rollback, a retry), its output is bounded as a
        // build's is: lines of 64 KiB, 16 MiB in all.
        let out = &paas_builder::output::BoundedOutput::new(out);
        let about_to_be = self.about_to_be(app, user, &candidate).await?;
        if !about_to_be.process_types.contains_key(RELEASE_PHASE) {
            return Ok(self.record(app, user, &candidate, true).await?);
        }
        out.step(&format!("Running release command `{}`...", about_to_be.process_types[RELEASE_PHASE]));
        match self.run(app, about_to_be, out).await {
            Ok((0, _)) => Ok(self.record(app, user, &candidate, true).await?),
            Ok((code, output)) => {
                let release = self.record(app, user, &candidate, false).await?;
                self.logs.api_event(&app.name, &format!("Release v{} failed: release phase exit code {code}", release.version));
                Err(ReleaseError::Failed { release, code, output })
            }
            Err(reason) => {
                let release = self.record(app, user, &candidate, false).await?;
                self.logs.api_event(&app.name, &format!("Release v{} failed: {reason}", release.version));
                Err(ReleaseError::NotStarted { release, reason })
            }
        }
    }

    /// The release `candidate` would be, as the one-off dyno runs it (not in the ledger yet).
    async fn about_to_be(&self, app: &App, user: &UserRef, candidate: &Candidate) -> Result<Release, LedgerError> {
        let releases = self.ledger.list_releases(app.id).await?;
        let current = releases.iter().rev().find(|r| r.current);
        let (slug_id, process_types, description, config_vars, addons) = match candidate {
            Candidate::Deploy(new) => (
                Some(new.slug_id),
                new.process_types.clone(),
                new.description.clone(),
                current.map(|r| r.config_vars.clone()).unwrap_or_default(),
                current.map(|r| r.addons.clone()).unwrap_or_default(),
            ),
            Candidate::Rollback(target) => (
                target.slug_id,
                target.process_types.clone(),
                format!("Rollback to v{}", target.version),
                target.config_vars.clone(),
                target.addons.clone(),
            ),
        };
        Ok(Release {
            id: Uuid::new_v4(),
            app_id: app.id,
            version: releases.last().map_or(1, |r| r.version + 1),
            description,
            slug_id,
            process_types,
            config_vars,
            addons,
            user: user.clone(),
            status: "pending".into(),
            created_at: chrono::Utc::now(),
            current: false,
        })
    }

    /// Runs the release phase of `release` to its end: its exit code and last lines of output,
    /// or why it could not start.
    async fn run(&self, app: &App, release: Release, out: &dyn OutputSink) -> Result<(i32, Vec<String>), OneOffError> {
        let mut request = OneOffRequest::new(RELEASE_PHASE, RELEASE_PHASE);
        request.release = Some(release);
        self.run_to_end(app, request, out).await
    }

    /// Runs a one-off dyno attached to its end (an app.json's `postdeploy` too): its output goes
    /// to `out` and the app's log stream; gives its exit code and last lines of output, or why
    /// it could not start.
    pub async fn run_to_end(
        &self,
        app: &App,
        mut request: OneOffRequest,
        out: &dyn OutputSink,
    ) -> Result<(i32, Vec<String>), OneOffError> {
        let dynos = self.dynos.get().ok_or_else(|| OneOffError::Unsupported("this server runs no dynos".into()))?;
        request.attach = true;
        let oneoff = dynos.start_oneoff(app, request).await?;
        let dyno = oneoff.dyno.name.clone();
        let mut kept = std::collections::VecDeque::new();
        if let Some(attached) = oneoff.attached {
            drop(attached.stdin);
            // Read to the end whatever it writes (bytes that are not UTF-8, lines longer than
            // MAX_LINE): a reader that stopped early would leave the dyno blocked on its output.
            let mut reader = tokio::io::BufReader::new(attached.output);
            let mut buf = Vec::new();
            loop {
                buf.clear();
                match (&mut reader).take(MAX_LINE).read_until(b'\n', &mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let line = String::from_utf8_lossy(&buf);
                let line = line.trim_end_matches(['\n', '\r']).to_string();
                out.detail(&line);
                self.logs.publish(&app.name, Source::App, &dyno, &line);
                kept.push_back(line);
                if kept.len() > KEPT_LINES {
                    kept.pop_front();
                }
            }
        }
        Ok((oneoff.exit.await, kept.into()))
    }

    async fn record(&self, app: &App, user: &UserRef, candidate: &Candidate, succeeded: bool) -> Result<Release, LedgerError> {
        let ledger = &self.ledger;
        match (candidate, succeeded) {
            (Candidate::Deploy(new), true) => ledger.create_release(app.id, user.id, new.clone()).await,
            (Candidate::Deploy(new), false) => ledger.create_failed_release(app.id, user.id, new.clone()).await,
            (Candidate::Rollback(target), true) => ledger.rollback(app.id, user.id, target.id).await,
            (Candidate::Rollback(target), false) => ledger.failed_rollback(app.id, user.id, target.id).await,
        }
    }
}
