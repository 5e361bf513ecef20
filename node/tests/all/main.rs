//! The one integration test binary of paas-node: the dyno supervisor on a real wasmtime runtime
//! (guest components built from paas-runtime's `tests/guests`) and on real runc containers.
//! The helpers are paas-runtime's own test helpers, shared by path.

#[path = "../../../runtime/tests/all/runc.rs"]
mod runc;
mod supervised;
mod supervisor;
#[allow(dead_code)]
#[path = "../../../runtime/tests/all/util.rs"]
mod util;
