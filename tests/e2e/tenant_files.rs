//! The host never follows a tenant's symlink, against the real `paas server` and real pushes:
//! a repo whose Procfile or `.paas/processes.toml` links to `<data-dir>/operator-api-key` is
//! refused with a message quoting nothing of it, and a `public/` file linking there is not served.

use std::os::unix::fs::symlink;
use std::time::Duration;

use crate::support::{TestServer, eventually_get, git, login, ok, repo_root, router_get, try_git};

/// A git repo with `files` written (a `None` content: a link to the operator's key file),
/// committed on `main`, with the `paas` remote of a new app `app`.
fn linked_repo(server: &TestServer, app: &str, files: Files) -> tempfile::TempDir {
    login(server, &server.home(), &server.operator_key);
    let dir = tempfile::tempdir().unwrap();
    for (name, content) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        match content {
            Some(text) => std::fs::write(&path, text).unwrap(),
            None => symlink(server.data_dir().join("operator-api-key"), &path).unwrap(),
        }
    }
    let home = server.home();
    git(&home, dir.path(), &["init", "--quiet", "--initial-branch=main"]);
    git(&home, dir.path(), &["add", "-A"]);
    git(&home, dir.path(), &["commit", "--quiet", "-m", "links"]);
    ok(server.paas().args(["apps:create", app]).current_dir(dir.path()).env_remove("PAAS_APP"));
    dir
}

/// Files of a repo: a path and its content, `None` for a link to the operator's key file.
type Files<'a> = &'a [(&'a str, Option<&'a str>)];

fn assert_no_key(server: &TestServer, text: &str) {
    assert!(!text.contains(server.operator_key.trim()), "the operator's key is in the output:\n{text}");
}

#[test]
fn a_procfile_or_processes_toml_linking_to_the_operator_key_is_refused_without_showing_it() {
    let server = TestServer::start();
    let cases: [(&str, Files); 2] = [
        ("procfile-link", &[("Procfile", None), ("bin/web", Some("#!/bin/sh\n"))]),
        ("processes-link", &[(".paas/processes.toml", None), ("Procfile", Some("web: bin/web\n")), ("bin/web", Some("#!/bin/sh\n"))]),
    ];
    for (app, files) in cases {
        let repo = linked_repo(&server, app, files);
        let push = try_git(&server.home(), repo.path(), &["push", "paas", "main"]);
        let stderr = String::from_utf8_lossy(&push.stderr);
        assert!(!push.status.success(), "{app}: {stderr}");
        let name = files[0].0;
        assert!(
            stderr.contains(&format!("{name} is a symbolic link; paas does not follow links in metadata files")),
            "{app}: {stderr}"
        );
        assert_no_key(&server, &stderr);
        let builds = ok(server.paas().args(["builds", "--app", app]));
        assert_no_key(&server, &builds);
    }
}

#[test]
fn a_public_file_linking_to_the_operator_key_is_not_served() {
    let server = TestServer::start();
    let index = std::fs::read_to_string(repo_root().join("examples/static-site/public/index.html")).unwrap();
    let repo = linked_repo(&server, "static-link", &[("public/index.html", Some(&index)), ("public/key.txt", None)]);
    let push = try_git(&server.home(), repo.path(), &["push", "paas", "main"]);
    let stderr = String::from_utf8_lossy(&push.stderr);
    assert_no_key(&server, &stderr);
    assert!(push.status.success(), "{stderr}");
    eventually_get(&server, "static-link", "/", (200, index.as_str()), Duration::from_secs(60));
    let (status, body) = router_get(&server, "static-link", "/key.txt");
    assert_ne!(status, 200, "{body}");
    assert_no_key(&server, &body);
}
