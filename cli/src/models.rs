//! The API's resources as the client reads them, with Heroku's field names. Every field is
//! optional or defaulted, so a server that leaves one out still works; `--json` prints the raw
//! answer instead of these.

use serde::Deserialize;

/// `GET /account`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Account {
    /// The user's email.
    pub email: String,
}

/// A `{ "name": ... }` reference (region, stack).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Named {
    /// The name.
    pub name: String,
}

/// A `{ "id", "email" }` user reference (owner, release author, collaborator).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct UserRef {
    /// The user's email.
    pub email: String,
}

/// An app.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct App {
    /// The app's name.
    pub name: String,
    /// Its owner.
    pub owner: Option<UserRef>,
    /// Its region.
    pub region: Option<Named>,
    /// Its stack.
    pub stack: Option<Named>,
    /// The URL to `git push` to.
    pub git_url: Option<String>,
    /// The URL it serves on.
    pub web_url: Option<String>,
    /// When it was created (RFC 3339).
    pub created_at: Option<String>,
    /// When its last release was made (RFC 3339).
    pub released_at: Option<String>,
}

impl App {
    /// The owner's email, or `""`.
    pub fn owner_email(&self) -> &str {
        self.owner.as_ref().map_or("", |owner| owner.email.as_str())
    }
}

/// A `{ "id": ... }` reference (a release's slug).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct IdRef {
    /// The id.
    pub id: String,
}

/// A build (`paas builds`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Build {
    /// Its id.
    pub id: String,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// Who started it.
    pub user: Option<UserRef>,
    /// When it started (RFC 3339).
    pub created_at: Option<String>,
    /// Where its output is.
    pub output_stream_url: Option<String>,
}

/// A release.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Release {
    /// Its id.
    pub id: String,
    /// Its number: `v3` has version 3.
    pub version: u64,
    /// What it changed, e.g. `Set FOO config vars`.
    pub description: Option<String>,
    /// Who made it.
    pub user: Option<UserRef>,
    /// When it was made (RFC 3339).
    pub created_at: Option<String>,
    /// Whether it is the app's current release.
    pub current: bool,
    /// `succeeded`, `pending`, `failed` or `expired`.
    pub status: Option<String>,
    /// The slug it runs, if any.
    pub slug: Option<IdRef>,
    /// Whether `rollback` may go back to it (Heroku's field; absent means yes).
    pub eligible_for_rollback: Option<bool>,
}

impl Release {
    /// The author's email, or `""`.
    pub fn user_email(&self) -> &str {
        self.user.as_ref().map_or("", |user| user.email.as_str())
    }

    /// The description, with a non-`succeeded` status after it.
    pub fn description_with_status(&self) -> String {
        let description = self.description.clone().unwrap_or_default();
        match self.status.as_deref() {
            None | Some("succeeded") => description,
            Some(status) => format!("{description} ({status})"),
        }
    }
}

/// One process type's entry in the formation.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Formation {
    /// The process type, e.g. `web`.
    #[serde(rename = "type")]
    pub kind: String,
    /// How many dynos of it should run.
    pub quantity: i64,
    /// Their size, e.g. `basic`.
    pub size: Option<String>,
    /// The command they run.
    pub command: Option<String>,
}

/// A dyno.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Dyno {
    /// Its name, e.g. `web.1`.
    pub name: String,
    /// Its process type.
    #[serde(rename = "type")]
    pub kind: String,
    /// `starting`, `up`, `crashed`, `down`, ...
    pub state: String,
    /// The command it runs.
    pub command: Option<String>,
    /// Its size.
    pub size: Option<String>,
    /// When its state last changed (RFC 3339).
    pub updated_at: Option<String>,
    /// The grid's node that runs it (a server sharing its ledger with others says).
    pub node: Option<String>,
}

/// A domain of an app.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Domain {
    /// The hostname.
    pub hostname: String,
    /// `heroku` for the app's own domain, `custom` for one its owner added.
    pub kind: String,
    /// Where a custom domain's CNAME record should point.
    pub cname: Option<String>,
}

/// A collaborator on an app.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Collaborator {
    /// The user.
    pub user: UserRef,
    /// `owner` or `collaborator`.
    pub role: Option<String>,
    /// What they may do (`view`, `deploy`, `operate`, `manage`), when the server says.
    pub permissions: Option<Vec<Named>>,
}

/// A team the caller is in (`GET /teams`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Team {
    /// The team's name.
    pub name: String,
    /// The caller's role: `admin`, `member` or `viewer`.
    pub role: String,
}

/// A team member (`GET /teams/{team}/members`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Member {
    /// The member's email.
    pub email: String,
    /// Their role.
    pub role: String,
}

/// The answer to the operator's `POST /users`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct NewUser {
    /// The new user's email.
    pub email: String,
    /// The new user's API key.
    pub api_key: String,
}

/// The label Heroku's CLI gives a size: `basic` → `Basic`, `standard-1x` → `Standard-1X`.
pub fn size_label(size: Option<&str>) -> String {
    let size = size.filter(|size| !size.is_empty()).unwrap_or("basic");
    let mut label = String::with_capacity(size.len());
    let mut previous: Option<char> = None;
    for c in size.chars() {
        let upper = previous.is_none() || (c == 'x' && previous.is_some_and(|p| p.is_ascii_digit()));
        label.push(if upper { c.to_ascii_uppercase() } else { c });
        previous = Some(c);
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_label_capitalises_like_heroku() {
        assert_eq!(size_label(Some("basic")), "Basic");
        assert_eq!(size_label(Some("Basic")), "Basic");
        assert_eq!(size_label(Some("standard-1x")), "Standard-1X");
        assert_eq!(size_label(None), "Basic");
    }

    #[test]
    fn a_release_reads_from_heroku_fields_and_tolerates_missing_ones() {
        let release: Release = serde_json::from_value(serde_json::json!({
            "id": "r1", "version": 3, "description": "Set FOO config vars",
            "user": {"id": "u1", "email": "alice@example.com"}, "current": true,
            "status": "succeeded", "slug": null, "extra": 1
        }))
        .unwrap();
        assert_eq!((release.version, release.user_email(), release.current), (3, "alice@example.com", true));
        assert_eq!(release.description_with_status(), "Set FOO config vars");
        let pending: Release = serde_json::from_value(serde_json::json!({"version": 4, "description": "Deploy", "status": "pending"})).unwrap();
        assert_eq!(pending.description_with_status(), "Deploy (pending)");
    }
}
