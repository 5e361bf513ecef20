//! paas-runtime: runs dynos. One wasmtime `Engine` per process, WebAssembly component dynos (web
//! dynos serving `wasi:http`, worker and one-off dynos running `wasi:cli/run`), native dynos as
//! OCI bundles under `runc`, per-dyno ephemeral filesystems, limits, and log capture.
