//! `paas ps:autoscale:enable web --min 1 --max 10 --p95 200`: keeps the process type's p95
//! response time under the target by scaling between min and max dynos (a paas extension:
//! `PUT /apps/{app}/formation/{type}/autoscaling`).

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Enable autoscaling of a process type (web): min and max dynos, a p95 response-time target.
#[derive(Debug, Args)]
pub struct PsAutoscaleEnableCommand {
    /// The process type (only web dynos have response times).
    #[arg(default_value = "web")]
    process_type: String,
    /// Fewest dynos.
    #[arg(long, default_value_t = 1)]
    min: u32,
    /// Most dynos (a wasm app also stops at its dyno size's instance budget).
    #[arg(long)]
    max: u32,
    /// The p95 response-time target, in milliseconds.
    #[arg(long = "p95", value_name = "MS")]
    p95_ms: u32,
    #[command(flatten)]
    app: AppArg,
}

impl PsAutoscaleEnableCommand {
    /// `PUT /apps/{app}/formation/{type}/autoscaling`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let action = Action::start(&format!(
            "Enabling autoscaling of {} on {} ({}..{} dynos, p95 target {} ms)",
            self.process_type,
            output::app(&name),
            self.min,
            self.max,
            self.p95_ms
        ));
        let body = json!({"min_quantity": self.min, "max_quantity": self.max, "p95_ms": self.p95_ms});
        let path = format!("/apps/{}/formation/{}/autoscaling", seg(&name), seg(&self.process_type));
        let policy = credentials::connect()?.put(&path, &body).await?;
        match policy["ceiling"].as_u64() {
            Some(ceiling) if ceiling < u64::from(self.max) => {
                action.done_with(&format!("a wasm app of this size stops at {ceiling} dynos (its instance budget)"))
            }
            _ => action.done(),
        }
        Ok(())
    }
}
