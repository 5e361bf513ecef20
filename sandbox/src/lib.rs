//! paas-sandbox: the boundaries between tenants, shared by the runtime (native dynos, wasm dynos'
//! outgoing requests), the builder (every build step runs in a container) and the platform (log
//! drains). No wasmtime here: it compiles fast and any crate may use it.

pub mod egress;
