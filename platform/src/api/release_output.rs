//! A release phase's output for `heroku releases:output` and `releases:retry`: the release's
//! `output_stream_url`, a signed URL (`/release-output/<app id>.<release id>.<signature>`, no
//! API key, as Heroku's) of the output of a release phase run through the API (a rollback, a
//! slug release, a retry). Kept in memory for the last [`KEPT`] such releases of this server
//! process; a release made by a build has its phase's output in the build's output.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use uuid::Uuid;

use super::{ApiError, AppState, PlatformConfig};

/// How many releases' outputs are kept.
pub const KEPT: usize = 1000;

#[derive(Default)]
struct Store {
    outputs: HashMap<Uuid, Vec<String>>,
    order: VecDeque<Uuid>,
}

fn store() -> &'static Mutex<Store> {
    static STORE: OnceLock<Mutex<Store>> = OnceLock::new();
    STORE.get_or_init(Mutex::default)
}

/// Keeps the release phase output of release `id`.
pub(super) fn keep(id: Uuid, lines: Vec<String>) {
    let mut store = store().lock().expect("release outputs");
    if store.outputs.insert(id, lines).is_none() {
        store.order.push_back(id);
    }
    while store.order.len() > KEPT {
        if let Some(old) = store.order.pop_front() {
            store.outputs.remove(&old);
        }
    }
}

/// Sets `output_stream_url` of a release's view when its release phase output is kept.
pub(super) fn add_url(view: &mut Value, app_id: Uuid, id: Uuid, config: &PlatformConfig) {
    if store().lock().expect("release outputs").outputs.contains_key(&id) {
        let signature = super::builds::output_signature("release-output", app_id, id);
        let url = format!("{}/release-output/{app_id}.{id}.{signature}", config.api_url.trim_end_matches('/'));
        view["output_stream_url"] = Value::String(url);
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
