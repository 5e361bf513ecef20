//! `paas addons:create SERVICE[:PLAN] [--as NAME]`: provisions an add-on and attaches it to the
//! app, which makes a release setting `DATABASE_URL` (or `NAME_URL`).

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::AddonView;
use crate::output::{self, Action};

/// Create an add-on and attach it to the app.
#[derive(Debug, Args)]
pub struct AddonsCreateCommand {
    /// The service and plan, e.g. heroku-postgresql:essential-0 (no plan: the service's default).
    #[arg(value_name = "SERVICE:PLAN")]
    plan: String,
    /// The attachment's name: its config var is NAME_URL [default: DATABASE, then HEROKU_POSTGRESQL_<COLOR>].
    #[arg(long = "as", value_name = "NAME")]
    attach_as: Option<String>,
    /// The add-on's name [default: a generated one, postgresql-<word>-<number>].
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    app: AppArg,
}

impl AddonsCreateCommand {
    /// `POST /apps/{app}/addons`.
    pub async fn run(self) -> Result<()> {
        let app = self.app.resolve()?;
        let api = credentials::connect()?;
        let mut body = json!({"plan": {"name": self.plan}});
        if let Some(name) = &self.attach_as {
            body["attachment"] = json!({"name": name});
        }
        if let Some(name) = &self.name {
            body["name"] = json!(name);
        }
        let action = Action::start(&format!("Creating {} on {}", self.plan, output::app(&app)));
        let addon: AddonView = parse(api.post(&format!("/apps/{}/addons", seg(&app)), &body).await?)?;
        action.done();
        println!("Created {} as {}", addon.name, addon.config_vars.join(", "));
        println!("Use paas addons:info {} -a {app} to see it", addon.name);
        Ok(())
    }
}
