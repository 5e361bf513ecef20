//! A release phase's output for `heroku releases:output` and `releases:retry`: the release's
//! `output_stream_url`, a signed URL (`/release-output/<app id>.<release id>.<signature>`, no
//! API key, as Heroku's) of the output of a release phase run through the API (a rollback, a
//! slug release, a retry). Kept in memory for the last [`KEPT`] such releases of this server
//! process, [`KEPT_BYTES`] in all; a release made by a build has its phase's output in the
//! build's output.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use uuid::Uuid;

use super::views::ReleaseView;
use super::{ApiError, AppState, PlatformConfig};

/// How many releases' outputs are kept.
pub const KEPT: usize = 1000;

/// How many bytes of output are kept in all (one release phase writes at most 16 MiB); the oldest
/// outputs go first.
pub const KEPT_BYTES: usize = 64 << 20;

#[derive(Default)]
struct Store {
    outputs: HashMap<Uuid, Vec<String>>,
    order: VecDeque<Uuid>,
    /// The bytes of the lines in `outputs`.
    bytes: usize,
}

fn size(lines: &[String]) -> usize {
    lines.iter().map(String::len).sum()
}

fn store() -> &'static Mutex<Store> {
    static STORE: OnceLock<Mutex<Store>> = OnceLock::new();
    STORE.get_or_init(Mutex::default)
}

/// Keeps the release phase output of release `id`.
pub(super) fn keep(id: Uuid, lines: Vec<String>) {
    let mut store = store().lock().expect("release outputs");
    store.bytes += size(&lines);
    match store.outputs.insert(id, lines) {
        Some(replaced) => store.bytes -= size(&replaced),
        None => store.order.push_back(id),
    }
    while store.order.len() > KEPT || (store.bytes > KEPT_BYTES && store.order.len() > 1) {
        if let Some(old) = store.order.pop_front()
            && let Some(lines) = store.outputs.remove(&old)
        {
            store.bytes -= size(&lines);
        }
    }
}

/// Sets `output_stream_url` of a release's view when its release phase output is kept.
pub(super) fn add_url(view: &mut ReleaseView, app_id: Uuid, id: Uuid, config: &PlatformConfig) {
    if store().lock().expect("release outputs").outputs.contains_key(&id) {
        let signature = super::builds::output_signature("release-output", app_id, id);
        let url = format!("{}/release-output/{app_id}.{id}.{signature}", config.api_url.trim_end_matches('/'));
        view.output_stream_url = Some(url);
    }
}

/// `GET /release-output/{token}`: the release phase's output, text/plain.
pub async fn signed_output(State(state): State<AppState>, Path(token): Path<String>) -> Result<Response, ApiError> {
    let not_found = || ApiError::not_found("No such release output: the URL is wrong or from before the server restarted.");
    let (app_id, id) = super::builds::verify_output_token("release-output", &token).ok_or_else(not_found)?;
    state.ledger.find_app(&app_id.to_string()).await?.ok_or_else(not_found)?;
    let lines = store().lock().expect("release outputs").outputs.get(&id).cloned().ok_or_else(not_found)?;
    let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outputs_kept_hold_at_most_kept_bytes_and_the_oldest_go_first() {
        let ids: Vec<Uuid> = (0..5).map(|_| Uuid::new_v4()).collect();
        for id in &ids {
            keep(*id, vec!["x".repeat(16 << 20)]);
        }
        let store = store().lock().unwrap();
        assert!(store.bytes <= KEPT_BYTES, "{} bytes kept", store.bytes);
        assert!(!store.outputs.contains_key(&ids[0]) && store.outputs.contains_key(&ids[4]));
        assert_eq!(store.bytes, store.outputs.values().map(|lines| size(lines)).sum::<usize>());
    }
}
