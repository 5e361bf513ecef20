//! schemathesis (PyPI) against a live `paas server`: it reads `/openapi.json` and sends generated
//! requests to every operation (a bounded number each), checking that none answers a 5xx and
//! that every answer matches the schema and content type the document gives for its status.
//! schemathesis is installed once into a virtualenv under `~/.cache/paas-schemathesis`; without
//! python3's venv or PyPI the test is skipped locally (saying so) and fails in CI.

use std::path::PathBuf;
use std::process::Command;

use crate::support::TestServer;

const SCHEMATHESIS_VERSION: &str = "4.32.5";

/// The `schemathesis` executable, installed on first use; `None` (after saying why) when it
/// cannot be installed outside CI.
fn schemathesis_bin() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let venv = home.join(format!(".cache/paas-schemathesis/{SCHEMATHESIS_VERSION}"));
    let bin = venv.join("bin/schemathesis");
    if bin.exists() {
        return Some(bin);
    }
    let fail = |why: String| {
        assert!(std::env::var_os("CI").is_none(), "{why}; CI must run the schemathesis test (.ci/setup installs python3-venv)");
        eprintln!("skipping the schemathesis test: {why}");
        None
    };
    let made = Command::new("python3").args(["-m", "venv"]).arg(&venv).status();
    if !made.is_ok_and(|status| status.success()) {
        return fail("python3 -m venv failed".into());
    }
    let pip = Command::new(venv.join("bin/pip"))
        .args(["install", "-q", "--disable-pip-version-check", &format!("schemathesis=={SCHEMATHESIS_VERSION}")])
        .status();
    if !pip.is_ok_and(|status| status.success()) || !bin.exists() {
        let _ = std::fs::remove_dir_all(&venv);
        return fail(format!("pip install schemathesis=={SCHEMATHESIS_VERSION} failed"));
    }
    Some(bin)
}

#[test]
fn schemathesis_finds_no_5xx_and_no_answer_breaking_its_schema() {
    let Some(schemathesis) = schemathesis_bin() else { return };
    let server = TestServer::start();
    // One app, so that the routes under it are reached too (generated names mostly 404).
    let created = Command::new("curl")
        .args(["-sS", "-X", "POST", "-H", &format!("Authorization: Bearer {}", server.operator_key)])
        .args(["-H", "Content-Type: application/json", "-d", r#"{"name": "fuzzed"}"#])
        .arg(format!("{}/apps", server.api_url))
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&created.stdout).contains("\"fuzzed\""));
    let report = tempfile::tempdir().unwrap();
    let output = Command::new(&schemathesis)
        .arg("run")
        .arg(format!("{}/openapi.json", server.api_url))
        .args(["--checks", "not_a_server_error,response_schema_conformance,content_type_conformance"])
        .args(["--phases", "examples,fuzzing", "--max-examples", "8", "--seed", "24", "--workers", "2"])
        .args(["--request-timeout", "10", "--max-time", "90"])
        .args(["-H", &format!("Authorization: Bearer {}", server.operator_key)])
        .args(["-H", "Accept: application/vnd.heroku+json; version=3"])
        // Streams that stay open while they follow (a log tail) cannot be read to their end;
        // revoking API keys (`~` is the key in use) would lock the run out.
        .args(["--exclude-path", "/log-sessions/{token}", "--exclude-path-regex", "^/oauth/authorizations/"])
        .env("SCHEMATHESIS_HOOKS", "")
        .env("HOME", report.path())
        .current_dir(report.path())
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    println!("{said}");
    assert!(output.status.success(), "schemathesis found failures (above)");
}
