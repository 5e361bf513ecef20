//! Builds over the API: `POST /apps/{app}/builds` with a tarball of the source (`paas deploy`),
//! answered with the build's output as it is written; a build's stored output; the build cache
//! (`DELETE /apps/{app}/build-cache`); the app's buildpack (Heroku's
//! `/apps/{app}/buildpack-installations`); slugs.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::views::SlugView;
use super::{ApiError, AppState};
use crate::deploys::Deploys;

/// The largest source tarball `POST /apps/{app}/builds` takes: 500 MiB.
pub const MAX_SOURCE_SIZE: u64 = 500 * 1024 * 1024;

/// The header naming the build a `POST /apps/{app}/builds` started.
pub const BUILD_ID_HEADER: &str = "paas-build-id";

pub(super) fn deploys(state: &AppState) -> Result<&Deploys, ApiError> {
    state.deploys.as_ref().ok_or_else(|| {
        ApiError::new(StatusCode::NOT_IMPLEMENTED, "not_implemented", "This server does not build apps.")
    })
}

/// The query of `POST /apps/{app}/builds`.
#[derive(Debug, Deserialize)]
pub struct CreateQuery {
    /// The source's version (a git commit), for the release's description.
    source_version: Option<String>,
}

/// `POST /apps/{app}/builds?source_version=SHA` with a tarball (`.tar` or `.tar.gz`) of the
/// source as the body: starts a build and answers `200 text/plain` with its output, line by line
/// as the build writes it; the build's id is in the `Paas-Build-Id` header; its final status is
/// `GET /apps/{app}/builds/{id}`'s once the body ends. A JSON body is Heroku's build from a URL,
/// `{"source_blob": {"url", "version", "checksum"}}` (see [`super::source_blob`]).
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    Query(query): Query<CreateQuery>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let deploys = deploys(&state)?;
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if content_type.contains("json") {
        let body = axum::body::to_bytes(body, super::BODY_LIMIT)
            .await
            .map_err(|e| ApiError::bad_request(format!("Cannot read the request body: {e}")))?;
        return Ok(super::source_blob::create(&state, &caller, &app, &body).await?.into_response());
    }
    let uploads = deploys.builder().config().data_dir.join("uploads");
    tokio::fs::create_dir_all(&uploads).await.map_err(ApiError::internal)?;
    let upload = tempfile::NamedTempFile::new_in(&uploads).map_err(ApiError::internal)?.into_temp_path();
    let mut file = tokio::fs::File::create(&upload).await.map_err(ApiError::internal)?;
    let mut stream = body.into_data_stream();
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("Cannot read the uploaded source: {e}")))?;
        size += chunk.len() as u64;
        if size > MAX_SOURCE_SIZE {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "request_too_large",
                format!("The source is over the limit of {} MiB.", MAX_SOURCE_SIZE >> 20),
            ));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    drop(file);
    if size == 0 {
        return Err(ApiError::invalid("The request body must be a tarball of the source."));
    }
    let source = paas_builder::Source::Tarball(upload.to_path_buf());
    let (build, rx) = deploys.start_build(&app, &caller.user, source, query.source_version, upload).await?;
    let lines = futures::stream::unfold(rx, |mut rx| async move {
        let line = rx.next().await?;
        Some((Ok::<_, std::io::Error>(Bytes::from(format!("{line}\n"))), rx))
    });
    let mut response = Body::from_stream(lines).into_response();
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    response_headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    if let Ok(id) = HeaderValue::from_str(&build.id.to_string()) {
        response_headers.insert(BUILD_ID_HEADER, id);
    }
    Ok(response)
}

/// `GET /apps/{app}/builds/{id}/output` (a build's `output_stream_url`): its output as text;
/// while it runs, the lines so far and then each new one as it is written, until it ends.
pub async fn output(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, build)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    stream_output(&state, &app, &build).await
}

/// A build's output: the lines so far and each new one while it runs, else the stored text.
async fn stream_output(state: &AppState, app: &crate::model::App, build: &str) -> Result<Response, ApiError> {
    let builds = state.ledger.list_builds(app.id).await?;
    let found = builds
        .iter()
        .find(|b| b.id.to_string() == build)
        .ok_or_else(|| ApiError::not_found("Couldn't find that build."))?;
    if let Some(lines) = state.deploys.as_ref().and_then(|d| d.follow_output(found.id)) {
        let body = Body::from_stream(lines.map(|line| Ok::<_, std::io::Error>(Bytes::from(format!("{line}\n")))));
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response());
    }
    let mut text = state.ledger.build_output(found.id).await?.unwrap_or_default();
    if !text.is_empty() {
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

/// The key that signs build output URLs: random per server process (a URL handed out before a
/// restart stops working; the output stays at the authenticated
/// `GET /apps/{app}/builds/{id}/output`).
fn output_key() -> &'static [u8; 32] {
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        rand::fill(&mut key);
        key
    })
}

/// The signature of an output URL: `kind` (`build-output`, `release-output`) of `id` in `app_id`.
pub(super) fn output_signature(kind: &str, app_id: uuid::Uuid, id: uuid::Uuid) -> String {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(output_key());
    hasher.update(format!("{kind}:{app_id}:{id}"));
    hex::encode(hasher.finalize())
}

