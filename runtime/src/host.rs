//! What a dyno's store holds (WASI, `wasi:http`, resource table, limits) and the one linker that
//! defines everything the host provides to guests.

use wasmtime::component::{Linker, ResourceTable};
use wasmtime::Engine;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::outbound::OutboundHooks;

/// The data of one instance's `Store`.
pub(crate) struct DynoState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    /// Outgoing requests go out under the node's egress policy.
    pub hooks: OutboundHooks,
    pub table: ResourceTable,
    pub limits: crate::limits::DynoLimiter,
    /// When the current request or run must be over (checked on every epoch tick).
    pub deadline: Option<std::time::Instant>,
}

impl WasiView for DynoState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for DynoState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.hooks }
    }
}

/// The WASI 0.2 interfaces the host provides, by package/interface name (any `0.2.x` version).
/// Used to name what is missing when a component imports something else.
pub(crate) const PROVIDED_INTERFACES: &[&str] = &[
    "wasi:cli/environment",
    "wasi:cli/exit",
    "wasi:cli/stdin",
    "wasi:cli/stdout",
    "wasi:cli/stderr",
    "wasi:cli/terminal-input",
    "wasi:cli/terminal-output",
    "wasi:cli/terminal-stdin",
    "wasi:cli/terminal-stdout",
    "wasi:cli/terminal-stderr",
    "wasi:clocks/monotonic-clock",
    "wasi:clocks/wall-clock",
    "wasi:filesystem/types",
    "wasi:filesystem/preopens",
    "wasi:io/error",
    "wasi:io/poll",
    "wasi:io/streams",
    "wasi:random/random",
    "wasi:random/insecure",
    "wasi:random/insecure-seed",
    "wasi:sockets/network",
    "wasi:sockets/instance-network",
    "wasi:sockets/udp",
    "wasi:sockets/udp-create-socket",
    "wasi:sockets/tcp",
    "wasi:sockets/tcp-create-socket",
    "wasi:sockets/ip-name-lookup",
    "wasi:http/types",
    "wasi:http/outgoing-handler",
];

/// Whether an import name such as `wasi:io/poll@0.2.6` is provided by [`linker`].
pub(crate) fn is_provided(import: &str) -> bool {
    let (name, version) = import.split_once('@').unwrap_or((import, ""));
    PROVIDED_INTERFACES.contains(&name) && version.starts_with("0.2.")
}

/// The linker every dyno's component is instantiated with: all of WASI 0.2 (`wasi:cli` command
/// world) plus `wasi:http`.
pub(crate) fn linker(engine: &Engine) -> wasmtime::Result<Linker<DynoState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Ok(linker)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provided_imports_match_any_0_2_patch_version() {
        assert!(is_provided("wasi:io/poll@0.2.0"));
        assert!(is_provided("wasi:http/types@0.2.12"));
        assert!(!is_provided("wasi:http/types@0.3.0"));
        assert!(!is_provided("wasi:keyvalue/store@0.2.0-draft"));
        assert!(!is_provided("paas:test/missing@1.0.0"));
    }
}
