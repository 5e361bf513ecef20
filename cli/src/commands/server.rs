//! `paas server`: runs the whole platform in this process (see `paas_platform::server`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use paas_platform::deploys::SharedPrecompile;
use paas_platform::server::{self, ServerConfig};
use paas_platform::serving::SharedServe;

use crate::precompile::RuntimePrecompile;

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
    /// Apps are served at <app>.<domain>.
    #[arg(long, env = "PAAS_DOMAIN", default_value = "localhost")]
    domain: String,
    /// Keep the ledger in PostgreSQL (postgres://…) instead of SQLite in the data dir.
    #[arg(long, env = "PAAS_DATABASE_URL")]
    database_url: Option<String>,
    /// The folder of built-in buildpacks (default: the `buildpacks/` of the paas source tree).
    #[arg(long, env = "PAAS_BUILDPACKS_DIR", default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../buildpacks"))]
    buildpacks_dir: PathBuf,
}

impl ServerCommand {
    /// Runs the platform until SIGTERM or SIGINT.
    pub async fn run(self) -> anyhow::Result<()> {
        server::init_tracing();
        // The node's one wasm runtime (engine and `.cwasm` cache in <data-dir>/runtime).
        let runtime = paas_runtime::Runtime::new(paas_runtime::RuntimeConfig::new(self.data_dir.join("runtime")))
            .context("cannot start the wasm runtime")?;
        let precompile = SharedPrecompile(Arc::new(RuntimePrecompile(runtime.clone())));
        // Apps: the router and the dyno supervisor on that runtime.
        let serve = SharedServe(Arc::new(crate::serve::Node { runtime }));
        server::run(ServerConfig {
            data_dir: self.data_dir,
            api_listen: self.api_listen,
            router_listen: self.router_listen,
            domain: self.domain,
            database_url: self.database_url,
            buildpacks_dir: self.buildpacks_dir,
            serve,
            precompile: Some(precompile),
        })
        .await
    }
}
