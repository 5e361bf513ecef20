//! End-to-end tests of the `paas` client commands against a real server.

use crate::support::{ok, paas_bin};

#[test]
fn version_prints_the_package_version() {
    let stdout = ok(&mut std::process::Command::new(paas_bin()).arg("version"));
    assert_eq!(stdout.trim(), format!("paas {}", env!("CARGO_PKG_VERSION")));
}
