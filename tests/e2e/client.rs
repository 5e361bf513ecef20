//! End-to-end tests of the `paas` client commands against a real server.

use std::path::Path;
use std::process::Command;

use crate::support::{TestServer, ok, paas_bin, run};

#[test]
fn version_prints_the_package_version() {
    let stdout = ok(std::process::Command::new(paas_bin()).arg("version"));
    assert_eq!(stdout.trim(), format!("paas {}", env!("CARGO_PKG_VERSION")));
}

/// Runs a command that must succeed; gives back its stdout and stderr.
fn out(command: &mut Command) -> (String, String) {
    let output = run(command);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{command:?} failed ({}):\nstdout:\n{stdout}\nstderr:\n{stderr}", output.status);
    (stdout, stderr)
}

/// Runs a command that must exit with `code` and print nothing on stdout; gives back its stderr.
fn fails(command: &mut Command, code: i32) -> String {
    let output = run(command);
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert_eq!(output.status.code(), Some(code), "{command:?}:\nstdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(stdout, "", "{command:?} printed on stdout");
    stderr
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A `paas` command as `key`, with its arguments, in UTC.
fn paas(server: &TestServer, key: &str, args: &[&str]) -> Command {
    let mut command = server.paas_as(key);
    command.args(args).env("TZ", "UTC").env_remove("PAAS_APP");
    command
}

/// Creates a user with the operator's `users:create`; gives back their API key.
fn user(server: &TestServer, email: &str) -> String {
    let (stdout, stderr) = out(&mut paas(server, &server.operator_key, &["users:create", email]));
    assert_eq!(stderr, format!("Creating user {email}... done\n"));
    let key = stdout.trim().to_string();
    assert!(!key.is_empty() && !key.contains(char::is_whitespace), "{stdout:?}");
    key
}

/// Creates an app as `key` (outside any git repo).
fn create_app(server: &TestServer, key: &str, name: &str) {
    let (stdout, stderr) = out(&mut paas(server, key, &["apps:create", name]));
    assert_eq!(stderr, format!("Creating ⬢ {name}... done\n"));
    assert!(stdout.ends_with(&format!(" | {}/{name}.git\n", server.api_url)), "{stdout:?}");
}

/// The release lines of `paas releases` (version and description), newest first.
fn releases(server: &TestServer, key: &str, app: &str) -> Vec<String> {
    let stdout = ok(&mut paas(server, key, &["releases", "-a", app]));
    stdout
        .lines()
        .skip(2)
        .map(|line| line.split("  ").filter(|cell| !cell.is_empty()).take(2).collect::<Vec<_>>().join(" | "))
        .collect()
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git").args(args).current_dir(dir).output().expect("run git");
    assert!(output.status.success(), "git {args:?}: {}", text(&output.stderr));
    text(&output.stdout).trim().to_string()
}

#[test]
fn login_stores_the_key_in_netrc_and_logout_removes_it() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    let netrc = server.home().join(".netrc");
    std::fs::write(
        &netrc,
        "machine other.example.com\n  login someone\n  password keep-me\n\
         machine 127.0.0.1\n  login old@example.com\n  password stale\n",
    )
    .unwrap();
    // Without the environment's URL and key: only what `login` stores.
    let logged_out = |args: &[&str]| {
        let mut command = paas(&server, &key, args);
        command.env_remove("PAAS_API_URL").env_remove("PAAS_API_KEY");
        command
    };

    let (stdout, _) = out(&mut logged_out(&["login", "--api-url", &server.api_url, "--api-key", &key]));
    assert_eq!(stdout, "Logged in as alice@example.com\n");
    // `machine 127.0.0.1` is what git looks up, `127.0.0.1:PORT` what Heroku's CLI does.
    let port = server.api_url.rsplit(':').next().unwrap();
    assert_eq!(
        std::fs::read_to_string(&netrc).unwrap(),
        format!(
            "machine other.example.com\n  login someone\n  password keep-me\n\
             machine 127.0.0.1\n  login alice@example.com\n  password {key}\n\
             machine 127.0.0.1:{port}\n  login alice@example.com\n  password {key}\n"
        )
    );
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&netrc).unwrap().permissions().mode() & 0o777, 0o600);
    let config = std::fs::read_to_string(server.home().join(".config/paas/config.toml")).unwrap();
    // The server's local CA too, for paas run's TLS rendezvous.
    let ca = server.home().join(".config/paas/ca.pem");
    assert_eq!(config, format!("api_url = \"{}\"\nca_file = \"{}\"\n", server.api_url, ca.display()));
    assert_eq!(std::fs::read(&ca).unwrap(), std::fs::read(server.data_dir().join("tls/ca.pem")).unwrap());

    assert_eq!(out(&mut logged_out(&["auth:whoami"])).0, "alice@example.com\n");
    create_app(&server, &key, "netrc-app");
    assert_eq!(out(&mut logged_out(&["apps"])).0, "=== alice@example.com Apps\n\nnetrc-app\n");

    // Logging in again (as someone else) replaces the entries in place.
    let bob = user(&server, "bob@example.com");
    assert_eq!(out(&mut logged_out(&["login", "--api-url", &server.api_url, "--api-key", &bob])).0, "Logged in as bob@example.com\n");
    assert_eq!(
        std::fs::read_to_string(&netrc).unwrap(),
        format!(
            "machine other.example.com\n  login someone\n  password keep-me\n\
             machine 127.0.0.1\n  login bob@example.com\n  password {bob}\n\
             machine 127.0.0.1:{port}\n  login bob@example.com\n  password {bob}\n"
        )
    );
    assert_eq!(out(&mut logged_out(&["auth:whoami"])).0, "bob@example.com\n");
    // PAAS_API_KEY overrides the stored key.
    assert_eq!(out(logged_out(&["auth:whoami"]).env("PAAS_API_KEY", &key)).0, "alice@example.com\n");

    let (_, stderr) = out(&mut logged_out(&["logout"]));
    assert_eq!(stderr, "Logging out... done\n");
    assert_eq!(
        std::fs::read_to_string(&netrc).unwrap(),
        "machine other.example.com\n  login someone\n  password keep-me\n"
    );
    let stderr = fails(&mut logged_out(&["auth:whoami"]), 1);
    assert!(stderr.starts_with("error: not logged in: run `paas login"), "{stderr}");
}

