//! App setups (Heroku's `POST /app-setups`, `GET /app-setups/{id}`): an app made from a source
//! tarball and the `app.json` at its root. The source is fetched as a build from a URL is
//! ([`super::source_blob`]), `app.json` read and checked whole before anything is made (a bad
//! one is a 422 listing every problem, and no app exists); then the app is created with its
//! config vars (`env`: a value, `generator: "secret"`, `required`; `overrides.env` first), its
//! add-ons (`addons`, from the add-on catalog) and the build started (202). When the build has
//! made the first release, the `formation` is applied and `scripts.postdeploy` runs as a one-off
//! dyno; the setup is then `succeeded`, or `failed` with why. Setups are kept in the ledger
//! ([`crate::setups`]), so any node answers for them, also after a restart. Waiting for the build
//! has a deadline ([`BUILD_WAIT`]); a setup still pending past [`DEADLINE`] (its server stopped
//! while it ran) is shown, and recorded, as failed.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::extract::{ApiJson, CurrentUser, may_see};
use super::pipelines::acting_with;
use super::source_blob::SourceBlob;
use super::views::{AppSetupView, BuildView};
use super::{ApiError, AppState};
use crate::access::Permission;
use crate::addons::{AddonServices, catalog};
use crate::model::App;
use crate::names;
use crate::serving::{Changed, Changes, ONEOFF_TIME_LIMIT, OneOffRequest};
use crate::setups::{AppSetup, FAILED, PENDING, SUCCEEDED};

/// How long a setup waits for its build (a build stops itself after 15 minutes).
pub const BUILD_WAIT: Duration = Duration::from_secs(30 * 60);
/// A setup still pending this long after it was made will not end by itself (the server
/// running it stopped): the build's wait, postdeploy's time limit, and a margin.
pub const DEADLINE: Duration = Duration::from_secs(BUILD_WAIT.as_secs() + ONEOFF_TIME_LIMIT.as_secs() + 5 * 60);
/// The largest `app.json`: 256 KiB.
pub const MAX_MANIFEST: u64 = 256 * 1024;
/// Dynos of one process type an `app.json` may ask for.
pub const MAX_QUANTITY: i64 = 100;

/// The body of `POST /app-setups`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    #[serde(default)]
    app: AppBody,
    source_blob: SourceBlob,
    #[serde(default)]
    overrides: Overrides,
}

/// `app` of the body.
#[derive(Debug, Default, Deserialize)]
pub struct AppBody {
    name: Option<String>,
    region: Option<String>,
    stack: Option<String>,
}

/// `overrides` of the body: config vars over app.json's.
#[derive(Debug, Default, Deserialize)]
pub struct Overrides {
    #[serde(default)]
    env: BTreeMap<String, String>,
}

