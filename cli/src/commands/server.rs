//! `paas server`: runs a whole node of the platform in this process. Its flags become a
//! [`paas_node::NodeConfig`]; `paas_node::run` does the rest.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

/// Run the platform: Platform API, ledger and router, in one process.
#[derive(Debug, Args)]
pub struct ServerCommand {
    /// Where the ledger (SQLite), the operator's API key and the platform's files live.
    #[arg(long, env = "PAAS_DATA_DIR", default_value = "./paas-data")]
    data_dir: PathBuf,
    /// Address of the Platform API (port 0 picks a free port).
    #[arg(long, env = "PAAS_API_LISTEN", default_value = "127.0.0.1:5000")]
    api_listen: SocketAddr,
    /// Address of the router that serves apps (port 0 picks a free port).
    #[arg(long, env = "PAAS_ROUTER_LISTEN", default_value = "127.0.0.1:8080")]
    router_listen: SocketAddr,
    /// Also serve apps over HTTPS here (port 0 picks a free port), choosing each certificate by
    /// SNI: an app's own (`heroku certs:add`) for its custom domains, else the server's
    /// (--tls-cert, or the local CA's for the domain and `*.<domain>`).
    #[arg(long, env = "PAAS_ROUTER_TLS_LISTEN")]
    router_tls_listen: Option<SocketAddr>,
    /// Also serve the Platform API and git over HTTPS here (port 0 picks a free port), with the
    /// certificate of --tls-cert or the local CA: the remote `heroku git:remote` writes is https://.
    #[arg(long, env = "PAAS_API_TLS_LISTEN")]
    api_tls_listen: Option<SocketAddr>,
    /// Apps are served at <app>.<domain>.
    #[arg(long, env = "PAAS_DOMAIN", default_value = "localhost")]
    domain: String,
    /// Address of the TLS rendezvous where `paas run` and `heroku run` attach to one-off dynos
    /// (port 0 picks a free port). Default: the API's IP and port + 1 (5001), or a free port when
    /// the API's is 0.
    #[arg(long, env = "PAAS_RENDEZVOUS_LISTEN")]
    rendezvous_listen: Option<SocketAddr>,
    /// TLS certificate chain (PEM) for the rendezvous and HTTPS; without it, a local CA made in
    /// <data-dir>/tls/ (clients trust <data-dir>/tls/ca.pem).
    #[arg(long, env = "PAAS_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key (PEM) of --tls-cert.
    #[arg(long, env = "PAAS_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Keep the ledger in PostgreSQL (postgres://…) instead of SQLite in the data dir.
    #[arg(long, env = "PAAS_DATABASE_URL")]
    database_url: Option<String>,
    /// The PostgreSQL server Heroku Postgres add-ons are made on (postgres://admin@host/, a
    /// superuser or a role with CREATEDB CREATEROLE); default: a cluster paas initialises under
    /// <data-dir>/addons/postgres at the first add-on, listening on 127.0.0.1.
    #[arg(long, env = "PAAS_ADDONS_POSTGRES_URL")]
    addons_postgres_url: Option<String>,
    /// The folder of built-in buildpacks. Default: the ones embedded in this binary, installed
    /// into <data-dir>/buildpacks/<hash>/ at start.
    #[arg(long, env = "PAAS_BUILDPACKS_DIR")]
    buildpacks_dir: Option<PathBuf>,
    /// Web dynos of sleeping apps (eco dynos, feature `sleep`) sleep after this long without a
    /// request, and wake on the next one: `30m`, `2s`, `500ms`, `1h`.
    #[arg(long, env = "PAAS_SLEEP_AFTER", default_value = "30m", value_parser = parse_duration)]
    sleep_after: Duration,
    /// How often autoscaling (`ps:autoscale:enable`) compares each web process's p95 response
    /// time over that window with its target and scales: `60s` (Heroku's minute); shorter for tests.
    #[arg(long, env = "PAAS_AUTOSCALE_EVERY", default_value = "60s", value_parser = parse_duration)]
    autoscale_every: Duration,
    /// The OCI runtime that runs native dynos (runc; crun, youki or runsc where they work).
    /// Unset: `runc` from PATH if it runs, else native dynos are disabled (and reported crashed).
    #[arg(long, env = "PAAS_CONTAINER_RUNTIME")]
    container_runtime: Option<PathBuf>,
    /// A native web dyno that does not accept on $PORT this long after launch is killed (R10).
    #[arg(long, env = "PAAS_BOOT_TIMEOUT", default_value = "60s", value_parser = parse_duration)]
    boot_timeout: Duration,
    /// Let dynos and log drains reach this range (CIDR, or one address), which the egress policy
    /// denies otherwise (loopback, this node's addresses, link-local, private, CGNAT, ULA):
    /// e.g. an add-on's database on the LAN. Repeatable (comma-separated in the variable).
    #[arg(long = "egress-allow", env = "PAAS_EGRESS_ALLOW", value_name = "CIDR", value_delimiter = ',',
          value_parser = paas_sandbox::egress::parse_allow)]
    egress_allow: Vec<paas_sandbox::egress::IpNet>,
    /// The range native dynos' and builds' network namespaces take their addresses from, one /30
    /// each (/29 or wider; the default holds 16,383 containers): each container reaches the
    /// internet through this node (masqueraded) under the egress policy, never this node's
    /// services nor another container, and nothing outside reaches it except through the router.
    /// The last /30's first address is the add-on service address (add-on servers listen there;
    /// a dyno reaches only its app's add-ons). `host`: no namespaces, containers share the host's
    /// network (single-tenant only).
    #[arg(long, env = "PAAS_DYNO_NETWORK", value_name = "CIDR|host", default_value = paas_sandbox::net::DEFAULT_RANGE)]
    dyno_network: paas_sandbox::net::DynoNetwork,
    /// How many wasm instances one app may hold at once, over all its dynos (the pool has
    /// 1,000): a flooded app waits for its own, other apps keep getting theirs.
    #[arg(long, env = "PAAS_MAX_INSTANCES_PER_APP", default_value_t = paas_runtime::MAX_INSTANCES_PER_APP)]
    max_instances_per_app: u32,
    /// A wasm request or worker that keeps a CPU busy this long goes on at the lowest priority
    /// (nice 19), apart from the router and the API: `10ms`, `50ms`.
    #[arg(long, env = "PAAS_CPU_SLICE", default_value = "10ms", value_parser = parse_duration)]
    cpu_slice: Duration,
    /// How much memory (MiB) the wasm instances of one app may hold together: an instance
    /// growing past it, once the app's idle instances have given theirs back, fails (R15).
    #[arg(long, env = "PAAS_MAX_MEMORY_PER_APP", value_name = "MIB", default_value_t = (paas_runtime::MAX_MEMORY_PER_APP >> 20) as u64)]
    max_memory_per_app: u64,
    /// API requests an account (not an operator) may make per hour, refilled continuously
    /// (Heroku's 4,500); past it the API answers 429.
    #[arg(long, env = "PAAS_API_RATE_LIMIT", default_value_t = paas_platform::api::limits::DEFAULT_REQUESTS_PER_HOUR,
          value_parser = clap::value_parser!(u32).range(1..))]
    api_rate_limit: u32,
    /// One-off dynos (`paas run`) an app may run at once; more are refused until one ends.
    #[arg(long, env = "PAAS_ONEOFFS_PER_APP", default_value_t = paas_platform::api::limits::DEFAULT_ONEOFFS_PER_APP)]
    oneoffs_per_app: usize,
    /// A folder of buildpacks on this server that tenants may name in `buildpacks:set` or
    /// BUILDPACK_URL; any other folder or local repository needs the operator's key. Repeatable
    /// (comma-separated in the variable).
    #[arg(long = "buildpack-path", env = "PAAS_BUILDPACK_PATHS", value_name = "DIR", value_delimiter = ',')]
    buildpack_paths: Vec<PathBuf>,
    /// How many builds run at once on this node; more wait (saying so in their output).
    #[arg(long, env = "PAAS_MAX_CONCURRENT_BUILDS", default_value_t = paas_builder::build::DEFAULT_CONCURRENT_BUILDS as u32,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_concurrent_builds: u32,
    /// Run builds without a sandbox, as this server's own user on the host: what a node without
    /// a container runtime (runc missing, or not root) needs to build at all, since it refuses
    /// builds otherwise, saying why. SINGLE-TENANT ONLY: a build runs the pushed app's code (npm
    /// scripts, setup.py, build.rs), which can then read and change everything this server can.
    #[arg(long, env = "PAAS_INSECURE_BUILDS", value_parser = parse_switch)]
    insecure_builds: bool,
    /// What a build may reach: `egress` (the internet under the egress policy: package
    /// registries, never this node's services nor private or link-local addresses) or `none`
    /// (loopback only: dependencies must be vendored).
    #[arg(long, env = "PAAS_BUILD_NETWORK", value_name = "egress|none", default_value = "egress")]
    build_network: paas_builder::build::BuildNetwork,
    /// What one sandboxed build may write (its build dir, cache, env dir and home, on a disk
    /// image of this size per app), in MiB; past it the build gets "No space left on device".
    /// From 300 MiB the disk is XFS where mkfs.xfs is installed (the cache a build copies shares
    /// blocks); ext4 else (a full copy: the cache fits in half the disk).
    #[arg(long, env = "PAAS_BUILD_DISK_MIB", default_value_t = paas_builder::build::DEFAULT_DISK_LIMIT >> 20,
          value_parser = clap::value_parser!(u64).range(16..))]
    build_disk_mib: u64,
    /// This node's name in the grid of nodes sharing a PostgreSQL ledger (default: the host name).
    #[arg(long, env = "PAAS_NODE_NAME")]
    node_name: Option<String>,
    /// The host name or IP address other nodes reach this node's API and router at (default: the
    /// addresses they listen on).
    #[arg(long, env = "PAAS_NODE_ADDRESS")]
    node_address: Option<String>,
    /// Join the grid whose ledger is --database-url as a new node, with a token an operator made
    /// with `paas nodes:token` (needed once: the node's key is then kept in the data dir).
    #[arg(long, env = "PAAS_JOIN", value_name = "TOKEN", requires = "database_url")]
    join: Option<String>,
    /// How long this node's lease lasts without a heartbeat (heartbeats come five times a lease):
    /// a node silent this long is fenced and its dynos run on other nodes.
    #[arg(long, env = "PAAS_NODE_LEASE", default_value = "10s", value_parser = parse_duration)]
    node_lease: Duration,
}

