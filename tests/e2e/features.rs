//! App features end to end: `paas features:enable sleep` against a real server, then
//! `paas features` lists it enabled; `features:disable`; an unknown feature is refused.

use std::process::Command;

use crate::support::{TestServer, run};

/// A `paas` command as the operator in UTC: exit code, stdout, stderr.
fn paas(server: &TestServer, args: &[&str]) -> (Option<i32>, String, String) {
    let mut command: Command = server.paas();
    command.args(args).env("TZ", "UTC").env_remove("PAAS_APP");
    let output = run(&mut command);
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

const PREBOOT: &str = "Start new web dynos before stopping old ones on deploys and restarts \
                       (off: old dynos get SIGTERM as new ones start).";
const SLEEP: &str = "Web dynos sleep after the idle time, as eco dynos do, and wake on the next request.";

#[test]
fn features_enable_sleep_then_features_lists_it() {
    let server = TestServer::start();
    assert_eq!(paas(&server, &["apps:create", "sleepy"]).0, Some(0));

    let list = |enabled: [&str; 2]| {
        format!("=== App Features ⬢ sleepy\n\n{}  preboot  {PREBOOT}\n{}  sleep    {SLEEP}\n", enabled[0], enabled[1])
    };
    assert_eq!(paas(&server, &["features", "-a", "sleepy"]), (Some(0), list(["[ ]", "[ ]"]), String::new()));

    let enabled = paas(&server, &["features:enable", "sleep", "-a", "sleepy"]);
    assert_eq!(enabled, (Some(0), String::new(), "Enabling sleep for ⬢ sleepy... done\n".to_string()));
    assert_eq!(paas(&server, &["features", "-a", "sleepy"]), (Some(0), list(["[ ]", "[+]"]), String::new()));

    let (code, json, _) = paas(&server, &["features", "-a", "sleepy", "--json"]);
    assert_eq!(code, Some(0));
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!((&json[1]["name"], &json[1]["enabled"], &json[1]["state"]), (&"sleep".into(), &true.into(), &"general".into()));

    assert_eq!(paas(&server, &["features:enable", "preboot", "-a", "sleepy"]).0, Some(0));
    assert_eq!(paas(&server, &["features:disable", "sleep", "-a", "sleepy"]).0, Some(0));
    assert_eq!(paas(&server, &["features", "-a", "sleepy"]), (Some(0), list(["[+]", "[ ]"]), String::new()));

    let refused = paas(&server, &["features:enable", "turbo", "-a", "sleepy"]);
    let message = "Enabling turbo for ⬢ sleepy... !\nerror: Couldn't find that feature: turbo. Known features: preboot, sleep.\n";
    assert_eq!(refused, (Some(1), String::new(), message.to_string()));
}
