//! `POST /sources` (Heroku's source endpoint): a put/get URL pair on this server's own blob store
//! (`<data dir>/sources`), for `POST /apps/{app}/builds {"source_blob": {"url": get_url}}`. The
//! URL's token is the credential (256 random bits, as API keys); it names a blob that `POST
//! /sources` registered, expires after [`EXPIRES_IN`], and holds at most [`MAX_BLOB_SIZE`]; a
//! user has at most [`MAX_PER_USER`] at once.
//! A blob is written to a temporary file and renamed into place, so a reader sees the whole of
//! one upload or none.

use std::path::{Path as FsPath, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use super::extract::CurrentUser;
use super::{ApiError, AppState};

/// How long a source URL pair works: one hour.
pub const EXPIRES_IN: Duration = Duration::from_secs(3600);

/// The largest blob: 1 GiB, what a git push may send.
pub const MAX_BLOB_SIZE: u64 = paas_builder::git::MAX_PUSH_SIZE;

/// The blob store's folder, when this server builds.
pub(super) fn store(state: &AppState) -> Result<PathBuf, ApiError> {
    let deploys = super::builds::deploys(state)?;
    Ok(deploys.builder().config().data_dir.join("sources"))
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The most live sources one user may have at once (each up to [`MAX_BLOB_SIZE`]).
pub const MAX_PER_USER: usize = 10;

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The expiry (unix seconds) and owner (a user id, 32 hex digits) of a well-formed token,
/// `<expiry>-<owner>-<64 hex digits>`; `None` for anything else (so a token never names a path
/// outside the store).
fn parse_token(token: &str) -> Option<(u64, &str)> {
    let mut parts = token.splitn(3, '-');
    let (expires, owner, secret) = (parts.next()?, parts.next()?, parts.next()?);
    let digits = !expires.is_empty() && expires.len() <= 12 && expires.bytes().all(|b| b.is_ascii_digit());
    if !(digits && is_hex(owner, 32) && is_hex(secret, 64)) {
        return None;
    }
    Some((expires.parse().ok()?, owner))
}

fn expiry(token: &str) -> Option<u64> {
    parse_token(token).map(|(expires, _)| expires)
}

/// The blob a live token names (registered by `POST /sources`, not expired), or the 404 every
/// other token gets.
pub(super) fn blob(store: &FsPath, token: &str) -> Result<PathBuf, ApiError> {
    let not_found = || ApiError::not_found("No such source: the URL is wrong or has expired (source URLs work for an hour).");
    let expires = expiry(token).ok_or_else(not_found)?;
    let path = store.join(token);
    if expires < now() {
        let _ = std::fs::remove_file(&path);
        return Err(not_found());
    }
    if !path.is_file() {
        return Err(not_found());
    }
    Ok(path)
}

/// The token of a URL on this server's blob store (`<api url>/sources/<token>`), if it is one.
pub(super) fn local_token<'a>(state: &AppState, url: &'a str) -> Option<&'a str> {
    let base = format!("{}/sources/", state.config.api_url.trim_end_matches('/'));
    url.strip_prefix(&base)
}

/// Removes expired blobs (on each `POST /sources`); how many live ones `owner` has.
async fn sweep(store: &FsPath, owner: &str) -> usize {
    let mut owned = 0;
    let Ok(mut entries) = tokio::fs::read_dir(store).await else { return owned };
    let now = now();
    while let Ok(Some(entry)) = entries.next_entry().await {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let expired = match expiry(&name) {
            Some(expires) => expires < now,
            // An upload's temporary file: `.<token>.<random>`.
            None => name.starts_with('.') && entry.metadata().await.ok().and_then(|m| m.modified().ok()).is_some_and(|m| m.elapsed().unwrap_or_default() > EXPIRES_IN),
        };
        if expired {
            let _ = tokio::fs::remove_file(entry.path()).await;
        } else if parse_token(&name).is_some_and(|(_, of)| of == owner) {
            owned += 1;
        }
    }
    owned
}

