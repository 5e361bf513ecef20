//! Deploys end to end: `git push` of the examples to a real `paas server` (the streamed
//! `remote:` output, the release, the formation), a broken push, a push without access, `paas
//! deploy` of a folder, the build commands, and a restart that keeps it all.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{self, TestServer, ok, run};

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// [`support::git`]'s stdout, trimmed.
fn git_ok(home: &Path, dir: &Path, args: &[&str]) -> String {
    text(&support::git(home, dir, args).stdout).trim().to_string()
}

/// A `paas` client command as `key`, with the test's HOME.
fn paas(server: &TestServer, key: &str, args: &[&str]) -> Command {
    let mut command = server.paas_as(key);
    command.args(args).env("TZ", "UTC").env_remove("PAAS_APP");
    command
}

/// Creates a user; gives back their API key.
fn user(server: &TestServer, email: &str) -> String {
    ok(&mut paas(server, &server.operator_key, &["users:create", email])).trim().to_string()
}

/// The lines git printed as `remote: …`.
fn remote_lines(output: &Output) -> Vec<String> {
    text(&output.stderr).lines().filter_map(|l| l.strip_prefix("remote: ")).map(|l| l.trim_end().to_string()).collect()
}

/// The `-----> ` step lines of a build's output.
fn steps(lines: &[String]) -> Vec<String> {
    lines.iter().filter(|l| l.starts_with("-----> ")).cloned().collect()
}

/// `paas releases` as (version, description) pairs, newest first.
fn releases(server: &TestServer, key: &str, app: &str) -> Vec<(String, String)> {
    let stdout = ok(&mut paas(server, key, &["releases", "-a", app]));
    stdout
        .lines()
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
            (cells[0].to_string(), cells[1].to_string())
        })
        .collect()
}

/// `paas builds` as (status, user) pairs, newest first.
fn builds(server: &TestServer, key: &str, app: &str) -> Vec<(String, String)> {
    let stdout = ok(&mut paas(server, key, &["builds", "-a", app]));
    assert!(stdout.starts_with(&format!("=== {app} Builds\n\n")), "{stdout}");
    stdout
        .lines()
        .skip(2)
        .map(|line| {
            let cells: Vec<&str> = line.split("  ").map(str::trim).filter(|c| !c.is_empty()).collect();
            assert_eq!(cells[0].len(), 36, "a build id: {line}");
            (cells[1].to_string(), cells[2].to_string())
        })
        .collect()
}

