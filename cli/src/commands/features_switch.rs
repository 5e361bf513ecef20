//! `paas features:enable NAME` and `features:disable NAME`: turns an app feature on or off
//! (`sleep`: idle web dynos sleep; `preboot`: new web dynos take traffic before old ones stop).

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// Turn an app feature on or off.
#[derive(Debug, Args)]
pub struct FeaturesSwitchCommand {
    /// The feature (`paas features` lists them).
    feature: String,
    #[command(flatten)]
    app: AppArg,
}

impl FeaturesSwitchCommand {
    /// `PATCH /apps/{app}/features/{feature} {"enabled": on}`.
    pub async fn run(self, on: bool) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let verb = if on { "Enabling" } else { "Disabling" };
        let action = Action::start(&format!("{verb} {} for {}", self.feature, output::app(&name)));
        api.patch(&format!("/apps/{}/features/{}", seg(&name), seg(&self.feature)), &json!({ "enabled": on })).await?;
        action.done();
        Ok(())
    }
}
