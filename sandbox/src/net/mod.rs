//! Network namespaces of native dynos and builds. Each container gets a namespace of its own
//! with one veth pair to the node (a /30 of the operator's range, `paas server --dyno-network`,
//! default [`DEFAULT_RANGE`]), routed (no bridge: every packet between two containers crosses the
//! node's forward hook), and one nftables table per range (see `nft.rs`) enforcing the
//! [egress policy](crate::egress): no node address (API, git, PostgreSQL, the veth's own), no
//! other container, no denied range (loopback, link-local and metadata, RFC 1918, CGNAT, ...)
//! except the resolvers on port 53 and what the operator allows; masquerade out; nothing from
//! outside into the range. A web dyno binds `0.0.0.0:$PORT` in its namespace and the router
//! connects to `<its address>:$PORT` from the node. A build with `--build-network none` gets a
//! namespace with loopback only ([`NetLease::loopback`]).
//!
//! Add-on servers listen on the range's [service address](service_address) (the node's end of
//! its last /30, never a container's, on `lo` while the network lives). No container reaches it
//! (nor anything else of the node) unless its lease [grants](NetLease::grant) an endpoint: the
//! table then passes exactly (container address → endpoint address and TCP port), until the
//! lease drops.
//!
//! ```text
//! Network::new(NetworkConfig)    locks the range, ip_forward=1, removes stale namespaces, veths
//!                                and the table of a crashed server (and the tables of other
//!                                ranges whose servers are gone), installs the table
//!   .attach(id) -> NetLease      a namespace + veth (removed when the lease drops)
//! Network::on_free_range(within, prefix, egress)   on a range no other server holds (tests)
//! NetLease::loopback()           a fresh namespace with loopback only (runc makes it)
//!   .plan_network() -> Network   for the container's Plan; .namespace_path(), .address()
//!   .grant(endpoints)            TCP to exactly these (its app's add-ons), until it drops
//! Network::service_address()     where add-on servers listen (derived from the range)
//! free_range(within, prefix)     a range no server of this host holds (tests)
//! OutsideHost::start()           a public-looking host in a namespace of its own (tests)
//! ```

mod etc;
mod link;
mod nft;
mod outside;
mod range;
mod tool;

use std::fs::File;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use ipnet::Ipv4Net;

pub use nft::FLOWS_PER_CONTAINER;
pub use outside::{OutsideHost, PROBE_PY, uplink_address};
pub use range::{DEFAULT_RANGE, DynoNetwork, STANDALONE_RANGE, free_range, parse_range, service_address};

use crate::egress::EgressPolicy;
use range::{Link, Slots};

/// Why a network could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A `--dyno-network` value is not usable.
    #[error("invalid --dyno-network {range:?}: {why}")]
    InvalidRange {
        /// The value.
        range: String,
        /// Why.
        why: String,
    },
    /// Another `paas server` of this host holds the range.
    #[error("the dyno network {range} is in use by another paas server on this host (pass another --dyno-network)")]
    InUse {
        /// The range.
        range: Ipv4Net,
    },
    /// The range holds one of the node's own addresses.
    #[error("the dyno network {range} holds the node's address {address} (pass another --dyno-network)")]
    Overlap {
        /// The range.
        range: Ipv4Net,
        /// The node's address.
        address: Ipv4Addr,
    },
    /// Every link of the range is in use.
    #[error("every address of the dyno network {range} is in use ({links} containers)")]
    Full {
        /// The range.
        range: Ipv4Net,
        /// How many containers it holds.
        links: u32,
    },
    /// `ip` or `nft` cannot be run.
    #[error("cannot run `{program}`: {detail} (network namespaces need iproute2 and nftables)")]
    Tool {
        /// The program.
        program: &'static str,
        /// Why.
        detail: String,
    },
    /// `ip` or `nft` failed.
    #[error("`{command}` failed: {detail}")]
    Command {
        /// The command line.
        command: String,
        /// Its standard error.
        detail: String,
    },
    /// A file of the kernel's or of the lock could not be written.
    #[error("cannot write `{}`: {source}", .path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The node's addresses could not be read.
    #[error(transparent)]
    Egress(#[from] crate::egress::EgressError),
}

/// How containers reach the network on this node.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// The range the containers' addresses come from (one /30 each).
    pub range: Ipv4Net,
    /// What containers may reach: the denied ranges and the operator's allowed ones (never the
    /// node's ends of the veth pairs, whatever is allowed).
    pub egress: EgressPolicy,
    /// The router's listeners: containers may connect to them on the node (app-to-app calls
    /// through `<app>.<domain>`); a loopback one is out of a container's reach.
    pub router: Vec<std::net::SocketAddr>,
}

/// The network of the containers of one node. Cheap to clone; the table, namespaces and veth
/// pairs go when the last clone and the last lease are dropped.
#[derive(Debug, Clone)]
pub struct Network(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    range: Ipv4Net,
    table: String,
    /// This network's id, in its namespaces' names and in the range's lock file.
    owner: String,
    slots: Mutex<Slots>,
    /// The range's lock, held while the network lives.
    _lock: File,
}

