//! `paas buildpacks`: shows an app's buildpack (Heroku's `buildpack-installations`).

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::seg;
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// Show the buildpack an app's builds use (none set: detection).
#[derive(Debug, Args)]
pub struct BuildpacksCommand {
    #[command(flatten)]
    app: AppArg,
}

impl BuildpacksCommand {
    /// `GET /apps/{app}/buildpack-installations`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let list = credentials::connect()?.get(&format!("/apps/{}/buildpack-installations", seg(&name))).await?;
        let urls = urls(&list);
        if urls.is_empty() {
            println!("{} has no Buildpack URL set.", output::app(&name));
        } else {
            println!("=== {name} Buildpack URL\n");
            for url in urls {
                println!("{url}");
            }
        }
        Ok(())
    }
}

/// The buildpack URLs of a `buildpack-installations` list, in order.
pub fn urls(list: &Value) -> Vec<String> {
    let mut items: Vec<&Value> = list.as_array().map(|a| a.iter().collect()).unwrap_or_default();
    items.sort_by_key(|item| item["ordinal"].as_i64().unwrap_or(0));
    items.iter().filter_map(|item| item["buildpack"]["url"].as_str().map(str::to_string)).collect()
}
