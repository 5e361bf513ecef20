//! What each API route (and git) needs, in one table: [`TABLE`], read by [`enforce`], the
//! layer every route gets. A route without a row is refused (500, before its handler runs), and
//! the row-by-row test in `tests/all/permissions.rs` fails. The app permissions follow Heroku's
//! table: `view` reads the app (settings, config vars, releases, builds, dynos, logs, access);
//! `deploy` pushes, builds and makes releases (config var changes and rollbacks too); `operate`
//! scales, restarts, stops and runs one-offs and scheduled jobs; `manage` changes collaborators,
//! domains, add-ons, drains, features, renames, transfers and destroys.
//!
//! How a row is applied: [`enforce`] authenticates the caller once (401) for every row but
//! [`Need::Public`], refuses non-operators on [`Need::Operator`] rows (403), checks the app or
//! team the path names (`{app}`, `{team}`) before any body is read, and hands the row to the
//! handler inside [`CurrentUser`]. An app or team named elsewhere (an add-on's app, a body's
//! team) is checked against the same row where the handler looks it up
//! ([`super::extract::visible_app`], [`super::teams::team_for`]). No permission at all is the
//! 404 of an app that does not exist; some, but not this one, a 403 `forbidden`. A handler of an
//! app or team row that answers success without a check is turned into a 500 (and logged), so a
//! forgotten check cannot pass a test.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::{FromRequestParts, Path, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::extract::CurrentUser;
use super::{ApiError, AppState};
use crate::access::{Permission, TeamRole};

use Need::{Account, App, AppLeaveOrManage, AppOwner, Operator, Public, Team};
use Permission::{Deploy, Manage, Operate, View};

/// What a route needs of its caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    /// Nothing: the route carries its own credential (a log session's token, Basic login) or
    /// serves public data.
    Public,
    /// Any authenticated user, acting on their own things (apps they can see are filtered).
    Account,
    /// An operator.
    Operator,
    /// This permission on the app the route acts on (`{app}`, or the add-on's or body's app).
    App(Permission),
    /// `manage` on the app, or just `view` when the collaborator removed is the caller (leaving).
    AppLeaveOrManage,
    /// `manage` on a team app; a personal app's owner (Heroku's collaborators never rename,
    /// destroy or transfer a personal app, whatever their permissions).
    AppOwner,
    /// At least this role in the team the route acts on (`{team}`, or the body's team).
    Team(TeamRole),
}

/// One row: method, axum path template, need.
pub type Row = (&'static str, &'static str, Need);

/// Git over smart HTTP: both push and fetch need `deploy` (Heroku's `deploy` is "fetch and push
/// code"; `view` does not include the source).
pub const GIT: [Row; 2] = [("GIT", "push", App(Deploy)), ("GIT", "fetch", App(Deploy))];

