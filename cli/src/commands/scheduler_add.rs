//! `paas scheduler:add "*/10 * * * *" -- COMMAND`: runs a command as a one-off dyno on a cron
//! schedule.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::json;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::ScheduledJobView;
use crate::output;

/// Run a command as a one-off dyno (scheduler.N) on a cron schedule, in UTC:
/// paas scheduler:add "*/10 * * * *" -- worker --once
#[derive(Debug, Args)]
pub struct SchedulerAddCommand {
    /// Five cron fields: minute hour day-of-month month day-of-week ("*/10 * * * *", "0 3 * * mon-fri"), or @hourly, @daily, @weekly, @monthly, @yearly.
    schedule: String,
    /// The command the job runs (after `--`).
    #[arg(last = true, required = true)]
    command: Vec<String>,
    #[command(flatten)]
    app: AppArg,
}

impl SchedulerAddCommand {
    /// `POST /apps/{app}/scheduled-jobs {"schedule", "command"}`.
    pub async fn run(self) -> Result<()> {
        let command = self.command.join(" ");
        if command.trim().is_empty() {
            bail!("give the command to run after --, e.g. paas scheduler:add \"*/10 * * * *\" -- worker --once");
        }
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let body = json!({ "schedule": self.schedule, "command": command });
        let job: ScheduledJobView = parse(api.post(&format!("/apps/{}/scheduled-jobs", seg(&name)), &body).await?)?;
        println!(
            "Scheduled job {} on {}: \"{}\" runs `{}`, next at {}",
            job.id,
            output::app(&name),
            job.schedule,
            job.command,
            output::time(job.next_run_at.as_deref()),
        );
        Ok(())
    }
}
