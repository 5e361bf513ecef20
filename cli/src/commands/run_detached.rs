//! `paas run:detached -a APP -- COMMAND ARGS…`: a one-off dyno whose output goes to the app's log
//! stream (`paas logs --dyno run.1`).

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use super::run::OneOffArgs;
use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Run a one-off dyno in the background; its output goes to the log stream.
#[derive(Debug, Args)]
pub struct RunDetachedCommand {
    #[command(flatten)]
    app: AppArg,
    #[command(flatten)]
    oneoff: OneOffArgs,
}

impl RunDetachedCommand {
    /// `POST /apps/{app}/dynos` with `attach: false`; prints the dyno's name.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let command = self.oneoff.command_line();
        let mut body = self.oneoff.body(&command)?;
        body.insert("attach".into(), json!(false));
        let action = Action::start(&format!("Running {command} on {}", output::app(&name)));
        let dyno = api.post(&format!("/apps/{}/dynos", seg(&name)), &Value::Object(body)).await?;
        let dyno_name = dyno["name"].as_str().unwrap_or("run").to_string();
        action.done_with(&dyno_name);
        println!("Run `paas logs -a {name} --dyno {dyno_name}` to view the output.");
        Ok(())
    }
}
