//! `paas scheduler`: lists an app's scheduled jobs with their next run.

use anyhow::Result;
use clap::Args;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::ScheduledJobView;
use crate::output;

/// List an app's scheduled jobs (cron schedules in UTC) and when each runs next.
#[derive(Debug, Args)]
pub struct SchedulerCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the jobs as JSON.
    #[arg(long)]
    json: bool,
}

impl SchedulerCommand {
    /// `GET /apps/{app}/scheduled-jobs`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let jobs = api.get(&format!("/apps/{}/scheduled-jobs", seg(&name))).await?;
        if self.json {
            output::json(&jobs);
            return Ok(());
        }
        let jobs: Vec<ScheduledJobView> = parse_all(jobs.as_array().cloned().unwrap_or_default())?;
        if jobs.is_empty() {
            println!("{} has no scheduled jobs.", output::app(&name));
            return Ok(());
        }
        output::header(&format!("{} Scheduled Jobs", output::app(&name)));
        let mut rows = vec![["ID", "Schedule (UTC)", "Next run", "Last run", "Command"].map(String::from).to_vec()];
        for job in jobs {
            rows.push(vec![
                job.id,
                job.schedule,
                output::time(job.next_run_at.as_deref()),
                output::time(job.last_run_at.as_deref()),
                job.command,
            ]);
        }
        print!("{}", output::table(&rows));
        Ok(())
    }
}