#[test]
fn login_with_a_wrong_key_writes_nothing() {
    let server = TestServer::start();
    let mut command = paas(&server, "", &["login", "--api-url", &server.api_url, "--api-key", "not-a-key"]);
    command.env_remove("PAAS_API_URL").env_remove("PAAS_API_KEY");
    let stderr = fails(&mut command, 1);
    assert_eq!(
        stderr,
        format!(
            "error: cannot log in to {}: Invalid credentials provided.\n\
             hint: log in again with `paas login --api-url URL --api-key KEY`\n",
            server.api_url
        )
    );
    assert!(!server.home().join(".netrc").exists());
    assert!(!server.home().join(".config/paas/config.toml").exists());
}

#[test]
fn login_reads_the_key_from_stdin_when_not_given() {
    use std::io::Write;
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    let mut command = paas(&server, "", &["login", "--api-url", &server.api_url]);
    command.env_remove("PAAS_API_URL").env_remove("PAAS_API_KEY");
    command.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped());
    let mut child = command.spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{key}\n").as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert_eq!(text(&output.stdout), "Logged in as alice@example.com\n");
}

#[test]
fn a_wrong_key_is_refused() {
    let server = TestServer::start();
    let stderr = fails(&mut paas(&server, "wrong-key", &["apps"]), 1);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(
        stderr.ends_with("\nhint: the API key in PAAS_API_KEY was refused\n"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 2, "{stderr}");
    let stderr = fails(&mut paas(&server, "wrong-key", &["auth:whoami"]), 1);
    assert!(stderr.starts_with("error: Invalid credentials provided.\n"), "{stderr}");
    // Nothing a refused key asks for is done.
    fails(&mut paas(&server, "wrong-key", &["apps:create", "sneaky"]), 1);
    fails(&mut paas(&server, "wrong-key", &["users:create", "eve@example.com"]), 1);
    let all = ok(&mut paas(&server, &server.operator_key, &["apps", "--all", "--json"]));
    assert_eq!(all.trim(), "[]");
    let alice = user(&server, "alice@example.com");
    create_app(&server, &alice, "mine");
    let before = releases(&server, &alice, "mine");
    fails(&mut paas(&server, "wrong-key", &["config:set", "X=1", "-a", "mine"]), 1);
    fails(&mut paas(&server, "wrong-key", &["apps:destroy", "mine", "--confirm", "mine"]), 1);
    assert_eq!(releases(&server, &alice, "mine"), before);
}

#[test]
fn without_a_login_commands_say_how_to_log_in() {
    let server = TestServer::start();
    let mut command = paas(&server, "", &["apps"]);
    command.env_remove("PAAS_API_URL").env_remove("PAAS_API_KEY");
    let stderr = fails(&mut command, 1);
    assert_eq!(
        stderr,
        "error: not logged in: run `paas login --api-url URL --api-key KEY`, or set PAAS_API_URL and PAAS_API_KEY\n"
    );
}

#[test]
fn apps_are_created_listed_shown_and_destroyed() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    assert_eq!(out(&mut paas(&server, &key, &["apps"])).0, "You have no apps.\n");
    create_app(&server, &key, "myapp");

    // A random name when none is given.
    let (stdout, stderr) = out(&mut paas(&server, &key, &["apps:create"]));
    let random = stderr.strip_prefix("Creating app... done, ⬢ ").and_then(|s| s.strip_suffix('\n')).unwrap().to_string();
    assert!(stdout.ends_with(&format!(" | {}/{random}.git\n", server.api_url)), "{stdout:?}");
    let mut names = ["myapp".to_string(), random.clone()];
    names.sort();
    assert_eq!(
        out(&mut paas(&server, &key, &["apps"])).0,
        format!("=== alice@example.com Apps\n\n{}\n{}\n", names[0], names[1])
    );

    let info = ok(&mut paas(&server, &key, &["apps:info", "-a", "myapp"]));
    let router_port = server.router_url.rsplit(':').next().unwrap();
    let lines: Vec<&str> = info.lines().collect();
    assert_eq!(lines.len(), 8, "{info}");
    assert_eq!(lines[..5], ["=== myapp", "", &format!("Git URL:     {}/myapp.git", server.api_url), "Owner:       alice@example.com", "Region:      us"]);
    assert!(lines[5].starts_with("Released At: 20") && lines[5].ends_with(" +0000"), "{info}");
    assert_eq!(lines[6..], ["Stack:       paas-wasm", &format!("Web URL:     http://myapp.localhost:{router_port}/")]);
    let json: serde_json::Value = serde_json::from_str(&ok(&mut paas(&server, &key, &["apps:info", "-a", "myapp", "--json"]))).unwrap();
    assert_eq!(json["app"]["name"], "myapp");
    assert_eq!(json["app"]["owner"]["email"], "alice@example.com");
    let json: serde_json::Value = serde_json::from_str(&ok(&mut paas(&server, &key, &["apps", "--json"]))).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);

    // Destroying needs the name confirmed; a missing or wrong confirmation is a usage error.
    let stderr = fails(&mut paas(&server, &key, &["apps:destroy", "myapp"]), 2);
    assert_eq!(
        stderr,
        "error: this permanently destroys ⬢ myapp and its data; to proceed, type `paas apps:destroy myapp --confirm myapp`\n"
    );
    fails(&mut paas(&server, &key, &["apps:destroy", "myapp", "--confirm", "other"]), 2);
    assert!(ok(&mut paas(&server, &key, &["apps"])).contains("\nmyapp\n"));
    let (stdout, stderr) = out(&mut paas(&server, &key, &["apps:destroy", "myapp", "--confirm", "myapp"]));
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", "Destroying ⬢ myapp (including all add-ons)... done\n"));
    assert_eq!(out(&mut paas(&server, &key, &["apps"])).0, format!("=== alice@example.com Apps\n\n{random}\n"));
    let stderr = fails(&mut paas(&server, &key, &["config", "-a", "myapp"]), 1);
    assert_eq!(stderr, "error: Couldn't find that app.\n");
}

