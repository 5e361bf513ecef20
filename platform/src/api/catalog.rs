//! What this server offers, as Heroku lists it: `GET /regions` (`heroku regions`), `GET /stacks`
//! (`heroku apps:stacks`), `GET /account/features` (`heroku labs`: no account features here) and
//! `GET /oauth/sessions` (`heroku sessions`: API keys are authorizations, so no sessions).

use axum::Json;
use serde_json::{Value, json};

use super::views;

/// `GET /regions`: the one region.
pub async fn regions() -> Json<Value> {
    Json(json!([views::region()]))
}

/// `GET /stacks`: the one stack (Heroku's names, `heroku-24`, are accepted as aliases of it).
pub async fn stacks() -> Json<Value> {
    Json(json!([views::stack()]))
}

/// `GET /account/features`: account features (Heroku Labs); this server has none.
pub async fn account_features() -> Json<Value> {
    Json(json!([]))
}

/// `GET /oauth/sessions`: web sessions; this server has none (logins make API keys, listed by
/// `GET /oauth/authorizations`).
pub async fn oauth_sessions() -> Json<Value> {
    Json(json!([]))
}
