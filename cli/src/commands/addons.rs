//! `paas addons`: lists an app's add-ons (its own and those attached from other apps) with the
//! names they are attached as.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{AddonView, AttachmentView};
use crate::output;

/// List an app's add-ons and attachments.
#[derive(Debug, Args)]
pub struct AddonsCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the add-ons as JSON.
    #[arg(long)]
    json: bool,
}

/// `a, b` of the attachment names of `addon` among `attachments`.
pub fn attached_as(addon: &AddonView, attachments: &[AttachmentView]) -> String {
    attachments
        .iter()
        .filter(|a| a.addon.id == addon.id)
        .map(|a| format!("{}{}", a.name, other_app(a)))
        .collect::<Vec<_>>()
        .join(", ")
}

fn other_app(attachment: &AttachmentView) -> String {
    if attachment.app.id == attachment.addon.app.id {
        String::new()
    } else {
        format!(" (on {})", attachment.app.name)
    }
}

impl AddonsCommand {
    /// `GET /apps/{app}/addons` and `GET /apps/{app}/addon-attachments`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let addons = api.list(&format!("/apps/{}/addons", seg(&name)), None).await?;
        if self.json {
            output::json(&Value::Array(addons));
            return Ok(());
        }
        if addons.is_empty() {
            println!("No add-ons for app {}.", output::app(&name));
            return Ok(());
        }
        let addons: Vec<AddonView> = parse_all(addons)?;
        let mut attachments = Vec::new();
        for addon in &addons {
            attachments.extend(parse_all(api.list(&format!("/addons/{}/addon-attachments", seg(&addon.id)), None).await?)?);
        }
        output::header(&format!("Add-ons of {}", output::app(&name)));
        let mut rows = vec![vec!["Add-on".to_string(), "Plan".to_string(), "Owner".to_string(), "Attached as".to_string()]];
        for addon in &addons {
            rows.push(vec![
                addon.name.clone(),
                addon.plan.name().to_string(),
                addon.app.name.clone(),
                attached_as(addon, &attachments),
            ]);
        }
        print!("{}", output::table(&rows));
        Ok(())
    }
}