impl ServerCommand {
    /// Runs the node until SIGTERM or SIGINT.
    pub async fn run(self) -> anyhow::Result<()> {
        paas_node::server::init_tracing();
        let buildpacks = match self.buildpacks_dir {
            Some(dir) => paas_node::Buildpacks::Dir(dir),
            None => crate::builtin::buildpacks(),
        };
        let node = paas_platform::grid::agent::NodeOptions {
            name: self.node_name,
            address: self.node_address,
            join: self.join,
            lease: self.node_lease,
            native: false,
        };
        paas_node::run(paas_node::NodeConfig {
            data_dir: self.data_dir,
            api_listen: self.api_listen,
            api_tls_listen: self.api_tls_listen,
            router_listen: self.router_listen,
            router_tls_listen: self.router_tls_listen,
            domain: self.domain,
            database_url: self.database_url,
            addons_postgres_url: self.addons_postgres_url,
            buildpacks,
            rendezvous_listen: self.rendezvous_listen,
            tls_cert: self.tls_cert,
            tls_key: self.tls_key,
            api_limits: paas_platform::api::limits::ApiLimits {
                requests_per_hour: self.api_rate_limit,
                oneoffs_per_app: self.oneoffs_per_app,
            },
            egress_allow: self.egress_allow,
            buildpack_paths: self.buildpack_paths,
            max_concurrent_builds: self.max_concurrent_builds as usize,
            insecure_builds: self.insecure_builds,
            build_network: self.build_network,
            build_disk_limit: self.build_disk_mib << 20,
            container_runtime: self.container_runtime,
            dyno_network: self.dyno_network,
            sleep_after: self.sleep_after,
            boot_timeout: self.boot_timeout,
            max_instances_per_app: self.max_instances_per_app,
            cpu_slice: self.cpu_slice,
            max_memory_per_app: usize::try_from(self.max_memory_per_app.saturating_mul(1 << 20)).unwrap_or(usize::MAX),
            node,
            autoscale_every: self.autoscale_every,
        })
        .await?;
        Ok(())
    }
}