/// `POST /sources` → 201 `{"source_blob": {"get_url", "put_url"}}` (Heroku's shape): PUT the
/// source tarball to `put_url`, then build from `get_url`.
/// A user has at most [`MAX_PER_USER`] live sources (429 past it).
pub async fn create(State(state): State<AppState>, caller: CurrentUser) -> Result<(StatusCode, Json<Value>), ApiError> {
    let store = store(&state)?;
    tokio::fs::create_dir_all(&store).await.map_err(ApiError::internal)?;
    let owner = caller.user.id.simple().to_string();
    if sweep(&store, &owner).await >= MAX_PER_USER {
        return Err(ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit",
            format!("You have {MAX_PER_USER} sources already, the most at once: build from them, or wait for them to expire (an hour)."),
        ));
    }
    let token = format!("{}-{owner}-{}", now() + EXPIRES_IN.as_secs(), crate::auth::generate_api_key());
    tokio::fs::File::create(store.join(&token)).await.map_err(ApiError::internal)?;
    let url = format!("{}/sources/{token}", state.config.api_url.trim_end_matches('/'));
    Ok((StatusCode::CREATED, Json(json!({"source_blob": {"get_url": url, "put_url": url}}))))
}

/// `PUT /sources/{token}`: the blob's content (at most [`MAX_BLOB_SIZE`]); replaces an earlier
/// upload whole.
pub async fn put(State(state): State<AppState>, Path(token): Path<String>, body: Body) -> Result<StatusCode, ApiError> {
    let store = store(&state)?;
    let path = blob(&store, &token)?;
    let temp = store.join(format!(".{token}.{}", uuid::Uuid::new_v4().simple()));
    let written = write_limited(&temp, body.into_data_stream(), MAX_BLOB_SIZE).await;
    match written {
        Ok(_) => tokio::fs::rename(&temp, &path).await.map_err(ApiError::internal)?,
        Err(e) => {
            let _ = tokio::fs::remove_file(&temp).await;
            return Err(e);
        }
    }
    Ok(StatusCode::OK)
}

/// Writes a stream of chunks to `path`, refusing (413) more than `limit` bytes; the size written.
pub(super) async fn write_limited<S, E>(path: &FsPath, mut stream: S, limit: u64) -> Result<u64, ApiError>
where
    S: futures::Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(path).await.map_err(ApiError::internal)?;
    let mut size = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("Cannot read the source: {e}")))?;
        size += chunk.len() as u64;
        if size > limit {
            return Err(too_large(limit));
        }
        file.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    file.flush().await.map_err(ApiError::internal)?;
    Ok(size)
}

/// The 413 of a source over `limit` bytes.
pub(super) fn too_large(limit: u64) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "request_too_large", format!("The source is over the limit of {} MiB.", limit >> 20))
}

/// `GET /sources/{token}`: the blob.
pub async fn get(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let path = blob(&store(&state)?, &token)?;
    let file = tokio::fs::File::open(&path).await.map_err(ApiError::internal)?;
    let chunks = tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024);
    Ok(([(header::CONTENT_TYPE, "application/octet-stream")], Body::from_stream(chunks)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_name_a_blob() {
        let (owner, secret) = ("0f".repeat(16), "ab".repeat(32));
        assert_eq!(parse_token(&format!("1700000000-{owner}-{secret}")), Some((1_700_000_000, owner.as_str())));
        for bad in [
            format!("../1-{owner}-{secret}"),
            format!("1-{owner}-{secret}/x"),
            format!("-{owner}-{secret}"),
            format!("1-{secret}"),
            format!("1-../{}-{secret}", "0f".repeat(15)),
            format!("1-{owner}-{}", "AB".repeat(32)),
            format!("1-{owner}-{}", "ab".repeat(31)),
            "1-..".to_string(),
            String::new(),
        ] {
            assert_eq!(expiry(&bad), None, "{bad}");
        }
    }
}
