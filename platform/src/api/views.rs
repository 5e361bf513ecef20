//! The JSON shapes of Heroku's Platform API v3, one typed struct per resource: the API renders
//! the domain types into them and the `paas` client reads its answers with the same structs.
//!
//! Each struct declares its fields in the byte order of their names, as `serde_json`'s map wrote
//! them when the views were `json!` values, so the bytes on the wire stay what they were (a test
//! checks the order). Ids and times are strings, as on the wire. Every struct is
//! `#[serde(default)]`, and the fields the client reads that a server may send as `null` are read
//! with [`nullable`], so an answer that leaves a field out still reads.

mod addons;
mod apps;
mod catalog;
mod dynos;
mod features;
mod logs;
mod pipelines;
mod releases;
mod resources;
mod teams;
mod webhooks;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

pub use addons::{
    AddonServiceView, AddonView, AttachedAddon, AttachmentView, BillingEntity, CatalogRef, Catalogued, PlanView, Price,
};
pub use apps::{
    AccessToken, AccountView, AppSetupView, AppTransferView, AppView, AuthorizationUser, AuthorizationView, NewUserView, Postdeploy,
};
pub use catalog::{DynoSizeView, RegionProvider, RegionView, StackView, region, stack};
pub use dynos::{DynoView, FormationView, ReleaseVersion};
pub use features::{FeatureView, ScheduledJobView};
pub use logs::{LogDrainView, LogSessionView};
pub use pipelines::{
    CoupledApp, CouplingView, GenerationRef, PipelineOwnerRef, PipelineView, PromotionSource, PromotionTargetView, PromotionView,
};
pub use releases::{BuildView, BuildpackRef, ReleaseView, SlugView, SourceBlobRef};
pub use resources::{CollaboratorUser, CollaboratorView, DomainView, PermissionView, SniEndpointView, SslCertView};
pub use teams::{MemberUser, MemberView, TeamView};
pub use webhooks::WebhookView;

use crate::access::TeamRef;
use crate::model::{App, UserRef};

/// The only region (Heroku's default; the CLI shows no region column for it).
pub const REGION: &str = "us";
/// The stack apps are built for.
pub const STACK: &str = "paas-wasm";
const REGION_ID: &str = "59accabd-516d-4f0e-83e6-6e3757701145";
const STACK_ID: &str = "0e5fd3c4-5a43-4e54-93e6-7f2b0c17a7d3";
const CEDAR_ID: &str = "5f1d4ac4-a6ea-4a26-8fa4-0b6bb4a3b9b4";
/// Heroku's stack names accepted where a stack is named (`apps:create --stack heroku-24`): they
/// are mapped to [`STACK`], which builds what Heroku's stack builds (buildpacks, a Procfile).
pub const HEROKU_STACKS: &[&str] = &["heroku-24"];

/// Whether `name` is a stack this server builds for ([`STACK`] or one of [`HEROKU_STACKS`]);
/// otherwise the 422 message naming the stacks.
pub fn check_stack(name: &str) -> Result<(), String> {
    if name == STACK || HEROKU_STACKS.contains(&name) {
        return Ok(());
    }
    Err(format!("Stack {name:?} is unknown. Stacks: {STACK} (also accepted as {}).", HEROKU_STACKS.join(", ")))
}

/// A time as Heroku writes it: `2012-01-01T12:00:00Z`.
pub fn time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Reads a `null` field as its default (a field some server leaves `null`).
pub fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(deserializer: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

/// A view as a JSON value: a webhook event's `data`, or a handler's answer with our extensions.
pub fn value(view: &impl Serialize) -> Value {
    serde_json::to_value(view).expect("a view's keys are strings")
}

/// `{id, name}`: how a resource names an app, a team, a region or a stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NameRef {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

/// `{email, id}`: how a resource names a user (an app's owner, a release's author).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmailRef {
    /// The user's email.
    #[serde(deserialize_with = "nullable")]
    pub email: String,
    /// The user's id.
    pub id: String,
}

/// `{id}`: how a resource names another it needs no more of (a release's slug).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct IdRef {
    /// Its id.
    pub id: String,
}

/// `{id, name}` of an app, as resources name their app.
pub fn app_ref(app: &App) -> NameRef {
    NameRef { id: app.id.to_string(), name: app.name.clone() }
}

/// A team, as an app names it.
pub fn team_ref(team: &TeamRef) -> NameRef {
    NameRef { id: team.id.to_string(), name: team.name.clone() }
}

/// A user, as resources name them.
pub fn user_ref(user: &UserRef) -> EmailRef {
    EmailRef { email: user.email.clone(), id: user.id.to_string() }
}

/// The owner of an app as Heroku shows it: the user, or for a team app the team's pseudo-user
/// `<team>@herokumanager.com` (the heroku CLI tells team apps by that domain).
pub fn app_owner(app: &App) -> EmailRef {
    match &app.team {
        Some(team) => EmailRef { email: format!("{}@herokumanager.com", team.name), id: team.id.to_string() },
        None => user_ref(&app.owner),
    }
}

/// `{id}` of anything named by a uuid.
pub fn id_ref(id: uuid::Uuid) -> IdRef {
    IdRef { id: id.to_string() }
}

#[cfg(test)]
mod tests;
