//! The newest items of an app's list (`paas builds`, `paas releases`): one page asked for by
//! Range, newest first, printed as JSON or rendered.

use anyhow::Result;
use clap::Args;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::output;

/// The arguments of such a list: the app, how many items, JSON or not.
#[derive(Debug, Args)]
pub struct NewestArgs {
    #[command(flatten)]
    app: AppArg,
    /// How many to show.
    #[arg(short = 'n', long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(1..=1000))]
    num: u32,
    /// Print them as JSON.
    #[arg(long)]
    json: bool,
}

impl NewestArgs {
    /// `GET /apps/{app}/{list}` with `Range: {key} ..; max={num}, order=desc`; prints the answer
    /// as JSON when `--json`, else what `render` makes of the app's name and the items read as `T`.
    pub async fn print<T: DeserializeOwned>(
        self,
        list: &str,
        key: &str,
        render: impl FnOnce(&str, Vec<T>) -> String,
    ) -> Result<()> {
        let app = self.app.resolve()?;
        let range = format!("{key} ..; max={}, order=desc", self.num);
        let values = credentials::connect()?.page(&format!("/apps/{}/{list}", seg(&app)), &range).await?;
        if self.json {
            output::json(&Value::Array(values));
            return Ok(());
        }
        print!("{}", render(&app, parse_all(values)?));
        Ok(())
    }
}
