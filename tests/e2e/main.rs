//! End-to-end tests: each starts the real `paas` binary and talks to it as a user would.

use std::process::Command;

#[test]
fn version_prints_the_package_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_paas")).arg("version").output().unwrap();
    assert!(output.status.success());
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert_eq!(stdout.trim(), format!("paas {}", env!("CARGO_PKG_VERSION")));
}
