//! `paas addons:attach ADDON [--as NAME]`: gives the app an existing add-on's config (the same
//! database), in a new release.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::parse;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::AttachmentView;
use crate::output::{self, Action};

/// Attach an existing add-on to the app.
#[derive(Debug, Args)]
pub struct AddonsAttachCommand {
    /// The add-on's name or id.
    #[arg(value_name = "ADDON")]
    addon: String,
    /// The attachment's name: its config var is NAME_URL [default: DATABASE, then HEROKU_POSTGRESQL_<COLOR>].
    #[arg(long = "as", value_name = "NAME")]
    attach_as: Option<String>,
    #[command(flatten)]
    app: AppArg,
}

impl AddonsAttachCommand {
    /// `POST /addon-attachments`.
    pub async fn run(self) -> Result<()> {
        let app = self.app.resolve()?;
        let api = credentials::connect()?;
        let mut body = json!({"addon": {"name": self.addon}, "app": {"name": app}});
        if let Some(name) = &self.attach_as {
            body["name"] = json!(name);
        }
        let action = Action::start(&format!("Attaching {} to {}", self.addon, output::app(&app)));
        let attachment: AttachmentView = parse(api.post("/addon-attachments", &body).await?)?;
        action.done();
        println!("Attached as {} ({})", attachment.name, attachment.config_vars.join(", "));
        Ok(())
    }
}