#[test]
fn invalid_app_names_are_refused_and_nothing_is_created() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    for name in ["Bad_Name", "ab", "9lives", "a-name-that-is-far-too-long-to-be-valid"] {
        let stderr = fails(&mut paas(&server, &key, &["apps:create", name]), 1);
        assert!(stderr.contains(&format!("Name {name:?} is invalid")), "{stderr}");
    }
    create_app(&server, &key, "taken");
    let stderr = fails(&mut paas(&server, &key, &["apps:create", "taken"]), 1);
    assert!(stderr.starts_with("Creating ⬢ taken... !\nerror: "), "{stderr}");
    assert_eq!(out(&mut paas(&server, &key, &["apps"])).0, "=== alice@example.com Apps\n\ntaken\n");
}

#[test]
fn config_vars_are_set_read_and_unset_with_a_release_each() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    create_app(&server, &key, "myapp");
    assert_eq!(out(&mut paas(&server, &key, &["config", "-a", "myapp"])).0, "=== myapp Config Vars\n\n");

    let (stdout, stderr) = out(&mut paas(&server, &key, &["config:set", "FOO=bar", "-a", "myapp"]));
    assert_eq!(stderr, "Setting FOO and restarting ⬢ myapp... done, v2\n");
    assert_eq!(stdout, "FOO: bar\n");
    let (stdout, stderr) =
        out(&mut paas(&server, &key, &["config:set", "-a", "myapp", "GREETING=hello world", "URL=a=b"]));
    assert_eq!(stderr, "Setting GREETING, URL and restarting ⬢ myapp... done, v3\n");
    assert_eq!(stdout, "GREETING: hello world\nURL:      a=b\n");

    assert_eq!(
        out(&mut paas(&server, &key, &["config", "-a", "myapp"])).0,
        "=== myapp Config Vars\n\nFOO:      bar\nGREETING: hello world\nURL:      a=b\n"
    );
    assert_eq!(
        out(&mut paas(&server, &key, &["config", "-a", "myapp", "--shell"])).0,
        "FOO=bar\nGREETING='hello world'\nURL=a=b\n"
    );
    let json: serde_json::Value = serde_json::from_str(&ok(&mut paas(&server, &key, &["config", "-a", "myapp", "--json"]))).unwrap();
    assert_eq!(json, serde_json::json!({"FOO": "bar", "GREETING": "hello world", "URL": "a=b"}));
    assert_eq!(out(&mut paas(&server, &key, &["config:get", "GREETING", "-a", "myapp"])).0, "hello world\n");
    assert_eq!(out(&mut paas(&server, &key, &["config:get", "NOPE", "-a", "myapp"])).0, "\n");

    let (stdout, stderr) = out(&mut paas(&server, &key, &["config:unset", "FOO", "URL", "-a", "myapp"]));
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", "Unsetting FOO, URL and restarting ⬢ myapp... done, v4\n"));
    assert_eq!(
        out(&mut paas(&server, &key, &["config", "-a", "myapp"])).0,
        "=== myapp Config Vars\n\nGREETING: hello world\n"
    );

    let listing = ok(&mut paas(&server, &key, &["releases", "-a", "myapp"]));
    let mut lines = listing.lines();
    assert_eq!(lines.next(), Some("=== myapp Releases - Current: v4"));
    assert_eq!(lines.next(), Some(""));
    let rows: Vec<&str> = lines.collect();
    assert_eq!(rows.len(), 4, "{listing}");
    for (row, (version, description)) in rows.iter().zip([
        ("v4", "Remove FOO, URL config vars"),
        ("v3", "Set GREETING, URL config vars"),
        ("v2", "Set FOO config vars"),
        ("v1", "Initial release"),
    ]) {
        // `v4  Remove FOO, URL config vars  alice@example.com  2026/11/21 18:59:17 +0000`
        let cells: Vec<&str> = row.split("  ").map(str::trim).filter(|cell| !cell.is_empty()).collect();
        assert_eq!(&cells[..3], &[version, description, "alice@example.com"], "{listing}");
        let when = cells[3];
        assert_eq!(when.len(), "2026/11/21 18:59:17 +0000".len(), "{when}");
        assert!(when.ends_with(" +0000") && &when[4..5] == "/" && &when[13..14] == ":", "{when}");
    }
    let json: serde_json::Value = serde_json::from_str(&ok(&mut paas(&server, &key, &["releases", "-a", "myapp", "--json"]))).unwrap();
    let versions: Vec<u64> = json.as_array().unwrap().iter().map(|r| r["version"].as_u64().unwrap()).collect();
    assert_eq!(versions, [4, 3, 2, 1]);
    assert_eq!(releases(&server, &key, "myapp").len(), 4);
    let two: Vec<String> = ok(&mut paas(&server, &key, &["releases", "-a", "myapp", "-n", "2"])).lines().skip(2).map(str::to_string).collect();
    assert_eq!(two.len(), 2);
    assert!(two[0].starts_with("v4  "), "{two:?}");

    let info = ok(&mut paas(&server, &key, &["releases:info", "v2", "-a", "myapp"]));
    assert!(info.starts_with("=== Release v2\n\nBy:      alice@example.com\nChange:  Set FOO config vars\nCurrent: false\n"), "{info}");
    let info = ok(&mut paas(&server, &key, &["releases:info", "-a", "myapp"]));
    assert!(info.starts_with("=== Release v4\n\n"), "{info}");
    assert!(info.contains("\nCurrent: true\n"), "{info}");
}

