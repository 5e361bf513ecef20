//! The domain types of the control plane: users, API keys, apps, releases, formations, domains,
//! collaborators, builds. Plain data; the ledger stores them and the API renders them.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// An app's config vars: name → value, sorted by name.
pub type ConfigVars = BTreeMap<String, String>;

/// A process type's command line, by process type (`web` → `./server`), as a slug declares them.
pub type ProcessTypes = BTreeMap<String, String>;

/// A person (or robot) that can call the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// The user's id.
    pub id: Uuid,
    /// The user's email address, unique.
    pub email: String,
    /// Operators see and manage every app and create users.
    pub operator: bool,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
    /// When the user was last changed.
    pub updated_at: DateTime<Utc>,
}

/// An API key (an "OAuth authorization" on the wire). Only its hash is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's id.
    pub id: Uuid,
    /// Whose key it is.
    pub user_id: Uuid,
    /// What it is for (`Heroku CLI login from host`, `operator`, …).
    pub description: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// Who owns an app: enough of a [`User`] to render it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRef {
    /// The user's id.
    pub id: Uuid,
    /// The user's email.
    pub email: String,
}

/// An app: a name, a domain, a git repo and a release ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// The app's id.
    pub id: Uuid,
    /// The app's name, unique among live apps (`paas_platform::names::validate_app_name` checks it).
    pub name: String,
    /// The owner: a user (for a team app, its creator, whose granted dyno sizes it may use).
    pub owner: UserRef,
    /// The team that owns it, if any: then [`crate::access::permissions_of`] goes by team roles.
    pub team: Option<crate::access::TeamRef>,
    /// A locked team app gives team members no implicit `view`.
    pub locked: bool,
    /// Whether the app is in maintenance mode.
    pub maintenance: bool,
    /// When the app was created.
    pub created_at: DateTime<Utc>,
    /// When the app was last changed.
    pub updated_at: DateTime<Utc>,
    /// When its newest release was made.
    pub released_at: Option<DateTime<Utc>>,
}

/// The state of a release that went live (or could have: only the newest is current).
pub const RELEASE_SUCCEEDED: &str = "succeeded";
/// The state of a release whose release phase failed: it never went live.
pub const RELEASE_FAILED: &str = "failed";
/// The Procfile process type run once per release, before it goes live (never a formation).
pub const RELEASE_PHASE: &str = "release";

/// One entry of the append-only release ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// The release's id.
    pub id: Uuid,
    /// The app it belongs to.
    pub app_id: Uuid,
    /// v1, v2, … per app, without gaps.
    pub version: i64,
    /// `Initial release`, `Deploy 2b93a215`, `Set FOO config vars`, `Rollback to v3`, …
    pub description: String,
    /// The slug it runs; none before the first build.
    pub slug_id: Option<Uuid>,
    /// The slug's process types (empty before the first build).
    pub process_types: ProcessTypes,
    /// Snapshot of the config vars.
    pub config_vars: ConfigVars,
    /// Snapshot of the attached add-ons' names.
    pub addons: Vec<String>,
    /// Who made it.
    pub user: UserRef,
    /// `succeeded`, or `failed` when its release phase failed (releases are recorded once their
    /// release phase is done, so never `pending`).
    pub status: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// Whether it is the app's current release: the newest that succeeded.
    pub current: bool,
}

/// What the builder (or a test) records as a new release: a slug and its process types. Config
/// vars and add-ons are carried over from the current release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    /// The built slug.
    pub slug_id: Uuid,
    /// The slug's process types.
    pub process_types: ProcessTypes,
    /// The description, e.g. `Deploy 2b93a215`.
    pub description: String,
}

/// How many dynos of one process type run, and their size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formation {
    /// The formation row's id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// `web`, `worker`, …
    pub process_type: String,
    /// The command, from the current release's process types.
    pub command: String,
    /// How many dynos.
    pub quantity: i64,
    /// The dyno size, e.g. `Basic`.
    pub size: String,
    /// When the row was created.
    pub created_at: DateTime<Utc>,
    /// When it was last scaled or resized.
    pub updated_at: DateTime<Utc>,
}

/// The change a formation update asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// Set to exactly this many (`2`, `"2"`).
    Absolute(i64),
    /// Add this many, possibly negative (`"+1"`, `"-1"`).
    Relative(i64),
}