#[test]
fn pushing_hello_rust_builds_releases_and_scales_and_a_broken_push_changes_nothing() {
    let server = TestServer::start();
    let home = server.home();
    let alice = user(&server, "alice@example.com");
    support::login(&server, &home, &alice);
    let repo = support::example_repo(&home, "hello-rust");
    ok(paas(&server, &alice, &["apps:create", "hello-rust"]).current_dir(repo.path()));
    // Before any push there is no process type to scale.
    assert!(!run(&mut paas(&server, &alice, &["ps:scale", "web=2", "-a", "hello-rust"])).status.success());

    let push = support::try_git(&home, repo.path(), &["push", "paas", "main"]);
    assert!(push.status.success(), "{}", text(&push.stderr));
    let lines = remote_lines(&push);
    let head = git_ok(&home, repo.path(), &["rev-parse", "HEAD"]);
    let steps: Vec<String> = steps(&lines).into_iter().filter(|l| !l.starts_with("-----> Using rustc ")).collect();
    assert_eq!(
        steps,
        [
            "-----> Building with rust buildpack",
            "-----> Rust app detected",
            "-----> Building with cargo build --release --target wasm32-wasip2",
            "-----> Collecting components",
            "-----> Discovering process types",
            "-----> Compressing...",
            "-----> Compiling components for this node...",
            "-----> Launching... done, v2",
        ],
        "{lines:#?}"
    );
    assert_eq!(
        releases(&server, &alice, "hello-rust"),
        [("v2".to_string(), format!("Deploy {}", &head[..7])), ("v1".to_string(), "Initial release".to_string())]
    );
    // The release made the formation: web can be scaled now.
    let scaled = run(&mut paas(&server, &alice, &["ps:scale", "web=2", "-a", "hello-rust"]));
    assert!(scaled.status.success(), "{}", text(&scaled.stderr));
    assert_eq!(text(&scaled.stderr), "Scaling dynos... done, now running web at 2:Basic\n");

    // A change that does not compile: the push is rejected with the compiler's error, no release.
    let main_rs = repo.path().join("src/main.rs");
    let source = std::fs::read_to_string(&main_rs).unwrap();
    std::fs::write(&main_rs, format!("{source}\nfn broken() -> u32 {{ \"not a number\" }}\n")).unwrap();
    git_ok(&home, repo.path(), &["commit", "--quiet", "-am", "Break it"]);
    let push = support::try_git(&home, repo.path(), &["push", "paas", "main"]);
    let stderr = text(&push.stderr);
    assert!(!push.status.success(), "{stderr}");
    let lines = remote_lines(&push);
    assert!(lines.contains(&"       error[E0308]: mismatched types".to_string()), "{stderr}");
    assert_eq!(lines[lines.len() - 3..], [" !     failed to compile Rust app: bin/compile of the rust buildpack exited with status 1", "", " !     Push failed"]);
    assert!(stderr.contains(" ! [remote rejected] main -> main (build failed)"), "{stderr}");
    assert_eq!(releases(&server, &alice, "hello-rust").len(), 2);
    let alice_email = "alice@example.com".to_string();
    assert_eq!(
        builds(&server, &alice, "hello-rust"),
        [("failed".to_string(), alice_email.clone()), ("succeeded".to_string(), alice_email.clone())]
    );
    // builds:output shows the newest build's output by default.
    let output = ok(&mut paas(&server, &alice, &["builds:output", "-a", "hello-rust"]));
    assert!(output.contains("error[E0308]: mismatched types"), "{output}");
    assert!(output.ends_with(" !     Push failed\n"), "{output}");

    // Someone without access may neither push nor clone.
    let bob = user(&server, "bob@example.com");
    let bob_url = server.api_url.replace("http://", &format!("http://bob%40example.com:{bob}@")) + "/hello-rust.git";
    let push = support::try_git(&home, repo.path(), &["push", &bob_url, "HEAD~1:main"]);
    assert!(!push.status.success());
    assert!(text(&push.stderr).contains("The requested URL returned error: 403"), "{}", text(&push.stderr));
    let clone = support::try_git(&home, repo.path(), &["clone", "--quiet", &bob_url, "bob-clone"]);
    assert!(!clone.status.success());
    assert_eq!(releases(&server, &alice, "hello-rust").len(), 2);
    // A collaborator may.
    ok(&mut paas(&server, &alice, &["access:add", "bob@example.com", "-a", "hello-rust"]));
    let clone = support::try_git(&home, repo.path(), &["clone", "--quiet", &bob_url, "bob-clone"]);
    assert!(clone.status.success(), "{}", text(&clone.stderr));
    assert_eq!(git_ok(&home, &repo.path().join("bob-clone"), &["rev-parse", "HEAD"]), head);

    // A restart keeps the releases, the builds, the formation and the repository.
    let dir = server.stop();
    let server = TestServer::start_in(dir);
    assert_eq!(releases(&server, &alice, "hello-rust")[0], ("v2".to_string(), format!("Deploy {}", &head[..7])));
    assert_eq!(builds(&server, &alice, "hello-rust").len(), 2);
    let ps = ok(&mut paas(&server, &alice, &["ps:scale", "-a", "hello-rust"]));
    assert_eq!(ps, "web=2:Basic\n");
    let url = format!("{}/hello-rust.git", server.api_url);
    let remote = git_ok(&home, repo.path(), &["ls-remote", &url, "refs/heads/main"]);
    assert_eq!(remote, format!("{head}\trefs/heads/main"));
    // A fixed push on the restarted server releases v3.
    std::fs::write(&main_rs, &source).unwrap();
    git_ok(&home, repo.path(), &["commit", "--quiet", "-am", "Fix it"]);
    let push = support::try_git(&home, repo.path(), &["push", &url, "main"]);
    assert!(push.status.success(), "{}", text(&push.stderr));
    assert_eq!(remote_lines(&push).last().unwrap(), "-----> Launching... done, v3");
}

