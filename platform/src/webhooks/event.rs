//! [`Event`]: something that happened to an app, as a webhook receives it (Heroku's payload:
//! `{id, action, actor, data, previous_data, resource, version, created_at, …}`).

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::api::views;
use crate::model::{App, Build, Formation, Release};

/// What an event is about; its `data` is rendered once the app is read back.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A release made (`api:release`).
    Release(Release),
    /// A formation entry changed (`api:formation`).
    Formation(Formation),
    /// A build started or finished (`api:build`).
    Build(Build),
    /// Anything else, already rendered as the API shows it (a dyno, a domain, an add-on…).
    Data(Value),
}

/// An app's event.
#[derive(Debug, Clone)]
pub struct Event {
    /// Its id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// Its kind (one of [`super::KINDS`]): which webhooks get it.
    pub include: &'static str,
    /// `create`, `update` or `destroy`.
    pub action: &'static str,
    /// Who did it (their email; the user's id is read back when the event is sent).
    pub actor: String,
    /// What it is about.
    pub subject: Subject,
    /// When.
    pub created_at: DateTime<Utc>,
}

impl Event {
    fn new(app_id: Uuid, include: &'static str, action: &'static str, actor: &str, subject: Subject) -> Event {
        Event { id: Uuid::new_v4(), app_id, include, action, actor: actor.to_string(), subject, created_at: Utc::now() }
    }

    /// `api:release` `create`.
    pub fn release(release: &Release, actor: &str) -> Event {
        Event::new(release.app_id, "api:release", "create", actor, Subject::Release(release.clone()))
    }

    /// `api:formation` `update`, one per entry.
    pub fn formation(formation: &Formation, actor: &str) -> Event {
        Event::new(formation.app_id, "api:formation", "update", actor, Subject::Formation(formation.clone()))
    }

    /// A dyno started through the API: `include` is `api:dyno` or `dyno`.
    pub fn dyno(app_id: Uuid, include: &'static str, dyno: Value, actor: &str) -> Event {
        Event::new(app_id, include, "create", actor, Subject::Data(dyno))
    }

    /// `api:build`: `create` when it starts, `update` when it ends.
    pub fn build(build: &Build, action: &'static str, actor: &str) -> Event {
        Event::new(build.app_id, "api:build", action, actor, Subject::Build(build.clone()))
    }

    /// Any other kind (`include`, one of [`super::KINDS`]): `action` (`create`, `update` or
    /// `destroy`) of `data`, the resource as the API shows it.
    pub fn about(app_id: Uuid, include: &'static str, action: &'static str, actor: &str, data: Value) -> Event {
        Event::new(app_id, include, action, actor, Subject::Data(data))
    }

    /// Heroku's `resource`: the kind without its `api:` prefix.
    pub fn resource(&self) -> &'static str {
        self.include.trim_start_matches("api:")
    }

    /// The event's `data`: the resource as the API shows it.
    pub fn data(&self, app: &App) -> Value {
        match &self.subject {
            Subject::Release(release) => views::value(&views::ReleaseView::new(release, app)),
            Subject::Formation(formation) => views::value(&views::FormationView::new(formation, app)),
            Subject::Build(build) => views::value(&views::BuildView::with_output(build, app, None)),
            Subject::Data(data) => data.clone(),
        }
    }

    /// The payload a webhook receives (`webhook_metadata` is added per delivery); `actor` is
    /// `{id, email}`.
    pub fn payload(&self, app: &App, actor: Value) -> Value {
        let at = views::time(self.created_at);
        json!({
            "id": self.id,
            "action": self.action,
            "actor": actor,
            "data": self.data(app),
            "previous_data": {},
            "resource": self.resource(),
            "sequence": null,
            "version": "application/vnd.heroku+json; version=3",
            "created_at": at,
            "updated_at": at,
            "published_at": at,
        })
    }
}