/// Reads `<app id>.<id>.<signature>` of a signed output URL of `kind`: the app and the id, if the
/// signature is right.
pub(super) fn verify_output_token(kind: &str, token: &str) -> Option<(uuid::Uuid, uuid::Uuid)> {
    let mut parts = token.splitn(3, '.');
    let app_id = uuid::Uuid::parse_str(parts.next()?).ok()?;
    let id = uuid::Uuid::parse_str(parts.next()?).ok()?;
    let signature = parts.next()?;
    let expected = output_signature(kind, app_id, id);
    // Constant time: the signature is the credential.
    let same = expected.len() == signature.len()
        && expected.bytes().zip(signature.bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0;
    same.then_some((app_id, id))
}

/// A build's `output_stream_url` path, `/build-output/<app id>.<build id>.<signature>`: the URL
/// is its own credential (Heroku's output URLs are fetched without the API key, as
/// `heroku releases:output` does).
pub(super) fn output_path(app_id: uuid::Uuid, build_id: uuid::Uuid) -> String {
    format!("/build-output/{app_id}.{build_id}.{}", output_signature("build-output", app_id, build_id))
}

/// `GET /build-output/{token}` (a build's `output_stream_url`, no API key): as
/// `GET /apps/{app}/builds/{id}/output`, for the holder of the signed URL.
pub async fn signed_output(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("No such build output: the URL is wrong or from before the server restarted.");
    let (app_id, build_id) = verify_output_token("build-output", &token).ok_or_else(not_found)?;
    let app = state.ledger.find_app(&app_id.to_string()).await?.ok_or_else(not_found)?;
    stream_output(&state, &app, &build_id.to_string()).await
}

/// `DELETE /apps/{app}/build-cache`: empties the app's build cache (`paas builds:cache:purge`).
pub async fn purge_cache(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    deploys(&state)?.builder().purge_cache(&app.name).await.map_err(ApiError::internal)?;
    Ok((StatusCode::ACCEPTED, Json(json!({}))))
}

/// `GET /apps/{app}/buildpack-installations`: the app's buildpack, if set (Heroku's shape).
pub async fn list_buildpacks(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
) -> Result<Json<Value>, ApiError> {
    let url = state.ledger.buildpack(app.id).await?;
    Ok(Json(installations(url.as_deref())))
}

/// The body of `PUT /apps/{app}/buildpack-installations`.
#[derive(Debug, Deserialize)]
pub struct BuildpackUpdates {
    /// The buildpacks in order; paas runs one (or none: detection).
    updates: Vec<BuildpackUpdate>,
}

/// One entry of [`BuildpackUpdates`].
#[derive(Debug, Deserialize)]
pub struct BuildpackUpdate {
    /// A git URL, a folder path on the server, or the name of a built-in buildpack.
    buildpack: String,
}

/// `PUT /apps/{app}/buildpack-installations` `{"updates": [{"buildpack": URL}]}`: sets the
/// buildpack the next build uses (`[]` clears it: detection). No release is made.
pub async fn update_buildpacks(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<BuildpackUpdates>,
) -> Result<Json<Value>, ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let url = match body.updates.as_slice() {
        [] => None,
        [one] if !one.buildpack.trim().is_empty() => Some(one.buildpack.trim().to_string()),
        [_] => return Err(ApiError::invalid("The buildpack must not be empty.")),
        _ => return Err(ApiError::invalid("paas runs one buildpack per app: give one buildpack, or none.")),
    };
    if let Some(url) = &url {
        check_buildpack(&state, &caller, url)?;
    }
    state.ledger.set_buildpack(app.id, url.as_deref()).await?;
    Ok(Json(installations(url.as_deref())))
}

/// Refuses (422) a buildpack on the server's filesystem named by a tenant: only an operator's key
/// may choose one, or a folder the operator allowed (`paas server --buildpack-path`).
pub(super) fn check_buildpack(state: &AppState, caller: &CurrentUser, url: &str) -> Result<(), ApiError> {
    if caller.user.operator {
        return Ok(());
    }
    let allowed = state.deploys.as_ref().map(|d| d.builder().config().buildpack_paths.clone()).unwrap_or_default();
    paas_builder::buildpack_policy::check_tenant_buildpack(url, &allowed).map_err(|e| ApiError::invalid(e.to_string()))
}

fn installations(url: Option<&str>) -> Value {
    let list: Vec<Value> =
        url.iter().map(|url| json!({"ordinal": 0, "buildpack": {"url": url, "name": url}})).collect();
    Value::Array(list)
}

/// `GET /apps/{app}/slugs/{id}`.
pub async fn slug_info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, slug)): Path<(String, String)>,
) -> Result<Json<SlugView>, ApiError> {
    let not_found = || ApiError::not_found("Couldn't find that slug.");
    let id = uuid::Uuid::parse_str(&slug).map_err(|_| not_found())?;
    let slug = state.ledger.find_slug(app.id, id).await?.ok_or_else(not_found)?;
    Ok(Json(SlugView::new(&slug)))
}