#[test]
fn bad_config_input_is_a_clear_error_and_writes_nothing() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    create_app(&server, &key, "myapp");
    let before = releases(&server, &key, "myapp");

    let stderr = fails(&mut paas(&server, &key, &["config:set", "FOO", "-a", "myapp"]), 2);
    assert!(stderr.starts_with("error: invalid value 'FOO' for '<KEY=VALUE>...': expected KEY=VALUE: type e.g. `paas config:set FOO=value`\n"), "{stderr}");
    let stderr = fails(&mut paas(&server, &key, &["config:set", "=bar", "-a", "myapp"]), 2);
    assert!(stderr.contains("the name is missing before `=`"), "{stderr}");
    fails(&mut paas(&server, &key, &["config:set", "-a", "myapp"]), 2);
    fails(&mut paas(&server, &key, &["config:unset", "-a", "myapp"]), 2);
    // A key the server refuses: nothing is set, not even the valid one beside it.
    let stderr = fails(&mut paas(&server, &key, &["config:set", "OK=1", "BAD KEY=2", "-a", "myapp"]), 1);
    assert!(stderr.contains("error: "), "{stderr}");
    assert_eq!(out(&mut paas(&server, &key, &["config", "-a", "myapp"])).0, "=== myapp Config Vars\n\n");
    assert_eq!(releases(&server, &key, "myapp"), before);
}