#[test]
fn pushing_hello_wasm_and_static_site_releases_their_web_process() {
    let server = TestServer::start();
    let home = server.home();
    let alice = user(&server, "alice@example.com");
    support::login(&server, &home, &alice);
    for (example, buildpack, detected) in
        [("hello-wasm", "wasm", "WebAssembly app detected"), ("static-site", "static", "Static app detected")]
    {
        let repo = support::example_repo(&home, example);
        ok(paas(&server, &alice, &["apps:create", example]).current_dir(repo.path()));
        let push = support::try_git(&home, repo.path(), &["push", "paas", "main"]);
        assert!(push.status.success(), "{}", text(&push.stderr));
        let lines = remote_lines(&push);
        assert_eq!(steps(&lines)[..2], [format!("-----> Building with {buildpack} buildpack"), format!("-----> {detected}")], "{lines:#?}");
        assert_eq!(steps(&lines)[steps(&lines).len() - 2..], ["-----> Compiling components for this node...", "-----> Launching... done, v2"]);
        let head = git_ok(&home, repo.path(), &["rev-parse", "HEAD"]);
        assert_eq!(releases(&server, &alice, example)[0], ("v2".to_string(), format!("Deploy {}", &head[..7])));
        let scaled = run(&mut paas(&server, &alice, &["ps:scale", "web=2", "-a", example]));
        assert_eq!(text(&scaled.stderr), "Scaling dynos... done, now running web at 2:Basic\n");
        assert_eq!(builds(&server, &alice, example), [("succeeded".to_string(), "alice@example.com".to_string())]);
        // The slug holds the app's files but what .slugignore names (hello-wasm: component/).
        let files = slug_files(&server, &alice, example);
        let expected = if example == "hello-wasm" { "app/hello.wasm" } else { "app/public/index.html" };
        assert!(files.iter().any(|f| f == expected), "{files:#?}");
        assert!(!files.iter().any(|f| f.starts_with("app/component")), "{files:#?}");
    }
    // Each slug's component was compiled for the node's engine when the slug was made.
    let compiled = std::fs::read_dir(server.data_dir().join("runtime/cache")).unwrap().count();
    assert_eq!(compiled, 2);
    // Renaming an app moves its repository; destroying it deletes it.
    ok(&mut paas(&server, &alice, &["apps:rename", "site", "-a", "static-site"]));
    assert!(!server.data_dir().join("repos/static-site.git").exists());
    let url = format!("{}/site.git", server.api_url);
    let remote = git_ok(&home, &home, &["ls-remote", &url, "refs/heads/main"]);
    assert!(remote.ends_with("\trefs/heads/main"), "{remote}");
    ok(&mut paas(&server, &alice, &["apps:destroy", "site", "--confirm", "site"]));
    assert!(!server.data_dir().join("repos/site.git").exists());
}

