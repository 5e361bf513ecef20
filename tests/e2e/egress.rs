//! The egress boundary end to end: a wasm web dyno of `examples/hello-rust` (its `/upstream`
//! route GETs the config var `UPSTREAM_URL`) reaches another app through the router at
//! `http://<app>.localhost/`, but not the API on loopback nor the metadata address, and the
//! refusal is in the app's log; a log drain to the API's address is refused (422).

use std::time::Duration;

use crate::support::{self, TestServer, eventually_get, ok};

fn paas(server: &TestServer, args: &[&str]) -> String {
    ok(server.paas().args(args).env_remove("PAAS_APP"))
}

#[test]
fn a_wasm_dyno_reaches_apps_through_the_router_but_not_the_node_and_drains_are_refused_too() {
    let server = TestServer::start();
    let _caller = support::push_example(&server, "hello-rust", "egress-caller");
    let _callee = support::push_example(&server, "hello-rust", "egress-callee");
    let within = Duration::from_secs(30);
    eventually_get(&server, "egress-callee", "/", (200, "Hello, world!\n"), within);

    // App to app, through the router (whatever port the URL names).
    paas(&server, &["config:set", "UPSTREAM_URL=http://egress-callee.localhost/config/DYNO", "-a", "egress-caller"]);
    eventually_get(&server, "egress-caller", "/upstream", (200, "200 web.1\n"), within);

    // The node's own API on loopback: refused, and said in the app's log.
    let api = server.api_url.strip_prefix("http://").unwrap().to_string();
    paas(&server, &["config:set", &format!("UPSTREAM_URL=http://{api}/openapi.json"), "-a", "egress-caller"]);
    let denied = (502, "cannot reach UPSTREAM_URL: ErrorCode::HttpRequestDenied\n");
    eventually_get(&server, "egress-caller", "/upstream", denied, within);
    let logs = paas(&server, &["logs", "-a", "egress-caller", "-n", "200"]);
    let line = format!("paas[web.1]: outbound request to {api} denied (loopback)");
    assert!(logs.contains(&line), "{line:?} not in:\n{logs}");

    // The cloud metadata address.
    paas(&server, &["config:set", "UPSTREAM_URL=http://169.254.169.254/latest/meta-data/", "-a", "egress-caller"]);
    eventually_get(&server, "egress-caller", "/upstream", denied, within);

    // A log drain to the API is refused at creation.
    let output = server.paas().args(["drains:add", &format!("http://{api}/"), "-a", "egress-caller"]).output().unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("127.0.0.1 denied (loopback)"), "{stderr}");

    // The node kept serving both apps.
    eventually_get(&server, "egress-callee", "/", (200, "Hello, world!\n"), within);
}