#[test]
fn rollback_makes_a_new_release_with_the_old_config() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    create_app(&server, &key, "myapp");
    ok(&mut paas(&server, &key, &["config:set", "FOO=one", "-a", "myapp"])); // v2
    ok(&mut paas(&server, &key, &["config:set", "FOO=two", "-a", "myapp"])); // v3

    let (stdout, stderr) = out(&mut paas(&server, &key, &["rollback", "v2", "-a", "myapp"]));
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", "Rolling back ⬢ myapp to v2... done, v4\n"));
    assert_eq!(out(&mut paas(&server, &key, &["config:get", "FOO", "-a", "myapp"])).0, "one\n");
    // Without a version: back to the release before the newest (v3).
    let (_, stderr) = out(&mut paas(&server, &key, &["rollback", "-a", "myapp"]));
    assert_eq!(stderr, "Rolling back ⬢ myapp to v3... done, v5\n");
    assert_eq!(out(&mut paas(&server, &key, &["config:get", "FOO", "-a", "myapp"])).0, "two\n");
    let versions = releases(&server, &key, "myapp");
    assert_eq!(versions[0], "v5 | Rollback to v3");
    assert_eq!(versions[1], "v4 | Rollback to v2");

    let before = releases(&server, &key, "myapp");
    let stderr = fails(&mut paas(&server, &key, &["rollback", "v99", "-a", "myapp"]), 1);
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert_eq!(releases(&server, &key, "myapp"), before);
}

#[test]
fn the_app_is_inferred_from_the_paas_git_remote_or_paas_app() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    let repo = server.home().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);

    let (stdout, _) = out(paas(&server, &key, &["apps:create", "gitapp"]).current_dir(&repo));
    let git_url = format!("{}/gitapp.git", server.api_url);
    assert!(stdout.ends_with(&format!(" | {git_url}\n")), "{stdout}");
    assert_eq!(git(&repo, &["config", "--get", "remote.paas.url"]), git_url);

    // Inside the repo, no -a is needed.
    let (_, stderr) = out(paas(&server, &key, &["config:set", "WHERE=repo"]).current_dir(&repo));
    assert_eq!(stderr, "Setting WHERE and restarting ⬢ gitapp... done, v2\n");
    // Outside it, the app must be named: a usage error otherwise.
    let stderr = fails(&mut paas(&server, &key, &["config"]), 2);
    assert!(stderr.starts_with("error: no app specified: pass -a/--app APP, set PAAS_APP"), "{stderr}");
    // PAAS_APP names it too; -a wins over both.
    assert_eq!(out(paas(&server, &key, &["config:get", "WHERE"]).env("PAAS_APP", "gitapp")).0, "repo\n");
    create_app(&server, &key, "other");
    assert_eq!(out(paas(&server, &key, &["config:get", "WHERE", "-a", "other"]).current_dir(&repo)).0, "\n");

    // Destroying the app removes the remote that pointed to it.
    out(paas(&server, &key, &["apps:destroy", "--confirm", "gitapp"]).current_dir(&repo));
    assert_eq!(git(&repo, &["remote"]), "");

    // git:remote points the remote at an existing app (and only inside a repo).
    let (stdout, _) = out(paas(&server, &key, &["git:remote", "-a", "other"]).current_dir(&repo));
    assert_eq!(stdout, format!("set git remote paas to {}/other.git\n", server.api_url));
    assert_eq!(git(&repo, &["remote", "get-url", "paas"]), format!("{}/other.git", server.api_url));
    fails(paas(&server, &key, &["git:remote", "-a", "gitapp"]).current_dir(&repo), 1);
    assert_eq!(git(&repo, &["remote", "get-url", "paas"]), format!("{}/other.git", server.api_url));
    let stderr = fails(&mut paas(&server, &key, &["git:remote", "-a", "other"]), 2);
    assert!(stderr.starts_with("error: not inside a git repo"), "{stderr}");
}

