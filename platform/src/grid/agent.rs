//! This node's membership of the grid: its identity in the data dir (`node-key`: id and key,
//! mode 0600), joining or registering at start, the heartbeat that renews its lease (off the
//! request path, on its own task), and [`Placements`]: the dynos this node may run.
//!
//! Fencing, from the node's side: a heartbeat that finds the node's epoch changed (the
//! coordinator found its lease expired) drops every dyno at once and registers again, with a new
//! epoch; until the coordinator assigns dynos to that epoch the node runs none. A node that
//! cannot renew its lease for a whole lease (the ledger unreachable) drops its dynos too: by then
//! the coordinator may have placed them elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::start_error::StartError;
use tokio::sync::{Notify, watch};
use uuid::Uuid;

use super::{NodeRegistration, coordinator};
use crate::ledger::Ledger;

/// The file in the data dir that holds the node's id and key.
pub const KEY_FILE: &str = "node-key";

/// How this node takes part in the grid (`paas server`'s flags).
#[derive(Debug, Clone)]
pub struct GridConfig {
    /// The join token (`--join`), for a node new to the ledger.
    pub join: Option<String>,
    /// How long a lease lasts without a heartbeat (`--node-lease`); heartbeats come 5 times a lease.
    pub lease: Duration,
    /// Whether dynos are placed on nodes (PostgreSQL). `false` (SQLite, one node): this node
    /// runs every dyno of every formation, as a single server always did; the coordinator still
    /// records the placement so that `paas nodes` shows it.
    pub placing: bool,
}

impl GridConfig {
    /// The default lease: 10 s, so a lost node's dynos run elsewhere within about 12 s.
    pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);

    /// Heartbeats come this often.
    pub fn heartbeat(&self) -> Duration {
        self.lease / 5
    }
}

/// What `paas server` is told about this node (`--node-name`, `--node-address`, `--join`,
/// `--node-lease`).
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// Its name in the grid; default: the host name.
    pub name: Option<String>,
    /// The host other nodes reach its API and router at; default: their listen address's IP.
    pub address: Option<String>,
    /// The join token for a node new to a shared ledger.
    pub join: Option<String>,
    /// Its lease.
    pub lease: Duration,
    /// Whether it runs native dynos (a container runtime works here).
    pub native: bool,
}

impl NodeOptions {
    /// A node on its own (tests): the host's name, no token, the default lease, wasm only.
    pub fn standalone() -> NodeOptions {
        NodeOptions { name: None, address: None, join: None, lease: GridConfig::DEFAULT_LEASE, native: false }
    }