/// How many slots one [`Network::attach`] tries when a slot's veth name is held by another
/// process.
pub const ATTACH_TRIES: u32 = 4;

impl Network {
    /// Takes the range (refused when another server of this host holds it or it holds a node
    /// address), sets `net.ipv4.ip_forward` to 1 if it was not, removes what a crashed server left
    /// in the range (namespaces, veth pairs, the table) and installs the table.
    pub fn new(config: NetworkConfig) -> Result<Network, NetError> {
        let range = config.range;
        let mut lock = range::lock(range)?;
        let owner = range::new_owner();
        let previous = range::take_over(&mut lock, &owner)?;
        let stale = link::remove_stale(range, previous.as_deref());
        if stale > 0 {
            tracing::info!(%range, "removed {stale} stale network namespaces and veth pairs");
        }
        let abandoned = sweep_abandoned(range);
        if abandoned > 0 {
            tracing::info!("removed the tables of {abandoned} dyno networks whose servers are gone");
        }
        let node = crate::egress::read_node_addresses()?;
        if let Some(address) =
            node.iter().find_map(|a| if let std::net::IpAddr::V4(a) = a { range.contains(a).then_some(*a) } else { None })
        {
            return Err(NetError::Overlap { range, address });
        }
        if std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").is_ok_and(|v| v.trim() != "1") {
            link::sysctl("net/ipv4/ip_forward", "1")?;
            tracing::info!("net.ipv4.ip_forward was 0: set to 1 (containers reach the network through this node)");
        }
        let resolv = etc::resolv();
        let allowed = config.egress.allowed().to_vec();
        let rules = nft::Rules { range, allowed, resolvers: resolv.servers, router: config.router };
        nft::install(&rules)?;
        let table = rules.table();
        if let Err(e) = link::create_service(range) {
            let _ = nft::remove(&table);
            return Err(e);
        }
        tracing::info!(%range, table = %format!("inet {table}"), "container network: a namespace and a /30 per container");
        Ok(Network(Arc::new(Inner { range, table, owner, slots: Mutex::new(Slots::new(range)), _lock: lock })))
    }

    /// A network on a `prefix`-sized range of `within` that no other server of this host holds
    /// (tests, which start many nodes at once).
    pub fn on_free_range(within: Ipv4Net, prefix: u8, egress: EgressPolicy) -> Result<Network, NetError> {
        let mut last = None;
        for _ in 0..20 {
            let Some(range) = free_range(within, prefix) else { break };
            match Network::new(NetworkConfig { range, egress: egress.clone(), router: Vec::new() }) {
                Err(e @ NetError::InUse { .. }) => last = Some(e),
                other => return other,
            }
        }
        let links = 1 << (30 - u32::from(prefix.min(30)));
        Err(last.unwrap_or(NetError::Full { range: within, links }))
    }

    /// A new namespace for container `id` (named in errors only), with its veth pair and
    /// addresses, removed when the lease drops.
    ///
    /// A slot whose veth name another process holds (another server on the same range, whose
    /// lock file went missing) is left taken, so it is never tried again, and the next is tried:
    /// at most [`ATTACH_TRIES`] slots an attach.
    pub fn attach(&self, id: &str) -> Result<NetLease, NetError> {
        let mut tried = 0;
        loop {
            tried += 1;
            let link = {
                let mut slots = self.0.slots.lock().unwrap_or_else(|e| e.into_inner());
                let capacity = slots.capacity();
                slots.take().ok_or(NetError::Full { range: self.0.range, links: capacity })?
            };
            let Err(e) = link::create(&link, &self.0.owner) else {
                let path = link::netns_path(&link, &self.0.owner);
                return Ok(NetLease(Lease::Veth { network: self.clone(), link, path, grants: Vec::new() }));
            };
            // create() removed what it made; a veth of this name that is still there is not ours.
            let foreign = std::path::Path::new("/sys/class/net").join(link.veth()).exists();
            if foreign {
                tracing::warn!(container = id, veth = %link.veth(), "a veth of this slot's name is not ours; the slot is left out: {e}");
            } else {
                self.give_back(link.slot);
            }
            if !foreign || tried >= ATTACH_TRIES {
                tracing::warn!(container = id, "cannot make the container's network: {e}");
                return Err(e);
            }
        }
    }

    /// The range.
    pub fn range(&self) -> Ipv4Net {
        self.0.range
    }

    /// The nftables table (`inet <name>`).
    pub fn table(&self) -> &str {
        &self.0.table
    }

    /// Where add-on servers listen: the range's [`service_address`], on the node's `lo` while the
    /// network lives. Containers reach it only where their lease [grants](NetLease::grant) it.
    pub fn service_address(&self) -> Ipv4Addr {
        service_address(self.0.range)
    }

    fn give_back(&self, slot: u32) {
        self.0.slots.lock().unwrap_or_else(|e| e.into_inner()).give_back(slot);
    }
}