#[test]
fn users_cannot_see_each_others_apps_unless_they_collaborate() {
    let server = TestServer::start();
    let alice = user(&server, "alice@example.com");
    let bob = user(&server, "bob@example.com");
    create_app(&server, &alice, "alices-app");
    create_app(&server, &bob, "bobs-app");

    assert_eq!(out(&mut paas(&server, &alice, &["apps"])).0, "=== alice@example.com Apps\n\nalices-app\n");
    assert_eq!(out(&mut paas(&server, &bob, &["apps"])).0, "=== bob@example.com Apps\n\nbobs-app\n");
    assert_eq!(out(&mut paas(&server, &bob, &["apps", "--all"])).0, "=== bob@example.com Apps\n\nbobs-app\n");
    assert_eq!(out(&mut paas(&server, &bob, &["auth:whoami"])).0, "bob@example.com\n");
    // Only the operator creates users.
    let stderr = fails(&mut paas(&server, &bob, &["users:create", "eve@example.com"]), 1);
    assert!(stderr.starts_with("Creating user eve@example.com... !\nerror: "), "{stderr}");
    let stderr = fails(&mut paas(&server, &server.operator_key, &["users:create", "bob@example.com"]), 1);
    assert!(stderr.starts_with("Creating user bob@example.com... !\nerror: "), "{stderr}");
    // The operator sees only their own apps, and every app with --all.
    assert_eq!(out(&mut paas(&server, &server.operator_key, &["apps"])).0, "You have no apps.\n");
    assert_eq!(
        out(&mut paas(&server, &server.operator_key, &["apps", "-A"])).0,
        "=== Collaborated Apps\n\nalices-app  alice@example.com\nbobs-app    bob@example.com\n"
    );
    let stderr = fails(&mut paas(&server, &bob, &["config", "-a", "alices-app"]), 1);
    assert_eq!(stderr, "error: Couldn't find that app.\n");
    let before = releases(&server, &alice, "alices-app");
    fails(&mut paas(&server, &bob, &["config:set", "X=1", "-a", "alices-app"]), 1);
    assert_eq!(releases(&server, &alice, "alices-app"), before);

    let (stdout, stderr) = out(&mut paas(&server, &alice, &["access:add", "bob@example.com", "-a", "alices-app"]));
    assert_eq!((stdout.as_str(), stderr.as_str()), ("", "Adding bob@example.com access to the app ⬢ alices-app... done\n"));
    assert_eq!(
        out(&mut paas(&server, &alice, &["access", "-a", "alices-app"])).0,
        "=== alices-app Access List\n\nalice@example.com  owner\nbob@example.com    collaborator\n"
    );
    assert_eq!(
        out(&mut paas(&server, &bob, &["apps"])).0,
        "=== bob@example.com Apps\n\nbobs-app\n\n=== Collaborated Apps\n\nalices-app  alice@example.com\n"
    );
    let info = ok(&mut paas(&server, &alice, &["apps:info", "-a", "alices-app"]));
    assert!(info.starts_with("=== alices-app\n\nCollaborators: bob@example.com\nGit URL:       "), "{info}");
    let carol = user(&server, "carol@example.com");
    ok(&mut paas(&server, &alice, &["access:add", "carol@example.com", "-a", "alices-app"]));
    assert_eq!(out(&mut paas(&server, &carol, &["apps"])).0, "=== Collaborated Apps\n\nalices-app  alice@example.com\n");
    let json: serde_json::Value =
        serde_json::from_str(&ok(&mut paas(&server, &carol, &["access", "-a", "alices-app", "--json"]))).unwrap();
    let emails: Vec<&str> = json.as_array().unwrap().iter().map(|c| c["user"]["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["alice@example.com", "bob@example.com", "carol@example.com"]);
    let (_, stderr) = out(&mut paas(&server, &bob, &["config:set", "X=1", "-a", "alices-app"]));
    assert_eq!(stderr, "Setting X and restarting ⬢ alices-app... done, v2\n");
    let rows = ok(&mut paas(&server, &alice, &["releases", "-a", "alices-app"]));
    assert!(rows.contains("v2  Set X config vars  bob@example.com  "), "{rows}");

    let (_, stderr) = out(&mut paas(&server, &alice, &["access:remove", "bob@example.com", "-a", "alices-app"]));
    assert_eq!(stderr, "Removing bob@example.com access from the app ⬢ alices-app... done\n");
    fails(&mut paas(&server, &bob, &["config", "-a", "alices-app"]), 1);
    assert_eq!(out(&mut paas(&server, &bob, &["apps"])).0, "=== bob@example.com Apps\n\nbobs-app\n");
}

#[test]
fn scaling_without_process_types_or_with_bad_quantities_is_refused() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    create_app(&server, &key, "myapp");
    let before = ok(&mut paas(&server, &key, &["ps:scale", "-a", "myapp", "--json"]));

    let stderr = fails(&mut paas(&server, &key, &["ps:scale", "web=-1", "-a", "myapp"]), 2);
    assert!(stderr.contains("the quantity -1 is negative: it must be 0 or more"), "{stderr}");
    let stderr = fails(&mut paas(&server, &key, &["ps:scale", "web", "-a", "myapp"]), 2);
    assert!(stderr.contains("expected TYPE=QUANTITY[:SIZE]"), "{stderr}");
    let stderr = fails(&mut paas(&server, &key, &["ps:scale", "web=two", "-a", "myapp"]), 2);
    assert!(stderr.contains("is not a whole number"), "{stderr}");
    // No release has process types yet (nothing was pushed): the server names that.
    let stderr = fails(&mut paas(&server, &key, &["ps:scale", "web=2", "-a", "myapp"]), 1);
    assert_eq!(
        stderr,
        "Scaling dynos... !\nerror: No such process type web: this app has no process types yet; push code first.\n"
    );
    // A relative change goes to the server too (as Heroku's `"+1"`), and is refused the same way.
    let stderr = fails(&mut paas(&server, &key, &["ps:scale", "web+1", "-a", "myapp"]), 1);
    assert!(stderr.ends_with("error: No such process type web: this app has no process types yet; push code first.\n"), "{stderr}");
    assert_eq!(ok(&mut paas(&server, &key, &["ps:scale", "-a", "myapp", "--json"])), before);
    assert_eq!(
        out(&mut paas(&server, &key, &["ps:scale", "-a", "myapp"])).0,
        "No process types on ⬢ myapp yet: `git push` an app with a Procfile first\n"
    );

    assert_eq!(out(&mut paas(&server, &key, &["ps", "-a", "myapp"])).0, "No dynos on ⬢ myapp\n");
    let stderr = fails(&mut paas(&server, &key, &["ps:stop", "web", "-a", "myapp"]), 2);
    assert!(stderr.contains("is not a dyno name"), "{stderr}");
}

#[test]
fn dynos_are_restarted_and_stopped_by_app_type_or_name() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    create_app(&server, &key, "myapp");
    for (args, message) in [
        (&["ps:restart"][..], "Restarting all dynos on ⬢ myapp... done\n"),
        (&["ps:restart", "web"][..], "Restarting all web dynos on ⬢ myapp... done\n"),
        (&["ps:restart", "web.1"][..], "Restarting dyno web.1 on ⬢ myapp... done\n"),
        (&["ps:restart", "-p", "web"][..], "Restarting all web dynos on ⬢ myapp... done\n"),
        (&["ps:restart", "-d", "web.2"][..], "Restarting dyno web.2 on ⬢ myapp... done\n"),
        (&["ps:stop", "web.1"][..], "Stopping dyno web.1 on ⬢ myapp... done\n"),
    ] {
        let mut command = paas(&server, &key, args);
        command.args(["-a", "myapp"]);
        assert_eq!(out(&mut command), (String::new(), message.to_string()), "{args:?}");
    }
    assert_eq!(ok(&mut paas(&server, &key, &["ps", "-a", "myapp", "--json"])).trim(), "[]");
    fails(&mut paas(&server, &key, &["ps:restart", "-a", "nosuchapp"]), 1);
}

