//! A native runtime under real runc for the tests that run native dynos (this crate's and
//! paas-node's supervisor tests): skipped without runc or root, except under CI=true.

use paas_runtime::{NativeConfig, NativeRuntime};
use paas_sandbox::egress::EgressPolicy;
use paas_sandbox::net::Network;

/// A native runtime with its own data directory and container network (a /24 of 10.240.0.0/12
/// no other test holds), or `None` (test skipped) when runc cannot run here; under CI=true a
/// missing runc or a non-root user fails the test.
pub fn native() -> Option<(NativeRuntime, tempfile::TempDir)> {
    native_with(true)
}

/// As [`native`], with cgroups (`true`) or the rlimit fallback (`false`).
pub fn native_with(cgroups: bool) -> Option<(NativeRuntime, tempfile::TempDir)> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")));
    let data = tempfile::tempdir().expect("data dir");
    let config = NativeConfig { cgroups, ..NativeConfig::new(data.path()) };
    match NativeRuntime::new(config) {
        Ok(native) if root => Some((native.with_network(network()), data)),
        Ok(_) if ci => panic!("native dyno tests need root (CI=true)"),
        Err(e) if ci => panic!("native dyno tests need runc (CI=true; .ci/setup installs it): {e}"),
        _ => {
            eprintln!("skipped: native dynos need runc and root");
            None
        }
    }
}

/// A container network of its own (ip and nft are there wherever runc and root are: .ci/setup).
pub fn network() -> Network {
    Network::on_free_range(paas_sandbox::net::STANDALONE_RANGE.parse().unwrap(), 24, EgressPolicy::default()).expect("a container network")
}

/// An app directory with `server.py`: answers `GET /` with `hello from $DYNO`.
pub fn app_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("app dir");
    std::fs::write(
        dir.path().join("server.py"),
        r#"import http.server, os
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = ("hello from " + os.environ["DYNO"]).encode()
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
print("listening on", os.environ["PORT"], flush=True)
http.server.ThreadingHTTPServer(("0.0.0.0", int(os.environ["PORT"])), H).serve_forever()
"#,
    )
    .expect("write server.py");
    // The slug is readable by the dyno's user, as an unpacked slug is.
    std::fs::set_permissions(dir.path(), std::os::unix::fs::PermissionsExt::from_mode(0o755)).expect("chmod");
    dir
}

/// The containers under the runtime's state root (`runc list`).
pub fn containers(native: &NativeRuntime) -> Vec<String> {
    let out = std::process::Command::new("runc")
        .arg("--root")
        .arg(native.state_root())
        .args(["list", "--quiet"])
        .output()
        .expect("runc list");
    String::from_utf8_lossy(&out.stdout).lines().map(String::from).collect()
}
