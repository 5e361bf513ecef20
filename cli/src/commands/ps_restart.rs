//! `paas ps:restart [TYPE|DYNO]`: restarts all of an app's dynos, those of one process type, or
//! one dyno.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Restart an app's dynos: all of them, one process type's (web), or one dyno (web.1).
#[derive(Debug, Args)]
pub struct PsRestartCommand {
    /// A process type (web) or a dyno name (web.1) [default: every dyno]
    target: Option<String>,
    /// Restart the dynos of this process type, e.g. web.
    #[arg(short = 'p', long, value_name = "TYPE", conflicts_with_all = ["target", "dyno"])]
    process_type: Option<String>,
    /// Restart this dyno, e.g. web.1.
    #[arg(short = 'd', long, value_name = "DYNO", conflicts_with = "target")]
    dyno: Option<String>,
    #[command(flatten)]
    app: AppArg,
}

impl PsRestartCommand {
    /// `DELETE /apps/{app}/dynos`, `/apps/{app}/formations/{type}` or `/apps/{app}/dynos/{dyno}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let label = output::app(&name);
        let target = match (self.target, self.process_type, self.dyno) {
            (Some(target), _, _) => Some(target),
            (None, Some(kind), _) => Some(kind),
            (None, None, dyno) => dyno,
        };
        let (message, path) = match target.as_deref() {
            None => (format!("Restarting all dynos on {label}"), format!("/apps/{}/dynos", seg(&name))),
            Some(dyno) if dyno.contains('.') => {
                (format!("Restarting dyno {dyno} on {label}"), format!("/apps/{}/dynos/{}", seg(&name), seg(dyno)))
            }
            Some(kind) => {
                (format!("Restarting all {kind} dynos on {label}"), format!("/apps/{}/formations/{}", seg(&name), seg(kind)))
            }
        };
        let action = Action::start(&message);
        api.delete(&path).await?;
        action.done();
        Ok(())
    }
}