#[test]
fn domains_are_added_listed_and_removed() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    create_app(&server, &key, "myapp");
    let (stdout, stderr) = out(&mut paas(&server, &key, &["domains:add", "www.example.com", "-a", "myapp"]));
    assert_eq!(stderr, "Adding www.example.com to ⬢ myapp... done\n");
    assert_eq!(stdout, "Configure your app's DNS provider to point to the DNS Target myapp.localhost.\n");
    assert_eq!(
        ok(&mut paas(&server, &key, &["domains", "-a", "myapp"])),
        "=== myapp Heroku Domain\n\nmyapp.localhost\n\n=== myapp Custom Domains\n\n\
         Domain Name      DNS Record Type  DNS Target\nwww.example.com  CNAME            myapp.localhost\n"
    );
    // The same hostname twice is refused; the listing is unchanged.
    let before = ok(&mut paas(&server, &key, &["domains", "-a", "myapp"]));
    fails(&mut paas(&server, &key, &["domains:add", "www.example.com", "-a", "myapp"]), 1);
    assert_eq!(ok(&mut paas(&server, &key, &["domains", "-a", "myapp"])), before);
    let listing = ok(&mut paas(&server, &key, &["domains", "-a", "myapp"]));
    assert!(listing.contains("=== myapp Custom Domains\n\nDomain Name      DNS Record Type  DNS Target\nwww.example.com  CNAME"), "{listing}");
    let json: serde_json::Value = serde_json::from_str(&ok(&mut paas(&server, &key, &["domains", "-a", "myapp", "--json"]))).unwrap();
    assert!(json.as_array().unwrap().iter().any(|d| d["hostname"] == "www.example.com"), "{json}");

    let (_, stderr) = out(&mut paas(&server, &key, &["domains:remove", "www.example.com", "-a", "myapp"]));
    assert_eq!(stderr, "Removing www.example.com from ⬢ myapp... done\n");
    assert!(!ok(&mut paas(&server, &key, &["domains", "-a", "myapp"])).contains("www.example.com"));
}

