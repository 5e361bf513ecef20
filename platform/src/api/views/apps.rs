//! Apps and accounts: `GET /apps/{app}`, `GET /account`, a new user, an API key as an OAuth
//! authorization, an app setup and an app transfer.

use serde::{Deserialize, Serialize};

use super::{CEDAR_ID, EmailRef, NameRef, REGION, REGION_ID, STACK, STACK_ID, app_owner, nullable, team_ref, time};
use crate::api::PlatformConfig;
use crate::model::{ApiKey, App, User};
use crate::setups::AppSetup;

/// An app (`GET /apps/{app}`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppView {
    /// Automated certificate management (never: TLS is the server's).
    pub acm: bool,
    /// When it was archived (never).
    pub archived_at: Option<String>,
    /// The stack its next build uses.
    #[serde(deserialize_with = "nullable")]
    pub build_stack: NameRef,
    /// What the buildpack says the app is (paas says nothing).
    pub buildpack_provided_description: Option<String>,
    /// `complete`: an app is made at once.
    pub create_status: String,
    /// When it was created.
    #[serde(deserialize_with = "nullable")]
    pub created_at: String,
    /// Heroku's generation, always `cedar` (the heroku CLI's `logs` reads it).
    #[serde(deserialize_with = "nullable")]
    pub generation: NameRef,
    /// The URL to `git push` to.
    #[serde(deserialize_with = "nullable")]
    pub git_url: String,
    /// Its id.
    pub id: String,
    /// Heroku's internal routing (none).
    pub internal_routing: Option<bool>,
    /// Whether the caller joined it as a team member (never).
    pub joined: bool,
    /// A locked team app gives team members no implicit access.
    pub locked: bool,
    /// Whether it is in maintenance mode.
    pub maintenance: bool,
    /// Its name.
    pub name: String,
    /// The team that owns it (Heroku's older name for `team`).
    pub organization: Option<NameRef>,
    /// Its owner: a user, or a team's `<team>@herokumanager.com`.
    #[serde(deserialize_with = "nullable")]
    pub owner: EmailRef,
    /// Its region.
    #[serde(deserialize_with = "nullable")]
    pub region: NameRef,
    /// When its newest release was made.
    pub released_at: Option<String>,
    /// Its repository's size (not measured).
    pub repo_size: Option<i64>,
    /// Its slug's size (not measured).
    pub slug_size: Option<i64>,
    /// Its private space (none).
    pub space: Option<NameRef>,
    /// Its stack.
    #[serde(deserialize_with = "nullable")]
    pub stack: NameRef,
    /// The team that owns it.
    pub team: Option<NameRef>,
    /// When it was last changed.
    #[serde(deserialize_with = "nullable")]
    pub updated_at: String,
    /// The URL it serves on.
    #[serde(deserialize_with = "nullable")]
    pub web_url: String,
}

impl AppView {
    /// `app`, with its URLs on this server.
    pub fn new(app: &App, config: &PlatformConfig) -> AppView {
        let team = app.team.as_ref().map(team_ref);
        let stack = NameRef { id: STACK_ID.into(), name: STACK.into() };
        AppView {
            acm: false,
            archived_at: None,
            build_stack: stack.clone(),
            buildpack_provided_description: None,
            create_status: "complete".into(),
            created_at: time(app.created_at),
            generation: NameRef { id: CEDAR_ID.into(), name: "cedar".into() },
            git_url: config.git_url(&app.name),
            id: app.id.to_string(),
            internal_routing: None,
            joined: false,
            locked: app.locked,
            maintenance: app.maintenance,
            name: app.name.clone(),
            organization: team.clone(),
            owner: app_owner(app),
            region: NameRef { id: REGION_ID.into(), name: REGION.into() },
            released_at: app.released_at.map(time),
            repo_size: None,
            slug_size: None,
            space: None,
            stack,
            team,
            updated_at: time(app.updated_at),
            web_url: config.web_url(&app.name),
        }
    }
}

/// The caller's account (`GET /account`); `operator` and `dyno_sizes` are our extensions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccountView {
    /// Whether Heroku may track the user (never).
    pub allow_tracking: bool,
    /// Whether the user is in Heroku's beta (never).
    pub beta: bool,
    /// Where the user lives (not asked).
    pub country_of_residence: Option<String>,
    /// When the user was created.
    #[serde(deserialize_with = "nullable")]
    pub created_at: String,
    /// The user's default team (Heroku's older name for `default_team`).
    pub default_organization: Option<NameRef>,
    /// The user's default team, if any.
    pub default_team: Option<NameRef>,
    /// When the account became delinquent (never).
    pub delinquent_at: Option<String>,
    /// The dyno sizes the user may use (`GET /users/{user}` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dyno_sizes: Option<Vec<String>>,
    /// The user's email.
    #[serde(deserialize_with = "nullable")]
    pub email: String,
    /// Whether the user signs in through an identity provider (never).
    pub federated: bool,
    /// The user's id.
    pub id: String,
    /// The identity provider (none).
    pub identity_provider: Option<NameRef>,
    /// When the user last logged in (not kept).
    pub last_login: Option<String>,
    /// The user's full name (not kept).
    pub name: Option<String>,
    /// Operators see and manage every app and create users.
    pub operator: bool,
    /// The phone number for two-factor codes (none).
    pub sms_number: Option<String>,
    /// When the account was suspended (never).
    pub suspended_at: Option<String>,
    /// Whether two-factor authentication is on (never).
    pub two_factor_authentication: bool,
    /// When the user was last changed.
    #[serde(deserialize_with = "nullable")]
    pub updated_at: String,
    /// Whether the email is verified (always: an operator made the user).
    pub verified: bool,
}

