//! The newest items of an app's list (`paas builds`, `paas releases`): one page asked for by
//! Range, newest first, printed as JSON or rendered.

use anyhow::Result;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::api::{parse_all, seg};
use crate::credentials;
use crate::output;

/// `GET /apps/{app}/{list}` with `Range: {key} ..; max={num}, order=desc`; prints the answer as
/// JSON when `json`, else what `render` makes of its items read as `T`.
pub async fn print<T: DeserializeOwned>(
    app: &str,
    list: &str,
    key: &str,
    num: u32,
    json: bool,
    render: impl FnOnce(Vec<T>) -> String,
) -> Result<()> {
    let range = format!("{key} ..; max={num}, order=desc");
    let values = credentials::connect()?.page(&format!("/apps/{}/{list}", seg(app)), &range).await?;
    if json {
        output::json(&Value::Array(values));
        return Ok(());
    }
    print!("{}", render(parse_all(values)?));
    Ok(())
}