#[test]
fn usage_errors_exit_2_and_completions_are_printed() {
    let output = run(Command::new(paas_bin()).arg("no-such-command"));
    assert_eq!(output.status.code(), Some(2));
    for shell in ["bash", "zsh", "fish"] {
        let script = ok(Command::new(paas_bin()).args(["completions", shell]));
        assert!(script.contains("config:set"), "{shell}: {script}");
    }
    let output = run(Command::new(paas_bin()).args(["completions", "tcsh"]));
    assert_eq!(output.status.code(), Some(2));
}

/// `paas … | head` panicked with "failed printing to stdout: Broken pipe" once head had read
/// its lines: a client command now ends as `cat` does, by SIGPIPE, and says nothing.
#[test]
fn a_reader_that_goes_away_ends_the_command_quietly() {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Stdio;

    // The pipe's reader is gone before paas starts, so its first write finds no reader.
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let output = Command::new(paas_bin()).arg("version").stdout(writer).stderr(Stdio::piped()).output().unwrap();
    const SIGPIPE: i32 = 13;
    assert_eq!(output.status.signal(), Some(SIGPIPE), "{:?}: {}", output.status, text(&output.stderr));
    assert_eq!(text(&output.stderr), "");
}

#[test]
fn an_unreachable_server_is_named_in_the_error() {
    for url in ["http://127.0.0.1:9", "https://127.0.0.1:9"] {
        let mut command = Command::new(paas_bin());
        command.args(["apps"]).env("PAAS_API_URL", url).env("PAAS_API_KEY", "key").env("HOME", "/nonexistent");
        let stderr = fails(&mut command, 1);
        assert!(stderr.starts_with(&format!("error: cannot reach the paas API at {url}: ")), "{stderr}");
        assert!(stderr.contains("onnect"), "{stderr}");
    }
}

#[test]
fn apps_are_renamed_and_put_in_maintenance_mode() {
    let server = TestServer::start();
    let key = user(&server, "alice@example.com");
    let bob = user(&server, "bob@example.com");
    let repo = server.home().join("repo");
    std::fs::create_dir_all(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    out(paas(&server, &key, &["apps:create", "before"]).current_dir(&repo));
    ok(&mut paas(&server, &key, &["access:add", "bob@example.com", "-a", "before"]));

    // Only the owner may rename; an invalid name is refused; neither changes anything.
    fails(&mut paas(&server, &bob, &["apps:rename", "stolen", "-a", "before"]), 1);
    let stderr = fails(&mut paas(&server, &key, &["apps:rename", "Bad_Name", "-a", "before"]), 1);
    assert!(stderr.contains("Name \"Bad_Name\" is invalid"), "{stderr}");
    assert_eq!(out(&mut paas(&server, &key, &["apps"])).0, "=== alice@example.com Apps\n\nbefore\n");

    let (stdout, stderr) = out(paas(&server, &key, &["apps:rename", "after"]).current_dir(&repo));
    assert_eq!(stderr, "Renaming ⬢ before to ⬢ after... done\n");
    assert!(stdout.ends_with(&format!(" | {}/after.git\n", server.api_url)), "{stdout}");
    assert_eq!(git(&repo, &["remote", "get-url", "paas"]), format!("{}/after.git", server.api_url));
    assert_eq!(out(&mut paas(&server, &key, &["apps"])).0, "=== alice@example.com Apps\n\nafter\n");

    assert_eq!(out(paas(&server, &key, &["maintenance"]).current_dir(&repo)).0, "off\n");
    let (_, stderr) = out(paas(&server, &key, &["maintenance:on"]).current_dir(&repo));
    assert_eq!(stderr, "Enabling maintenance mode for ⬢ after... done\n");
    assert_eq!(out(&mut paas(&server, &key, &["maintenance", "-a", "after"])).0, "on\n");
    let (_, stderr) = out(&mut paas(&server, &key, &["maintenance:off", "-a", "after"]));
    assert_eq!(stderr, "Disabling maintenance mode for ⬢ after... done\n");
    assert_eq!(out(&mut paas(&server, &key, &["maintenance", "-a", "after"])).0, "off\n");
}
