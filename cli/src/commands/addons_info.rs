//! `paas addons:info ADDON`: an add-on's plan, price, owner, attachments and creation time.

use anyhow::Result;
use clap::Args;

use super::addons::attached_as;
use crate::api::{parse, parse_all, seg};
use crate::credentials;
use crate::models::{AddonView, AttachmentView};
use crate::output;

/// Show an add-on.
#[derive(Debug, Args)]
pub struct AddonsInfoCommand {
    /// The add-on's name or id, or (with -a) its attachment name on the app (DATABASE).
    #[arg(value_name = "ADDON")]
    addon: String,
    /// The app the add-on is on (needed for an attachment name).
    #[arg(short, long, env = "PAAS_APP")]
    app: Option<String>,
    /// Print the add-on as JSON.
    #[arg(long)]
    json: bool,
}

impl AddonsInfoCommand {
    /// `GET /apps/{app}/addons/{addon}` (or `/addons/{addon}`) and its attachments.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let addon = match &self.app {
            Some(app) => api.get(&format!("/apps/{}/addons/{}", seg(app), seg(&self.addon))).await?,
            None => api.get(&format!("/addons/{}", seg(&self.addon))).await?,
        };
        if self.json {
            output::json(&addon);
            return Ok(());
        }
        let addon: AddonView = parse(addon)?;
        let attachments: Vec<AttachmentView> =
            parse_all(api.list(&format!("/addons/{}/addon-attachments", seg(&addon.id)), None).await?)?;
        let cents = addon.billed_price.cents;
        output::header(&addon.name);
        print!(
            "{}",
            output::styled_object(&[
                ("Plan", addon.plan.name().to_string()),
                ("Price", format!("${}.{:02}/month", cents / 100, cents % 100)),
                ("Attachments", attached_as(&addon, &attachments)),
                ("Config vars", addon.config_vars.join(", ")),
                ("Owning app", addon.app.name.clone()),
                ("Installed at", output::time(Some(&addon.created_at))),
                ("State", addon.state.clone()),
            ])
        );
        Ok(())
    }
}
