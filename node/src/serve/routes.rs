//! On a grid, any node's router serves any app: the route table's web dynos on *other* nodes
//! ([`paas_router::RouteTable::set_remote`]), refreshed from the ledger's assignments every half
//! second, and the nodes whose forwarded requests this router serves ([`NodeKeys`]: their hop
//! secrets' hashes, never their keys).
//!
//! A remote dyno is an assignment of a `web` dyno to another node that is up, at that node's
//! current epoch (a fenced node's assignments are not routed to). Each node is reached through
//! one [`PeerBackend`] (one keep-alive pool, kept from round to round while the node's router
//! address stays the same), shared by the route entries of all the dynos it runs, so the router's
//! random choice spreads requests over the nodes by their number of dynos. Nothing here is on the
//! request path: the router reads only the table and the key hashes in memory.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use paas_platform::Ledger;
use paas_platform::grid::Node;
use paas_router::{PeerBackend, Peers, RouteTable, WebDyno};
use reqwest::header::HeaderValue;
use uuid::Uuid;

use super::Driver;
use crate::error::ServeError;

/// How often the assignments are read.
pub(super) const REFRESH_EVERY: Duration = Duration::from_millis(500);

/// The SHA-256 of every node's hop secret, refreshed with the routes: a forwarded request's
/// `X-Paas-Hop: Node <hop secret>` is a node's when its hash is here. The hop secret is derived
/// from the node key ([`paas_platform::grid::auth::hop_secret`]); the key itself is not a hop
/// secret, and a hop secret opens nothing but this.
#[derive(Debug, Default)]
pub(super) struct NodeKeys(RwLock<Arc<HashSet<String>>>);

impl NodeKeys {
    fn replace(&self, hashes: Vec<String>) {
        let hashes = Arc::new(hashes.into_iter().collect());
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = hashes;
    }
}

impl Peers for NodeKeys {
    fn vouch(&self, credential: &HeaderValue) -> bool {
        let Some(key) = paas_platform::grid::auth::key_of(credential) else { return false };
        let hash = paas_platform::auth::hash_api_key(key);
        self.0.read().unwrap_or_else(|e| e.into_inner()).contains(&hash)
    }
}

/// A peer node as the routes use it: its router's URL (as registered) and address, and the pool.
struct Peer {
    url: String,
    backend: PeerBackend,
}

/// One app's remote dynos as last published: (dyno, node's router address), sorted.
type Published = Vec<(String, SocketAddr)>;

/// Keeps the route table's remote dynos and the node keys up to date.
pub(super) struct RemoteRoutes {
    pub(super) ledger: Arc<dyn Ledger>,
    pub(super) table: Arc<RouteTable>,
    /// This node (its own dynos are the supervisor's).
    pub(super) node_id: Uuid,
    /// What this node sends to other nodes' routers (`Node <hop secret>`).
    pub(super) credential: HeaderValue,
    pub(super) keys: Arc<NodeKeys>,
    /// Where this node's router listens (checked once against the URL it registered).
    pub(super) listen: SocketAddr,
}

impl RemoteRoutes {
    /// Says once if other nodes cannot reach this router, reads the routes a first time (so a
    /// node serves other nodes' dynos from its first request), and gives back the loop that
    /// refreshes them every [`REFRESH_EVERY`] for as long as the server runs. App names come from
    /// the driver's last sweep (an app is routed once this node knows it).
    pub(super) async fn start(self, driver: Arc<Driver>) -> impl std::future::Future<Output = ()> + Send + 'static {
        if let Ok(nodes) = self.ledger.list_nodes().await {
            let registered = nodes.iter().find(|n| n.id == self.node_id).map(|n| n.router_url.as_str());
            if let Some(problem) = registered.and_then(|url| unreachable_by_peers(self.listen, url)) {
                tracing::warn!("{problem}");
            }
        }
        let mut peers: HashMap<Uuid, Peer> = HashMap::new();
        let mut published: HashMap<String, Published> = HashMap::new();
        let mut failing = self.round(&driver, &mut peers, &mut published, false).await;
        async move {
            loop {
                tokio::time::sleep(REFRESH_EVERY).await;
                failing = self.round(&driver, &mut peers, &mut published, failing).await;
            }
        }
    }

    /// One refresh; says when reading starts or stops failing. Gives back whether it failed.
    async fn round(
        &self,
        driver: &Driver,
        peers: &mut HashMap<Uuid, Peer>,
        published: &mut HashMap<String, Published>,
        failing: bool,
    ) -> bool {
        match self.refresh(driver, peers, published).await {
            Ok(()) => {
                if failing {
                    tracing::info!("routes to other nodes' dynos are read again");
                }
                false
            }
            Err(e) => {
                if !failing {
                    tracing::warn!("cannot read the routes to other nodes' dynos (kept as they were): {}", crate::error::chain(&e));
                }
                true
            }
        }
    }

    async fn refresh(
        &self,
        driver: &Driver,
        peers: &mut HashMap<Uuid, Peer>,
        published: &mut HashMap<String, Published>,
    ) -> Result<(), paas_platform::LedgerError> {
        let (nodes, assignments, hashes) = tokio::try_join!(
            self.ledger.list_nodes(),
            self.ledger.list_assignments(),
            self.ledger.hop_hashes()
        )?;
        self.keys.replace(hashes);
        let live: HashMap<Uuid, &Node> =
            nodes.iter().filter(|n| n.up && n.id != self.node_id).map(|n| (n.id, n)).collect();
        peers.retain(|id, peer| live.get(id).is_some_and(|n| n.router_url == peer.url));
        for (id, node) in &live {
            if peers.contains_key(id) {
                continue;
            }
            match router_addr(&node.router_url).await {
                Ok(addr) => {
                    let backend = PeerBackend::new(addr, self.credential.clone());
                    peers.insert(*id, Peer { url: node.router_url.clone(), backend });
                }
                Err(e) => tracing::warn!(node = %node.name, "cannot route to this node: {e}"),
            }
        }

        let mut remote: HashMap<Uuid, Vec<(String, Uuid)>> = HashMap::new();
        for assignment in assignments {
            let current = live.get(&assignment.node_id).is_some_and(|n| n.epoch == assignment.epoch);
            if assignment.dyno.process_type == "web" && current && peers.contains_key(&assignment.node_id) {
                remote.entry(assignment.dyno.app).or_default().push((assignment.dyno.name(), assignment.node_id));
            }
        }
        let names: Vec<(Uuid, String)> =
            driver.seen.lock().await.iter().map(|(id, seen)| (*id, seen.name.clone())).collect();
        let mut next = HashMap::with_capacity(names.len());
        for (id, name) in names {
            let mut dynos = remote.remove(&id).unwrap_or_default();
            dynos.sort();
            let now: Published = dynos.iter().map(|(dyno, node)| (dyno.clone(), peers[node].backend.addr())).collect();
            // Not in the table yet: the supervisor adds it (with its domains) on its reconcile.
            let Some(route) = self.table.app(&name) else { continue };
            if published.get(&name) != Some(&now) || route.remote.len() != now.len() {
                let web = dynos.iter().map(|(dyno, node)| WebDyno::new(dyno.clone(), peers[node].backend.clone())).collect();
                self.table.set_remote(&name, web);
            }
            next.insert(name, now);
        }
        *published = next;
        Ok(())
    }
}

