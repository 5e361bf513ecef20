//! `paas features`: lists an app's features (`[+] name  description` when enabled, `[ ]`
//! otherwise), as Heroku's CLI does.

use anyhow::Result;
use clap::Args;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::FeatureView;
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
        let features: Vec<FeatureView> = parse_all(features.as_array().cloned().unwrap_or_default())?;
        let rows: Vec<Vec<String>> = features
            .into_iter()
            .map(|f| {
                let mark = if f.enabled { "[+]" } else { "[ ]" };
                vec![mark.to_string(), f.name, f.description]
            })
            .collect();
        print!("{}", output::table(&rows));
        Ok(())
    }
}