/// An `app.json` (the keys paas acts on; others, such as `name` or `buildpacks`, are read past).
#[derive(Debug, Default, Deserialize)]
struct Manifest {
    #[serde(default)]
    env: BTreeMap<String, EnvSpec>,
    #[serde(default)]
    formation: BTreeMap<String, FormationSpec>,
    #[serde(default)]
    addons: Vec<AddonSpec>,
    #[serde(default)]
    scripts: Scripts,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum EnvSpec {
    Value(String),
    Spec { value: Option<String>, generator: Option<String>, required: Option<bool> },
}

#[derive(Debug, Deserialize)]
struct FormationSpec {
    quantity: Option<i64>,
    size: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum AddonSpec {
    Plan(String),
    Spec {
        plan: String,
        #[serde(rename = "as")]
        attachment: Option<String>,
    },
}

#[derive(Debug, Default, Deserialize)]
struct Scripts {
    postdeploy: Option<Command>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Command {
    Line(String),
    Spec { command: String, size: Option<String> },
}

/// What an `app.json` asks for, checked.
#[derive(Debug, Default)]
struct Plan {
    env: BTreeMap<String, Option<String>>,
    formation: Vec<Value>,
    addons: Vec<Value>,
    postdeploy: Option<(String, Option<String>)>,
}

/// Checks a manifest whole: every problem, or what to do.
fn plan(manifest: Manifest, overrides: BTreeMap<String, String>) -> Result<Plan, Vec<String>> {
    let mut errors = Vec::new();
    let mut plan = Plan::default();
    for (key, spec) in manifest.env {
        let given = overrides.get(&key).cloned();
        let value = match spec {
            EnvSpec::Value(value) => Some(given.unwrap_or(value)),
            EnvSpec::Spec { value, generator, required } => match (given.or(value), generator.as_deref()) {
                (Some(value), _) => Some(value),
                (None, Some("secret")) => Some(crate::auth::generate_api_key()),
                (None, Some(other)) => {
                    errors.push(format!("env.{key}: generator {other:?} is unknown (secret is the one there is)"));
                    None
                }
                (None, None) if required.unwrap_or(true) => {
                    errors.push(format!("env.{key} is required and has no value: give it in overrides.env"));
                    None
                }
                (None, None) => None,
            },
        };
        if let Err(e) = names::validate_config_key(&key) {
            errors.push(format!("env.{key}: {e}"));
        }
        if let Some(value) = value {
            plan.env.insert(key, Some(value));
        }
    }
    for (key, value) in overrides {
        match names::validate_config_key(&key) {
            Ok(()) => {
                plan.env.entry(key).or_insert(Some(value));
            }
            Err(e) => errors.push(format!("overrides.env.{key}: {e}")),
        }
    }
    for (process_type, spec) in manifest.formation {
        let quantity = spec.quantity.unwrap_or(1);
        if !(0..=MAX_QUANTITY).contains(&quantity) {
            errors.push(format!("formation.{process_type}.quantity {quantity} is out of range: 0 to {MAX_QUANTITY}"));
        }
        let size = spec.size.map(|size| names::canonical_size(&size).map(str::to_string)).transpose();
        match size {
            Ok(size) => plan.formation.push(json!({"type": process_type, "quantity": quantity, "size": size})),
            Err(e) => errors.push(format!("formation.{process_type}.size: {e}")),
        }
    }
    for addon in manifest.addons {
        let (text, attachment) = match addon {
            AddonSpec::Plan(text) => (text, None),
            AddonSpec::Spec { plan, attachment } => (plan, attachment),
        };
        if let Err(e) = catalog::resolve_plan(&text) {
            errors.push(format!("addons: {e}"));
        }
        let attachment = attachment.map(|name| name.to_uppercase());
        if let Some(Err(e)) = attachment.as_deref().map(catalog::validate_attachment_name) {
            errors.push(format!("addons: {e}"));
        }
        plan.addons.push(match attachment {
            Some(name) => json!({"plan": text, "attachment": {"name": name}}),
            None => json!({"plan": text}),
        });
    }
    match manifest.scripts.postdeploy {
        None => {}
        Some(Command::Line(command) | Command::Spec { command, size: None }) if !command.trim().is_empty() => {
            plan.postdeploy = Some((command, None));
        }
        Some(Command::Spec { command, size: Some(size) }) if !command.trim().is_empty() => match names::canonical_size(&size) {
            Ok(size) => plan.postdeploy = Some((command, Some(size.to_string()))),
            Err(e) => errors.push(format!("scripts.postdeploy.size: {e}")),
        },
        Some(_) => errors.push("scripts.postdeploy is empty".into()),
    }
    if errors.is_empty() { Ok(plan) } else { Err(errors) }
}

/// The `app.json` at the root of a source tarball (`.tar` or `.tar.gz`), if any: the one at the
/// top, or, when every entry is under one folder (a GitHub tarball), the one at that folder's
/// top. Only that one counts, as on Heroku: `vendor/app.json` or a package's own never does.
/// The tarball is read by the builder's bounded reader ([`paas_builder::source::walk_tar`]): an
/// archive over its bounds (a huge long name or PAX header, too many entries or bytes) is refused
/// with the bound it broke. Blocking.
fn read_manifest(path: &std::path::Path) -> Result<Option<Vec<u8>>, ManifestError> {
    use paas_builder::source;
    use std::ops::ControlFlow;
    let unreadable = |e: std::io::Error| ManifestError::Tarball(e.to_string());
    let reader = source::open_tarball(path).map_err(unreadable)?;
    // The one top folder every entry is under so far (`Some(None)` once two differ or a file is
    // at the top), and the app.json found at that folder's top.
    let mut top: Option<Option<String>> = None;
    let mut nested: Option<Result<Vec<u8>, String>> = None;
    let found = source::walk_tar(reader, |entry| {
        let name = entry.path()?.to_string_lossy().to_string();
        let parts: Vec<&str> = name.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
        let Some(first) = parts.first() else { return Ok(ControlFlow::Continue(())) };
        let folder = (parts.len() > 1 || entry.header().entry_type().is_dir()).then(|| first.to_string());
        top = match top.take() {
            None => Some(folder),
            Some(Some(known)) if folder.as_deref() == Some(known.as_str()) => Some(Some(known)),
            Some(_) => Some(None),
        };
        if parts == ["app.json"] {
            // At the very top: this is the one.
            return Ok(ControlFlow::Break(manifest_bytes(entry)?));
        }
        if parts.len() == 2 && parts[1] == "app.json" && nested.is_none() {
            nested = Some(manifest_bytes(entry)?);
        }
        Ok(ControlFlow::Continue(()))
    });
    let found = match found.map_err(unreadable)? {
        Some(at_top) => Some(at_top),
        // Under a folder: only when that folder holds everything.
        None => nested.filter(|_| matches!(top, Some(Some(_)))),
    };
    found.transpose().map_err(ManifestError::Manifest)
}

/// An app.json entry's bytes: a regular file of at most [`MAX_MANIFEST`] (`Err`: why not).
fn manifest_bytes(entry: &mut paas_builder::source::TarEntry<'_, '_>) -> std::io::Result<Result<Vec<u8>, String>> {
    if !entry.header().entry_type().is_file() {
        return Ok(Err("app.json is not a regular file".into()));
    }
    if entry.size() > MAX_MANIFEST {
        return Ok(Err(format!("app.json is larger than {} KiB", MAX_MANIFEST / 1024)));
    }
    let mut bytes = Vec::new();
    entry.take(MAX_MANIFEST).read_to_end(&mut bytes)?;
    Ok(Ok(bytes))
}

/// Why `app.json` could not be read from a source tarball.
#[derive(Debug)]
enum ManifestError {
    /// The tarball is unreadable or over the bounds of a source.
    Tarball(String),
    /// `app.json` is there but not one paas reads.
    Manifest(String),
}

/// Ends a pending setup in the ledger (a failure to record it is logged).
async fn finish(state: &AppState, id: Uuid, status: &str, failure: Option<String>, postdeploy: Option<(String, i32)>) {
    let postdeploy = postdeploy.as_ref().map(|(output, code)| (output.as_str(), *code));
    if let Err(e) = state.ledger.finish_app_setup(id, status, failure.as_deref(), postdeploy).await {
        tracing::error!("app setup {id}: cannot record it as {status}: {e}");
    }
}

fn invalid_manifest(errors: &[String]) -> ApiError {
    ApiError::invalid(format!("app.json is invalid, so nothing was made: {}.", errors.join("; ")))
}

/// `POST /app-setups` → 202 with the setup (`pending` while it builds).
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    addon_services: Option<Extension<AddonServices>>,
    changes: Option<Extension<Changes>>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<AppSetupView>), ApiError> {
    super::builds::deploys(&state)?;
    let upload = super::source_blob::download(&state, &body.source_blob).await?;
    let path = upload.to_path_buf();
    let manifest = tokio::task::spawn_blocking(move || read_manifest(&path)).await.map_err(ApiError::internal)?;
    let manifest = manifest.map_err(|e| match e {
        ManifestError::Tarball(why) => ApiError::invalid(format!("The source is not a readable tarball, so nothing was made: {why}.")),
        ManifestError::Manifest(why) => invalid_manifest(&[why]),
    });
    let manifest = match manifest? {
        Some(bytes) => serde_json::from_slice::<Manifest>(&bytes).map_err(|e| invalid_manifest(&[e.to_string()]))?,
        None => Manifest::default(),
    };
    let plan = plan(manifest, body.overrides.env).map_err(|errors| invalid_manifest(&errors))?;
    if !plan.addons.is_empty() && addon_services.is_none() {
        return Err(invalid_manifest(&["addons: this server offers no add-ons".into()]));
    }
    let new = super::apps::NewApp { name: body.app.name, region: body.app.region, stack: body.app.stack };
    // From the app's creation to the setup's record, in a task of its own: a client hanging up
    // mid-way (hyper then drops this handler) would leave a half-made app and its add-ons.
    let changes = changes.map(|Extension(changes)| changes);
    let work = make(state, caller, new, plan, addon_services, changes, upload, body.source_blob.version);
    Ok((StatusCode::ACCEPTED, Json(super::detached(work).await?)))
}

/// Creates the app, provisions it (undone whole on failure), records the setup and starts
/// [`after_build`]; answers the setup's view.
#[allow(clippy::too_many_arguments)]
async fn make(
    state: AppState,
    caller: CurrentUser,
    new: super::apps::NewApp,
    plan: Plan,
    addon_services: Option<Extension<AddonServices>>,
    changes: Option<Changes>,
    upload: tempfile::TempPath,
    version: Option<String>,
) -> Result<AppSetupView, ApiError> {
    let app = super::apps::create_app(&state, &caller, new, None).await?;
    // From here the app exists: a failure takes it away again.
    let made = provision(&state, &caller, &app, &plan, addon_services.clone(), upload, version).await;
    let build = match made {
        Ok(build) => build,
        Err(e) => {
            let owner = acting_with(&caller, Permission::Manage);
            if let Err(undo) = super::addons::destroy_with_app(&state, addon_services, &app, &owner).await {
                tracing::error!("app setup: cannot remove the add-ons of {}: {undo}", app.name);
            }
            if let Err(undo) = state.ledger.destroy_app(app.id).await {
                tracing::error!("app setup: cannot remove {}: {undo}", app.name);
            }
            state.logs.forget(app.id, &app.name);
            return Err(e);
        }
    };
    let setup = AppSetup::pending(app.id, build.id);
    state.ledger.create_app_setup(&setup).await?;
    let shown = AppSetupView::new(&setup, &app, Some(BuildView::new(&build, &app, &state.config)));
    tokio::spawn(after_build(state, caller, app, build.id, setup.id, plan, changes));
    Ok(shown)
}

/// Config vars, add-ons and the build.
async fn provision(
    state: &AppState,
    caller: &CurrentUser,
    app: &App,
    plan: &Plan,
    addon_services: Option<Extension<AddonServices>>,
    upload: tempfile::TempPath,
    version: Option<String>,
) -> Result<crate::model::Build, ApiError> {
    if !plan.env.is_empty() {
        let (_, release) = state.ledger.update_config_vars(app.id, caller.user.id, plan.env.clone()).await?;
        if let Some(release) = release {
            super::logs::release_events(state, &app.name, &release, &caller.user.email);
        }
    }
    let manager = acting_with(caller, Permission::Manage);
    for addon in &plan.addons {
        let created = super::addons::create(State(state.clone()), manager.clone(), Path(app.name.clone()), addon_services.clone(), ApiJson(addon.clone()));
        created.await.map(drop)?;
    }
    super::source_blob::start(state, caller, app, upload, version).await
}

/// The first and the longest pause between two looks at a build [`wait_for_build`] waits for.
const POLL: (Duration, Duration) = (Duration::from_millis(250), Duration::from_secs(2));

/// The build once it has ended, polled (every 250 ms at first, backing off to every 2 s) until
/// `wait` has passed; why not, otherwise. The wait ends early once the app is gone: a destroyed
/// app's build may never be recorded as ended.
pub(crate) async fn wait_for_build(ledger: &dyn crate::Ledger, app_id: Uuid, build_id: Uuid, wait: Duration) -> Result<crate::model::Build, String> {
    let deadline = tokio::time::Instant::now() + wait;
    let mut pause = POLL.0;
    loop {
        match ledger.find_app(&app_id.to_string()).await {
            Ok(Some(_)) => {}
            Ok(None) => return Err("The app was destroyed before its build ended.".into()),
            Err(e) => return Err(format!("cannot read the app: {e}")),
        }
        match ledger.list_builds(app_id).await.map(|builds| builds.into_iter().find(|b| b.id == build_id)) {
            Ok(Some(build)) if build.status != crate::model::BUILD_PENDING => return Ok(build),
            Ok(None) => return Err("The build is gone.".into()),
            Ok(Some(_)) if tokio::time::Instant::now() >= deadline => {
                let within = if wait.as_secs() >= 60 { format!("{} minutes", wait.as_secs() / 60) } else { format!("{} ms", wait.as_millis()) };
                return Err(format!("The build did not end within {within}."));
            }
            Ok(Some(_)) => {
                tokio::time::sleep(pause.min(deadline.saturating_duration_since(tokio::time::Instant::now()))).await;
                pause = (pause * 2).min(POLL.1);
            }
            Err(e) => return Err(format!("cannot read the build: {e}")),
        }
    }
}

/// Once the build is done: the formation (reported to the serving side on `changes`: no
/// request's response carries it, and on a single node the sweep does not see a formation
/// change), then `postdeploy`; records how it went.
async fn after_build(state: AppState, caller: CurrentUser, app: App, build_id: Uuid, id: Uuid, plan: Plan, changes: Option<Changes>) {
    let failed = |why: String| finish(&state, id, FAILED, Some(why), None);
    let build = match wait_for_build(state.ledger.as_ref(), app.id, build_id, BUILD_WAIT).await {
        Ok(build) => build,
        Err(why) => return failed(why).await,
    };
    if build.status != crate::model::BUILD_SUCCEEDED {
        return failed(format!("The build failed: see its output at GET /apps/{}/builds/{build_id}/output.", app.name)).await;
    }
    if !plan.formation.is_empty() {
        let operator = acting_with(&caller, Permission::Operate);
        let body = serde_json::from_value(json!({"updates": plan.formation}));
        let scaled = match body {
            Ok(body) => super::formation::batch_update(State(state.clone()), operator, Path(app.name.clone()), ApiJson(body)).await,
            Err(e) => Err(ApiError::internal(e)),
        };
        match scaled {
            // Sent, not waited for: postdeploy need not wait for the dynos.
            Ok((Changed(change), _)) => drop(changes.as_ref().map(|changes| changes.send(change))),
            Err(e) => return failed(format!("The formation of app.json could not be applied: {}", e.message())).await,
        }
    }
    let Some((command, size)) = plan.postdeploy else { return finish(&state, id, SUCCEEDED, None, None).await };
    let Some(deploys) = &state.deploys else { return failed("This server runs no dynos: postdeploy did not run.".into()).await };
    // A size needs the owner's grant, as `heroku run --size` does (oneoff.rs).
    if let Some(size) = &size
        && let Err(e) = super::sizes::check(&state, &caller, &app, &[size.as_str()]).await
    {
        return failed(format!("postdeploy did not run: {}", e.message())).await;
    }
    let mut request = OneOffRequest::new("postdeploy", command);
    request.size = size;
    // run_to_end keeps the last lines itself; a sink that kept them all would grow without bound.
    // Its time limit is the one-offs' (ONEOFF_TIME_LIMIT): the setup's DEADLINE counts on it.
    match deploys.release_phase().run_to_end(&app, request, &paas_builder::Discard).await {
        Ok((0, lines)) => finish(&state, id, SUCCEEDED, None, Some((lines.join("\n"), 0))).await,
        Ok((code, lines)) => {
            finish(&state, id, FAILED, Some(format!("postdeploy exited with code {code}.")), Some((lines.join("\n"), code))).await;
        }
        Err(why) => failed(format!("postdeploy did not run: {why}")).await,
    }
}

/// `GET /app-setups/{id}`: a setup of an app the caller may see.
pub async fn info(State(state): State<AppState>, caller: CurrentUser, Path(id): Path<String>) -> Result<Json<AppSetupView>, ApiError> {
    let not_found = || ApiError::not_found("Couldn't find that app setup.");
    let id = Uuid::parse_str(&id).map_err(|_| not_found())?;
    let mut setup = state.ledger.find_app_setup(id).await?.ok_or_else(not_found)?;
    let app = state.ledger.find_app(&setup.app_id.to_string()).await?.ok_or_else(not_found)?;
    if !may_see(&state, &caller.user, &app).await? {
        return Err(not_found());
    }
    let overdue = Utc::now() - setup.created_at > chrono::Duration::from_std(DEADLINE).unwrap_or(chrono::Duration::MAX);
    if setup.status == PENDING && overdue {
        let why = format!(
            "The setup did not end within {} minutes: the server running it stopped. Push again or run postdeploy yourself.",
            DEADLINE.as_secs() / 60
        );
        setup = state.ledger.finish_app_setup(id, FAILED, Some(&why), None).await?.ok_or_else(not_found)?;
    }
    let builds = state.ledger.list_builds(app.id).await?;
    let build = builds.iter().find(|b| Some(b.id) == setup.build_id).map(|b| BuildView::new(b, &app, &state.config));
    Ok(Json(AppSetupView::new(&setup, &app, build)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(manifest: Value, overrides: &[(&str, &str)]) -> Result<Plan, Vec<String>> {
        let overrides = overrides.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        plan(serde_json::from_value(manifest).unwrap(), overrides)
    }

    #[test]
    fn an_app_json_is_checked_whole_before_anything_is_made() {
        let errors = plan_of(
            json!({
                "env": {"TOKEN": {"required": true}, "SEED": {"generator": "uuid"}, "bad key": "x"},
                "formation": {"web": {"quantity": 1000, "size": "huge"}},
                "addons": ["heroku-mysql"],
                "scripts": {"postdeploy": " "},
            }),
            &[],
        )
        .unwrap_err();
        assert_eq!(errors.len(), 7, "{errors:#?}");
        assert!(errors[0].starts_with("env.SEED: generator \"uuid\" is unknown"), "{errors:#?}");
        assert!(errors.iter().any(|e| e == "env.TOKEN is required and has no value: give it in overrides.env"), "{errors:#?}");
        assert!(errors.iter().any(|e| e.starts_with("formation.web.quantity 1000 is out of range")), "{errors:#?}");
        assert_eq!(errors.last().unwrap(), "scripts.postdeploy is empty");
    }

    /// A gzipped tarball whose first entry is an extension header of `kind` declaring 8 MiB (of
    /// zeros: 8 KiB gzipped), then an `app.json`.
    fn tarball_bomb(kind: tar::EntryType) -> tempfile::NamedTempFile {
        use std::io::Write;
        let file = tempfile::NamedTempFile::new().unwrap();
        let mut gz = flate2::write::GzEncoder::new(file.reopen().unwrap(), flate2::Compression::default());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_size(8 << 20);
        header.set_cksum();
        gz.write_all(header.as_bytes()).unwrap();
        gz.write_all(&vec![0u8; 8 << 20]).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_path("app.json").unwrap();
        header.set_size(2);
        header.set_cksum();
        gz.write_all(header.as_bytes()).unwrap();
        gz.write_all(b"{}").unwrap();
        gz.write_all(&[0u8; 510 + 1024]).unwrap();
        gz.finish().unwrap();
        file
    }

    /// read_manifest walked the tarball with tar's reader unbounded: a 1 MB upload declaring a
    /// 1 GiB long name made the server hold 1 GiB (review 4, finding 1).
    #[test]
    fn a_tarball_bomb_with_a_huge_long_name_or_pax_header_is_refused_before_it_is_read() {
        for kind in [tar::EntryType::GNULongName, tar::EntryType::XHeader] {
            let bomb = tarball_bomb(kind);
            assert!(std::fs::metadata(bomb.path()).unwrap().len() < 64 << 10);
            match read_manifest(bomb.path()) {
                Err(ManifestError::Tarball(why)) => assert_eq!(
                    why,
                    "the source archive has a 8388608-byte extension header (long name or PAX records); paas allows 65536"
                ),
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn app_json_is_read_from_the_root_or_the_one_folder_of_a_tarball() {
        let file = tarball(&[("repo-main/src/app.json", "no"), ("repo-main/app.json", "{\"env\": {}}")]);
        assert_eq!(read_manifest(file.path()).unwrap().as_deref(), Some(&b"{\"env\": {}}"[..]));
    }

    /// A tarball of `(path, text)` files, in that order.
    fn tarball(files: &[(&str, &str)]) -> tempfile::NamedTempFile {
        let mut builder = tar::Builder::new(Vec::new());
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            builder.append_data(&mut header, path, text.as_bytes()).unwrap();
        }
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), builder.into_inner().unwrap()).unwrap();
        file
    }

    /// `vendor/app.json` (or any `<folder>/app.json`) was taken for the root one when it came
    /// first in the tarball (review): only the root's counts, or the one folder's of a GitHub
    /// tarball.
    #[test]
    fn vendor_app_json_never_wins_over_the_root_one() {
        let root = tarball(&[("vendor/app.json", "{\"vendored\": 1}"), ("Procfile", "web: x"), ("app.json", "{\"root\": 1}")]);
        assert_eq!(read_manifest(root.path()).unwrap().as_deref(), Some(&b"{\"root\": 1}"[..]));
        let none = tarball(&[("vendor/app.json", "{\"vendored\": 1}"), ("Procfile", "web: x")]);
        assert_eq!(read_manifest(none.path()).unwrap(), None, "a folder's app.json is not the app's");
        let two = tarball(&[("vendor/app.json", "{}"), ("lib/x.rb", "")]);
        assert_eq!(read_manifest(two.path()).unwrap(), None, "two top folders: not a GitHub tarball");
        let github = tarball(&[("repo-main/Procfile", "web: x"), ("repo-main/app.json", "{\"gh\": 1}")]);
        assert_eq!(read_manifest(github.path()).unwrap().as_deref(), Some(&b"{\"gh\": 1}"[..]));
    }

    /// `after_build` polled for the build with no deadline: a build that never ended (its server
    /// stopped) kept the task polling forever.
    #[tokio::test]
    async fn waiting_for_a_build_that_never_ends_has_a_deadline() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::open(&crate::ledger::sqlite_url(dir.path())).await.unwrap();
        let (alice, _) = ledger.create_user("alice@example.com", None, false).await.unwrap();
        let app = ledger.create_app("setup", alice.id).await.unwrap();
        let build = ledger.create_build(app.id, alice.id, None, None).await.unwrap();
        let started = std::time::Instant::now();
        let waited = wait_for_build(ledger.as_ref(), app.id, build.id, Duration::from_millis(300)).await;
        assert_eq!(waited.unwrap_err(), "The build did not end within 300 ms.");
        assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
        ledger.finish_build(build.id, crate::model::BUILD_FAILED, None, None).await.unwrap();
        let ended = wait_for_build(ledger.as_ref(), app.id, build.id, Duration::from_millis(300)).await.unwrap();
        assert_eq!(ended.status, crate::model::BUILD_FAILED);
    }

    /// An abandoned setup (its app destroyed, its build left pending) polled the ledger 4 times a
    /// second for the whole 30 minutes (review4b F8): it now ends once the app is gone.
    #[tokio::test]
    async fn waiting_for_the_build_of_a_destroyed_app_ends_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::open(&crate::ledger::sqlite_url(dir.path())).await.unwrap();
        let (alice, _) = ledger.create_user("alice@example.com", None, false).await.unwrap();
        let app = ledger.create_app("setup", alice.id).await.unwrap();
        let build = ledger.create_build(app.id, alice.id, None, None).await.unwrap();
        let waiting = {
            let ledger = ledger.clone();
            tokio::spawn(async move { wait_for_build(ledger.as_ref(), app.id, build.id, BUILD_WAIT).await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        ledger.destroy_app(app.id).await.unwrap();
        let waited = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("the wait ends with the app").unwrap();
        assert_eq!(waited.unwrap_err(), "The app was destroyed before its build ended.");
    }

    /// app.json's formation was written by calling the formation handler directly, and the
    /// change it returned dropped: on a single node the dynos did not follow it until some later
    /// change (review4b F1). It is reported on the change feed.
    #[tokio::test]
    async fn the_formation_of_app_json_is_reported_to_the_serving_side() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = crate::ledger::open(&crate::ledger::sqlite_url(dir.path())).await.unwrap();
        let (_, token) = ledger.create_user("operator@localhost", None, true).await.unwrap();
        let (user, key) = ledger.authenticate_key(&token).await.unwrap().unwrap();
        let caller = CurrentUser { user, key, token, need: super::super::permissions::Need::Public, checked: Default::default(), route_app: None };
        let app = ledger.create_app("setup", caller.user.id).await.unwrap();
        let build = ledger.create_build(app.id, caller.user.id, None, None).await.unwrap();
        // What the build made: a slug with a web and a worker process, and its release.
        let process_types: crate::model::ProcessTypes = [("web", "serve"), ("worker", "work")].map(|(k, v)| (k.to_string(), v.to_string())).into();
        let slug = crate::model::NewSlug {
            checksum: "sha256:0".into(),
            size: 1,
            stack: "heroku-24".into(),
            commit: None,
            buildpack: None,
            process_types: process_types.clone(),
        };
        let slug = ledger.create_slug(app.id, slug).await.unwrap();
        let release = crate::model::NewRelease { slug_id: slug.id, process_types, description: "Deploy".into() };
        ledger.create_release(app.id, caller.user.id, release).await.unwrap();
        ledger.finish_build(build.id, crate::model::BUILD_SUCCEEDED, None, None).await.unwrap();
        let setup = AppSetup::pending(app.id, build.id);
        ledger.create_app_setup(&setup).await.unwrap();
        let config = super::super::PlatformConfig { domain: "localhost".into(), router_port: None, api_url: "http://127.0.0.1:5000".into() };
        let state = AppState {
            ledger: ledger.clone(),
            config: std::sync::Arc::new(config),
            deploys: None,
            logs: Default::default(),
            limits: Default::default(),
        };
        let plan = plan_of(json!({"formation": {"web": {"quantity": 0}, "worker": {"quantity": 1}}}), &[]).unwrap();
        let (changes, mut feed) = Changes::channel();
        after_build(state, caller, app, build.id, setup.id, plan, Some(changes)).await;
        let ended = ledger.find_app_setup(setup.id).await.unwrap().unwrap();
        assert_eq!((ended.status.as_str(), ended.failure_message.as_deref()), (SUCCEEDED, None));
        let formation = ledger.list_formation(setup.app_id).await.unwrap();
        assert!(formation.iter().any(|f| f.process_type == "worker" && f.quantity == 1), "{formation:?}");
        let notice = feed.try_recv().expect("the formation's change was reported");
        assert_eq!(notice.change, crate::serving::Change::App("setup".into()));
    }

    #[test]
    fn env_takes_overrides_then_values_then_generated_secrets() {
        let plan = plan_of(
            json!({
                "env": {"A": "a", "B": {"value": "b"}, "SECRET": {"generator": "secret"}, "OPT": {"required": false}, "C": {"value": "c"}},
                "formation": {"web": {"quantity": 2, "size": "standard-1x"}},
                "addons": [{"plan": "heroku-postgresql", "as": "db"}],
                "scripts": {"postdeploy": {"command": "bin/seed", "size": "basic"}},
            }),
            &[("C", "given"), ("EXTRA", "x")],
        )
        .unwrap();
        let env: Vec<(&str, &str)> = plan.env.iter().map(|(k, v)| (k.as_str(), v.as_deref().unwrap())).collect();
        assert_eq!(&env[..3], [("A", "a"), ("B", "b"), ("C", "given")]);
        assert_eq!(env[3], ("EXTRA", "x"));
        assert_eq!(env[4].0, "SECRET");
        assert_eq!(env[4].1.len(), 64);
        assert_eq!(plan.formation, [json!({"type": "web", "quantity": 2, "size": "Standard-1X"})]);
        assert_eq!(plan.addons, [json!({"plan": "heroku-postgresql", "attachment": {"name": "DB"}})]);
        assert_eq!(plan.postdeploy, Some(("bin/seed".to_string(), Some("Basic".to_string()))));
    }
}