/// Why other nodes cannot reach this node's router, listening at `listen` and registered as
/// `registered`: `--node-address` missing with a wildcard listener, or a loopback listener
/// registered under another address.
fn unreachable_by_peers(listen: SocketAddr, registered: &str) -> Option<String> {
    let host = reqwest::Url::parse(registered).ok()?.host_str()?.trim_matches(['[', ']']).to_string();
    let ip = host.parse::<std::net::IpAddr>().ok();
    if ip.is_some_and(|ip| ip.is_unspecified()) {
        return Some(format!(
            "this node's router is registered as {registered}, which other nodes cannot use: give --node-address \
             (the host other nodes reach this one at)"
        ));
    }
    if listen.ip().is_loopback() && !ip.is_some_and(|ip| ip.is_loopback()) && host != "localhost" {
        return Some(format!(
            "this node's router listens on {listen} only, but other nodes are told {registered}: let it listen \
             where they reach it (--router-listen 0.0.0.0:{})",
            listen.port()
        ));
    }
    None
}

/// The socket address of a node's router URL (`http://10.0.0.2:8080`), resolved once per change.
/// A wildcard address (a node without `--node-address` listening on `0.0.0.0`) is refused:
/// connecting to it would reach this node itself.
async fn router_addr(url: &str) -> Result<SocketAddr, ServeError> {
    let said = |what: String| ServeError::RouterUrl(what);
    let parsed = reqwest::Url::parse(url).map_err(|e| said(format!("router URL {url:?}: {e}")))?;
    let host = parsed.host_str().ok_or_else(|| said(format!("router URL {url:?} names no host")))?;
    let port = parsed.port_or_known_default().ok_or_else(|| said(format!("router URL {url:?} names no port")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addr = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| said(format!("cannot resolve {host}: {e}")))?
        .next()
        .ok_or_else(|| said(format!("{host} has no address")))?;
    if addr.ip().is_unspecified() {
        return Err(said(format!("its router URL {url} names no address it can be reached at (--node-address)")));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn router_urls_resolve_to_their_socket_address() {
        assert_eq!(router_addr("http://127.0.0.1:8080").await.unwrap(), "127.0.0.1:8080".parse().unwrap());
        assert_eq!(router_addr("http://[::1]:81").await.unwrap(), "[::1]:81".parse().unwrap());
        assert_eq!(router_addr("http://127.0.0.1").await.unwrap().port(), 80);
        assert!(router_addr("not a url").await.is_err());
        assert!(router_addr("http://0.0.0.0:8080").await.is_err(), "a wildcard address would reach this node");
    }

    #[test]
    fn a_router_other_nodes_cannot_reach_is_said() {
        let loopback: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        assert_eq!(unreachable_by_peers(loopback, "http://127.0.0.1:8080"), None, "one machine (tests)");
        assert_eq!(unreachable_by_peers(any, "http://10.0.0.2:8080"), None);
        assert!(unreachable_by_peers(any, "http://0.0.0.0:8080").unwrap().contains("--node-address"));
        assert!(unreachable_by_peers(loopback, "http://10.0.0.2:8080").unwrap().contains("--router-listen 0.0.0.0:8080"));
        assert!(unreachable_by_peers(loopback, "http://node-b.internal:8080").is_some());
    }

    #[test]
    fn only_a_hop_secret_of_the_grid_is_vouched_for_not_a_node_key() {
        use paas_platform::grid::auth::{hop_credential, hop_secret};
        let keys = NodeKeys::default();
        keys.replace(vec![paas_platform::auth::hash_api_key(&hop_secret("k1"))]);
        assert!(keys.vouch(&hop_credential("k1").unwrap()));
        assert!(!keys.vouch(&hop_credential("k2").unwrap()));
        assert!(!keys.vouch(&HeaderValue::from_static("Node k1")), "the node key itself is no hop secret");
        let secret = hop_secret("k1");
        assert!(!keys.vouch(&HeaderValue::from_str(&format!("Bearer {secret}")).unwrap()));
        assert!(!keys.vouch(&HeaderValue::from_str(&secret).unwrap()));
    }
}
