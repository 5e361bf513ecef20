//! The routing table: `Host` → the app's route (its web dynos, maintenance and crashed flags).
//!
//! Lookups take a read lock only long enough to clone one `Arc`; a request keeps the
//! [`AppRoute`] it looked up until it finishes, so replacing a route (deploy, scale, domains,
//! maintenance) never disturbs requests in flight. Every update is O(number of the app's hosts).

use std::collections::{BTreeSet, HashMap};
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, Weak};

use paas_metrics::{AppMetrics, Metrics};

use crate::backend::Backend;

/// One web dyno in an app's route: its name (`web.1`) and how to call it.
#[derive(Clone)]
pub struct WebDyno {
    /// The dyno's name as it appears in router log lines (`dyno=web.1`).
    pub name: String,
    /// How to reach it.
    pub backend: Arc<dyn Backend>,
}

impl WebDyno {
    /// A web dyno named `name` served by `backend`.
    pub fn new(name: impl Into<String>, backend: impl Backend) -> Self {
        WebDyno { name: name.into(), backend: Arc::new(backend) }
    }
}

impl std::fmt::Debug for WebDyno {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebDyno").field("name", &self.name).finish_non_exhaustive()
    }
}

/// An immutable snapshot of one app's route. Updates replace it whole.
#[derive(Debug, Clone, Default)]
pub struct AppRoute {
    /// The app's name.
    pub app: String,
    /// Maintenance mode (`paas maintenance:on`): every request answers H80.
    pub maintenance: bool,
    /// The app's web process crashed: with no web dyno up, requests answer H10 rather than H14.
    pub crashed: bool,
    /// The web dynos that are up on this node; the router picks one at random per request.
    pub web: Vec<WebDyno>,
    /// On a grid: the app's web dynos on other nodes, each reached through its node's router
    /// ([`crate::PeerBackend`]). Used only while `web` is empty, never for a request another
    /// node forwarded.
    pub remote: Vec<WebDyno>,
    /// Custom domains (`domains:add`), lowercased. `<app>.<domain>` is implied.
    pub domains: BTreeSet<String>,
    /// The app's metrics (the table's registry's), counted as each response ends.
    pub metrics: Arc<AppMetrics>,
}

/// Why a table update was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TableError {
    /// The domain already routes to another app.
    #[error("domain {domain} already belongs to app {app}")]
    DomainTaken {
        /// The domain asked for.
        domain: String,
        /// The app it routes to.
        app: String,
    },
    /// The domain is not a valid host name.
    #[error("invalid domain {0:?}")]
    InvalidDomain(String),
    /// No such app in the table.
    #[error("no route for app {0}")]
    NoSuchApp(String),
}

#[derive(Default)]
struct Tables {
    /// Every routed host (lowercase, no port) → the route of the app it belongs to.
    hosts: HashMap<String, Arc<AppRoute>>,
    /// App name → its current route.
    apps: HashMap<String, Arc<AppRoute>>,
}

/// The router's table of apps, shared (`Arc<RouteTable>`) between the router and whoever
/// updates routes (the dyno supervisor, the platform API).
pub struct RouteTable {
    domain: String,
    tables: RwLock<Tables>,
    metrics: Arc<Metrics>,
    /// Tells this table apart from others in the process (see [`RouteTable::lookup_normalized`]).
    id: u64,
    /// Moves on whenever the tables are written: a route a thread kept from before is looked up
    /// again.
    generation: AtomicU64,
}

/// Where each [`RouteTable`]'s id comes from.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

/// The route a thread looked up last, while its table has not changed since.
struct LastLookup {
    table: u64,
    generation: u64,
    host: String,
    /// Weak: a thread that goes quiet does not keep a removed app's route (and its dynos) alive.
    route: Weak<AppRoute>,
}

thread_local! {
    static LAST_LOOKUP: RefCell<Option<LastLookup>> = const { RefCell::new(None) };
}

impl RouteTable {
    /// An empty table; app `hello` will answer at `hello.<domain>` (e.g. `localhost`).
    pub fn new(domain: impl Into<String>) -> Self {
        Self::with_metrics(domain, Arc::default())
    }

    /// An empty table whose apps count their requests in `metrics` (the server's registry).
    pub fn with_metrics(domain: impl Into<String>, metrics: Arc<Metrics>) -> Self {
        RouteTable {
            domain: normalize_host(&domain.into()),
            tables: RwLock::new(Tables::default()),
            metrics,
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            generation: AtomicU64::new(0),
        }
    }

