//! App features (and a team's), and scheduled jobs.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{NameRef, app_ref, time};
use crate::model::{App, AppFeature, FeatureKind, ScheduledJob};

/// A feature (`GET /apps/{app}/features`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FeatureView {
    /// When it was first set (the app's creation while never set).
    pub created_at: String,
    /// What it does.
    pub description: String,
    /// Its display name.
    pub display_name: String,
    /// Where it is documented.
    pub doc_url: Option<String>,
    /// Whether it is on.
    pub enabled: bool,
    /// Where to send feedback (nowhere).
    pub feedback_email: Option<String>,
    /// Its id (the same for every app).
    pub id: String,
    /// Its name (`preboot`).
    pub name: String,
    /// Always `general`.
    pub state: String,
    /// When it last changed.
    pub updated_at: String,
}

impl FeatureView {
    /// `kind` on `app`; `stored` is `None` while it was never set (disabled).
    pub fn new(kind: &FeatureKind, stored: Option<&AppFeature>, app: &App) -> FeatureView {
        let (created, updated) = stored.map_or((app.created_at, app.created_at), |f| (f.created_at, f.updated_at));
        FeatureView {
            created_at: time(created),
            description: kind.description.into(),
            display_name: kind.display_name.into(),
            doc_url: Some(kind.doc_url.into()),
            enabled: stored.is_some_and(|f| f.enabled),
            feedback_email: None,
            id: kind.id.to_string(),
            name: kind.name.into(),
            state: "general".into(),
            updated_at: time(updated),
        }
    }
}

/// A command run on a cron schedule (`GET /apps/{app}/scheduled-jobs`, a paas extension).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScheduledJobView {
    /// Its app.
    pub app: NameRef,
    /// The command its one-off dynos run.
    pub command: String,
    /// When it was added.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// The scheduled time of the newest run handled (none before the first).
    pub last_run_at: Option<String>,
    /// When it runs next.
    pub next_run_at: Option<String>,
    /// Its cron schedule, five fields in UTC.
    pub schedule: String,
    /// When it last changed.
    pub updated_at: String,
}

impl ScheduledJobView {
    /// `job` of `app`, next run at `next_run`.
    pub fn new(job: &ScheduledJob, app: &App, next_run: Option<DateTime<Utc>>) -> ScheduledJobView {
        ScheduledJobView {
            app: app_ref(app),
            command: job.command.clone(),
            created_at: time(job.created_at),
            id: job.id.to_string(),
            last_run_at: job.last_run_at.map(time),
            next_run_at: next_run.map(time),
            schedule: job.schedule.clone(),
            updated_at: time(job.updated_at),
        }
    }
}
