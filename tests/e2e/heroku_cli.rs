//! End-to-end tests that drive a real server with the official `heroku` CLI (npm `heroku`,
//! 11.10.0), installed once into `~/.cache/paas-heroku-cli`, pointed at the server with the
//! environment of `heroku-cli-compat.md` §2.1 that keeps it off the network. Without npm the test
//! is skipped locally (saying so) and fails in CI.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Gathered, TestServer, searchable_tempdir};

const HEROKU_VERSION: &str = "11.10.0";

/// The `heroku` executable, installed on first use; `None` (after saying why) when npm is
/// missing outside CI.
pub fn heroku_bin() -> Option<PathBuf> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/root"));
    let prefix = home.join(".cache/paas-heroku-cli");
    let bin = prefix.join("node_modules/.bin/heroku");
    let installed = prefix.join("node_modules/heroku/package.json");
    let version_ok = std::fs::read_to_string(&installed)
        .is_ok_and(|json| json.contains(&format!("\"version\": \"{HEROKU_VERSION}\"")));
    if bin.exists() && version_ok {
        return Some(bin);
    }
    if Command::new("npm").arg("--version").output().is_err() {
        let why = "npm is not installed (run .ci/setup)";
        assert!(std::env::var_os("CI").is_none(), "{why}; CI must run the heroku CLI tests");
        eprintln!("skipping the heroku CLI test: {why}");
        return None;
    }
    std::fs::create_dir_all(&prefix).unwrap();
    let status = Command::new("npm")
        .args(["install", "--no-audit", "--no-fund", "--prefix"])
        .arg(&prefix)
        .arg(format!("heroku@{HEROKU_VERSION}"))
        .status()
        .expect("run npm install");
    assert!(status.success(), "npm install heroku@{HEROKU_VERSION} failed");
    assert!(bin.exists(), "npm installed no {}", bin.display());
    Some(bin)
}

/// Runs `heroku` against the server: its own temp `HOME`, the API as both API host and
/// particleboard, telemetry, update checks and notifications off.
pub(crate) struct Heroku {
    pub(crate) bin: PathBuf,
    pub(crate) home: tempfile::TempDir,
    pub(crate) api_url: String,
}

/// What a `heroku` command did.
pub(crate) struct Run {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Heroku {
    fn command(&self, key: Option<&str>, args: &[&str]) -> Command {
        let mut command = Command::new(&self.bin);
        command
            .args(args)
            .env("HOME", self.home.path())
            .env("HEROKU_HOST", &self.api_url)
            .env("HEROKU_PARTICLEBOARD_URL", &self.api_url)
            .env("DISABLE_TELEMETRY", "true")
            .env("HEROKU_DISABLE_AUTOUPDATE", "1")
            .env("HEROKU_SKIP_NEW_VERSION_CHECK", "true")
            .env("HEROKU_NOTIFICATIONS", "0")
            .env("NO_COLOR", "1")
            .env_remove("HEROKU_API_KEY")
            .current_dir(self.home.path())
            .stdin(Stdio::null());
        if let Some(key) = key {
            command.env("HEROKU_API_KEY", key);
        }
        command
    }

    pub(crate) fn run(&self, key: Option<&str>, args: &[&str]) -> Run {
        let output = self.command(key, args).output().expect("run heroku");
        println!("$ heroku {}\n{}{}", args.join(" "), text(&output.stdout), text(&output.stderr));
        run_of(output)
    }

    /// Runs a command that must succeed.
    pub(crate) fn ok(&self, key: &str, args: &[&str]) -> Run {
        let run = self.run(Some(key), args);
        assert_eq!(run.code, Some(0), "heroku {args:?} failed:\n{}\n{}", run.stdout, run.stderr);
        run
    }