/// `500ms`, `2s`, `30m`, `1h`, `1h 30m`, `2days` (humantime's forms) → a duration greater than
/// zero.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = humantime::parse_duration(text)
        .map_err(|e| format!("expected a number followed by ms, s, m or h (500ms, 2s, 30m, 1h, 1h 30m): {e}"))?;
    if duration.is_zero() {
        return Err("must be more than 0".to_string());
    }
    Ok(duration)
}

/// A yes or no as operators write one in a variable (`PAAS_INSECURE_BUILDS=1`); the flag alone
/// reads `true`.
fn parse_switch(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err("expected 1, true, yes or on (or 0, false, no or off)".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_take_the_usual_spellings_of_yes_and_no() {
        for yes in ["1", "true", "YES", "on"] {
            assert_eq!(parse_switch(yes), Ok(true), "{yes}");
        }
        for no in ["0", "false", "No", "off"] {
            assert_eq!(parse_switch(no), Ok(false), "{no}");
        }
        for nonsense in ["", "maybe", "2"] {
            assert!(parse_switch(nonsense).unwrap_err().starts_with("expected 1, true, yes or on"), "{nonsense:?}");
        }
    }

    #[test]
    fn durations_take_a_unit_and_must_be_positive() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1h 30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2days"), Ok(Duration::from_secs(2 * 86400)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        for nonsense in ["", "30", "m", "-1s", "10parsecs"] {
            assert!(parse_duration(nonsense).unwrap_err().starts_with("expected a number followed by"), "{nonsense:?}");
        }
        assert!(parse_duration("0s").unwrap_err().starts_with("must be more than 0"));
    }
}
