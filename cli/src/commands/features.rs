//! `paas features`: lists an app's features (`[+] name  description` when enabled, `[ ]`
//! otherwise), as Heroku's CLI does.

use anyhow::Result;
use clap::Args;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// List an app's features.
#[derive(Debug, Args)]
pub struct FeaturesCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the features as JSON.
    #[arg(long)]
    json: bool,
}

impl FeaturesCommand {
    /// `GET /apps/{app}/features`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let features = credentials::connect()?.get(&format!("/apps/{}/features", seg(&name))).await?;
        if self.json {
            output::json(&features);
            return Ok(());
        }
        output::header(&format!("App Features {}", output::app(&name)));
        let rows: Vec<Vec<String>> = features
            .as_array()
            .cloned()
            .unwrap_or_default()
            .iter()
            .map(|f| {
                let mark = if f["enabled"].as_bool() == Some(true) { "[+]" } else { "[ ]" };
                let text = |key: &str| f[key].as_str().unwrap_or("").to_string();
                vec![mark.to_string(), text("name"), text("description")]
            })
            .collect();
        print!("{}", output::table(&rows));
        Ok(())
    }
}
