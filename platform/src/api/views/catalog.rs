//! The one region and the one stack (`GET /regions`, `GET /stacks`).

use serde::{Deserialize, Serialize};

use super::{REGION, REGION_ID, STACK, STACK_ID};

/// When the region and the stack were made, as far as a client can tell.
const SINCE: &str = "2012-01-01T00:00:00Z";

/// A region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegionView {
    /// Its country (not said).
    pub country: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// What it is.
    pub description: String,
    /// Its id.
    pub id: String,
    /// Its locale (not said).
    pub locale: Option<String>,
    /// Its name.
    pub name: String,
    /// Whether private spaces can be made in it (no).
    pub private_capable: bool,
    /// Who provides it.
    pub provider: RegionProvider,
    /// When it last changed.
    pub updated_at: String,
}

/// The provider of a region.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RegionProvider {
    /// `paas`.
    pub name: String,
    /// The provider's name for the region.
    pub region: String,
}

/// A stack.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct StackView {
    /// When it was made.
    pub created_at: String,
    /// Whether apps get it when they name none (yes).
    pub default: bool,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Always `public`.
    pub state: String,
    /// When it last changed.
    pub updated_at: String,
}

/// The one region (`GET /regions`), in Heroku's shape.
pub fn region() -> RegionView {
    RegionView {
        country: None,
        created_at: SINCE.into(),
        description: "This paas server".into(),
        id: REGION_ID.into(),
        locale: None,
        name: REGION.into(),
        private_capable: false,
        provider: RegionProvider { name: "paas".into(), region: REGION.into() },
        updated_at: SINCE.into(),
    }
}

/// The one stack (`GET /stacks`), in Heroku's shape.
pub fn stack() -> StackView {
    StackView {
        created_at: SINCE.into(),
        default: true,
        id: STACK_ID.into(),
        name: STACK.into(),
        state: "public".into(),
        updated_at: SINCE.into(),
    }
}

/// A dyno size (`GET /dyno-sizes`): `memory` in GB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct DynoSizeView {
    /// The CPU architecture, `amd64`.
    pub architecture: String,
    /// Heroku's compute units (not said).
    pub compute: Option<i64>,
    /// Its price (none: nothing is billed).
    pub cost: Option<super::Price>,
    /// Dyno units it counts as.
    pub dyno_units: i64,
    /// Heroku's generation, always `cedar`.
    pub generation: super::GenerationRef,
    /// Its id (the same on every server).
    pub id: String,
    /// Its memory in GB.
    pub memory: f64,
    /// Its name, e.g. `Basic`.
    pub name: String,
    /// Dyno units it counts as, exactly.
    pub precise_dyno_units: f64,
    /// Whether only private spaces have it (no).
    pub private_space_only: bool,
}
