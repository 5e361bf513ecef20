//! What this server offers, as Heroku lists it: `GET /regions` (`heroku regions`), `GET /stacks`
//! (`heroku apps:stacks`), `GET /dyno-sizes` (the sizes of `crate::names::SIZES`), `GET /account/features` (`heroku labs`: no account features here) and
//! `GET /oauth/sessions` (`heroku sessions`: API keys are authorizations, so no sessions).

use axum::Json;
use serde_json::{Value, json};

use super::views::{self, DynoSizeView, GenerationRef, RegionView, StackView};
use crate::names;

/// `GET /dyno-sizes`: the dyno sizes in Heroku's shape (`memory` in GB).
pub async fn dyno_sizes() -> Json<Vec<DynoSizeView>> {
    Json(names::SIZES.iter().map(|size| dyno_size(size)).collect())
}

/// A size's id: the same on every server (from its name's SHA-256).
fn size_id(size: &str) -> uuid::Uuid {
    use sha2::Digest;
    let hash = sha2::Sha256::digest(format!("paas-dyno-size:{size}"));
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&hash[..16]);
    uuid::Builder::from_random_bytes(bytes).into_uuid()
}

fn dyno_size(size: &str) -> DynoSizeView {
    DynoSizeView {
        architecture: "amd64".into(),
        compute: None,
        cost: None,
        dyno_units: 1,
        generation: GenerationRef { name: "cedar".into() },
        id: size_id(size).to_string(),
        memory: names::SizeClass::of(size).memory_mib() as f64 / 1024.0,
        name: size.into(),
        precise_dyno_units: 1.0,
        private_space_only: false,
    }
}

/// `GET /regions`: the one region.
pub async fn regions() -> Json<Vec<RegionView>> {
    Json(vec![views::region()])
}

/// `GET /stacks`: the one stack (Heroku's names, `heroku-24`, are accepted as aliases of it).
pub async fn stacks() -> Json<Vec<StackView>> {
    Json(vec![views::stack()])
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