#[test]
fn paas_deploy_builds_the_working_tree_and_buildpacks_can_be_set() {
    let server = TestServer::start();
    let home = server.home();
    let alice = user(&server, "alice@example.com");
    ok(&mut paas(&server, &alice, &["apps:create", "site"]));

    // A git work tree: what .gitignore names stays home; uncommitted files go.
    let repo = support::example_repo(&home, "static-site");
    std::fs::write(repo.path().join(".gitignore"), "secret.txt\n").unwrap();
    std::fs::write(repo.path().join("secret.txt"), "do not upload").unwrap();
    std::fs::write(repo.path().join("public/new.html"), "<p>new</p>").unwrap();
    let deploy = paas(&server, &alice, &["deploy", repo.path().to_str().unwrap(), "-a", "site"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // While it builds, the build is pending and builds:output follows its output to the end.
    let build = loop {
        let list: serde_json::Value = serde_json::from_str(&ok(&mut paas(&server, &alice, &["builds", "-a", "site", "--json"]))).unwrap();
        if let Some(build) = list.as_array().unwrap().first() {
            break build.clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(build["status"], "pending");
    let followed = ok(&mut paas(&server, &alice, &["builds:output", build["id"].as_str().unwrap(), "-a", "site"]));
    let deploy = deploy.wait_with_output().unwrap();
    assert!(deploy.status.success(), "{}", text(&deploy.stderr));
    let stdout = text(&deploy.stdout);
    assert_eq!(followed, stdout);
    let lines: Vec<String> = stdout.lines().map(str::to_string).collect();
    assert_eq!(steps(&lines)[0], "-----> Building with static buildpack");
    assert_eq!(lines.last().unwrap(), "-----> Launching... done, v2");
    let head = git_ok(&home, repo.path(), &["rev-parse", "HEAD"]);
    assert_eq!(releases(&server, &alice, "site")[0], ("v2".to_string(), format!("Deploy {}", &head[..7])));
    let files = slug_files(&server, &alice, "site");
    assert!(files.contains(&"app/public/new.html".to_string()), "{files:#?}");
    assert!(!files.iter().any(|f| f.ends_with("secret.txt")), "{files:#?}");

    // A buildpack that cannot build it: the deploy fails with the reason, exit 1, no release.
    let (stdout, _) = (ok(&mut paas(&server, &alice, &["buildpacks", "-a", "site"])), ());
    assert_eq!(stdout, "⬢ site has no Buildpack URL set.\n");
    let set = ok(&mut paas(&server, &alice, &["buildpacks:set", "rust", "-a", "site"]));
    assert_eq!(
        set,
        "Buildpack set. Next release on ⬢ site will use rust.\nRun git push paas main to create a new release using this buildpack.\n"
    );
    assert_eq!(ok(&mut paas(&server, &alice, &["buildpacks", "-a", "site"])), "=== site Buildpack URL\n\nrust\n");
    let deploy = run(&mut paas(&server, &alice, &["deploy", repo.path().to_str().unwrap(), "-a", "site"]));
    assert_eq!(deploy.status.code(), Some(1), "{}", text(&deploy.stdout));
    assert!(text(&deploy.stdout).ends_with(" !     Push failed\n"), "{}", text(&deploy.stdout));
    assert!(
        text(&deploy.stderr)
            .ends_with("\nerror: failed to compile rust app: bin/compile of the rust buildpack exited with status 1\n"),
        "{}",
        text(&deploy.stderr)
    );
    assert_eq!(releases(&server, &alice, "site").len(), 2);
    let cleared = ok(&mut paas(&server, &alice, &["buildpacks:clear", "-a", "site"]));
    assert_eq!(cleared, "Buildpacks cleared. Next release on ⬢ site will detect buildpacks normally.\n");

    // A plain folder (not a git work tree): every file goes.
    let folder = tempfile::tempdir().unwrap();
    paas_builder::source::copy_tree(&support::repo_root().join("examples/static-site"), folder.path()).unwrap();
    let deploy = run(&mut paas(&server, &alice, &["deploy", folder.path().to_str().unwrap(), "-a", "site"]));
    assert!(deploy.status.success(), "{}", text(&deploy.stderr));
    assert!(text(&deploy.stdout).ends_with("-----> Launching... done, v3\n"));
    assert_eq!(releases(&server, &alice, "site")[0], ("v3".to_string(), "Deploy".to_string()));
    let statuses: Vec<String> = builds(&server, &alice, "site").into_iter().map(|(status, _)| status).collect();
    assert_eq!(statuses, ["succeeded", "failed", "succeeded"]);

    // The build cache is purged on request, with the name confirmed.
    assert!(server.data_dir().join("cache/site").is_dir());
    assert_eq!(run(&mut paas(&server, &alice, &["builds:cache:purge", "-a", "site"])).status.code(), Some(2));
    let purged = run(&mut paas(&server, &alice, &["builds:cache:purge", "-a", "site", "--confirm", "site"]));
    assert_eq!(text(&purged.stderr), "Purging build cache of ⬢ site... done\n");
    assert!(!server.data_dir().join("cache/site").exists());
}

/// The files in the current release's slug archive (found by the slug's checksum).
fn slug_files(server: &TestServer, key: &str, app: &str) -> Vec<String> {
    let release: serde_json::Value =
        serde_json::from_str(&ok(&mut paas(server, key, &["releases:info", "-a", app, "--json"]))).unwrap();
    let slug_id = release["slug"]["id"].as_str().expect("the release has a slug").to_string();
    let api = format!("{}/apps/{app}/slugs/{slug_id}", server.api_url);
    let out = run(Command::new("curl").args(["-sf", "-H", &format!("Authorization: Bearer {key}"), &api]));
    let slug: serde_json::Value = serde_json::from_slice(&out.stdout).expect("slug JSON");
    let checksum = slug["checksum"].as_str().unwrap().strip_prefix("SHA256:").unwrap();
    let archive = server.data_dir().join(format!("slugs/{checksum}.tar.gz"));
    let listing = run(Command::new("tar").arg("-tzf").arg(&archive));
    text(&listing.stdout).lines().map(|l| l.trim_start_matches("./").to_string()).collect()
}
