//! The Platform API: Heroku's Platform API v3 on the wire (paths, field names, Range
//! pagination, `{"id", "message"}` errors), served by axum at the root. [`app`] builds the
//! router; it is tested in-process and served by `paas_node::server`.

mod account;
mod app_setups;
mod addon_attachments;
mod addon_services;
mod addons;
mod apps;
mod autoscaling;
mod builds;
mod catalog;
mod config_vars;
pub mod dashboard;
mod error;
mod extract;
mod features;
mod formation;
pub mod limits;
mod log_drains;
mod nodes;
mod logs;
mod metrics;
mod oneoff;
mod pipeline_promotions;
mod pipelines;
pub mod openapi;
pub mod openapi_schemas;
pub mod permissions;
pub mod range;
mod release_output;
mod releases;
mod resources;
mod scheduler;
mod sizes;
mod sni_endpoints;
mod source_blob;
mod sources;
mod team_apps;
mod teams;
mod webhooks;
pub mod views;

use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderValue, Method, Uri};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get, post};
use axum::Router;

pub use error::ApiError;
pub use extract::CurrentUser;

use crate::ledger::Ledger;

/// The largest request body: 1 MiB.
pub const BODY_LIMIT: usize = 1024 * 1024;

/// What the API needs to render URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformConfig {
    /// Apps are served at `<app>.<domain>`.
    pub domain: String,
    /// The router's port, when it is not 80 (it then appears in `web_url`).
    pub router_port: Option<u16>,
    /// The API's base URL, `http://127.0.0.1:5000` (git is served from it).
    pub api_url: String,
}

impl PlatformConfig {
    /// `<app>.<domain>`.
    pub fn hostname(&self, app: &str) -> String {
        format!("{app}.{}", self.domain)
    }
    /// `http://<app>.<domain>[:port]/`.
    pub fn web_url(&self, app: &str) -> String {
        match self.router_port {
            Some(port) if port != 80 => format!("http://{}:{port}/", self.hostname(app)),
            _ => format!("http://{}/", self.hostname(app)),
        }
    }
    /// `<api url>/<app>.git`.
    pub fn git_url(&self, app: &str) -> String {
        format!("{}/{app}.git", self.api_url.trim_end_matches('/'))
    }
}

/// The API's shared state.
#[derive(Clone)]
pub struct AppState {
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    /// URLs and names.
    pub config: Arc<PlatformConfig>,
    /// The builder and git endpoint (`None`: builds are answered 501, e.g. in API-only tests).
    pub deploys: Option<crate::deploys::Deploys>,
    /// The log collator: API events go in, log sessions and drains read it.
    pub logs: crate::logplex::Logplex,
    /// What one account may take: requests per hour, one-off dynos per app.
    pub limits: Arc<limits::Limits>,
}

/// Runs work that makes several things, and undoes them on failure, to its end even when the
/// client goes away: hyper drops a handler's future when its connection closes, which would stop
/// the work at any `.await`, half-made. The work runs in its own task, which the handler awaits.
async fn detached<T: Send + 'static>(work: impl Future<Output = Result<T, ApiError>> + Send + 'static) -> Result<T, ApiError> {
    tokio::spawn(work).await.map_err(ApiError::internal)?
}

/// [`detached`] for work whose writes change what the serving side runs: the task itself
/// reports its [`crate::serving::Changed`]s once the work succeeds (the feed comes from
/// [`crate::serving::notify_changes`]), so that a client hanging up loses no report; the handler
/// then waits, up to [`crate::serving::APPLY_WAIT`], until they are applied. Such a handler
/// returns no `Changed` of its own.
async fn detached_changing<T: Send + 'static>(
    changes: Option<axum::Extension<crate::serving::Changes>>,
    work: impl Future<Output = Result<(Vec<crate::serving::Changed>, T), ApiError>> + Send + 'static,
) -> Result<T, ApiError> {
    let reporting = async move {
        let (changed, value) = work.await?;
        let mut applied = Vec::new();
        if let Some(axum::Extension(changes)) = changes {
            for crate::serving::Changed(change) in changed {
                applied.push(changes.send(change));
            }
        }
        Ok((applied, value))
    };
    let (applied, value) = detached(reporting).await?;
    let _ = tokio::time::timeout(crate::serving::APPLY_WAIT, futures::future::join_all(applied)).await;
    Ok(value)
}

