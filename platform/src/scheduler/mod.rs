//! The scheduler: runs each app's scheduled jobs (`paas scheduler:add`) as detached one-off dynos
//! named `scheduler.N` ([`DynoDirectory::start_oneoff`]) on their cron schedules ([`cron`], UTC).
//!
//! Every [`TICK`] it reads the jobs from the ledger and, for each, the runs due since the one it
//! last handled (`last_run_at`, or the job's creation). The newest due run is started if it is at
//! most [`GRACE`] late; every other due run — the server was down, or too busy — is reported in
//! the app's log stream (`paas[scheduler]: missed run of job … at …`) and not made up for: no
//! catch-up run, as Heroku Scheduler. Each run is claimed in the ledger (a compare-and-set of
//! `last_run_at`) before it starts, so servers sharing a ledger run it once, and a crash right
//! after the claim loses that run rather than running it twice. The claim is fenced: it holds
//! only while the claiming node is up at its epoch, so a node whose lease expired runs no job
//! (the others do). The clock is a seam ([`Clock`])
//! so tests drive it.

pub mod cron;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::grid::agent::Agent;
use crate::ledger::Ledger;
use crate::logplex::{Logplex, Source};
use crate::model::ScheduledJob;
use crate::serving::{DynoDirectory, OneOffRequest};
use cron::Schedule;

/// How often the scheduler looks for due runs.
pub const TICK: Duration = Duration::from_secs(5);

/// How late a run may start: later than this it is reported missed instead.
pub const GRACE: chrono::Duration = chrono::Duration::minutes(2);

/// How many missed runs of one job are listed one by one (the rest are counted in one line).
const MISSED_LISTED: usize = 5;

/// The process type of scheduled dynos: `scheduler.1`, `scheduler.2`, …
pub const PROCESS_TYPE: &str = "scheduler";

/// What time it is (the system's clock, or a test's).
pub trait Clock: Send + Sync + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// Runs scheduled jobs. Cheap to clone.
#[derive(Clone)]
pub struct Scheduler {
    ledger: Arc<dyn Ledger>,
    logs: Logplex,
    dynos: Arc<dyn DynoDirectory>,
    clock: Arc<dyn Clock>,
    /// The node this scheduler runs on: its claims hold only while it is up at its epoch.
    node: Option<Arc<Agent>>,
}

impl Scheduler {
    /// A scheduler starting dynos through `dynos`, reporting to `logs`, on `clock`'s time.
    pub fn new(ledger: Arc<dyn Ledger>, logs: Logplex, dynos: Arc<dyn DynoDirectory>, clock: Arc<dyn Clock>) -> Scheduler {
        Scheduler { ledger, logs, dynos, clock, node: None }
    }

    /// Claims runs as `node`: only while it is up at its current epoch (a fenced node, whose
    /// lease expired, claims nothing; the nodes that are up run the jobs).
    pub fn on_node(mut self, node: Arc<Agent>) -> Scheduler {
        self.node = Some(node);
        self
    }

    /// Ticks every [`TICK`] until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            self.tick().await;
            tokio::select! {
                _ = &mut shutdown => return,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Handles every job's due runs once (see the module docs).
    pub async fn tick(&self) {
        let node = match &self.node {
            None => None,
            Some(agent) => match agent.epoch() {
                Some(epoch) => Some((agent.id, epoch)),
                // Fenced: another node runs the jobs until this one is registered again.
                None => return,
            },
        };
        let jobs = match self.ledger.all_scheduled_jobs().await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!("scheduler: cannot read the scheduled jobs: {e}");
                return;
            }
        };
        let now = self.clock.now();
        for (app, job) in jobs {
            self.handle(&app, &job, now, node).await;
        }
    }

    async fn handle(&self, app: &str, job: &ScheduledJob, now: DateTime<Utc>, node: Option<(uuid::Uuid, i64)>) {
        let schedule = match Schedule::parse(&job.schedule) {
            Ok(schedule) => schedule,
            Err(e) => return tracing::warn!(app, job = %job.id, "scheduler: {e}"),
        };
        let runs = schedule.runs_between(job.last_run_at.unwrap_or(job.created_at), now, MISSED_LISTED + 1);
        let Some(last) = runs.last else { return };
        match self.ledger.claim_scheduled_run(job.id, job.last_run_at, last, node).await {
            Ok(true) => {}
            // Another node sharing the ledger handled it, the job was removed, or this node
            // was fenced.
            Ok(false) => return,
            Err(e) => return tracing::warn!(app, job = %job.id, "scheduler: cannot claim a run: {e}"),
        }
        let on_time = now - last <= GRACE;
        let missed: Vec<_> = runs.first.iter().filter(|at| !(on_time && **at == last)).take(MISSED_LISTED).collect();
        for at in &missed {
            self.say(app, &format!("missed run of job {} ({}) at {}", job.id, job.command, at.to_rfc3339()));
        }
        let unlisted = runs.count - u64::from(on_time) - missed.len() as u64;
        if unlisted > 0 {
            self.say(app, &format!("… and {unlisted} more missed runs of job {}, the last at {}", job.id, last.to_rfc3339()));
        }
        if on_time {
            self.start(app, job).await;
        }
    }

    /// Starts the job's one-off dyno; its exit code is reported when it ends.
    async fn start(&self, app_name: &str, job: &ScheduledJob) {
        let app = match self.ledger.find_app(&job.app_id.to_string()).await {
            Ok(Some(app)) => app,
            Ok(None) => return,
            Err(e) => return tracing::warn!(app = app_name, "scheduler: cannot read the app: {e}"),
        };
        match self.dynos.start_oneoff(&app, OneOffRequest::new(PROCESS_TYPE, job.command.clone())).await {
            Ok(oneoff) => {
                let dyno = oneoff.dyno.name.clone();
                self.say(app_name, &format!("running job {} ({}) as {dyno}", job.id, job.command));
                let (this, app_name, id) = (self.clone(), app_name.to_string(), job.id);
                tokio::spawn(async move {
                    let code = oneoff.exit.await;
                    this.say(&app_name, &format!("job {id} ({dyno}) exited with code {code}"));
                });
            }
            Err(e) => self.say(app_name, &format!("job {} ({}) could not start: {e}", job.id, job.command)),
        }
    }

    /// A `paas[scheduler]` line in the app's log stream.
    fn say(&self, app: &str, text: &str) {
        self.logs.publish(app, Source::Paas, PROCESS_TYPE, text);
    }
}
