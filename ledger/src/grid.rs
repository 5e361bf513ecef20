//! The grid as the ledger keeps it: nodes ([`Node`], what they offer, [`NodeRegistration`]),
//! the coordinator's lease ([`Leadership`]), dynos' places ([`Assignment`], [`DynoKey`]), what
//! each process type asks of a node ([`FormationDemand`]), restart and stop requests
//! ([`DynoAction`]), all behind [`NodeLedger`], a part of [`crate::Ledger`]. What the grid does
//! with them (placement, the coordinator, node agents) is in `paas_platform::grid`.

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::ledger::Result;
use crate::sizes::SizeClass;

/// What a node offers to dynos.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Capacity {
    /// Memory, MiB.
    pub memory_mib: u64,
    /// CPU, thousandths of a core.
    pub millicores: u64,
    /// Whether it runs wasm dynos.
    pub wasm: bool,
    /// Whether it runs native dynos (a container runtime).
    pub native: bool,
}

/// What a node says of itself when it registers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRegistration {
    /// Its name, unique in the grid (the host name by default).
    pub name: String,
    /// Its Platform API, `http://10.0.0.2:5000`.
    pub api_url: String,
    /// Its router, `http://10.0.0.2:8080`.
    pub router_url: String,
    /// What it offers.
    pub capacity: Capacity,
    /// The paas version it runs.
    pub version: String,
}

/// A node as the ledger has it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// Its id (kept in its data dir).
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// Its Platform API.
    pub api_url: String,
    /// Its router: where other nodes' routers would send its apps' requests.
    pub router_url: String,
    /// What it offers.
    pub capacity: Capacity,
    /// The paas version it runs.
    pub version: String,
    /// Its fencing token (see the migration `0009_nodes.sql`).
    pub epoch: i64,
    /// Whether its lease holds (`up`) or it was found gone (`down`).
    pub up: bool,
    /// When it first joined.
    pub registered_at: DateTime<Utc>,
    /// Its last heartbeat, by the database's clock.
    pub heartbeat_at: DateTime<Utc>,
    /// When its lease ends unless renewed.
    pub lease_expires_at: DateTime<Utc>,
}

/// A dyno's place: the node that runs it, at which of its epochs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Assignment {
    /// The dyno.
    pub dyno: DynoKey,
    /// The node that runs it.
    pub node_id: Uuid,
    /// The node's epoch when it was assigned.
    pub epoch: i64,
}

/// A restart or stop request (`ps:restart`, `ps:stop`) as the ledger numbers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DynoAction {
    /// Its place in the order of requests.
    pub seq: i64,
    /// The app.
    pub app_id: Uuid,
    /// `restart` or `stop`.
    pub action: String,
    /// A dyno (`web.1`), a process type (`web`), or every dyno (`None`).
    pub target: Option<String>,
}

/// The coordinator's lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leadership {
    /// The fencing token of this coordinator's writes.
    pub term: i64,
}

/// The grid's state in the ledger. Every lease time is the database's clock.
#[async_trait]
pub trait NodeLedger: Send + Sync {
    /// Makes a new node from a join token (`None`: allowed only for the first node of the
    /// ledger, or to take back the node registered under `registration.name`), with the key
    /// `key` (stored hashed), registered with a lease of `lease`. Gives back its id and epoch.
    async fn join_node(
        &self,
        registration: &NodeRegistration,
        token: Option<&str>,
        key: &str,
        lease: Duration,
    ) -> Result<(Uuid, i64)>;
    /// Registers a node that joined before (its key `key` checked by the caller): new addresses
    /// and capacity, the hash of its hop secret, the next epoch, state up, a fresh lease. Gives
    /// back the epoch.
    async fn register_node(&self, id: Uuid, key: &str, registration: &NodeRegistration, lease: Duration) -> Result<i64>;
    /// Renews the node's lease if `epoch` is still its epoch and it is up; `false`: the node was
    /// fenced (it must drop its dynos and register again).
    async fn heartbeat_node(&self, id: Uuid, epoch: i64, lease: Duration) -> Result<bool>;
    /// A node stopping: down at once (the next epoch), and no longer the coordinator, so that its
    /// dynos are placed elsewhere in the next round instead of after its lease.
    async fn leave_node(&self, id: Uuid, epoch: i64) -> Result<()>;
    /// The node a node key belongs to.
    async fn authenticate_node(&self, key: &str) -> Result<Option<Node>>;
    /// Every node, by name.
    async fn list_nodes(&self) -> Result<Vec<Node>>;
    /// A join token (given back in clear, stored hashed) that `user_id` issued, valid for `ttl`.
    async fn create_join_token(&self, user_id: Uuid, ttl: Duration) -> Result<(String, DateTime<Utc>)>;