/// The API's routes as they are added: each gets [`permissions::enforce`] for its own methods
/// (a method a route does not serve stays a plain 405), and its path is recorded for the test
/// that walks the permission table. Every route must be added here: a `Router` merged in
/// beside it would bypass the table.
struct Routes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
    state: AppState,
}

impl Routes {
    /// Adds a route, under the permission table.
    fn route(mut self, path: &'static str, methods: MethodRouter<AppState>) -> Routes {
        let guard = permissions::Guard { state: self.state.clone(), path };
        let methods = methods.route_layer(middleware::from_fn_with_state(guard, permissions::enforce));
        self.router = self.router.route(path, methods);
        self.paths.push(path);
        self
    }
}

/// The Platform API router.
pub fn app(state: AppState) -> Router {
    app_and_paths(state).0
}

/// The Platform API router and the path templates of its routes (what the permission table's
/// test walks).
pub fn app_and_paths(state: AppState) -> (Router, Vec<&'static str>) {
    let routes = Routes { router: Router::new(), paths: Vec::new(), state: state.clone() };
    let Routes { router, paths, .. } = routes
        .route("/openapi.json", get(openapi::document))
        .route("/dashboard", get(dashboard::root))
        .route("/dashboard/", get(dashboard::index))
        .route("/dashboard/{*file}", get(dashboard::file))
        .route("/paas/ca.pem", get(oneoff::ca_pem))
        .route("/account", get(account::info).patch(account::update))
        .route("/users", post(account::create_user))
        .route("/users/{user}", get(sizes::info).patch(sizes::update))
        .route("/users/{user}/apps", get(apps::list_for_user))
        .route("/oauth/authorizations", get(account::list_authorizations).post(account::create_authorization))
        .route(
            "/oauth/authorizations/{id}",
            get(account::authorization_info).delete(account::delete_authorization),
        )
        .route("/oauth/sessions", get(catalog::oauth_sessions))
        .route("/oauth/sessions/{id}", axum::routing::delete(account::delete_session))
        .route("/account/features", get(catalog::account_features))
        .route("/regions", get(catalog::regions))
        .route("/stacks", get(catalog::stacks))
        .route("/dyno-sizes", get(catalog::dyno_sizes))
        .route("/apps", get(apps::list).post(apps::create))
        .route("/apps/{app}", get(apps::info).patch(apps::update).delete(apps::destroy))
        .route("/apps/{app}/config-vars", get(config_vars::info).patch(config_vars::update))
        .route("/apps/{app}/releases", get(releases::list).post(releases::create))
        .route("/apps/{app}/releases/{release}", get(releases::info))
        .route("/apps/{app}/releases/{release}/config-vars", get(releases::config_vars))
        .route("/release-output/{token}", get(release_output::signed_output))
        .route("/apps/{app}/formation", get(formation::list).patch(formation::batch_update))
        .route("/apps/{app}/formation/{type}", get(formation::info).patch(formation::update))
        .route("/apps/{app}/formations/{type}", axum::routing::delete(formation::restart_type))
        .route("/apps/{app}/formations/{type}/actions/stop", post(formation::stop_type))
        .route(
            "/apps/{app}/dynos",
            get(formation::list_dynos).post(oneoff::run).delete(formation::restart_all),
        )
        .route("/apps/{app}/dynos/{dyno}", get(formation::dyno_info).delete(formation::restart_dyno))
        .route("/apps/{app}/dynos/{dyno}/actions/stop", post(formation::stop_dyno))
        .route(
            "/apps/{app}/builds",
            get(resources::list_builds).post(builds::create).layer(DefaultBodyLimit::disable()),
        )
        .route("/apps/{app}/builds/{build}", get(resources::build_info))
        .route("/sources", post(sources::create))
        .route("/sources/{token}", get(sources::get).put(sources::put).layer(DefaultBodyLimit::disable()))
        .route("/apps/{app}/builds/{build}/output", get(builds::output))
        .route("/build-output/{token}", get(builds::signed_output))
        .route("/apps/{app}/build-cache", axum::routing::delete(builds::purge_cache))
        .route(
            "/apps/{app}/buildpack-installations",
            get(builds::list_buildpacks).put(builds::update_buildpacks),
        )
        .route("/apps/{app}/slugs/{slug}", get(builds::slug_info))
        .route("/apps/{app}/log-sessions", post(logs::create))
        .route("/log-sessions/{token}", get(logs::stream))
        .route("/apps/{app}/log-drains", get(log_drains::list).post(log_drains::create))
        .route("/apps/{app}/log-drains/{drain}", get(log_drains::info).delete(log_drains::remove))
        .route("/metrics", get(metrics::prometheus))
        .route("/apps/{app}/metrics", get(metrics::app))
        .route(
            "/apps/{app}/formation/{type}/autoscaling",
            get(autoscaling::info).put(autoscaling::enable).delete(autoscaling::disable),
        )
        .route("/apps/{app}/features", get(features::list))
        .route("/apps/{app}/features/{name}", get(features::info).patch(features::update))
        .route("/apps/{app}/scheduled-jobs", get(scheduler::list).post(scheduler::create))
        .route("/apps/{app}/scheduled-jobs/{job}", get(scheduler::info).delete(scheduler::remove))
        .route("/apps/{app}/addons", get(addons::list_for_app).post(addons::create))
        .route(
            "/apps/{app}/addons/{addon}",
            get(addons::info_for_app).patch(addons::update).delete(addons::destroy),
        )
        .route("/apps/{app}/addon-attachments", get(addon_attachments::list_for_app))
        .route("/apps/{app}/addon-attachments/{attachment}", get(addon_attachments::info_for_app))
        .route("/addons", get(addons::list))
        .route("/addons/{addon}", get(addons::info))
        .route("/addons/{addon}/addon-attachments", get(addon_attachments::list_for_addon))
        .route("/addon-attachments", get(addon_attachments::list).post(addon_attachments::create))
        .route("/addon-attachments/{id}", get(addon_attachments::info).delete(addon_attachments::remove))
        .route("/actions/addons/resolve", post(addon_attachments::resolve_addons))
        .route("/actions/addon-attachments/resolve", post(addon_attachments::resolve_attachments))
        .route("/addon-services", get(addon_services::list))
        .route("/addon-services/{service}", get(addon_services::info))
        .route("/addon-services/{service}/plans", get(addon_services::plans))
        .route("/addon-services/{service}/plans/{plan}", get(addon_services::plan_info))
        .route("/plans", get(addon_services::all_plans))
        .route("/apps/{app}/sni-endpoints", get(sni_endpoints::list).post(sni_endpoints::create))
        .route(
            "/apps/{app}/sni-endpoints/{endpoint}",
            get(sni_endpoints::info).patch(sni_endpoints::update).delete(sni_endpoints::remove),
        )
        .route("/apps/{app}/domains", get(resources::list_domains).post(resources::add_domain))
        .route(
            "/apps/{app}/domains/{domain}",
            get(resources::domain_info).patch(sni_endpoints::update_domain).delete(resources::remove_domain),
        )
        .route(
            "/apps/{app}/collaborators",
            get(resources::list_collaborators).post(resources::add_collaborator),
        )
        .route(
            "/apps/{app}/collaborators/{who}",
            get(resources::collaborator_info).delete(resources::remove_collaborator),
        )
        .route("/teams", get(teams::list).post(teams::create))
        .route("/teams/permissions", get(teams::permissions))
        .route("/team-app-permissions", get(teams::permissions))
        .route("/teams/{team}", get(teams::info).delete(teams::destroy))
        .route("/teams/{team}/features", get(teams::features))
        .route(
            "/teams/{team}/members",
            get(teams::members).post(teams::add_member).put(teams::add_member).patch(teams::update_member),
        )
        .route("/teams/{team}/members/{member}", axum::routing::delete(teams::remove_member))
        .route("/teams/{team}/apps", get(team_apps::list))
        .route("/teams/apps", post(team_apps::create))
        .route("/teams/apps/{app}", get(team_apps::info).patch(team_apps::update))
        .route(
            "/teams/apps/{app}/collaborators",
            get(resources::list_collaborators).post(resources::add_collaborator),
        )
        .route(
            "/teams/apps/{app}/collaborators/{who}",
            get(resources::collaborator_info)
                .patch(resources::update_collaborator)
                .delete(resources::remove_collaborator),
        )
        .route("/account/app-transfers", post(team_apps::transfer_request))
        .route("/app-setups", post(app_setups::create))
        .route("/app-setups/{setup}", get(app_setups::info))
        .route("/pipelines", get(pipelines::list).post(pipelines::create))
        .route("/pipelines/{pipeline}", get(pipelines::info).patch(pipelines::update).delete(pipelines::destroy))
        .route("/pipelines/{pipeline}/pipeline-couplings", get(pipelines::pipeline_couplings))
        .route("/pipeline-couplings", get(pipelines::list_couplings).post(pipelines::create_coupling))
        .route(
            "/pipeline-couplings/{coupling}",
            get(pipelines::coupling_info).patch(pipelines::update_coupling).delete(pipelines::remove_coupling),
        )
        .route("/apps/{app}/pipeline-couplings", get(pipelines::app_coupling))
        .route("/filters/apps", post(pipelines::filter_apps))
        .route("/pipeline-promotions", post(pipeline_promotions::create))
        .route("/pipeline-promotions/{promotion}", get(pipeline_promotions::info))
        .route("/pipeline-promotions/{promotion}/promotion-targets", get(pipeline_promotions::targets))
        .route("/apps/{app}/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/apps/{app}/webhooks/{webhook}", get(webhooks::info).patch(webhooks::update).delete(webhooks::remove))
        .route("/apps/{app}/webhook-deliveries", get(webhooks::deliveries))
        .route("/apps/{app}/webhook-deliveries/{delivery}", get(webhooks::delivery_info))
        .route("/apps/{app}/webhook-events", get(webhooks::events))
        .route("/apps/{app}/webhook-events/{event}", get(webhooks::event_info))
        .route("/nodes", get(nodes::list))
        .route("/nodes/tokens", post(nodes::create_token))
        .route("/grid/node", get(nodes::whoami))
        .route("/grid/slugs/{checksum}", get(crate::grid::slugs::serve))
        .route("/grid/apps/{app_id}/dynos", get(crate::grid::dynos::serve))
        .route("/grid/apps/{app_id}/logs", get(crate::grid::logs::serve))
        .route("/grid/apps/{app_id}/latency", get(crate::autoscale::latency::serve));
    let router = router
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(middleware::from_fn(check_accept))
        .layer(middleware::from_fn(limits::remaining_header))
        .layer(middleware::map_response(error::log_internal_errors))
        .layer(middleware::map_response(add_request_id))
        .with_state(state);
    (router, paths)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::not_found(format!("Not found: {method} {}", uri.path()))
}

async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("Method {method} is not allowed on {}", uri.path()),
    )
}

/// Accepts `application/vnd.heroku+json; version=3` and its variants (`3.sdk`, …), plain JSON
/// and no `Accept` at all; another API version is a 400.
async fn check_accept(request: Request, next: Next) -> Response {
    let accept = request.headers().get(http::header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    if accept.contains("vnd.heroku+json") {
        let version = accept
            .split(';')
            .filter_map(|param| param.trim().strip_prefix("version="))
            .next()
            .unwrap_or("3");
        if version != "3" && !version.starts_with("3.") {
            return axum::response::IntoResponse::into_response(ApiError::bad_request(format!(
                "Unsupported API version {version}: this server speaks version 3 \
                 (Accept: application/vnd.heroku+json; version=3)."
            )));
        }
    }
    next.run(request).await
}

/// Gives every response a `Request-Id`, as Heroku does.
async fn add_request_id(mut response: Response) -> Response {
    if let Ok(value) = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string()) {
        response.headers_mut().insert("request-id", value);
    }
    response
}