impl AccountView {
    /// `user`'s account, without a default team or sizes.
    pub fn new(user: &User) -> AccountView {
        AccountView {
            created_at: time(user.created_at),
            email: user.email.clone(),
            id: user.id.to_string(),
            operator: user.operator,
            updated_at: time(user.updated_at),
            verified: true,
            ..AccountView::default()
        }
    }
}

/// The answer to the operator's `POST /users` (a paas extension): the new user and their key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NewUserView {
    /// The new user's API key.
    #[serde(deserialize_with = "nullable")]
    pub api_key: String,
    /// When the user was created.
    #[serde(deserialize_with = "nullable")]
    pub created_at: String,
    /// The new user's email.
    #[serde(deserialize_with = "nullable")]
    pub email: String,
    /// The new user's id.
    pub id: String,
}

impl NewUserView {
    /// `user`, made with API key `key`.
    pub fn new(user: &User, key: &str) -> NewUserView {
        NewUserView { api_key: key.into(), created_at: time(user.created_at), email: user.email.clone(), id: user.id.to_string() }
    }
}

/// An API key as an OAuth authorization (`/oauth/authorizations`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthorizationView {
    /// The token, only when the caller holds it.
    pub access_token: Option<AccessToken>,
    /// The OAuth client (none).
    pub client: Option<NameRef>,
    /// When the key was made.
    pub created_at: String,
    /// What the key is for.
    pub description: String,
    /// The OAuth grant (none).
    pub grant: Option<NameRef>,
    /// The key's id.
    pub id: String,
    /// The refresh token (none: keys do not expire).
    pub refresh_token: Option<AccessToken>,
    /// Its scope, always `global`.
    pub scope: Vec<String>,
    /// The OAuth session (none).
    pub session: Option<NameRef>,
    /// When the key was made (keys are never changed).
    pub updated_at: String,
    /// Whose key it is.
    pub user: AuthorizationUser,
}

/// An authorization's token (`heroku login` reads `access_token.token`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AccessToken {
    /// Seconds until it expires (never).
    pub expires_in: Option<i64>,
    /// The key's id.
    pub id: String,
    /// The API key itself.
    pub token: String,
}

/// The user of an authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthorizationUser {
    /// Their email.
    pub email: String,
    /// Their full name (not kept).
    pub full_name: Option<String>,
    /// Their id.
    pub id: String,
}

impl AuthorizationView {
    /// `key` of `user`; `token` only when the caller holds it.
    pub fn new(key: &ApiKey, user: &User, token: Option<&str>) -> AuthorizationView {
        AuthorizationView {
            access_token: token.map(|token| AccessToken { expires_in: None, id: key.id.to_string(), token: token.into() }),
            client: None,
            created_at: time(key.created_at),
            description: key.description.clone(),
            grant: None,
            id: key.id.to_string(),
            refresh_token: None,
            scope: vec!["global".into()],
            session: None,
            updated_at: time(key.created_at),
            user: AuthorizationUser { email: user.email.clone(), full_name: None, id: user.id.to_string() },
        }
    }
}

/// An app setup (`GET /app-setups/{id}`): an app made from a source tarball and its `app.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppSetupView {
    /// The app it made.
    pub app: NameRef,
    /// Its build, as the API shows builds.
    pub build: Option<super::BuildView>,
    /// When it started.
    pub created_at: String,
    /// Why it failed.
    pub failure_message: Option<String>,
    /// Its id.
    pub id: String,
    /// What was wrong with `app.json` (a setup with errors is refused instead: always empty).
    pub manifest_errors: Vec<String>,
    /// The postdeploy script's output and exit code, once it ran.
    pub postdeploy: Option<Postdeploy>,
    /// Heroku's success URL (none).
    pub resolved_success_url: Option<String>,
    /// `pending`, `succeeded` or `failed`.
    pub status: String,
    /// When it last changed.
    pub updated_at: String,
}

/// What an app setup's postdeploy script did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Postdeploy {
    /// Its exit code.
    pub exit_code: i32,
    /// Its output.
    pub output: String,
}

impl AppSetupView {
    /// `setup` of `app`, with its build as the API shows it.
    pub fn new(setup: &AppSetup, app: &App, build: Option<super::BuildView>) -> AppSetupView {
        AppSetupView {
            app: super::app_ref(app),
            build,
            created_at: time(setup.created_at),
            failure_message: setup.failure_message.clone(),
            id: setup.id.to_string(),
            manifest_errors: Vec::new(),
            postdeploy: setup.postdeploy.as_ref().map(|(output, code)| Postdeploy { exit_code: *code, output: output.clone() }),
            resolved_success_url: None,
            status: setup.status.clone(),
            updated_at: time(setup.updated_at),
        }
    }
}

/// An app transfer (`POST /account/app-transfers`), done at once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AppTransferView {
    /// The app.
    pub app: NameRef,
    /// When it was done.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// Who owned the app.
    pub owner: EmailRef,
    /// Who owns it now.
    pub recipient: EmailRef,
    /// Always `accepted`.
    pub state: String,
    /// When it was done.
    pub updated_at: String,
}

impl AppTransferView {
    /// `app`, transferred from `owner` to its owner now.
    pub fn new(app: &App, owner: EmailRef) -> AppTransferView {
        AppTransferView {
            app: super::app_ref(app),
            created_at: time(app.updated_at),
            id: uuid::Uuid::new_v4().to_string(),
            owner,
            recipient: app_owner(app),
            state: "accepted".into(),
            updated_at: time(app.updated_at),
        }
    }
}