/// Every API route and what it needs.
#[rustfmt::skip]
pub const TABLE: &[Row] = &[
    ("GET", "/openapi.json", Public),
    ("GET", "/paas/ca.pem", Public),
    // The dashboard's built-in files (api/dashboard.rs): public; its data comes from the API
    // with the user's key, under the rows below.
    ("GET", "/dashboard", Public),
    ("GET", "/dashboard/", Public),
    ("GET", "/dashboard/{*file}", Public),
    ("GET", "/account", Account),
    ("PATCH", "/account", Account),
    ("POST", "/users", Operator),
    ("GET", "/users/{user}", Account),
    ("PATCH", "/users/{user}", Operator),
    // The grid (api/nodes.rs): operators see and add nodes; a node calls with its node key.
    ("GET", "/nodes", Operator),
    ("POST", "/nodes/tokens", Operator),
    ("GET", "/grid/node", Public),
    // A slug for another node (grid/slugs.rs): the node key is the credential.
    ("GET", "/grid/slugs/{checksum}", Public),
    // An app's dynos and log lines on this node, for another node's `ps` and log session
    // (grid/dynos.rs, grid/logs.rs): the node key is the credential.
    ("GET", "/grid/apps/{app_id}/dynos", Public),
    ("GET", "/grid/apps/{app_id}/logs", Public),
    ("GET", "/grid/apps/{app_id}/latency", Public),
    ("GET", "/users/{user}/apps", Account),
    ("GET", "/oauth/authorizations", Account),
    // `heroku login -i`: Basic email:password, checked by the handler.
    ("POST", "/oauth/authorizations", Public),
    ("GET", "/oauth/authorizations/{id}", Account),
    ("DELETE", "/oauth/authorizations/{id}", Account),
    ("GET", "/oauth/sessions", Account),
    ("DELETE", "/oauth/sessions/{id}", Account),
    // What this server offers (api/catalog.rs).
    ("GET", "/account/features", Account),
    ("GET", "/regions", Account),
    ("GET", "/stacks", Account),
    ("GET", "/dyno-sizes", Account),
    ("GET", "/apps", Account),
    ("POST", "/apps", Account),
    ("GET", "/apps/{app}", App(View)),
    // Rename, maintenance: a team app's `manage`; a personal app's owner.
    ("PATCH", "/apps/{app}", AppOwner),
    ("DELETE", "/apps/{app}", AppOwner),
    ("GET", "/apps/{app}/config-vars", App(View)),
    ("PATCH", "/apps/{app}/config-vars", App(Deploy)),
    ("GET", "/apps/{app}/releases", App(View)),
    ("POST", "/apps/{app}/releases", App(Deploy)),
    ("GET", "/apps/{app}/releases/{release}", App(View)),
    ("GET", "/apps/{app}/releases/{release}/config-vars", App(View)),
    // A release's output_stream_url: the signature in the URL is the credential.
    ("GET", "/release-output/{token}", Public),
    ("GET", "/apps/{app}/formation", App(View)),
    ("PATCH", "/apps/{app}/formation", App(Operate)),
    ("GET", "/apps/{app}/formation/{type}", App(View)),
    ("PATCH", "/apps/{app}/formation/{type}", App(Operate)),
    ("DELETE", "/apps/{app}/formations/{type}", App(Operate)),
    ("POST", "/apps/{app}/formations/{type}/actions/stop", App(Operate)),
    ("GET", "/apps/{app}/dynos", App(View)),
    ("POST", "/apps/{app}/dynos", App(Operate)),
    ("DELETE", "/apps/{app}/dynos", App(Operate)),
    ("GET", "/apps/{app}/dynos/{dyno}", App(View)),
    ("DELETE", "/apps/{app}/dynos/{dyno}", App(Operate)),
    ("POST", "/apps/{app}/dynos/{dyno}/actions/stop", App(Operate)),
    ("GET", "/apps/{app}/builds", App(View)),
    ("POST", "/apps/{app}/builds", App(Deploy)),
    ("GET", "/apps/{app}/builds/{build}", App(View)),
    // The blob store of builds from a URL (api/sources.rs): the URL's token is the credential.
    ("POST", "/sources", Account),
    ("GET", "/sources/{token}", Public),
    ("PUT", "/sources/{token}", Public),
    ("GET", "/apps/{app}/builds/{build}/output", App(View)),
    // A build's output_stream_url: the signature in the URL is the credential.
    ("GET", "/build-output/{token}", Public),
    ("DELETE", "/apps/{app}/build-cache", App(Deploy)),
    ("GET", "/apps/{app}/buildpack-installations", App(View)),
    ("PUT", "/apps/{app}/buildpack-installations", App(Deploy)),
    ("GET", "/apps/{app}/slugs/{slug}", App(View)),
    ("POST", "/apps/{app}/log-sessions", App(View)),
    // The token in the URL is the credential; the session's user needs `view` at every connect.
    ("GET", "/log-sessions/{token}", Public),
    ("GET", "/apps/{app}/log-drains", App(View)),
    ("POST", "/apps/{app}/log-drains", App(Manage)),
    ("GET", "/apps/{app}/log-drains/{drain}", App(View)),
    ("DELETE", "/apps/{app}/log-drains/{drain}", App(Manage)),
    // Metrics (api/metrics.rs): every app's in Prometheus' text format for operators; one app's
    // series for whoever may view it.
    ("GET", "/metrics", Operator),
    ("GET", "/apps/{app}/metrics", App(View)),
    // Autoscaling (api/autoscaling.rs) is scaling: operate.
    ("GET", "/apps/{app}/formation/{type}/autoscaling", App(View)),
    ("PUT", "/apps/{app}/formation/{type}/autoscaling", App(Operate)),
    ("DELETE", "/apps/{app}/formation/{type}/autoscaling", App(Operate)),
    ("GET", "/apps/{app}/features", App(View)),
    ("GET", "/apps/{app}/features/{name}", App(View)),
    ("PATCH", "/apps/{app}/features/{name}", App(Manage)),
    ("GET", "/apps/{app}/scheduled-jobs", App(View)),
    ("POST", "/apps/{app}/scheduled-jobs", App(Operate)),
    ("GET", "/apps/{app}/scheduled-jobs/{job}", App(View)),
    ("DELETE", "/apps/{app}/scheduled-jobs/{job}", App(Operate)),
    ("GET", "/apps/{app}/addons", App(View)),
    ("POST", "/apps/{app}/addons", App(Manage)),
    ("GET", "/apps/{app}/addons/{addon}", App(View)),
    ("PATCH", "/apps/{app}/addons/{addon}", App(Manage)),
    ("DELETE", "/apps/{app}/addons/{addon}", App(Manage)),
    ("GET", "/apps/{app}/addon-attachments", App(View)),
    ("GET", "/apps/{app}/addon-attachments/{attachment}", App(View)),
    ("GET", "/addons", Account),
    ("GET", "/addons/{addon}", App(View)),
    ("GET", "/addons/{addon}/addon-attachments", App(View)),
    ("GET", "/addon-attachments", Account),
    ("POST", "/addon-attachments", App(Manage)),
    ("GET", "/addon-attachments/{id}", App(View)),
    ("DELETE", "/addon-attachments/{id}", App(Manage)),
    // Resolving looks only among the add-ons and attachments the caller can see.
    ("POST", "/actions/addons/resolve", Account),
    ("POST", "/actions/addon-attachments/resolve", Account),
    ("GET", "/addon-services", Account),
    ("GET", "/addon-services/{service}", Account),
    ("GET", "/addon-services/{service}/plans", Account),
    ("GET", "/addon-services/{service}/plans/{plan}", Account),
    ("GET", "/plans", Account),
    // Custom certificates (api/sni_endpoints.rs): adding, replacing and removing one, and
    // choosing a domain's, is `manage`, as adding a domain is.
    ("GET", "/apps/{app}/sni-endpoints", App(View)),
    ("POST", "/apps/{app}/sni-endpoints", App(Manage)),
    ("GET", "/apps/{app}/sni-endpoints/{endpoint}", App(View)),
    ("PATCH", "/apps/{app}/sni-endpoints/{endpoint}", App(Manage)),
    ("DELETE", "/apps/{app}/sni-endpoints/{endpoint}", App(Manage)),
    ("PATCH", "/apps/{app}/domains/{domain}", App(Manage)),
    ("GET", "/apps/{app}/domains", App(View)),
    ("POST", "/apps/{app}/domains", App(Manage)),
    ("GET", "/apps/{app}/domains/{domain}", App(View)),
    ("DELETE", "/apps/{app}/domains/{domain}", App(Manage)),
    ("GET", "/apps/{app}/collaborators", App(View)),
    ("POST", "/apps/{app}/collaborators", App(Manage)),
    ("GET", "/apps/{app}/collaborators/{who}", App(View)),
    ("DELETE", "/apps/{app}/collaborators/{who}", AppLeaveOrManage),
    // Teams.
    ("GET", "/teams", Account),
    ("POST", "/teams", Account),
    ("GET", "/teams/{team}", Team(TeamRole::Viewer)),
    ("DELETE", "/teams/{team}", Team(TeamRole::Admin)),
    ("GET", "/teams/{team}/features", Team(TeamRole::Viewer)),
    ("GET", "/teams/{team}/members", Team(TeamRole::Viewer)),
    ("POST", "/teams/{team}/members", Team(TeamRole::Admin)),
    ("PUT", "/teams/{team}/members", Team(TeamRole::Admin)),
    ("PATCH", "/teams/{team}/members", Team(TeamRole::Admin)),
    ("DELETE", "/teams/{team}/members/{member}", Team(TeamRole::Admin)),
    ("GET", "/teams/{team}/apps", Team(TeamRole::Viewer)),
    ("POST", "/teams/apps", Team(TeamRole::Member)),
    ("GET", "/teams/apps/{app}", App(View)),
    // Lock, unlock, transfer (a team app's transfer also needs its team's admin, and the
    // receiving team's member role).
    ("PATCH", "/teams/apps/{app}", AppOwner),
    ("GET", "/teams/apps/{app}/collaborators", App(View)),
    ("POST", "/teams/apps/{app}/collaborators", App(Manage)),
    ("GET", "/teams/apps/{app}/collaborators/{who}", App(View)),
    ("PATCH", "/teams/apps/{app}/collaborators/{who}", App(Manage)),
    ("DELETE", "/teams/apps/{app}/collaborators/{who}", AppLeaveOrManage),
    // App setups (api/app_setups.rs): the app is the caller's new one; a setup is shown to
    // whoever may see its app.
    ("POST", "/app-setups", Account),
    ("GET", "/app-setups/{setup}", Account),
    // Pipelines (api/pipelines.rs): the handlers show each caller the pipelines they own (or
    // their team does); coupling, promoting check the apps named in the body.
    ("GET", "/pipelines", Account),
    ("POST", "/pipelines", Account),
    ("GET", "/pipelines/{pipeline}", Account),
    ("PATCH", "/pipelines/{pipeline}", Account),
    ("DELETE", "/pipelines/{pipeline}", Account),
    ("GET", "/pipelines/{pipeline}/pipeline-couplings", Account),
    ("GET", "/pipeline-couplings", Account),
    ("POST", "/pipeline-couplings", Account),
    ("GET", "/pipeline-couplings/{coupling}", Account),
    ("PATCH", "/pipeline-couplings/{coupling}", Account),
    ("DELETE", "/pipeline-couplings/{coupling}", Account),
    ("GET", "/apps/{app}/pipeline-couplings", App(View)),
    ("POST", "/filters/apps", Account),
    ("POST", "/pipeline-promotions", Account),
    ("GET", "/pipeline-promotions/{promotion}", Account),
    ("GET", "/pipeline-promotions/{promotion}/promotion-targets", Account),
    // App webhooks (api/webhooks.rs): adding and changing one is `manage`, as drains; so is
    // reading one, since its URL often carries its credential (a Slack hook's path, a token in
    // the query). Deliveries and events show no URL.
    ("GET", "/apps/{app}/webhooks", App(Manage)),
    ("POST", "/apps/{app}/webhooks", App(Manage)),
    ("GET", "/apps/{app}/webhooks/{webhook}", App(Manage)),
    ("PATCH", "/apps/{app}/webhooks/{webhook}", App(Manage)),
    ("DELETE", "/apps/{app}/webhooks/{webhook}", App(Manage)),
    ("GET", "/apps/{app}/webhook-deliveries", App(View)),
    ("GET", "/apps/{app}/webhook-deliveries/{delivery}", App(View)),
    ("GET", "/apps/{app}/webhook-events", App(View)),
    ("GET", "/apps/{app}/webhook-events/{event}", App(View)),
    ("GET", "/teams/permissions", Account),
    ("GET", "/team-app-permissions", Account),
    ("POST", "/account/app-transfers", AppOwner),
];

