//! `paas maintenance`, `maintenance:on`, `maintenance:off`: shows or switches an app's maintenance
//! mode (the router then answers its requests with a maintenance page).

use anyhow::Result;
use clap::Args;
use serde::Deserialize;
use serde_json::json;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output::{self, Action};

/// The app's `maintenance` field.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Maintenance {
    maintenance: bool,
}

/// Display whether an app is in maintenance mode.
#[derive(Debug, Args)]
pub struct MaintenanceCommand {
    #[command(flatten)]
    app: AppArg,
}

impl MaintenanceCommand {
    /// `GET /apps/{app}`; prints `on` or `off`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let app: Maintenance = parse(credentials::connect()?.get(&format!("/apps/{}", seg(&name))).await?)?;
        println!("{}", if app.maintenance { "on" } else { "off" });
        Ok(())
    }
}

/// Switch maintenance mode on or off.
#[derive(Debug, Args)]
pub struct MaintenanceSwitchCommand {
    #[command(flatten)]
    app: AppArg,
}

impl MaintenanceSwitchCommand {
    /// `PATCH /apps/{app} {"maintenance": on}`.
    pub async fn run(self, on: bool) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let verb = if on { "Enabling" } else { "Disabling" };
        let action = Action::start(&format!("{verb} maintenance mode for {}", output::app(&name)));
        api.patch(&format!("/apps/{}", seg(&name)), &json!({ "maintenance": on })).await?;
        action.done();
        Ok(())
    }
}
