//! `paas apps:create [NAME]`: creates an app (a random name when none is given) and, inside a git
//! repo, points the `paas` git remote at it.

use anyhow::Result;
use clap::Args;
use rand::seq::IndexedRandom;
use serde_json::json;

use crate::api::parse;
use crate::credentials;
use crate::git;
use crate::models::App;
use crate::output::{self, Action};

/// Create an app.
#[derive(Debug, Args)]
pub struct AppsCreateCommand {
    /// The app's name: lowercase letters, digits and dashes [default: a random name]
    name: Option<String>,
    /// Do not add or update the `paas` git remote.
    #[arg(long)]
    no_remote: bool,
    /// Print the new app as JSON.
    #[arg(long)]
    json: bool,
}

impl AppsCreateCommand {
    /// `POST /apps {"name"}`, then `git remote add paas <api-url>/<name>.git` inside a repo.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let name = self.name.unwrap_or_else(random_name);
        let action = Action::start(&format!("Creating {}", output::app(&name)));
        let value = api.post("/apps", &json!({ "name": name })).await?;
        action.done();
        let app: App = parse(value.clone())?;
        let git_url = git::app_url(api.base_url(), &app.name);
        if !self.no_remote && git::in_repo() {
            git::set_remote(git::REMOTE, &git_url)?;
        }
        if self.json {
            output::json(&value);
        } else {
            println!("{} | {git_url}", app.web_url.as_deref().unwrap_or_default());
        }
        Ok(())
    }
}

/// A Heroku-style random name, e.g. `sparkling-river-4821`.
fn random_name() -> String {
    const ADJECTIVES: &[&str] = &[
        "ancient", "autumn", "billowing", "bold", "calm", "cool", "crimson", "damp", "dark", "dawn",
        "frosty", "gentle", "hidden", "icy", "lively", "misty", "morning", "polished", "quiet",
        "shy", "silent", "snowy", "sparkling", "still", "sunny", "twilight", "wandering", "young",
    ];
    const NOUNS: &[&str] = &[
        "bird", "brook", "cloud", "dawn", "dew", "dust", "field", "fire", "flower", "forest", "frost",
        "glade", "grass", "haze", "hill", "lake", "leaf", "meadow", "moon", "mountain", "pine",
        "rain", "river", "sea", "shadow", "sky", "snow", "star", "sun", "wave", "wind", "wood",
    ];
    let mut rng = rand::rng();
    let adjective = ADJECTIVES.choose(&mut rng).copied().unwrap_or("quiet");
    let noun = NOUNS.choose(&mut rng).copied().unwrap_or("river");
    format!("{adjective}-{noun}-{:04}", rand::random_range(0..10_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_names_are_valid_app_names() {
        for _ in 0..100 {
            let name = random_name();
            assert!(name.len() <= 30, "{name}");
            assert!(name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'), "{name}");
            assert!(name.starts_with(|c: char| c.is_ascii_lowercase()), "{name}");
        }
    }
}
