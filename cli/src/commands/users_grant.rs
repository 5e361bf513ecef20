//! `paas users:grant EMAIL SIZE…`: the operator lets a user run larger dynos (`PATCH
//! /users/{email} {"dyno_sizes": […]}`, a paas extension): every user may use Eco, Basic,
//! Standard-1X and Standard-2X; Performance-M and -L need a grant. `--reset` goes back to those.

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Value, json};

use crate::api::seg;
use crate::credentials;
use crate::output::{self, Action};

/// Grant a user dyno sizes beyond the default (operator only).
#[derive(Debug, Args)]
pub struct UsersGrantCommand {
    /// The user's email.
    email: String,
    /// Sizes to add to what the user may use: performance-m, performance-l, …
    #[arg(required_unless_present = "reset")]
    sizes: Vec<String>,
    /// Back to the default sizes (Eco, Basic, Standard-1X, Standard-2X) instead.
    #[arg(long, conflicts_with = "sizes")]
    reset: bool,
    /// Print the user as JSON.
    #[arg(long)]
    json: bool,
}

impl UsersGrantCommand {
    /// `GET /users/{email}` for what they may use now, then `PATCH` it with the sizes added.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let path = format!("/users/{}", seg(&self.email));
        let sizes = if self.reset {
            Value::Null
        } else {
            let user = api.get(&path).await?;
            let Some(current) = user["dyno_sizes"].as_array() else {
                bail!("the server did not say which dyno sizes {} may use (is it a paas server?)", self.email)
            };
            let mut sizes = current.clone();
            sizes.extend(self.sizes.iter().map(|size| json!(size)));
            Value::Array(sizes)
        };
        let what = if self.reset { "the default dyno sizes".to_string() } else { self.sizes.join(", ") };
        let action = Action::start(&format!("Granting {what} to {}", self.email));
        let user = api.patch(&path, &json!({ "dyno_sizes": sizes })).await?;
        action.done();
        if self.json {
            output::json(&user);
            return Ok(());
        }
        let granted: Vec<&str> = user["dyno_sizes"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
        println!("{} may use: {}", self.email, granted.join(", "));
        Ok(())
    }
}