    /// The registry the apps' metrics are in.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    /// The platform's base domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The default host of `app`: `<app>.<domain>`.
    pub fn default_host(&self, app: &str) -> String {
        format!("{}.{}", app.to_ascii_lowercase(), self.domain)
    }

    /// The route for a `Host` header value (any case, with or without `:port`), if any.
    pub fn lookup(&self, host: &str) -> Option<Arc<AppRoute>> {
        self.lookup_normalized(&normalize_host(host))
    }

    /// [`RouteTable::lookup`] of a host already through [`normalize_host`]. A thread asking for
    /// the same host as last time, with the table unchanged since, gets it without the table's
    /// lock or a hash: the lock's count, written by every request on every core, was one of the
    /// lines all of a busy router's threads fought over.
    pub(crate) fn lookup_normalized(&self, host: &str) -> Option<Arc<AppRoute>> {
        let generation = self.generation.load(Ordering::Acquire);
        let kept = LAST_LOOKUP.with_borrow(|last| match last {
            Some(last) if last.table == self.id && last.generation == generation && last.host == host => last.route.upgrade(),
            _ => None,
        });
        if kept.is_some() {
            return kept;
        }
        let (route, generation) = {
            let tables = self.read();
            // Read under the lock: no write is half-way, so the route is this generation's.
            (tables.hosts.get(host).cloned(), self.generation.load(Ordering::Acquire))
        };
        if let Some(route) = &route {
            LAST_LOOKUP.with_borrow_mut(|last| match last {
                // Its name's buffer is reused (no allocation when hosts alternate).
                Some(last) => {
                    last.table = self.id;
                    last.generation = generation;
                    last.host.clear();
                    last.host.push_str(host);
                    last.route = Arc::downgrade(route);
                }
                None => {
                    *last = Some(LastLookup {
                        table: self.id,
                        generation,
                        host: host.to_string(),
                        route: Arc::downgrade(route),
                    })
                }
            });
        }
        route
    }

    /// The current route of `app`, if it is in the table.
    pub fn app(&self, app: &str) -> Option<Arc<AppRoute>> {
        self.read().apps.get(app).cloned()
    }

    /// The names of all apps in the table, sorted.
    pub fn apps(&self) -> Vec<String> {
        let mut names: Vec<String> = self.read().apps.keys().cloned().collect();
        names.sort();
        names
    }

    /// Adds `app` with no web dynos if it is not in the table yet (requests then answer H14).
    pub fn ensure_app(&self, app: &str) {
        let _ = self.update(app, true, |_| Ok(()));
    }

    /// Replaces the web dynos of `app` (adding the app if needed). Clears the crashed flag when
    /// `web` is not empty.
    pub fn set_web(&self, app: &str, web: Vec<WebDyno>) {
        let _ = self.update(app, true, |route| {
            if !web.is_empty() {
                route.crashed = false;
            }
            route.web = web;
            Ok(())
        });
    }

    /// Replaces the web dynos of `app` on other nodes of the grid; an app not in the table (removed
    /// meanwhile) is not added back.
    pub fn set_remote(&self, app: &str, remote: Vec<WebDyno>) {
        let _ = self.update(app, false, |route| {
            route.remote = remote;
            Ok(())
        });
    }

    /// Sets maintenance mode of `app` (adding the app if needed).
    pub fn set_maintenance(&self, app: &str, on: bool) {
        let _ = self.update(app, true, |route| {
            route.maintenance = on;
            Ok(())
        });
    }

    /// Marks the web process of `app` crashed or not (adding the app if needed).
    pub fn set_crashed(&self, app: &str, crashed: bool) {
        let _ = self.update(app, true, |route| {
            route.crashed = crashed;
            Ok(())
        });
    }