    /// `heroku login -i`, answering its email and password prompts as they appear.
    fn login(&self, email: &str, password: &str) -> Run {
        let mut child = self
            .command(None, &["login", "-i"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run heroku login -i");
        let seen = Gathered::start([
            Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ]);
        let mut stdin = child.stdin.take().unwrap();
        for (prompt, answer) in [("Email", email), ("Password", password)] {
            seen.wait_for(prompt);
            std::thread::sleep(Duration::from_millis(200));
            stdin.write_all(format!("{answer}\n").as_bytes()).unwrap();
            stdin.flush().unwrap();
        }
        let status = child.wait().unwrap();
        drop(stdin);
        let all = seen.finish();
        println!("$ heroku login -i\n{all}");
        Run { code: status.code(), stdout: all, stderr: String::new() }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run_of(output: Output) -> Run {
    Run { code: output.status.code(), stdout: text(&output.stdout), stderr: text(&output.stderr) }
}

/// Creates a user through the operator-only `POST /users` extension; gives back their API key.
pub(crate) fn create_user(server: &TestServer, email: &str, password: &str) -> String {
    let output = Command::new("curl")
        .args(["-sS", "-X", "POST", "-H", "Content-Type: application/json", "-H"])
        .arg(format!("Authorization: Bearer {}", server.operator_key))
        .arg("-d")
        .arg(format!("{{\"email\": \"{email}\", \"password\": \"{password}\"}}"))
        .arg(format!("{}/users", server.api_url))
        .output()
        .expect("run curl");
    let body = text(&output.stdout);
    let key = body.split("\"api_key\":\"").nth(1).and_then(|rest| rest.split('"').next());
    key.unwrap_or_else(|| panic!("no api_key in {body}")).to_string()
}

/// `curl` of the API as the operator: status and JSON body (`PUT` of a file: `-T`).
pub(crate) fn curl_api(server: &TestServer, method: &str, url: &str, body: Option<&str>) -> (u16, serde_json::Value) {
    let mut command = Command::new("curl");
    command.args(["-sS", "-m", "60", "-o", "-", "-w", "\n%{http_code}", "-X", method, "-H"]);
    command.arg(format!("Authorization: Bearer {}", server.operator_key));
    command.args(["-H", "Accept: application/vnd.heroku+json; version=3"]);
    if let Some(body) = body {
        command.args(["-H", "Content-Type: application/json", "-d", body]);
    }
    let output = command.arg(url).output().expect("run curl");
    let out = text(&output.stdout);
    let (body, code) = out.trim_end().rsplit_once('\n').unwrap_or(("", out.trim()));
    (code.parse().unwrap_or(0), serde_json::from_str(body).unwrap_or(serde_json::Value::String(body.to_string())))
}

/// Heroku CLI 11's `releases:info`, `ps:stop`, `labs`, `regions`, `apps:stacks`, `sessions`,
/// `apps:create --stack heroku-24` on app `hello` (releases v1..v5, FOO=bar in v2), then a build
/// from a URL (`POST /sources`, PUT, `POST /apps/hello/builds {"source_blob"}`) whose output
/// comes from its `output_stream_url` without the API key; a wrong checksum builds nothing.
fn breadth_commands_and_builds_from_a_url(heroku: &Heroku, server: &TestServer) {
    let op = server.operator_key.as_str();
    let info = heroku.ok(op, &["releases:info", "v2", "-a", "hello"]).stdout;
    assert!(info.contains("=== Release v2") && info.contains("=== v2 Config vars"), "{info}");
    assert!(info.lines().any(|line| line.split_whitespace().eq(["FOO:", "bar"])), "{info}");
    let stop = heroku.ok(op, &["ps:stop", "-p", "web", "-a", "hello"]);
    assert!(stop.stderr.contains("Stopping all web dynos on hello... done"), "{}", stop.stderr);
    let stop = heroku.ok(op, &["ps:stop", "web", "-a", "hello"]);
    assert!(stop.stderr.contains("Stopping dyno web on hello... done"), "{}", stop.stderr);
    assert_eq!(lines(&heroku.ok(op, &["labs"]).stdout), ["=== User Features operator@localhost"]);
    assert!(has_row(&heroku.ok(op, &["regions"]).stdout, &["us", "This", "paas", "server", "Common", "Runtime"]));
    assert_eq!(lines(&heroku.ok(op, &["apps:stacks", "-a", "hello"]).stdout), ["=== hello Available Stacks", "* paas-wasm"]);
    assert_eq!(heroku.ok(op, &["sessions"]).stdout, "No OAuth sessions.\n");
    let modern = heroku.ok(op, &["apps:create", "modern", "--stack", "heroku-24"]);
    assert!(modern.stderr.contains("Creating modern... done, stack is paas-wasm"), "{}", modern.stderr);
    heroku.ok(op, &["apps:destroy", "modern", "--confirm", "modern"]);

    // A build from a URL on the server's own blob store.
    let api = server.api_url.as_str();
    let (code, sources) = curl_api(server, "POST", &format!("{api}/sources"), None);
    assert_eq!(code, 201, "{sources}");
    let (put_url, get_url) = (sources["source_blob"]["put_url"].as_str().unwrap(), sources["source_blob"]["get_url"].as_str().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let tarball = dir.path().join("source.tgz");
    let site = crate::support::repo_root().join("examples/static-site");
    assert!(Command::new("tar").arg("czf").arg(&tarball).arg("-C").arg(&site).arg(".").status().unwrap().success());
    let put = Command::new("curl").args(["-sS", "-f", "-T"]).arg(&tarball).arg(put_url).status().unwrap();
    assert!(put.success(), "PUT the source to {put_url}");
    let checksum = format!("SHA256:{}", hex_sha256(&std::fs::read(&tarball).unwrap()));
    let builds_url = format!("{api}/apps/hello/builds");
    let wrong = format!("SHA256:{}", "0".repeat(64));
    let body = |checksum: &str| format!(r#"{{"source_blob": {{"url": "{get_url}", "version": "2b93a215cafe", "checksum": "{checksum}"}}}}"#);
    let (code, refused) = curl_api(server, "POST", &builds_url, Some(&body(&wrong)));
    assert_eq!(code, 422, "{refused}");
    assert_eq!(refused["message"], format!("The source's checksum is {checksum}, not {wrong} as source_blob.checksum says: nothing was built."));
    assert_eq!(curl_api(server, "GET", &builds_url, None).1, serde_json::json!([]), "a refused build is not recorded");
    let (code, elsewhere) = curl_api(server, "POST", &builds_url, Some(r#"{"source_blob": {"url": "http://127.0.0.1:9/source.tgz"}}"#));
    assert_eq!(code, 422, "{elsewhere}");
    assert!(elsewhere["message"].as_str().unwrap().starts_with("Cannot fetch source_blob.url: "), "{elsewhere}");

    let (code, build) = curl_api(server, "POST", &builds_url, Some(&body(&checksum)));
    assert_eq!(code, 201, "{build}");
    let output_url = build["output_stream_url"].as_str().unwrap();
    // No API key: the URL is its own credential; the body ends with the build.
    let output = Command::new("curl").args(["-sS", "-f", "-m", "300"]).arg(output_url).output().unwrap();
    let output = text(&output.stdout);
    assert!(output.contains("Static app detected"), "{output}");
    let (_, build) = curl_api(server, "GET", &format!("{builds_url}/{}", build["id"].as_str().unwrap()), None);
    assert_eq!(build["status"], "succeeded", "{build}");
    let releases = heroku.ok(op, &["releases", "-a", "hello"]).stdout;
    assert!(releases.lines().any(|line| line.split_whitespace().take(3).eq(["v6", "Deploy", "2b93a21"])), "{releases}");
    let forged = format!("{}0", output_url.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    assert_eq!(curl_api(server, "GET", &forged, None).0, 404);

    // The store: the source reads back; a made-up token names nothing; 10 live sources a user.
    let read = Command::new("curl").args(["-sS", "-f"]).arg(get_url).output().unwrap();
    assert_eq!(read.stdout, std::fs::read(&tarball).unwrap());
    let made_up = format!("{}0", get_url.trim_end_matches(|c: char| c.is_ascii_hexdigit()));
    assert_eq!(curl_api(server, "GET", &made_up, None).0, 404);
    let codes: Vec<u16> = (0..10).map(|_| curl_api(server, "POST", &format!("{api}/sources"), None).0).collect();
    assert_eq!(codes, [[201; 9].as_slice(), &[429]].concat());
}

pub(crate) fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim_end).filter(|line| !line.trim().is_empty()).collect()
}

#[test]
fn the_official_heroku_cli_drives_the_server() {
    let Some(bin) = heroku_bin() else { return };
    let server = TestServer::start();
    let heroku = Heroku { bin, home: tempfile::tempdir().unwrap(), api_url: server.api_url.clone() };
    let op = server.operator_key.as_str();

    assert_eq!(heroku.ok(op, &["auth:whoami"]).stdout, "operator@localhost\n");

    let created = heroku.ok(op, &["apps:create", "hello"]);
    let router_port = server.router_url.rsplit(':').next().unwrap();
    let git_host = server.api_url.trim_start_matches("http://");
    assert_eq!(created.stdout, format!("http://hello.localhost:{router_port}/ | https://{git_host}/hello.git\n"));
    assert!(created.stderr.contains("Creating hello... done"), "{}", created.stderr);

    assert_eq!(lines(&heroku.ok(op, &["apps"]).stdout), ["=== operator@localhost Apps", "hello"]);
    let info = heroku.ok(op, &["apps:info", "-a", "hello"]).stdout;
    for expected in ["=== hello", "Owner:          operator@localhost", "Region:         us", "Stack:          paas-wasm"] {
        assert!(info.contains(expected), "apps:info lacks {expected:?}:\n{info}");
    }
    assert!(info.contains(&format!("Web URL:        http://hello.localhost:{router_port}/")), "{info}");

    let set = heroku.ok(op, &["config:set", "FOO=bar", "GREETING=hello world", "-a", "hello"]);
    assert!(set.stderr.contains("Setting FOO, GREETING and restarting hello... done, v2"), "{}", set.stderr);
    assert_eq!(lines(&set.stdout), ["FOO:      bar", "GREETING: hello world"]);
    assert_eq!(lines(&heroku.ok(op, &["config", "-a", "hello"]).stdout), ["=== hello Config Vars", "FOO:      bar", "GREETING: hello world"]);
    assert_eq!(heroku.ok(op, &["config:get", "FOO", "-a", "hello"]).stdout, "bar\n");
    let unset = heroku.ok(op, &["config:unset", "FOO", "-a", "hello"]);
    assert!(unset.stderr.contains("Unsetting FOO and restarting hello... done, v3"), "{}", unset.stderr);

    let releases = heroku.ok(op, &["releases", "-a", "hello"]).stdout;
    assert!(releases.contains("=== hello Releases - Current: v3"), "{releases}");
    let rows: Vec<(String, String)> = releases
        .lines()
        .filter(|line| line.trim_start().starts_with('v') && line.contains("operator@localhost"))
        .map(|line| {
            // The CLI pads its columns to fit; read "version  description  user  time" by words.
            let words: Vec<&str> = line.split_whitespace().collect();
            let user = words.iter().position(|word| *word == "operator@localhost").unwrap_or(words.len());
            (words[0].to_string(), words[1..user].join(" "))
        })
        .collect();
    assert_eq!(
        rows,
        [("v3", "Remove FOO config vars"), ("v2", "Set FOO, GREETING config vars"), ("v1", "Initial release")]
            .map(|(version, description)| (version.to_string(), description.to_string()))
    );
    let rollback = heroku.ok(op, &["rollback", "v2", "-a", "hello"]);
    assert!(rollback.stderr.contains("Rolling back hello to v2... done, v4"), "{}", rollback.stderr);
    assert_eq!(heroku.ok(op, &["config:get", "FOO", "-a", "hello"]).stdout, "bar\n");
    let rollback = heroku.ok(op, &["rollback", "-a", "hello"]);
    assert!(rollback.stderr.contains("Rolling back hello to v3... done, v5"), "{}", rollback.stderr);
    assert_eq!(heroku.ok(op, &["config:get", "FOO", "-a", "hello"]).stdout, "\n");

    // No build yet, so no process types: scaling says how to get some.
    let scale = heroku.run(Some(op), &["ps:scale", "web=2", "-a", "hello"]);
    assert_eq!(scale.code, Some(2));
    let message = scale.stderr.split_whitespace().filter(|w| *w != "›").collect::<Vec<_>>().join(" ");
    assert!(message.contains("Error: No such process type web: this app has no process types yet; push code first."), "{message}");
    assert!(message.contains("Error ID: invalid_params"), "{message}");
    assert_eq!(heroku.ok(op, &["ps", "-a", "hello"]).stdout, "No dynos on hello\n");
    assert!(heroku.ok(op, &["ps:restart", "-a", "hello"]).stderr.contains("Restarting all dynos on hello... done"));
    assert!(heroku.ok(op, &["ps:restart", "-p", "web", "-a", "hello"]).stderr.contains("Restarting all web dynos on hello... done"));

    let added = heroku.ok(op, &["domains:add", "www.example.com", "-a", "hello"]);
    assert!(added.stdout.contains("point to the DNS Target hello.localhost."), "{}", added.stdout);
    let domains = lines(&heroku.ok(op, &["domains", "-a", "hello"]).stdout).join("\n");
    assert!(domains.starts_with("=== hello Heroku Domain\nhello.localhost\n=== hello Custom Domains"), "{domains}");
    assert!(has_row(&domains, &["www.example.com", "CNAME", "hello.localhost"]), "{domains}");

    // A second user: invisible to each other until added as a collaborator.
    let dev_key = create_user(&server, "dev@example.com", "pw");
    assert_eq!(heroku.ok(&dev_key, &["apps"]).stdout, "You have no apps.\n");
    let hidden = heroku.run(Some(&dev_key), &["apps:info", "-a", "hello"]);
    assert_eq!(hidden.code, Some(2));
    assert!(hidden.stderr.contains("Couldn't find that app."), "{}", hidden.stderr);
    assert!(heroku.ok(op, &["access:add", "dev@example.com", "-a", "hello"]).stderr.contains("Adding dev@example.com access to the app hello... done"));
    let access = lines(&heroku.ok(op, &["access", "-a", "hello"]).stdout).join("\n");
    assert!(has_row(&access, &["dev@example.com", "collaborator"]) && has_row(&access, &["operator@localhost", "owner"]), "{access}");

    // `heroku login -i` with email and password, then the netrc entry is used.
    let login = heroku.login("dev@example.com", "pw");
    assert_eq!(login.code, Some(0));
    assert!(login.stdout.contains("Logged in as dev@example.com"), "{}", login.stdout);
    let netrc = std::fs::read_to_string(heroku.home.path().join(".netrc")).unwrap();
    assert!(netrc.contains(&format!("machine {git_host}")) && netrc.contains("login dev@example.com"), "{netrc}");
    let whoami = heroku.run(None, &["auth:whoami"]);
    assert_eq!(whoami.stdout, "dev@example.com\n");
    let apps = lines(&heroku.run(None, &["apps"]).stdout).join("\n");
    assert!(apps.contains("Collaborated Apps") && has_row(&apps, &["hello", "operator@localhost"]), "{apps}");

    // A wrong key is refused.
    let wrong = heroku.run(Some("not-a-key"), &["apps"]);
    assert_eq!(wrong.code, Some(1));
    assert!(wrong.stderr.contains("The token provided to HEROKU_API_KEY is invalid"), "{}", wrong.stderr);

    breadth_commands_and_builds_from_a_url(&heroku, &server);

    let destroy = heroku.run(Some(&dev_key), &["apps:destroy", "hello", "--confirm", "hello"]);
    assert_eq!(destroy.code, Some(2), "a collaborator cannot destroy the app");
    let destroy = heroku.ok(op, &["apps:destroy", "hello", "--confirm", "hello"]);
    assert!(destroy.stderr.contains("Destroying hello (including all add-ons)... done"), "{}", destroy.stderr);
    assert_eq!(heroku.ok(op, &["apps"]).stdout, "You have no apps.\n");
}


#[test]
fn heroku_logs_and_logs_tail_read_the_apps_stream() {
    let Some(bin) = heroku_bin() else { return };
    let server = TestServer::start();
    let heroku = Heroku { bin, home: tempfile::tempdir().unwrap(), api_url: server.api_url.clone() };
    let op = server.operator_key.as_str();
    heroku.ok(op, &["apps:create", "logged"]);
    heroku.ok(op, &["config:set", "FOO=bar", "-a", "logged"]);

    // (The stream starts with `retry: 1`, so the CLI exits as soon as it ends rather than after its
    // 3 s reconnect timer: tests/e2e/logs.rs checks the bytes; timing it here is flaky under load.)
    let logs = heroku.ok(op, &["logs", "-a", "logged"]);
    let untimed: Vec<String> = lines(&logs.stdout).iter().map(|l| crate::logs::untimed(l)).collect();
    assert_eq!(
        untimed,
        [
            "app[api]: Initial release by operator@localhost",
            "app[api]: Release v1 created by operator@localhost",
            "app[api]: Set FOO config vars by operator@localhost",
            "app[api]: Release v2 created by operator@localhost",
        ]
    );
    let filtered = heroku.ok(op, &["logs", "-a", "logged", "-n", "1", "-d", "api"]);
    assert_eq!(lines(&filtered.stdout).iter().map(|l| crate::logs::untimed(l)).collect::<Vec<_>>(), ["app[api]: Release v2 created by operator@localhost"]);

    // --tail: the history, then a line written after it started.
    let mut command = heroku.command(Some(op), &["logs", "--tail", "-n", "1", "-a", "logged"]);
    let mut tail = crate::logs::Following::start(&mut command);
    tail.until("the history", |lines| crate::logs::has(lines, "app[api]: Release v2 created by operator@localhost"));
    heroku.ok(op, &["config:set", "BAR=baz", "-a", "logged"]);
    let seen = tail.until("config:set BAR", |lines| crate::logs::has(lines, "app[api]: Release v3 created by operator@localhost"));
    assert_eq!(
        seen.iter().map(|l| crate::logs::untimed(l)).collect::<Vec<_>>(),
        [
            "app[api]: Release v2 created by operator@localhost",
            "app[api]: Set BAR config vars by operator@localhost",
            "app[api]: Release v3 created by operator@localhost",
        ]
    );
    assert!(tail.running(), "heroku logs --tail ended");
    drop(tail);

    // A dyno's line holding a `\r` (a progress bar) arrives whole: SSE ends a line at a `\r`, so
    // the stream sends its parts as `data:` fields of one event, which the CLI prints as lines.
    // (A raw `\r` inside a `data:` line, as the hand-written framing sent it, made the CLI's
    // parser end the field there and drop `progress: 100%`.) A native web dyno prints it at boot.
    if !crate::native::runc_available() {
        return;
    }
    crate::support::login(&server, &server.home(), op);
    let repo = tempfile::tempdir().unwrap();
    let procfile = "web: printf 'progress: 50%%\\rprogress: 100%%\\n'; exec python3 -m http.server $PORT --bind 0.0.0.0\n";
    std::fs::write(repo.path().join("Procfile"), procfile).unwrap();
    for args in [&["init", "--quiet", "--initial-branch=main"][..], &["add", "-A"], &["commit", "--quiet", "-m", "First"]] {
        crate::support::git(&server.home(), repo.path(), args);
    }
    crate::support::ok(server.paas().args(["apps:create", "progress"]).current_dir(repo.path()).env_remove("PAAS_APP"));
    let mut command = heroku.command(Some(op), &["logs", "--tail", "-a", "progress", "-d", "web"]);
    let tail = crate::logs::Following::start(&mut command);
    crate::support::push(&server, repo.path());
    tail.until("the line with a \\r, whole", |lines| {
        lines.windows(2).any(|w| w[0].ends_with(" app[web.1]: progress: 50%") && w[1] == "progress: 100%")
    });
}

/// Whether some line of a table the CLI printed holds exactly these cells (its column padding
/// depends on the terminal, so cells are compared word by word).
pub(crate) fn has_row(table: &str, cells: &[&str]) -> bool {
    table.lines().any(|line| line.split_whitespace().eq(cells.iter().copied()))
}

#[test]
fn heroku_run_attaches_through_the_tls_rendezvous() {
    let Some(bin) = heroku_bin() else { return };
    let server = TestServer::start();
    crate::support::push_example(&server, "worker-rust", "oneoff");
    let heroku = Heroku { bin, home: tempfile::tempdir().unwrap(), api_url: server.api_url.clone() };
    let op = server.operator_key.as_str();
    let ca = server.data_dir().join("tls/ca.pem");
    let run = |args: &[&str], stdin: &[u8]| {
        let mut child = heroku
            .command(Some(op), args)
            .env("NODE_EXTRA_CA_CERTS", &ca)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run heroku");
        child.stdin.take().unwrap().write_all(stdin).unwrap();
        let run = run_of(child.wait_with_output().unwrap());
        println!("$ heroku {}\n{}{}", args.join(" "), run.stdout, run.stderr);
        run
    };

    // -x: the output without the status line, and the dyno's exit code.
    let ok = run(&["run", "-x", "-a", "oneoff", "--env", "INTERVAL_MS=10", "worker-rust", "2"], b"");
    assert_eq!((ok.code, ok.stdout.as_str()), (Some(0), "run.1: tick 1\nrun.1: tick 2\nrun.1: done after 2 iterations\n"), "{}", ok.stderr);
    let failed = run(&["run", "-x", "-a", "oneoff", "--env", "INTERVAL_MS=10;EXIT_CODE=7", "worker-rust", "1"], b"");
    assert_eq!((failed.code, failed.stdout.as_str()), (Some(1), "run.1: tick 1\nrun.1: done after 1 iterations\n"), "{}", failed.stderr);
    assert!(failed.stderr.contains("Process exited with code 1"), "{}", failed.stderr);
    // stdin reaches the dyno, and its end (the CLI's \x04) ends the guest's input.
    let echoed = run(&["run", "-a", "oneoff", "worker-rust", "echo"], b"from heroku\n");
    assert_eq!((echoed.code, echoed.stdout.as_str()), (Some(0), "echo: from heroku\n"), "{}", echoed.stderr);
    // run:detached (attach: false): the dyno's name, and its output in the logs.
    let detached = run(&["run:detached", "-a", "oneoff", "--env", "INTERVAL_MS=10", "worker-rust", "1"], b"");
    assert_eq!(detached.code, Some(0), "{}", detached.stderr);
    assert!(format!("{}{}", detached.stdout, detached.stderr).contains("run.1"), "{}{}", detached.stdout, detached.stderr);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !heroku.ok(op, &["logs", "-a", "oneoff", "-d", "run.1"]).stdout.contains("app[run.1]: run.1: done after 1 iterations") {
        assert!(Instant::now() < deadline, "the detached run's output never reached heroku logs");
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn heroku_addons_and_pg_psql_reach_the_servers_postgres() {
    let Some(bin) = heroku_bin() else { return };
    if Command::new("psql").arg("--version").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "psql is missing: run .ci/setup");
        eprintln!("skipping: psql is not installed (heroku pg:psql runs it)");
        return;
    }
    let server = TestServer::start_in(searchable_tempdir());
    let heroku = Heroku { bin, home: tempfile::tempdir().unwrap(), api_url: server.api_url.clone() };
    let op = server.operator_key.as_str();
    heroku.ok(op, &["apps:create", "shop"]);
    heroku.ok(op, &["apps:create", "reports"]);

    let created = heroku.ok(op, &["addons:create", "heroku-postgresql:essential-0", "-a", "shop"]);
    let all = format!("{}{}", created.stdout, created.stderr);
    let name = all.split_whitespace().find(|word| word.starts_with("postgresql-")).unwrap_or_else(|| panic!("no add-on name in {all}"));
    let name = name.trim_end_matches(|c: char| !c.is_alphanumeric()).to_string();
    assert!(all.contains(&format!("Created {name} as DATABASE_URL")), "{all}");

    let listed = heroku.ok(op, &["addons", "-a", "shop"]).stdout;
    assert!(has_row(&listed, &["heroku-postgresql", &format!("({name})"), "essential-0", "~$0.007/hour", "$5/month", "created"]), "{listed}");
    assert!(has_row(&listed, &["└─", "as", "DATABASE"]), "{listed}");
    let info = heroku.ok(op, &["addons:info", &name]).stdout;
    for expected in [format!("=== {name}"), "Plan:         heroku-postgresql:essential-0".into(), "Owning app:   shop".into(), "Attachments:  shop::DATABASE".into(), "State:        created".into()] {
        assert!(info.contains(&expected), "addons:info lacks {expected:?}:\n{info}");
    }

    let config = lines(&heroku.ok(op, &["config", "-a", "shop"]).stdout).join("\n");
    let url = config.lines().find_map(|line| line.strip_prefix("DATABASE_URL:")).unwrap_or_else(|| panic!("no DATABASE_URL in {config}")).trim().to_string();
    assert!(url.starts_with("postgres://addon_") && url.contains(&format!("@{}:", crate::addons::addon_url_host(&server))), "{url}");

    let psql = heroku.ok(op, &["pg:psql", "-c", "select 1", "-a", "shop"]);
    assert_eq!(lines(&psql.stdout), [" ?column?", "----------", "        1", "(1 row)"]);
    assert!(psql.stderr.contains(&format!("--> Connecting to {name}")), "{}", psql.stderr);

    let attached = heroku.ok(op, &["addons:attach", &name, "-a", "reports", "--as", "REPORTS"]);
    let attached = format!("{}{}", attached.stdout, attached.stderr);
    assert!(attached.contains(&format!("Attaching {name} as REPORTS to reports... done")), "{attached}");
    assert!(attached.contains("Setting REPORTS config vars and restarting reports... done, v2"), "{attached}");
    assert_eq!(heroku.ok(op, &["config:get", "REPORTS_URL", "-a", "reports"]).stdout.trim(), url);
    let detached = heroku.ok(op, &["addons:detach", "REPORTS", "-a", "reports"]);
    let detached = format!("{}{}", detached.stdout, detached.stderr);
    assert!(detached.contains(&format!("Detaching REPORTS to {name} from reports... done")), "{detached}");
    assert!(detached.contains("Unsetting REPORTS config vars and restarting reports... done, v3"), "{detached}");
    assert_eq!(heroku.ok(op, &["config:get", "REPORTS_URL", "-a", "reports"]).stdout, "\n");

    assert!(crate::addons::psql(&url).status.success(), "nothing was destroyed yet");
    let destroyed = heroku.ok(op, &["addons:destroy", &name, "-a", "shop", "--confirm", "shop"]);
    assert!(destroyed.stderr.contains(&format!("Destroying {name} on shop... done")), "{}", destroyed.stderr);
    assert!(!crate::addons::psql(&url).status.success(), "the destroyed add-on's database still answers");
    assert_eq!(heroku.ok(op, &["config:get", "DATABASE_URL", "-a", "shop"]).stdout, "\n");
    assert!(heroku.ok(op, &["addons", "-a", "shop"]).stdout.contains("No add-ons for app shop"));
}