/// Removes what servers that are gone left on ranges other than `own`: their tables (every packet
/// of the host went through their hooks), their service addresses and the namespaces their lock
/// files name. A range is gone when its lock file is there and unheld ([`range::lock_abandoned`]);
/// it is held while it is cleared, so a server starting on it meanwhile waits its turn
/// ([`range::lock`] waits a moment).
/// Answers how many tables went.
fn sweep_abandoned(own: Ipv4Net) -> usize {
    let ranges = match nft::ranges_with_a_table() {
        Ok(ranges) => ranges,
        Err(e) => {
            tracing::warn!("cannot list the nftables tables: {e}");
            return 0;
        }
    };
    let mut removed = 0;
    for range in ranges.into_iter().filter(|r| *r != own) {
        let Some(mut lock) = range::lock_abandoned(range) else { continue };
        link::remove_stale(range, range::recorded_owner(&mut lock).as_deref());
        match nft::remove(&nft::table_of(range)) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(%range, "cannot remove the table of a dyno network whose server is gone: {e}"),
        }
    }
    removed
}

impl Drop for Inner {
    fn drop(&mut self) {
        link::remove_stale(self.range, Some(&self.owner));
        if let Err(e) = nft::remove(&self.table) {
            tracing::warn!(table = %self.table, "cannot remove the container network's table: {e}");
        }
    }
}

/// The `/etc/hosts` and `/etc/resolv.conf` of a container with a network namespace of its own:
/// localhost and `hostname` on loopback; the node's resolvers without loopback ones.
pub(crate) fn etc_files(hostname: &str) -> (String, String) {
    (etc::hosts(hostname), etc::resolv().text)
}

/// What a build may reach (`paas server --build-network`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildNetwork {
    /// The network, under the egress policy (package registries stay reachable).
    #[default]
    Egress,
    /// Loopback only.
    None,
}

impl std::str::FromStr for BuildNetwork {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "egress" => Ok(BuildNetwork::Egress),
            "none" => Ok(BuildNetwork::None),
            _ => Err(format!("expected `egress` or `none`, found {s:?}")),
        }
    }
}

impl BuildNetwork {
    /// The lease of a build container `id`: from `network` for [`BuildNetwork::Egress`],
    /// loopback only for [`BuildNetwork::None`].
    pub fn lease(self, network: &Network, id: &str) -> Result<NetLease, NetError> {
        match self {
            BuildNetwork::Egress => network.attach(id),
            BuildNetwork::None => Ok(NetLease::loopback()),
        }
    }
}

/// One container's network: its namespace, given back when dropped (after the container is gone).
#[derive(Debug)]
pub struct NetLease(Lease);

#[derive(Debug)]
enum Lease {
    Loopback,
    Veth { network: Network, link: Link, path: PathBuf, grants: Vec<std::net::SocketAddr> },
}

impl NetLease {
    /// A fresh namespace with loopback only: the OCI runtime makes it (the spec's network
    /// namespace has no path) and brings `lo` up.
    pub fn loopback() -> NetLease {
        NetLease(Lease::Loopback)
    }

    /// The namespace file the container joins (`/run/netns/paas-<addr>`); `None` for a fresh one.
    pub fn namespace_path(&self) -> Option<&Path> {
        match &self.0 {
            Lease::Loopback => None,
            Lease::Veth { path, .. } => Some(path),
        }
    }

    /// The container's address (what a web dyno's `$PORT` is reached at), if it has one.
    pub fn address(&self) -> Option<Ipv4Addr> {
        match &self.0 {
            Lease::Loopback => None,
            Lease::Veth { link, .. } => Some(link.dyno),
        }
    }

    /// Lets the container open TCP connections to exactly `endpoints` (its app's add-ons), even
    /// where the table refuses the address (the node's service address, a private range), until
    /// the lease drops. IPv6 endpoints are left out (containers have no IPv6); a loopback lease
    /// reaches nothing anyway.
    pub fn grant(&mut self, endpoints: &[std::net::SocketAddr]) -> Result<(), NetError> {
        let Lease::Veth { network, link, grants, .. } = &mut self.0 else { return Ok(()) };
        let new: Vec<std::net::SocketAddr> = endpoints.iter().filter(|e| !grants.contains(e)).copied().collect();
        nft::grant(network.table(), link.dyno, &new)?;
        grants.extend(new);
        Ok(())
    }

    /// The network of the container's [`Plan`](crate::Plan): the namespace to join, or a fresh
    /// one with loopback only.
    pub fn plan_network(&self) -> crate::Network {
        match &self.0 {
            Lease::Loopback => crate::Network::None,
            Lease::Veth { path, .. } => crate::Network::Join(path.clone()),
        }
    }
}

impl Drop for NetLease {
    fn drop(&mut self) {
        if let Lease::Veth { network, link, grants, .. } = &self.0 {
            nft::revoke(network.table(), link.dyno, grants);
            link::delete(link, &network.0.owner);
            network.give_back(link.slot);
        }
    }
}