    /// Replaces the custom domains of `app` (adding the app if needed). All or nothing: fails
    /// if any domain is invalid or belongs to another app.
    pub fn set_domains<I, S>(&self, app: &str, domains: I) -> Result<(), TableError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let domains = domains
            .into_iter()
            .map(|d| checked_domain(d.as_ref()))
            .collect::<Result<BTreeSet<_>, _>>()?;
        self.update(app, true, |route| {
            route.domains = domains;
            Ok(())
        })
    }

    /// Adds a custom domain to `app` (adding the app if needed).
    pub fn add_domain(&self, app: &str, domain: &str) -> Result<(), TableError> {
        let domain = checked_domain(domain)?;
        self.update(app, true, |route| {
            route.domains.insert(domain);
            Ok(())
        })
    }

    /// Removes a custom domain from `app`; no error when it was not there.
    pub fn remove_domain(&self, app: &str, domain: &str) -> Result<(), TableError> {
        let domain = normalize_host(domain);
        self.update(app, false, |route| {
            route.domains.remove(&domain);
            Ok(())
        })
    }

    /// Removes `app` and all its hosts. Requests in flight finish on the route they hold.
    pub fn remove_app(&self, app: &str) -> Option<Arc<AppRoute>> {
        let mut tables = self.write();
        let old = tables.apps.remove(app)?;
        self.metrics.remove(app);
        tables.hosts.remove(&self.default_host(app));
        for domain in &old.domains {
            tables.hosts.remove(domain);
        }
        Some(old)
    }

    /// Applies `change` to a copy of the app's route and publishes it under all its hosts.
    fn update(
        &self,
        app: &str,
        create: bool,
        change: impl FnOnce(&mut AppRoute) -> Result<(), TableError>,
    ) -> Result<(), TableError> {
        let mut tables = self.write();
        let mut route = match tables.apps.get(app) {
            Some(route) => AppRoute::clone(route),
            None if create => AppRoute { app: app.to_string(), metrics: self.metrics.app(app), ..AppRoute::default() },
            None => return Err(TableError::NoSuchApp(app.to_string())),
        };
        let old_domains = route.domains.clone();
        change(&mut route)?;
        for domain in &route.domains {
            if let Some(owner) = tables.hosts.get(domain)
                && owner.app != app
            {
                return Err(TableError::DomainTaken { domain: domain.clone(), app: owner.app.clone() });
            }
        }
        for gone in old_domains.difference(&route.domains) {
            tables.hosts.remove(gone);
        }
        let route = Arc::new(route);
        tables.hosts.insert(self.default_host(app), route.clone());
        for domain in &route.domains {
            tables.hosts.insert(domain.clone(), route.clone());
        }
        tables.apps.insert(app.to_string(), route);
        Ok(())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Tables> {
        self.tables.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Tables> {
        let tables = self.tables.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        // Before the change is made: a thread that sees the new generation looks the host up
        // again, under the lock, after the change.
        self.generation.fetch_add(1, Ordering::AcqRel);
        tables
    }
}

impl std::fmt::Debug for RouteTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouteTable").field("domain", &self.domain).field("apps", &self.apps()).finish()
    }
}

/// A `Host` header value as a table key: lowercased, without `:port` or a trailing dot.
pub fn normalize_host(host: &str) -> String {
    let host = host.trim();
    let without_port = match host.rsplit_once(':') {
        // `[::1]:8080` and `example.com:8080`, but not a bare IPv6 address.
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) && !name.ends_with(':') => {
            name
        }
        _ => host,
    };
    without_port.trim_end_matches('.').to_ascii_lowercase()
}

