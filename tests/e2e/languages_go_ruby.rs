//! Go and Ruby apps end to end: `git push` of examples/hello-go (the go buildpack, `go install`)
//! and examples/hello-ruby (the ruby buildpack, Bundler from vendor/cache, `rackup`) to one real
//! `paas server`; each is served through the router in a native container, reads a config var,
//! is restarted (a new process), rolled back (the old config again), scaled to two dynos that
//! both answer, runs a one-off of its language's tool (`paas run`), and a push that does not build
//! (code go cannot compile; a Gemfile.lock that does not match the Gemfile) fails with the tool's
//! own message and makes no release, the running one still serving.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::{self, TestServer, app_repo, eventually_get, ok, replaced, router_get};

/// One language's example and what it shows.
struct Language {
    /// The example (also the app's name).
    example: &'static str,
    /// The line where the buildpack says native, and why.
    native_line: &'static str,
    /// Who the page says greets.
    greeter: &'static str,
    /// A one-off's shell command, and the start of what it prints.
    one_off: (&'static str, &'static str),
    /// A change (file, from, to) after which the build fails, and a line of the tool's message.
    breaks: (&'static str, &'static str, &'static str, &'static str),
}

const LANGUAGES: [Language; 2] = [
    Language {
        example: "hello-go",
        native_line: "-----> Go: building natively: the stack's go1.",
        greeter: "Go",
        one_off: ("go version && command -v hello-go", "go version go1."),
        breaks: ("main.go", "name := os.Getenv", "name := nosuch + os.Getenv", "undefined: nosuch"),
    },
    Language {
        example: "hello-ruby",
        native_line: "-----> Ruby: building natively: ruby.wasm",
        greeter: "Ruby",
        one_off: ("ruby -e 'puts RUBY_VERSION' && bundle exec ruby -e 'require \"rack\"; puts Rack.release'", "3."),
        breaks: ("Gemfile", "gem \"webrick\"", "gem \"webrick\"\ngem \"sinatra\"", "You are trying to install in deployment mode after changing"),
    },
];

/// A `paas` command as the operator (not as the test's PAAS_APP).
fn paas(server: &TestServer, args: &[&str]) -> String {
    ok(server.paas().args(args).env_remove("PAAS_APP"))
}

/// How many releases `app` has.
fn releases(server: &TestServer, app: &str) -> usize {
    let json: serde_json::Value = serde_json::from_str(&paas(server, &["releases", "-a", app, "--json"])).unwrap();
    json.as_array().unwrap().len()
}

/// `git push paas main` of `repo`, whatever it exits with: success and the whole output.
fn push(server: &TestServer, repo: &Path) -> (bool, String) {
    let output = support::try_git(&server.home(), repo, &["push", "paas", "main"]);
    (output.status.success(), format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)))
}

#[test]
fn go_and_ruby_apps_deploy_serve_restart_roll_back_scale_and_run_one_offs() {
    if !crate::native::runc_available() {
        return;
    }
    let server = TestServer::start();
    let within = Duration::from_secs(90);
    for language in &LANGUAGES {
        let app = language.example;
        let started = Instant::now();
        let repo = app_repo(&server, app, app);
        let (pushed, output) = push(&server, repo.path());
        assert!(pushed && output.contains(language.native_line), "{app}: {output}");
        println!("[go-ruby] {app}: git push took {:.1} s", started.elapsed().as_secs_f64());
        let greeting = |name: &str| format!("Hello, {name}, from {}!\n", language.greeter);
        eventually_get(&server, app, "/", (200, &greeting("world")), within);
        println!("[go-ruby] {app}: answering {:.1} s after the push began", started.elapsed().as_secs_f64());

        // A config var reaches the dyno (a new release, a new process).
        paas(&server, &["config:set", "GREETING_NAME=paas", "-a", app]);
        eventually_get(&server, app, "/", (200, &greeting("paas")), within);

        // A restart replaces the process; a rollback brings the push's release (no greeting) back.
        let (_, boot) = router_get(&server, app, "/boot");
        paas(&server, &["ps:restart", "-a", app]);
        replaced(&server, app, &boot);
        assert_eq!(router_get(&server, app, "/"), (200, greeting("paas")), "{app} after the restart");
        paas(&server, &["rollback", "-a", app]);
        eventually_get(&server, app, "/", (200, &greeting("world")), within);

        // Two web dynos, both answering.
        paas(&server, &["ps:scale", "web=2", "-a", app]);
        let deadline = Instant::now() + within;
        let mut dynos = BTreeSet::new();
        while dynos.len() < 2 {
            assert!(Instant::now() < deadline, "{app}: after ps:scale web=2 only {dynos:?} answered");
            if let (200, body) = router_get(&server, app, "/dyno") {
                let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_else(|e| panic!("{app} /dyno: {e}: {body}"));
                dynos.extend(json["dyno"].as_str().map(str::to_string));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(dynos, BTreeSet::from(["web.1".to_string(), "web.2".to_string()]), "{app}");

        // A one-off dyno of the language's tool, in the app's container environment.
        let (command, prints) = language.one_off;
        let one_off = paas(&server, &["run", "-a", app, "--", command]);
        assert!(one_off.starts_with(prints), "{app}: `{command}` printed {one_off:?}");
        if app == "hello-go" {
            assert!(one_off.ends_with("\n/app/bin/hello-go\n"), "{one_off:?}");
        } else {
            assert!(one_off.ends_with("\n2.2.22\n"), "the vendored rack: {one_off:?}");
        }

        // A push that does not build fails with the tool's message and makes no release.
        let before = releases(&server, app);
        let (file, from, to, says) = language.breaks;
        let path = repo.path().join(file);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(from), "{file} has {from:?}");
        std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
        support::git(&server.home(), repo.path(), &["commit", "--quiet", "-am", "Break the build"]);
        let (pushed, output) = push(&server, repo.path());
        assert!(!pushed, "{app}: a push that does not build is refused: {output}");
        assert!(output.contains(says), "{app}: {says:?} not in the push's output: {output}");
        assert_eq!(releases(&server, app), before, "{app}: no release is made");
        assert_eq!(router_get(&server, app, "/"), (200, greeting("world")), "{app}: the running release still serves");
        println!("[go-ruby] {app}: done in {:.1} s", started.elapsed().as_secs_f64());
    }
}
