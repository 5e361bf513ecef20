//! Network boundaries of native dynos and builds, end to end on one real `paas server` (each
//! container in a network namespace of its own: `--dyno-network`): a native one-off (`paas run`)
//! cannot connect to the API on 127.0.0.1, to the node's addresses (its veth's, eth0's) nor to
//! the app's web dyno directly; the web dyno answers through the router only (an outside host
//! routed through the node cannot connect to it); a public-looking outside host (a namespace of
//! the test's own at 198.51.100.x) is reachable from a dyno and from a build (nothing is with
//! `--build-network none`). A build's probes run in a `build.rs` that fails on purpose so that
//! cargo prints what it found.

use std::process::Command;
use std::time::Duration;

use paas_sandbox::net::{OutsideHost, PROBE_PY, uplink_address};

use crate::native::runc_available;
use crate::support::{TestServer, app_repo, eventually_get, git, ok, push, try_git};

/// The API's port (`http://127.0.0.1:PORT`).
fn api_port(server: &TestServer) -> u16 {
    let port = server.api_url.trim_end_matches('/').rsplit(':').next().expect("port");
    port.parse().expect("API port")
}

/// `<address>:$PORT` of `app`'s only web dyno, from its container (runc's state, its
/// environment and its namespace's `eth0`).
fn web_dyno(server: &TestServer, app: &str) -> String {
    let root = server.data_dir().join("runtime/runc");
    let listed = ok(Command::new("runc").arg("--root").arg(&root).args(["list", "--format", "json"]));
    let containers: serde_json::Value = serde_json::from_str(&listed).expect("runc list json");
    let pid = containers
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["id"].as_str().is_some_and(|id| id.starts_with(&format!("paas-{app}-web."))))
        .and_then(|c| c["pid"].as_u64())
        .expect("a web dyno container");
    let environ = std::fs::read(format!("/proc/{pid}/environ")).expect("environ");
    let port = environ
        .split(|b| *b == 0)
        .find_map(|var| var.strip_prefix(b"PORT="))
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .expect("PORT");
    let addr = ok(Command::new("nsenter").args(["-t", &pid.to_string(), "-n", "ip", "-4", "-o", "addr", "show", "eth0"]));
    let ip = addr.split_whitespace().nth(3).and_then(|a| a.split('/').next()).expect("eth0's address").to_string();
    format!("{ip}:{port}")
}

#[test]
fn a_native_dyno_reaches_the_internet_but_not_the_api_the_node_nor_another_dyno_and_only_the_router_reaches_it() {
    if !runc_available() {
        return;
    }
    let server = TestServer::start();
    let repo = app_repo(&server, "threaded-rust", "fenced");
    push(&server, repo.path());
    eventually_get(&server, "fenced", "/", (200, "Hello, world, from a threaded Rust server!\n"), Duration::from_secs(60));
    let outside = OutsideHost::start().expect("outside host");
    let (api, web) = (api_port(&server), web_dyno(&server, "fenced"));
    assert!(!web.starts_with("127."), "the web dyno has an address of its own: {web}");
    let uplink = uplink_address().expect("the node's uplink address");
    let targets = [
        format!("127.0.0.1:{api}"),
        format!("gateway:{api}"),
        format!("{uplink}:{api}"),
        web.clone(),
        format!("{}:{}", outside.address(), outside.port()),
    ];
    let command = format!("python3 -c '{PROBE_PY}' {}", targets.join(" "));
    let out = ok(server.paas().args(["run", "-a", "fenced", "--", &command]).env_remove("PAAS_APP"));
    let lines: Vec<&str> = out.lines().filter(|l| targets.iter().any(|t| l.starts_with(&format!("{t} ")))).collect();
    let refused = |t: &String| format!("{t} ERR ConnectionRefusedError");
    let want = [
        refused(&targets[0]),
        refused(&targets[1]),
        refused(&targets[2]),
        refused(&targets[3]),
        format!("{} OK {}", targets[4], outside.node_address()),
    ];
    assert_eq!(lines, want, "paas run printed:\n{out}");
    // From outside the node (its default route is the node), the web dyno's port is closed.
    let from_outside = ok(Command::new("ip").args(["netns", "exec", &outside.netns(), "python3", "-c", PROBE_PY, &web]));
    assert_eq!(from_outside.trim(), format!("{web} ERR TimeoutError"));
    // The router still reaches it.
    eventually_get(&server, "fenced", "/", (200, "Hello, world, from a threaded Rust server!\n"), Duration::from_secs(5));
}

