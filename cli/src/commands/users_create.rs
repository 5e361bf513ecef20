//! `paas users:create`: the operator creates a user (`POST /users`, a paas extension of
//! Heroku's API) and gets the new user's API key, printed alone on stdout.

use anyhow::Result;
use clap::Args;
use serde_json::json;

use crate::api::parse;
use crate::credentials;
use crate::models::NewUserView;
use crate::output::{self, Action};

/// Create a user (operator only) and print the new user's API key.
#[derive(Debug, Args)]
pub struct UsersCreateCommand {
    /// The new user's email.
    email: String,
    /// A password for the new user (optional: the API key is what the CLI uses).
    #[arg(long)]
    password: Option<String>,
    /// Print the new user as JSON.
    #[arg(long)]
    json: bool,
}

impl UsersCreateCommand {
    /// `POST /users {"email", "password"?}`.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let mut body = json!({ "email": self.email });
        if let Some(password) = &self.password {
            body["password"] = json!(password);
        }
        let action = Action::start(&format!("Creating user {}", self.email));
        let value = api.post("/users", &body).await?;
        action.done();
        if self.json {
            output::json(&value);
            return Ok(());
        }
        let user: NewUserView = parse(value)?;
        println!("{}", user.api_key);
        Ok(())
    }
}
