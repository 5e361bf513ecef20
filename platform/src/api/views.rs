//! The JSON shapes of Heroku's Platform API v3 for our domain types.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::PlatformConfig;
use crate::access::{Permissions, TeamRef};
use crate::model::{ApiKey, App, Build, Collaborator, Domain, Dyno, Formation, Release, Slug, User, UserRef};

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

/// The one region (`GET /regions`), in Heroku's shape.
pub fn region() -> Value {
    json!({
        "id": REGION_ID,
        "name": REGION,
        "description": "This paas server",
        "country": null,
        "locale": null,
        "private_capable": false,
        "provider": {"name": "paas", "region": REGION},
        "created_at": "2012-01-01T00:00:00Z",
        "updated_at": "2012-01-01T00:00:00Z",
    })
}

/// The one stack (`GET /stacks`), in Heroku's shape.
pub fn stack() -> Value {
    json!({
        "id": STACK_ID,
        "name": STACK,
        "state": "public",
        "default": true,
        "created_at": "2012-01-01T00:00:00Z",
        "updated_at": "2012-01-01T00:00:00Z",
    })
}

/// A time as Heroku writes it: `2012-01-01T12:00:00Z`.
pub fn time(time: DateTime<Utc>) -> String {
    time.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn user_ref(user: &UserRef) -> Value {
    json!({"id": user.id, "email": user.email})
}

/// `{id, name}` of an app, as resources name their app.
pub fn app_ref(app: &App) -> Value {
    json!({"id": app.id, "name": app.name})
}

/// The owner of an app as Heroku shows it: the user, or for a team app the team's pseudo-user
/// `<team>@herokumanager.com` (the heroku CLI tells team apps by that domain).
pub fn app_owner(app: &App) -> Value {
    match &app.team {
        Some(team) => json!({"id": team.id, "email": format!("{}@herokumanager.com", team.name)}),
        None => user_ref(&app.owner),
    }
}

/// A team, as an app names it.
pub fn team_ref(team: &TeamRef) -> Value {
    json!({"id": team.id, "name": team.name})
}

/// An app.
pub fn app(app: &App, config: &PlatformConfig) -> Value {
    let team = app.team.as_ref().map(team_ref);
    json!({
        "id": app.id,
        "name": app.name,
        "owner": app_owner(app),
        "organization": team,
        "team": team,
        "locked": app.locked,
        "joined": false,
        "space": null,
        "region": {"id": REGION_ID, "name": REGION},
        "stack": {"id": STACK_ID, "name": STACK},
        "build_stack": {"id": STACK_ID, "name": STACK},
        "generation": {"id": CEDAR_ID, "name": "cedar"},
        "git_url": config.git_url(&app.name),
        "web_url": config.web_url(&app.name),
        "repo_size": null,
        "slug_size": null,
        "maintenance": app.maintenance,
        "acm": false,
        "archived_at": null,
        "buildpack_provided_description": null,
        "create_status": "complete",
        "internal_routing": null,
        "created_at": time(app.created_at),
        "released_at": app.released_at.map(time),
        "updated_at": time(app.updated_at),
    })
}

/// The caller's account (`GET /account`); `operator` is our extension.
pub fn account(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email,
        "name": null,
        "allow_tracking": false,
        "beta": false,
        "verified": true,
        "federated": false,
        "two_factor_authentication": false,
        "default_organization": null,
        "default_team": null,
        "identity_provider": null,
        "last_login": null,
        "sms_number": null,
        "suspended_at": null,
        "delinquent_at": null,
        "country_of_residence": null,
        "operator": user.operator,
        "created_at": time(user.created_at),
        "updated_at": time(user.updated_at),
    })
}

/// An API key as an OAuth authorization; `token` only when the caller holds it.
pub fn authorization(key: &ApiKey, user: &User, token: Option<&str>) -> Value {
    json!({
        "id": key.id,
        "description": key.description,
        "scope": ["global"],
        "access_token": token.map(|token| json!({"id": key.id, "token": token, "expires_in": null})),
        "refresh_token": null,
        "grant": null,
        "client": null,
        "session": null,
        "user": {"id": user.id, "email": user.email, "full_name": null},
        "created_at": time(key.created_at),
        "updated_at": time(key.created_at),
    })
}

/// A release.
pub fn release(release: &Release, app: &App) -> Value {
    json!({
        "id": release.id,
        "version": release.version,
        "description": release.description,
        "status": release.status,
        "current": release.current,
        "eligible_for_rollback": release.status == crate::model::RELEASE_SUCCEEDED,
        "user": user_ref(&release.user),
        "app": app_ref(app),
        "slug": release.slug_id.map(|id| json!({"id": id})),
        "addon_plan_names": release.addons,
        "artifacts": [],
        "output_stream_url": null,
        "created_at": time(release.created_at),
        "updated_at": time(release.created_at),
    })
}

