//! The API and git over HTTPS (`paas server --api-tls-listen`) with the official heroku CLI:
//! `heroku git:remote -a APP` writes `https://<api-host>/<app>.git` and its credential helper,
//! and `git push heroku main` (trusting the local CA through `GIT_SSL_CAINFO`) builds and
//! releases, exactly as against Heroku; then custom certificates on the router's HTTPS listener
//! (`certs.rs`).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::heroku_cli::heroku_bin;
use crate::support::{TestServer, eventually_get, example_repo, ok};

#[test]
fn heroku_git_remote_then_git_push_over_https_builds_and_releases() {
    let Some(heroku) = heroku_bin() else { return };
    let server = TestServer::start_with(
        tempfile::tempdir().unwrap(),
        &["--api-tls-listen", "127.0.0.1:0", "--router-tls-listen", "127.0.0.1:0"],
    );
    // The addresses are printed one after the other: each is waited for.
    let printed = |prefix: &str| {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let lines = server.stdout.lock().unwrap().clone();
            if let Some(found) = lines.iter().find_map(|line| line.strip_prefix(prefix)) {
                return found.trim_end_matches('/').to_string();
            }
            assert!(std::time::Instant::now() < deadline, "the server prints {prefix}: {lines:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    let https = printed("API listening on https://");
    let router_https = printed("Router listening on https://");
    let ca = server.data_dir().join("tls/ca.pem");
    assert!(ca.exists(), "the local CA is in the data dir");
    ok(server.paas().args(["apps:create", "secure"]).env_remove("PAAS_APP"));

    // The heroku CLI's home (its git config gets the credential helper); heroku on PATH for git.
    let home = tempfile::tempdir().unwrap();
    let repo = example_repo(home.path(), "hello-wasm");
    let path = format!("{}:{}", heroku.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let with_env = |command: &mut Command| {
        command
            .env("HOME", home.path())
            .env("PATH", &path)
            .env("HEROKU_HOST", format!("https://{https}"))
            .env("HEROKU_PARTICLEBOARD_URL", format!("https://{https}"))
            .env("HEROKU_API_KEY", &server.operator_key)
            .env("NODE_EXTRA_CA_CERTS", &ca)
            .env("GIT_SSL_CAINFO", &ca)
            .env("DISABLE_TELEMETRY", "true")
            .env("HEROKU_DISABLE_AUTOUPDATE", "1")
            .env("HEROKU_SKIP_NEW_VERSION_CHECK", "true")
            .env("HEROKU_NOTIFICATIONS", "0")
            .env("NO_COLOR", "1")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .current_dir(repo.path())
            .stdin(Stdio::null());
    };
    let mut remote = Command::new(&heroku);
    with_env(remote.args(["git:remote", "-a", "secure"]));
    let said = ok(&mut remote);
    println!("$ heroku git:remote -a secure\n{said}");
    let url = git_out(&with_env, repo.path(), &["remote", "get-url", "heroku"]);
    assert_eq!(url.trim(), format!("https://{https}/secure.git"));

    let mut push = Command::new("git");
    with_env(push.args(["push", "heroku", "main"]));
    let output = push.output().unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    println!("$ git push heroku main\n{said}");
    assert!(output.status.success(), "git push over https failed:\n{said}");
    assert!(said.contains("Launching... done, v2"), "{said}");
    assert!(said.contains(&format!("To https://{https}/secure.git")), "{said}");
    eventually_get(&server, "secure", "/", (200, "Hello from a prebuilt component\n"), Duration::from_secs(60));

    // Custom certificates, served by SNI on the router's HTTPS listener.
    let heroku_run = |args: &[&str]| {
        let mut command = Command::new(&heroku);
        with_env(command.args(args));
        let output = command.output().unwrap();
        println!("$ heroku {}\n{}{}", args.join(" "), String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        output
    };
    crate::certs::custom_certificates(&server, &heroku_run, &router_https, "secure", "Hello from a prebuilt component\n");

    // Without the CA, git refuses the certificate (the HTTPS really is TLS with our certificate).
    let mut untrusted = Command::new("git");
    with_env(untrusted.args(["ls-remote", "heroku"]));
    let output = untrusted.env_remove("GIT_SSL_CAINFO").output().unwrap();
    assert!(!output.status.success(), "git trusted a certificate it had no CA for");
}

fn git_out(with_env: &dyn Fn(&mut Command), dir: &Path, args: &[&str]) -> String {
    let mut command = Command::new("git");
    with_env(command.args(args).current_dir(dir));
    ok(&mut command)
}