/// A `build.rs` that connects to each `HOST:PORT` of `probe-targets` (`gateway`: the default
/// route's address) and fails the build with one line per target, so that cargo prints them.
const PROBING_BUILD_RS: &str = r#"use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::time::Duration;

fn gateway() -> Ipv4Addr {
    let routes = std::fs::read_to_string("/proc/net/route").unwrap_or_default();
    let hex = routes.lines().skip(1).map(|l| l.split_whitespace().collect::<Vec<_>>()).find(|f| f[1] == "00000000").map(|f| f[2].to_string()).unwrap_or_default();
    Ipv4Addr::from(u32::from_str_radix(&hex, 16).unwrap_or(0).swap_bytes())
}

fn main() {
    let mut found = String::new();
    for target in std::fs::read_to_string("probe-targets").unwrap_or_default().split_whitespace() {
        let addr = target.replace("gateway", &gateway().to_string());
        let result = match addr.parse::<SocketAddr>().map(|a| TcpStream::connect_timeout(&a, Duration::from_secs(2))) {
            Ok(Ok(mut stream)) => {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut buf = [0u8; 64];
                let n = stream.read(&mut buf).unwrap_or(0);
                format!("OK {}", String::from_utf8_lossy(&buf[..n]).trim())
            }
            Ok(Err(e)) => format!("ERR {:?}", e.kind()),
            Err(_) => "ERR unparsable".to_string(),
        };
        found.push_str(&format!("probe {target} {result}\n"));
    }
    panic!("probes done:\n{found}");
}
"#;

/// Pushes threaded-rust with [`PROBING_BUILD_RS`] probing `targets` as app `app`: the push's
/// output (the build fails on purpose).
fn probing_push(server: &TestServer, app: &str, targets: &[String]) -> String {
    let repo = app_repo(server, "threaded-rust", app);
    std::fs::write(repo.path().join("build.rs"), PROBING_BUILD_RS).unwrap();
    std::fs::write(repo.path().join("probe-targets"), targets.join("\n")).unwrap();
    git(&server.home(), repo.path(), &["add", "-A"]);
    git(&server.home(), repo.path(), &["commit", "--quiet", "-m", "Probe"]);
    let pushed = try_git(&server.home(), repo.path(), &["push", "paas", "main"]);
    let output = String::from_utf8_lossy(&pushed.stderr).into_owned();
    assert!(!pushed.status.success(), "the build fails on purpose:\n{output}");
    output
}

/// Asserts that the build printed `probe <target> <result>` for each pair.
fn assert_probed(output: &str, found: &[(&String, String)]) {
    for (target, result) in found {
        let want = format!("probe {target} {result}");
        assert!(output.lines().any(|l| l.trim_start_matches("remote:").trim().ends_with(&want)), "no {want:?} in:\n{output}");
    }
}

#[test]
fn a_build_reaches_the_internet_but_not_the_api_nor_the_node() {
    if !runc_available() {
        return;
    }
    let server = TestServer::start();
    let outside = OutsideHost::start().expect("outside host");
    let api = api_port(&server);
    let uplink = uplink_address().expect("the node's uplink address");
    let targets = [
        format!("127.0.0.1:{api}"),
        format!("gateway:{api}"),
        format!("{uplink}:{api}"),
        format!("{}:{}", outside.address(), outside.port()),
    ];
    let output = probing_push(&server, "probing-build", &targets);
    let refused = || "ERR ConnectionRefused".to_string();
    assert_probed(
        &output,
        &[
            (&targets[0], refused()),
            (&targets[1], refused()),
            (&targets[2], refused()),
            (&targets[3], format!("OK {}", outside.node_address())),
        ],
    );
}

#[test]
fn with_build_network_none_a_build_reaches_nothing_but_its_own_loopback() {
    if !runc_available() {
        return;
    }
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &["--build-network", "none"]);
    let outside = OutsideHost::start().expect("outside host");
    let api = api_port(&server);
    let uplink = uplink_address().expect("the node's uplink address");
    let targets =
        [format!("127.0.0.1:{api}"), format!("{uplink}:{api}"), format!("{}:{}", outside.address(), outside.port())];
    let output = probing_push(&server, "offline-build", &targets);
    let unreachable = || "ERR NetworkUnreachable".to_string();
    assert_probed(
        &output,
        &[(&targets[0], "ERR ConnectionRefused".to_string()), (&targets[1], unreachable()), (&targets[2], unreachable())],
    );
}