/// One entry of a formation PATCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormationUpdate {
    /// The process type to change.
    pub process_type: String,
    /// The new quantity, if it changes.
    pub quantity: Option<Quantity>,
    /// The new size (canonical name, as `paas_platform::names::canonical_size` spells it), if it changes.
    pub size: Option<String>,
}

/// A custom domain routed to an app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    /// The domain's id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// The hostname, lowercase.
    pub hostname: String,
    /// The SNI endpoint (custom certificate) it is set to serve with (`domains:update --cert`).
    pub sni_endpoint: Option<SniEndpointRef>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// An SNI endpoint as a domain names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniEndpointRef {
    /// Its id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
}

/// A private key (PEM) kept for TLS: never rendered, never in a `Debug` line.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKeyPem(String);

impl PrivateKeyPem {
    /// Wraps a key.
    pub fn new(pem: String) -> PrivateKeyPem {
        PrivateKeyPem(pem)
    }
    /// The PEM text, for the TLS stack and the ledger only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for PrivateKeyPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrivateKeyPem(..)")
    }
}

/// An app's custom certificate (Heroku's SNI endpoint), served for its custom domains.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniEndpoint {
    /// Its id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// Its name, unique on the server (`tokyo-76465`).
    pub name: String,
    /// The certificate chain, PEM, leaf first.
    pub certificate_chain: String,
    /// The private key.
    pub private_key: PrivateKeyPem,
    /// The ids of the app's domains set to it.
    pub domains: Vec<Uuid>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When its certificate was last replaced.
    pub updated_at: DateTime<Utc>,
}

/// The most SNI endpoints (custom certificates) one app may have: an app's custom domains
/// rarely need more than a few certificates (Heroku allows a handful), and each is read and
/// kept in every router's memory.
pub const MAX_SNI_ENDPOINTS_PER_APP: usize = 10;

/// What the router's certificate choice reads on each reload: the custom domains of live apps
/// that have SNI endpoints, and those endpoints' ids and times, without any certificate or key
/// (those are read with [`crate::DomainLedger::find_sni_endpoints`] only when an endpoint changed).
#[derive(Debug, Clone, Default)]
pub struct SniRoutes {
    /// The custom domains.
    pub domains: Vec<SniDomain>,
    /// The endpoints of those domains' apps, oldest first.
    pub endpoints: Vec<SniEndpointStamp>,
}

/// A custom domain as [`SniRoutes`] lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SniDomain {
    /// The hostname.
    pub hostname: String,
    /// Its app.
    pub app_id: Uuid,
    /// The endpoint it is set to, if any.
    pub endpoint: Option<Uuid>,
}

/// An SNI endpoint as [`SniRoutes`] lists it: which one, and when its certificate last changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SniEndpointStamp {
    /// The endpoint's id.
    pub id: Uuid,
    /// Its app.
    pub app_id: Uuid,
    /// When its certificate was last replaced.
    pub updated_at: DateTime<Utc>,
}

/// A user who may work on an app they do not own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Collaborator {
    /// The collaboration's id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// The collaborator.
    pub user: UserRef,
    /// What they may do (all four unless given a narrower set).
    pub permissions: crate::access::Permissions,
    /// When they were added.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// A build of an app's source into a slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// The build's id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// Who started it.
    pub user: UserRef,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// The source's version (a git commit), if known.
    pub source_version: Option<String>,
    /// The slug it produced.
    pub slug_id: Option<Uuid>,
    /// The release it produced.
    pub release_id: Option<Uuid>,
    /// The buildpack that built it (`rust`, or a URL), once known.
    pub buildpack: Option<String>,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A build's status while it runs.
pub const BUILD_PENDING: &str = "pending";
/// A build's status once it made a release.
pub const BUILD_SUCCEEDED: &str = "succeeded";
/// A build's status once it failed.
pub const BUILD_FAILED: &str = "failed";

/// A slug as the ledger knows it: the archive itself is in the builder's slug store, named by
/// its `checksum` (sha256); releases refer to the slug by `id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug {
    /// The slug's id (what releases name).
    pub id: Uuid,
    /// The app it was built for.
    pub app_id: Uuid,
    /// The archive's sha256, lowercase hex: its name in the slug store.
    pub checksum: String,
    /// The archive's size in bytes.
    pub size: i64,
    /// The stack it needs (`wasi-p2`, or the native stack it was built on).
    pub stack: String,
    /// The commit it was built from, if known.
    pub commit: Option<String>,
    /// The buildpack that built it.
    pub buildpack: Option<String>,
    /// Its process types and their commands.
    pub process_types: ProcessTypes,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