    /// The registration of a node serving its API at `api` and router at `router`.
    pub fn registration(&self, api: std::net::SocketAddr, router: std::net::SocketAddr) -> NodeRegistration {
        let url = |addr: std::net::SocketAddr| match &self.address {
            Some(host) if host.contains(':') && !host.starts_with('[') => format!("http://[{host}]:{}", addr.port()),
            Some(host) => format!("http://{host}:{}", addr.port()),
            None => format!("http://{addr}"),
        };
        NodeRegistration {
            name: self.name.clone().unwrap_or_else(host_name),
            api_url: url(api),
            router_url: url(router),
            capacity: local_capacity(self.native),
            version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The host's name (`localhost` if it cannot be read).
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// What this machine offers: its memory (`MemTotal`) and cores.
pub fn local_capacity(native: bool) -> super::Capacity {
    let memory_mib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map_or(1024, |kib| kib / 1024);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get() as u64);
    super::Capacity { memory_mib, millicores: cores * 1000, wasm: true, native }
}

/// The dynos this node may run, per app id (`web.1`, `worker.2`); `None`: every dyno (one node).
pub type Assigned = Option<Arc<BTreeMap<Uuid, BTreeSet<String>>>>;

/// What the serving side reads to run only this node's dynos: the latest assignments of this
/// node's current epoch, updated as the coordinator changes them or the node is fenced.
#[derive(Debug, Clone)]
pub struct Placements {
    rx: watch::Receiver<Assigned>,
    poke: Option<Arc<Notify>>,
}

impl Placements {
    /// Every dyno, always (a single node; tests).
    pub fn everything() -> Placements {
        let (_tx, rx) = watch::channel(None);
        Placements { rx, poke: None }
    }

    /// Says a formation or release changed: this node's coordinator, if it leads, places at once.
    pub fn formation_changed(&self) {
        if let Some(poke) = &self.poke {
            poke.notify_one();
        }
    }

    /// The current assignments.
    pub fn current(&self) -> Assigned {
        self.rx.borrow().clone()
    }

    /// A receiver that wakes on each change.
    pub fn subscribe(&self) -> watch::Receiver<Assigned> {
        self.rx.clone()
    }
}

/// This node, registered in the ledger.
pub struct Agent {
    ledger: Arc<dyn Ledger>,
    /// The node's id.
    pub id: Uuid,
    /// The node's key (what [`super::auth::authorization`] sends to other nodes).
    key: String,
    registration: NodeRegistration,
    config: GridConfig,
    epoch: watch::Sender<Option<i64>>,
    placements: watch::Sender<Assigned>,
    /// Wakes the coordinator.
    poke: Arc<Notify>,
    /// Wakes the assignment follower (the coordinator on this node wrote).
    written: Arc<Notify>,
}

impl Agent {
    /// Joins the grid (a new data dir: with the join token, or as the ledger's first node, or
    /// taking back the node of this name) or registers again (the data dir's `node-key`), with a
    /// fresh lease and the next epoch.
    pub async fn start(
        ledger: Arc<dyn Ledger>,
        data_dir: &Path,
        registration: NodeRegistration,
        config: GridConfig,
    ) -> Result<Arc<Agent>, StartError> {
        let key_file = data_dir.join(KEY_FILE);
        let (id, epoch, key) = match read_identity(&key_file)? {
            Some((id, key)) => {
                match ledger.authenticate_node(&key).await? {
                    Some(node) if node.id == id => {}
                    _ => {
                        let what = format!(
                            "{} names node {id}, which this ledger does not know by that key (a data dir of another \
                             grid?): remove the file and start with --join TOKEN (`paas nodes:token` makes one)",
                            key_file.display()
                        );
                        return Err(StartError::Invalid { what, source: None });
                    }
                }
                if config.join.is_some() {
                    tracing::warn!("this data dir has joined already (node {id}); --join is ignored");
                }
                let epoch = ledger.register_node(id, &key, &registration, config.lease).await?;
                (id, epoch, key)
            }
            None => {
                let key = crate::auth::generate_api_key();
                let (id, epoch) = ledger
                    .join_node(&registration, config.join.as_deref(), &key, config.lease)
                    .await
                    .map_err(StartError::step("cannot join the grid"))?;
                write_identity(&key_file, id, &key)?;
                (id, epoch, key)
            }
        };
        tracing::info!(node = %registration.name, %id, epoch, "registered this node");
        let (placements, _) = watch::channel(if config.placing { Some(Arc::default()) } else { None });
        Ok(Arc::new(Agent {
            ledger,
            id,
            key,
            registration,
            config,
            epoch: watch::Sender::new(Some(epoch)),
            placements,
            poke: Arc::default(),
            written: Arc::default(),
        }))
    }

    /// The `Authorization` header of this node's requests to other nodes (their
    /// [`super::auth::NodeCaller`] extractor authenticates it).
    pub fn authorization(&self) -> Option<axum::http::HeaderValue> {
        super::auth::authorization(&self.key)
    }

    /// What this node's router sends on the requests it forwards to other nodes' routers: its
    /// hop secret ([`super::auth::hop_secret`]), not its key.
    pub fn hop_credential(&self) -> Option<axum::http::HeaderValue> {
        super::auth::hop_credential(&self.key)
    }

    /// The node's name in the grid.
    pub fn name(&self) -> &str {
        &self.registration.name
    }

    /// Whether this node shares its ledger with others (PostgreSQL: its dynos are placed).
    pub fn on_grid(&self) -> bool {
        self.config.placing
    }

    /// What the serving side follows.
    pub fn placements(&self) -> Placements {
        Placements { rx: self.placements.subscribe(), poke: Some(self.poke.clone()) }
    }

    /// The node's epoch; `None` while it is fenced (running nothing).
    pub fn epoch(&self) -> Option<i64> {
        *self.epoch.borrow()
    }

    /// Runs the heartbeat, the coordinator and (when placing) the assignment follower until
    /// `stop` resolves; then marks the node down ([`super::NodeLedger::leave_node`]) so that its
    /// dynos move at once. The tasks can also be [`AgentTasks::abort`]ed, as a crash would end them.
    pub fn spawn(self: &Arc<Self>, stop: impl std::future::Future<Output = ()> + Send + 'static) -> AgentTasks {
        let agent = self.clone();
        let coordinator = coordinator::Coordinator::new(
            self.ledger.clone(),
            self.id,
            self.config.lease,
            self.poke.clone(),
            self.written.clone(),
        );
        let task = tokio::spawn(async move {
            let follow = async {
                if agent.config.placing {
                    agent.follow_assignments().await;
                } else {
                    std::future::pending::<()>().await;
                }
            };
            tokio::select! {
                () = agent.heartbeat_forever() => {}
                () = coordinator.run() => {}
                () = follow => {}
                () = stop => {}
            }
            // Stopping: hand the dynos over now rather than after the lease.
            if let Some(epoch) = agent.epoch.send_replace(None)
                && let Err(e) = agent.ledger.leave_node(agent.id, epoch).await
            {
                tracing::warn!("cannot mark this node down in the ledger: {e}");
            }
        });
        AgentTasks(task)
    }

    /// Renews the lease every [`GridConfig::heartbeat`]; see the module docs for fencing.
    async fn heartbeat_forever(&self) {
        let mut renewed = Instant::now();
        let mut epoch = self.epoch().unwrap_or_default();
        loop {
            tokio::time::sleep(self.config.heartbeat()).await;
            let sent = Instant::now();
            match self.ledger.heartbeat_node(self.id, epoch, self.config.lease).await {
                Ok(true) => {
                    renewed = sent;
                    if self.epoch().is_none() {
                        tracing::info!(epoch, "the lease is renewed: running this node's dynos again");
                        self.epoch.send_replace(Some(epoch));
                    }
                }
                Ok(false) => {
                    tracing::warn!(epoch, "this node was fenced (its lease expired): dropping its dynos, registering again");
                    self.fence();
                    match self.ledger.register_node(self.id, &self.key, &self.registration, self.config.lease).await {
                        Ok(new) => {
                            epoch = new;
                            renewed = sent;
                            tracing::info!(epoch, "registered again");
                            self.epoch.send_replace(Some(epoch));
                        }
                        Err(e) => tracing::warn!("cannot register again: {e}"),
                    }
                }
                Err(e) => tracing::warn!("cannot renew this node's lease: {e}"),
            }
            if sent.duration_since(renewed) >= self.config.lease && self.epoch().is_some() {
                tracing::warn!("no heartbeat got through for a whole lease: dropping this node's dynos");
                self.fence();
            }
        }
    }

    /// Runs nothing until registered again.
    fn fence(&self) {
        self.epoch.send_replace(None);
        if self.config.placing {
            self.placements.send_replace(Some(Arc::default()));
        }
    }

    /// Reads this node's assignments every half second (and at once when the epoch changes);
    /// publishes them when they change.
    async fn follow_assignments(&self) {
        let mut epochs = self.epoch.subscribe();
        loop {
            let epoch = *epochs.borrow_and_update();
            if let Some(epoch) = epoch {
                match self.ledger.assignments_of(self.id, epoch).await {
                    Ok(dynos) => {
                        let mut assigned: BTreeMap<Uuid, BTreeSet<String>> = BTreeMap::new();
                        for dyno in dynos {
                            assigned.entry(dyno.app).or_default().insert(dyno.name());
                        }
                        // Fenced meanwhile: what was read belongs to the old epoch.
                        if self.epoch() == Some(epoch) {
                            self.placements.send_if_modified(|now| {
                                let changed = now.as_deref() != Some(&assigned);
                                if changed {
                                    *now = Some(Arc::new(assigned));
                                }
                                changed
                            });
                        }
                    }
                    Err(e) => tracing::warn!("cannot read this node's assignments: {e}"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(FOLLOW_EVERY) => {}
                _ = epochs.changed() => {}
                () = self.written.notified() => {}
            }
        }
    }
}

/// The agent's task (see [`Agent::spawn`]).
#[derive(Debug)]
pub struct AgentTasks(tokio::task::JoinHandle<()>);

impl AgentTasks {
    /// Ends the heartbeat, coordinator and follower at once without marking the node down: what
    /// a crash (`kill -9`) does to a node, for tests.
    pub fn abort(&self) {
        self.0.abort();
    }
}

/// How often a node reads its assignments.
pub const FOLLOW_EVERY: Duration = Duration::from_millis(500);

fn read_identity(path: &Path) -> Result<Option<(Uuid, String)>, StartError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StartError::file(|| format!("cannot read {}", path.display()))(e)),
    };
    let mut words = text.split_whitespace();
    let (Some(id), Some(key), None) = (words.next(), words.next(), words.next()) else {
        let what = format!("{} is not `<node id> <key>`: remove it and join again", path.display());
        return Err(StartError::Invalid { what, source: None });
    };
    let id = Uuid::parse_str(id).map_err(StartError::invalid(|| format!("{}: bad node id", path.display())))?;
    Ok(Some((id, key.to_string())))
}

fn write_identity(path: &PathBuf, id: Uuid, key: &str) -> Result<(), StartError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(StartError::file(|| format!("cannot write {}", path.display())))?;
    writeln!(file, "{id} {key}").map_err(StartError::file(|| format!("cannot write {}", path.display())))?;
    Ok(())
}
