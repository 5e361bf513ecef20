//! `paas addons:detach ATTACHMENT`: removes an attachment's config vars from the app in a new
//! release; the add-on stays.

use anyhow::Result;
use clap::Args;

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::AttachmentView;
use crate::output::{self, Action};

/// Detach an add-on from the app.
#[derive(Debug, Args)]
pub struct AddonsDetachCommand {
    /// The attachment's name on the app (DATABASE) or id.
    #[arg(value_name = "ATTACHMENT")]
    attachment: String,
    #[command(flatten)]
    app: AppArg,
}

impl AddonsDetachCommand {
    /// `GET /apps/{app}/addon-attachments/{name}`, then `DELETE /addon-attachments/{id}`.
    pub async fn run(self) -> Result<()> {
        let app = self.app.resolve()?;
        let api = credentials::connect()?;
        let attachment: AttachmentView =
            parse(api.get(&format!("/apps/{}/addon-attachments/{}", seg(&app), seg(&self.attachment))).await?)?;
        let action = Action::start(&format!(
            "Detaching {} ({}) from {}",
            attachment.name,
            attachment.addon.name,
            output::app(&app)
        ));
        api.delete(&format!("/addon-attachments/{}", seg(&attachment.id))).await?;
        action.done();
        Ok(())
    }
}