/// A formation entry.
pub fn formation(formation: &Formation, app: &App) -> Value {
    json!({
        "id": formation.id,
        "app": app_ref(app),
        "type": formation.process_type,
        "command": formation.command,
        "quantity": formation.quantity,
        "size": formation.size,
        "created_at": time(formation.created_at),
        "updated_at": time(formation.updated_at),
    })
}

/// The app's built-in domain, `<app>.<domain>` (`kind: heroku`).
pub fn default_domain(app: &App, config: &PlatformConfig) -> Value {
    json!({
        "id": app.id,
        "app": app_ref(app),
        "hostname": config.hostname(&app.name),
        "kind": "heroku",
        "cname": null,
        "status": "none",
        "acm_status": null,
        "acm_status_reason": null,
        "sni_endpoint": null,
        "created_at": time(app.created_at),
        "updated_at": time(app.created_at),
    })
}

/// A custom domain (`kind: custom`): point a CNAME at `<app>.<domain>`.
pub fn domain(domain: &Domain, app: &App, config: &PlatformConfig) -> Value {
    json!({
        "id": domain.id,
        "app": app_ref(app),
        "hostname": domain.hostname,
        "kind": "custom",
        "cname": config.hostname(&app.name),
        "status": "none",
        "acm_status": null,
        "acm_status_reason": null,
        "sni_endpoint": domain.sni_endpoint.as_ref().map(|e| json!({"id": e.id, "name": e.name})),
        "created_at": time(domain.created_at),
        "updated_at": time(domain.updated_at),
    })
}

/// A collaborator; the owner is listed too, with role `owner`. `permissions` is there on a team
/// app (Heroku's team-app collaborator) or when the grant is narrower than all four; a personal
/// app's full collaborator has Heroku's plain shape (the heroku CLI then shows no permissions
/// column).
pub fn collaborator(collaborator: &Collaborator, app: &App) -> Value {
    let mut view = json!({
        "id": collaborator.id,
        "app": app_ref(app),
        "user": {"id": collaborator.user.id, "email": collaborator.user.email, "federated": false},
        "role": "collaborator",
        "created_at": time(collaborator.created_at),
        "updated_at": time(collaborator.updated_at),
    });
    if app.team.is_some() || collaborator.permissions != Permissions::ALL {
        view["permissions"] = permissions(collaborator.permissions);
    }
    view
}

/// A permission set as Heroku lists it: `[{"name", "description"}]`.
pub fn permissions(set: Permissions) -> Value {
    set.iter().map(|p| json!({"name": p.name(), "description": p.description()})).collect()
}

/// The owner, in a collaborator listing.
pub fn owner_collaborator(app: &App) -> Value {
    json!({
        "id": app.owner.id,
        "app": app_ref(app),
        "user": {"id": app.owner.id, "email": app.owner.email, "federated": false},
        "role": "owner",
        "created_at": time(app.created_at),
        "updated_at": time(app.created_at),
    })
}

/// A build; its output is at `output_stream_url`, a signed URL that needs no API key.
pub fn build(build: &Build, app: &App, config: &PlatformConfig) -> Value {
    let output_url = format!("{}{}", config.api_url.trim_end_matches('/'), super::builds::output_path(app.id, build.id));
    build_of(build, app, Some(output_url))
}

/// A build with `output_stream_url` given (`null` where there is no API URL to sign it with,
/// as in a webhook's event).
pub fn build_of(build: &Build, app: &App, output_url: Option<String>) -> Value {
    let buildpacks: Vec<Value> = build.buildpack.iter().map(|url| json!({"url": url, "name": url})).collect();
    json!({
        "id": build.id,
        "app": {"id": app.id},
        "status": build.status,
        "user": user_ref(&build.user),
        "source_blob": {"version": build.source_version},
        "slug": build.slug_id.map(|id| json!({"id": id})),
        "release": build.release_id.map(|id| json!({"id": id})),
        "buildpacks": buildpacks,
        "stack": STACK,
        "output_stream_url": output_url,
        "created_at": time(build.created_at),
        "updated_at": time(build.updated_at),
    })
}

/// A slug (Heroku's shape; `checksum` names its archive in the slug store).
pub fn slug(slug: &Slug) -> Value {
    json!({
        "id": slug.id,
        "blob": null,
        "buildpack_provided_description": slug.buildpack,
        "checksum": format!("SHA256:{}", slug.checksum),
        "commit": slug.commit,
        "commit_description": null,
        "process_types": slug.process_types,
        "size": slug.size,
        "stack": {"id": STACK_ID, "name": slug.stack},
        "created_at": time(slug.created_at),
        "updated_at": time(slug.created_at),
    })
}

/// A dyno.
pub fn dyno(dyno: &Dyno, app: &App) -> Value {
    json!({
        "id": dyno.id,
        "app": app_ref(app),
        "name": dyno.name,
        "type": dyno.process_type,
        "command": dyno.command,
        "size": dyno.size,
        "state": dyno.state,
        "attach_url": null,
        "release": {"version": dyno.release_version},
        "created_at": time(dyno.created_at),
        "updated_at": time(dyno.updated_at),
    })
}
