//! The formation and dynos.

use serde::{Deserialize, Serialize};

use super::{NameRef, app_ref, nullable, time};
use crate::model::{App, Dyno, Formation};

/// One process type's entry in the formation (`GET /apps/{app}/formation`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FormationView {
    /// Its app.
    pub app: NameRef,
    /// The command its dynos run.
    #[serde(deserialize_with = "nullable")]
    pub command: String,
    /// When the entry was made.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// How many dynos of it should run.
    pub quantity: i64,
    /// Their size, e.g. `Basic`.
    #[serde(deserialize_with = "nullable")]
    pub size: String,
    /// The process type, e.g. `web`.
    #[serde(rename = "type")]
    pub process_type: String,
    /// When it was last scaled or resized.
    pub updated_at: String,
}

impl FormationView {
    /// `formation` of `app`.
    pub fn new(formation: &Formation, app: &App) -> FormationView {
        FormationView {
            app: app_ref(app),
            command: formation.command.clone(),
            created_at: time(formation.created_at),
            id: formation.id.to_string(),
            quantity: formation.quantity,
            size: formation.size.clone(),
            process_type: formation.process_type.clone(),
            updated_at: time(formation.updated_at),
        }
    }
}

/// A dyno (`GET /apps/{app}/dynos`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DynoView {
    /// Its app.
    pub app: NameRef,
    /// Where to attach to a one-off's terminal (`rendezvous://…`), for its creator only.
    pub attach_url: Option<String>,
    /// The command it runs.
    #[serde(deserialize_with = "nullable")]
    pub command: String,
    /// When it started.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// Its name, e.g. `web.1`.
    pub name: String,
    /// The grid's node that runs it (our extension: only a server sharing its ledger says).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
    /// The release it runs.
    pub release: ReleaseVersion,
    /// Its size.
    #[serde(deserialize_with = "nullable")]
    pub size: String,
    /// `starting`, `up`, `crashed`, `down`, …
    pub state: String,
    /// Its process type.
    #[serde(rename = "type")]
    pub process_type: String,
    /// When its state last changed.
    #[serde(deserialize_with = "nullable")]
    pub updated_at: String,
}

/// `{version}`: the release a dyno runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReleaseVersion {
    /// Its number.
    pub version: i64,
}

impl DynoView {
    /// `dyno` of `app`, on no named node and with no attach URL.
    pub fn new(dyno: &Dyno, app: &App) -> DynoView {
        DynoView {
            app: app_ref(app),
            attach_url: None,
            command: dyno.command.clone(),
            created_at: time(dyno.created_at),
            id: dyno.id.to_string(),
            name: dyno.name.clone(),
            node: None,
            release: ReleaseVersion { version: dyno.release_version },
            size: dyno.size.clone(),
            state: dyno.state.clone(),
            process_type: dyno.process_type.clone(),
            updated_at: time(dyno.updated_at),
        }
    }
}
