//! The dashboard in a real browser: dashboard.py (Playwright, headless Chromium from Debian's
//! `chromium`, Playwright's Python package in a venv made under the target dir and kept between
//! runs) against one real `paas server`. The screenshots are kept under the target dir; the test
//! prints where.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{self, TestServer, ok};

/// The Playwright release the script is written against.
const PLAYWRIGHT: &str = "playwright==1.65.3";

/// The venv holding Playwright: made once, kept under the target dir.
fn playwright_python() -> PathBuf {
    let venv = Path::new(env!("CARGO_TARGET_TMPDIR")).join("playwright-venv");
    let python = venv.join("bin/python");
    let has = |python: &Path| Command::new(python).args(["-c", "import playwright"]).output().is_ok_and(|o| o.status.success());
    if !has(&python) {
        ok(Command::new("python3").arg("-m").arg("venv").arg(&venv));
        ok(Command::new(venv.join("bin/pip")).args(["install", "--quiet", PLAYWRIGHT]));
    }
    python
}

/// Debian's chromium (`.ci/setup` installs it).
fn chromium() -> String {
    let found = Command::new("sh").args(["-c", "command -v chromium"]).output().expect("sh");
    let path = String::from_utf8_lossy(&found.stdout).trim().to_string();
    assert!(!path.is_empty(), "no chromium on PATH: run .ci/setup (Debian's chromium package)");
    path
}

#[test]
fn dashboard_in_a_browser_signs_in_deploys_scales_configures_rolls_back_tails_and_charts() {
    let python = playwright_python();
    let chromium = chromium();
    let server = TestServer::start();
    let (email, password) = ("dana@example.com", "correct horse battery");
    let dana_key = ok(server.paas().args(["users:create", email, "--password", password])).trim().to_string();
    let other_key = ok(server.paas().args(["users:create", "olaf@example.com"])).trim().to_string();
    ok(server.paas_as(&other_key).args(["apps:create", "olafs-app"]).env_remove("PAAS_APP"));
    // dashboard.py runs git push as dana: her first key in the .netrc of a home of her own.
    let home = server.dir.path().join("dana");
    std::fs::create_dir_all(&home).unwrap();
    support::login(&server, &home, &dana_key);
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    println!("dashboard screenshots: {}", out.display());
    let repo = support::example_repo(&home, "hello-wasm");
    // Dana's second app builds with a buildpack of the test's own (set by the operator) that
    // writes a line, waits 20 s, writes another: the dashboard shows a running build's output.
    ok(server.paas_as(&dana_key).args(["apps:create", "danas-slow"]).env_remove("PAAS_APP"));
    let slow_pack = support::buildpack(&[
        ("detect", "#!/bin/sh\necho Slow\n"),
        ("compile", "#!/bin/sh\necho '-----> first step'\nsleep 20\necho '-----> second step'\n"),
    ]);
    ok(server.paas().args(["buildpacks:set", &slow_pack.path().display().to_string(), "-a", "danas-slow"]));
    let slow_repo = tempfile::tempdir().unwrap();
    std::fs::write(slow_repo.path().join("Procfile"), "web: true\n").unwrap();
    for args in [&["init", "--quiet", "--initial-branch=main"][..], &["add", "-A"], &["commit", "--quiet", "-m", "slow"]] {
        support::git(&home, slow_repo.path(), args);
    }
    let status = Command::new(python)
        .arg(support::repo_root().join("tests/e2e/dashboard.py"))
        .env("DASH_API_URL", &server.api_url)
        .env("DASH_ROUTER_URL", &server.router_url)
        .env("DASH_OUT", &out)
        .env("DASH_EMAIL", email)
        .env("DASH_PASSWORD", password)
        .env("DASH_APP", "danas-app")
        .env("DASH_OTHER_KEY", &other_key)
        .env("DASH_OTHER_APP", "olafs-app")
        .env("DASH_REPO", repo.path())
        .env("DASH_SLOW_APP", "danas-slow")
        .env("DASH_SLOW_REPO", slow_repo.path())
        .env("DASH_GIT_HOME", &home)
        .env("DASH_CHROMIUM", &chromium)
        .status()
        .expect("run dashboard.py");
    assert!(status.success(), "dashboard.py failed ({status}); screenshots so far in {}", out.display());
}