    /// Takes or renews the coordinator's lease for `node_id`; `None` while another node holds it.
    async fn acquire_leadership(&self, node_id: Uuid, lease: Duration) -> Result<Option<Leadership>>;
    /// Marks nodes whose lease expired `down` and bumps their epoch; gives back their ids.
    async fn fence_expired_nodes(&self) -> Result<Vec<Uuid>>;
    /// Every process type with dynos to run: live apps' current releases with a slug, with
    /// their quantity, size and kind.
    async fn formation_demands(&self) -> Result<Vec<FormationDemand>>;
    /// Every assignment.
    async fn list_assignments(&self) -> Result<Vec<Assignment>>;
    /// What each node's 2 s sweep compares to see changes made through another node's API, by
    /// app id: when the app's formation (scale, resize), domains, features and log drains last
    /// changed, and how many rows each has (a removal changes it). Opaque; equal means unchanged.
    async fn app_stamps(&self) -> Result<std::collections::HashMap<Uuid, String>>;
    /// The number of the newest restart or stop request (0: none yet).
    async fn last_dyno_action(&self) -> Result<i64>;
    /// The restart and stop requests recorded after the one numbered `seq`, oldest first (at
    /// most 1,000): each node carries them out on its own dynos.
    async fn dyno_actions_after(&self, seq: i64) -> Result<Vec<DynoAction>>;
    /// Replaces the assignments with `placement` (dyno → node), if `term` still holds the
    /// coordinator's lease; each is written with its node's current epoch. `false`: fenced.
    async fn write_assignments(&self, node_id: Uuid, term: i64, placement: &BTreeMap<DynoKey, Uuid>) -> Result<bool>;
    /// The dynos assigned to `node_id` at `epoch`, while that is still the node's epoch and it is
    /// up (nothing once it was fenced).
    async fn assignments_of(&self, node_id: Uuid, epoch: i64) -> Result<Vec<DynoKey>>;
    /// The SHA-256 (hex, as [`crate::auth::hash_api_key`] writes it) of every node's hop secret
    /// ([`hop_secret`]), not of its key: what a router keeps in memory to authenticate
    /// requests other nodes forward to it.
    async fn hop_hashes(&self) -> Result<Vec<String>>;
}

/// One dyno of a formation: `web.2` of an app.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DynoKey {
    /// The app's id.
    pub app: Uuid,
    /// `web`, `worker`, …
    pub process_type: String,
    /// The dyno's number, from 1.
    pub index: u32,
}

impl DynoKey {
    /// The dyno's name, `web.2`.
    pub fn name(&self) -> String {
        format!("{}.{}", self.process_type, self.index)
    }
}

/// What a dyno takes of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Demand {
    /// Memory, MiB.
    pub memory_mib: u64,
    /// CPU share, thousandths of a core.
    pub millicores: u64,
}

impl Demand {
    /// What a dyno of Heroku's size `size` takes: memory as the runtime limits it (Basic and Eco
    /// 128 MiB, Standard 512 MiB, Performance 2 GiB) and a CPU share (an eighth of a core,
    /// a quarter, two cores).
    pub fn for_size(size: &str) -> Demand {
        let class = SizeClass::of(size);
        let millicores = match class {
            SizeClass::Basic => 125,
            SizeClass::Standard => 250,
            SizeClass::Performance => 2000,
        };
        Demand { memory_mib: class.memory_mib(), millicores }
    }
}

/// One process type's dynos, as the coordinator reads them from the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormationDemand {
    /// The app's id.
    pub app: Uuid,
    /// `web`, `worker`, …
    pub process_type: String,
    /// How many dynos.
    pub quantity: u32,
    /// What each takes.
    pub demand: Demand,
    /// The stack of the slug it runs (`wasi-p2`, `paas-24`): placement reads what kind of
    /// dyno that is.
    pub stack: String,
    /// The checksum of the slug it runs, if it has one (nodes holding it are preferred).
    pub slug: Option<String>,
}

/// What separates the hop secret from every other use of the node key.
const HOP_LABEL: &[u8] = b"paas grid hop secret v1\0";

/// The secret a node's router sends on the requests it forwards (`X-Paas-Hop: Node <secret>`):
/// SHA-256 of a label and the node key, in hex. It cannot be turned back into the key, and no
/// endpoint that takes a node key takes it.
pub fn hop_secret(key: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::new().chain_update(HOP_LABEL).chain_update(key.as_bytes()).finalize())
}