fn checked_domain(domain: &str) -> Result<String, TableError> {
    let normalized = normalize_host(domain);
    let valid = !normalized.is_empty()
        && normalized.len() <= 253
        && normalized.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        });
    if valid { Ok(normalized) } else { Err(TableError::InvalidDomain(domain.to_string())) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{FnBackend, full_body};

    fn dyno(name: &str) -> WebDyno {
        WebDyno::new(name, FnBackend::new(|_req| async { Ok(http::Response::new(full_body("x"))) }))
    }

    #[test]
    fn normalize_host_strips_port_case_and_trailing_dot() {
        assert_eq!(normalize_host("Hello.LocalHost:8080"), "hello.localhost");
        assert_eq!(normalize_host("hello.localhost."), "hello.localhost");
        assert_eq!(normalize_host("[::1]:80"), "[::1]");
        assert_eq!(normalize_host("127.0.0.1"), "127.0.0.1");
    }

    #[test]
    fn app_answers_on_default_host_and_custom_domains() {
        let table = RouteTable::new("localhost");
        table.set_web("hello", vec![dyno("web.1")]);
        table.add_domain("hello", "WWW.Example.com").unwrap();
        assert_eq!(table.lookup("hello.localhost:5000").unwrap().app, "hello");
        assert_eq!(table.lookup("www.example.com").unwrap().web.len(), 1);
        assert!(table.lookup("other.localhost").is_none());
        table.remove_domain("hello", "www.example.com").unwrap();
        assert!(table.lookup("www.example.com").is_none());
    }

    #[test]
    fn domain_of_another_app_is_refused_and_nothing_changes() {
        let table = RouteTable::new("localhost");
        table.add_domain("a", "shop.example.com").unwrap();
        let err = table.set_domains("b", ["b.example.com", "shop.example.com"]).unwrap_err();
        assert_eq!(err, TableError::DomainTaken { domain: "shop.example.com".into(), app: "a".into() });
        assert!(table.lookup("b.example.com").is_none());
        assert_eq!(table.lookup("shop.example.com").unwrap().app, "a");
        assert_eq!(table.add_domain("a", "bad domain"), Err(TableError::InvalidDomain("bad domain".into())));
    }

    #[test]
    fn remote_dynos_of_a_removed_app_do_not_add_it_back() {
        let table = RouteTable::new("localhost");
        table.set_web("gone", vec![dyno("web.1")]);
        table.remove_app("gone");
        table.set_remote("gone", vec![dyno("web.2")]);
        assert!(table.app("gone").is_none());
    }

    #[test]
    fn updates_replace_the_route_and_old_snapshots_stay_intact() {
        let table = RouteTable::new("localhost");
        table.set_web("hello", vec![dyno("web.1"), dyno("web.2")]);
        let held = table.lookup("hello.localhost").unwrap();
        table.set_web("hello", vec![]);
        table.set_maintenance("hello", true);
        assert_eq!(held.web.len(), 2);
        assert!(!held.maintenance);
        let now = table.lookup("hello.localhost").unwrap();
        assert!(now.web.is_empty() && now.maintenance);
        table.set_crashed("hello", true);
        table.set_web("hello", vec![dyno("web.1")]);
        assert!(!table.app("hello").unwrap().crashed);
    }

    #[test]
    fn a_threads_last_lookup_follows_changes_and_keeps_nothing_alive() {
        let (a, b) = (RouteTable::new("localhost"), RouteTable::new("localhost"));
        a.set_web("hello", vec![dyno("web.1")]);
        b.set_web("hello", vec![dyno("web.2")]);
        for _ in 0..2 {
            assert_eq!(a.lookup("hello.localhost").unwrap().web[0].name, "web.1");
            assert_eq!(b.lookup("hello.localhost").unwrap().web[0].name, "web.2", "another table's route");
        }
        let first = a.lookup("hello.localhost").unwrap();
        assert!(Arc::ptr_eq(&first, &a.lookup("hello.localhost").unwrap()));
        a.set_web("hello", vec![dyno("web.3")]);
        assert_eq!(a.lookup("hello.localhost").unwrap().web[0].name, "web.3", "a change is seen at once");
        let last = Arc::downgrade(&a.lookup("hello.localhost").unwrap());
        a.remove_app("hello");
        assert!(a.lookup("hello.localhost").is_none());
        assert!(last.upgrade().is_none(), "the thread's last lookup keeps no removed route alive");
        assert_eq!(first.web[0].name, "web.1", "a route held stays as it was");
    }

    #[test]
    fn remove_app_drops_all_its_hosts() {
        let table = RouteTable::new("localhost");
        table.set_domains("hello", ["hello.example.com"]).unwrap();
        assert!(table.remove_app("hello").is_some());
        assert!(table.lookup("hello.localhost").is_none());
        assert!(table.lookup("hello.example.com").is_none());
        assert!(table.apps().is_empty());
        assert_eq!(table.remove_domain("hello", "x.com"), Err(TableError::NoSuchApp("hello".into())));
    }

    #[test]
    fn ten_thousand_apps_each_route_to_their_own_dynos() {
        let table = RouteTable::new("paas.example");
        for n in 0..10_000 {
            table.set_web(&format!("app{n}"), vec![dyno(&format!("web.{n}"))]);
            if n % 10 == 0 {
                table.add_domain(&format!("app{n}"), &format!("www.custom{n}.example")).unwrap();
            }
        }
        assert_eq!(table.apps().len(), 10_000);
        for n in (0..10_000).step_by(7) {
            let route = table.lookup(&format!("APP{n}.paas.example:443")).unwrap();
            assert_eq!((route.app.as_str(), route.web[0].name.as_str()), (format!("app{n}").as_str(), format!("web.{n}").as_str()));
        }
        assert_eq!(table.lookup("www.custom9990.example").unwrap().app, "app9990");
        assert!(table.lookup("www.custom9991.example").is_none());
    }
}