/// What a build records as a new slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSlug {
    /// The archive's sha256, lowercase hex.
    pub checksum: String,
    /// The archive's size in bytes.
    pub size: i64,
    /// The stack it needs.
    pub stack: String,
    /// The commit it was built from, if known.
    pub commit: Option<String>,
    /// The buildpack that built it.
    pub buildpack: Option<String>,
    /// Its process types and their commands.
    pub process_types: ProcessTypes,
}

/// One running instance of a process type (`web.1`, `worker.2`, `run.4711`), as the dyno
/// supervisor reports it (and as one node of a grid sends it to another).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Dyno {
    /// The dyno's id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// `web.1`.
    pub name: String,
    /// `web`.
    pub process_type: String,
    /// The command it runs.
    pub command: String,
    /// Its size, e.g. `Basic`.
    pub size: String,
    /// `starting`, `up`, `crashed`, `down`.
    pub state: String,
    /// The release it runs.
    pub release_version: i64,
    /// When it started.
    pub created_at: DateTime<Utc>,
    /// When its state last changed.
    pub updated_at: DateTime<Utc>,
}

/// Where an app's log stream is forwarded: a syslog or HTTP(S) endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogDrain {
    /// The drain's id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// `syslog://host:port` or `https://…`.
    pub url: String,
    /// The token naming the drain to the receiver, `d.<uuid>`.
    pub token: String,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// An app feature's stored state (`paas features:enable NAME`); features with no record are
/// disabled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFeature {
    /// The app.
    pub app_id: Uuid,
    /// The feature's name (`preboot`, `sleep`).
    pub name: String,
    /// Whether it is on.
    pub enabled: bool,
    /// When it was first set.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// A feature apps can turn on (Heroku's app-features catalog, as far as paas has one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FeatureKind {
    /// The feature's fixed id (the same for every app, as on Heroku).
    pub id: Uuid,
    /// Its name (`paas features:enable NAME`).
    pub name: &'static str,
    /// Its display name.
    pub display_name: &'static str,
    /// What it does.
    pub description: &'static str,
    /// Where it is documented.
    pub doc_url: &'static str,
}

/// The features paas knows, by name.
pub const FEATURES: &[FeatureKind] = &[
    FeatureKind {
        id: Uuid::from_u128(0x6d1c_9b4e_7f0a_4c1e_9a51_0000_0000_0001),
        name: "preboot",
        display_name: "Preboot",
        description: "Start new web dynos before stopping old ones on deploys and restarts \
                      (off: old dynos get SIGTERM as new ones start).",
        doc_url: "https://devcenter.heroku.com/articles/preboot",
    },
    FeatureKind {
        id: Uuid::from_u128(0x6d1c_9b4e_7f0a_4c1e_9a51_0000_0000_0002),
        name: "sleep",
        display_name: "Sleep",
        description: "Web dynos sleep after the idle time, as eco dynos do, and wake on the next request.",
        doc_url: "https://devcenter.heroku.com/articles/eco-dyno-hours#dyno-sleeping",
    },
];

/// The known feature named `name`.
pub fn feature_kind(name: &str) -> Option<&'static FeatureKind> {
    FEATURES.iter().find(|f| f.name == name)
}

/// A command run as a one-off dyno on a cron schedule (`paas scheduler:add`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledJob {
    /// The job's id.
    pub id: Uuid,
    /// The app.
    pub app_id: Uuid,
    /// Its cron schedule, five fields in UTC (`paas_platform::scheduler::cron::Schedule` reads it).
    pub schedule: String,
    /// The command its one-off dynos run.
    pub command: String,
    /// The scheduled time of the newest run the scheduler handled (ran it, or reported it
    /// missed); none before the first.
    pub last_run_at: Option<DateTime<Utc>>,
    /// When it was added.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

/// The most scheduled jobs an app may have.
pub const MAX_SCHEDULED_JOBS: usize = 50;
/// The longest command a scheduled job may run, in bytes.
pub const MAX_SCHEDULED_COMMAND: usize = 4096;