/// The need of `method path` (path as the route's template), if the table has a row.
pub fn need(method: &str, path: &str) -> Option<Need> {
    TABLE.iter().find(|(m, p, _)| *m == method && *p == path).map(|(_, _, need)| *need)
}

/// Set once the app or team a request acts on has been checked against its row.
#[derive(Debug, Clone, Default)]
pub struct Checked(Arc<AtomicBool>);

impl Checked {
    /// Records the check.
    pub fn done(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn is_done(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// What [`enforce`] needs: the state and the route's path template.
#[derive(Clone)]
pub struct Guard {
    /// The API's state.
    pub state: AppState,
    /// The route's path template, `/apps/{app}`.
    pub path: &'static str,
}

/// The layer of every route: finds the route's row (none: 500, the handler never runs),
/// authenticates and checks operator rows, and after the handler, turns an app or team route's
/// success without a check into a 500.
pub async fn enforce(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let method = request.method().as_str().to_string();
    let Some(need) = need(&method, guard.path) else {
        return ApiError::internal(format!("{method} {} has no row in the permission table", guard.path)).into_response();
    };
    let (mut parts, body) = request.into_parts();
    parts.extensions.insert(need);
    let checked = Checked::default();
    parts.extensions.insert(checked.clone());
    if need != Public {
        let caller = match CurrentUser::authenticate(&mut parts, &guard.state).await {
            Ok(caller) => caller,
            Err(e) => return e.into_response(),
        };
        if need == Operator && !caller.user.operator {
            return ApiError::forbidden("Only an operator can do that.").into_response();
        }
        // The app or team the path names is checked now, before any body is read; the app is
        // kept with the caller, so that the handler's own check does not read it again.
        let mut caller = caller;
        match check_path(&mut parts, &guard.state, &caller).await {
            Ok(app) => caller.route_app = app,
            Err(e) => return e.into_response(),
        }
        parts.extensions.insert(caller);
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    let needs_check = matches!(need, App(_) | AppLeaveOrManage | AppOwner | Team(_));
    if needs_check && response.status().is_success() && !checked.is_done() {
        return ApiError::internal(format!(
            "{method} {} answered without checking its {need:?} permission",
            guard.path
        ))
        .into_response();
    }
    response
}

/// Checks the `{app}` or `{team}` of the route's path against the row (see the module docs);
/// answers the app and the permission it was checked for.
async fn check_path(
    parts: &mut axum::http::request::Parts,
    state: &AppState,
    caller: &CurrentUser,
) -> Result<Option<(crate::model::App, crate::access::Permission)>, ApiError> {
    let Ok(Path(params)) = Path::<Vec<(String, String)>>::from_request_parts(parts, state).await else {
        return Ok(None);
    };
    let param = |name: &str| params.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str());
    match (caller.need, param("app"), param("team")) {
        (App(_) | AppLeaveOrManage | AppOwner, Some(app), _) => {
            let app = super::extract::route_app(state, caller, app, param("who")).await?;
            Ok(Some((app, super::extract::route_permission(caller, param("who")))))
        }
        (Team(_), _, Some(team)) => super::teams::team_for(state, caller, team).await.map(|_| None),
        _ => Ok(None),
    }
}

/// The caller of a request that went through [`enforce`] (or, on a [`Need::Public`] route that
/// takes an API key anyway, authenticated now).
pub async fn caller(parts: &mut axum::http::request::Parts, state: &AppState) -> Result<CurrentUser, ApiError> {
    if let Some(caller) = parts.extensions.get::<CurrentUser>() {
        return Ok(caller.clone());
    }
    match parts.extensions.get::<Need>() {
        Some(Public) => CurrentUser::authenticate(parts, state).await,
        _ => Err(ApiError::internal("a request reached a handler without its permission row")),
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Need {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Need, ApiError> {
        parts.extensions.get::<Need>().copied().ok_or_else(|| ApiError::internal("no permission row"))
    }
}
