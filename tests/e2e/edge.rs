//! Edge install (issue 21): a copy of the `paas` binary alone, in a folder of its own with a fresh
//! data dir and the source tree hidden from it, deploys apps (with the buildpacks it carries); and
//! `paas node install` writes its systemd unit, settings and data dir once, then changes nothing.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::native::runc_available;
use crate::support::{TestServer, app_repo, eventually_get, ok, paas_bin, push, repo_root, run, searchable_tempdir};

/// `bin` with nothing of the build's environment: no `CARGO_*` variable but the toolchain's
/// `CARGO_HOME`, no `PAAS_*`, run from `cwd`.
fn bare(bin: &Path, cwd: &Path) -> Command {
    let mut command = Command::new(bin);
    command.current_dir(cwd);
    for (name, _) in std::env::vars_os() {
        let name = name.to_string_lossy().into_owned();
        if (name.starts_with("CARGO_") && name != "CARGO_HOME") || name.starts_with("PAAS_") {
            command.env_remove(name);
        }
    }
    command
}

/// `sh -c HIDE_AND_EXEC FOLDER PROGRAM ARGS…`: an empty tmpfs over FOLDER, then PROGRAM.
const HIDE_AND_EXEC: &str = r#"mount -t tmpfs -o size=1m,mode=0755 paas-hidden "$0" && exec "$@""#;

#[test]
fn a_copied_binary_with_a_fresh_data_dir_deploys_wasm_static_and_native_examples() {
    if !runc_available() {
        return;
    }
    let dir = searchable_tempdir();
    let bin = dir.path().join("edge/bin/paas");
    std::fs::create_dir_all(bin.parent().unwrap()).unwrap();
    std::fs::copy(paas_bin(), &bin).unwrap();
    let (data_dir, cwd) = (dir.path().join("edge/data"), dir.path().join("elsewhere"));
    std::fs::create_dir_all(&cwd).unwrap();
    // The data dir as `paas node install` makes it.
    std::fs::create_dir(&data_dir).unwrap();
    std::fs::set_permissions(&data_dir, std::fs::Permissions::from_mode(0o711)).unwrap();
    // The source tree is hidden from the server (an empty tmpfs over it, in a mount namespace
    // of the server's own): nothing can be found through it.
    let mut command = bare(Path::new("unshare"), &cwd);
    command.args(["--mount", "--propagation", "private", "--", "sh", "-c", HIDE_AND_EXEC]);
    command.arg(repo_root()).arg(&bin);
    command.arg("server").arg("--data-dir").arg(&data_dir);
    command.args(["--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0", "--domain", "localhost"]);
    let server = TestServer::spawn(command, dir, data_dir.clone());

    // The buildpacks it carries, installed under their hash, executable.
    let installed: Vec<_> = std::fs::read_dir(data_dir.join("buildpacks")).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(installed.len(), 1, "{installed:?}");
    let compile = installed[0].join("rust/bin/compile");
    assert_eq!(std::fs::metadata(&compile).unwrap().permissions().mode() & 0o777, 0o755, "{}", compile.display());

    let index = std::fs::read_to_string(repo_root().join("examples/static-site/public/index.html")).unwrap();
    for (example, answer) in [
        ("hello-rust", "Hello, world!\n"),
        ("static-site", index.as_str()),
        ("express-node", "Hello, world, from Express!\n"),
    ] {
        let repo = app_repo(&server, example, example);
        let pushed = push(&server, repo.path());
        if example == "static-site" {
            // The embedded static buildpack carries its file server prebuilt: no Rust toolchain needed.
            let said = String::from_utf8_lossy(&pushed.stderr);
            assert!(said.contains("Using the prebuilt file server"), "{said}");
        }
        eventually_get(&server, example, "/", (200, answer), Duration::from_secs(90));
    }

    // The data dir as node install makes it (0711) lets the add-on servers, run as the user
    // redis, reach their folders in it (0700 refused them).
    if Command::new("redis-server").arg("--version").output().is_ok() {
        let created = ok(server.paas().args(["addons:create", "heroku-redis:mini", "-a", "hello-rust"]));
        assert!(created.contains("as REDIS_URL"), "{created}");
    }
}

#[test]
fn node_install_writes_the_unit_settings_and_data_dir_once_and_refuses_to_overwrite_a_different_unit() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let install = |extra: &[&str]| {
        let mut command = bare(Path::new(paas_bin()), root);
        command.env_remove("CARGO_HOME").env_remove("RUSTUP_HOME");
        command.args(["node", "install", "--unit-dir", "units", "--config", "etc/paas.env", "--data-dir", "data"]);
        command.args(["--copy-to", "bin/paas", "--api-listen", "0.0.0.0:5000"]).args(extra);
        command
    };
    let first = ok(&mut install(&[]));
    let path = |p: &str| root.join(p).display().to_string();
    for line in [
        format!("wrote {}", path("units/paas.service")),
        format!("wrote {}", path("etc/paas.env")),
        format!("wrote {}", path("bin/paas")),
        format!("created {} (0711)", path("data")),
        "  systemctl enable --now paas".to_string(),
        format!("  paas login --api-url http://127.0.0.1:5000 < {}", path("data/operator-api-key")),
    ] {
        assert!(first.lines().any(|l| l == line), "no line {line:?} in:\n{first}");
    }
    let unit = std::fs::read_to_string(root.join("units/paas.service")).unwrap();
    let expected = include_str!("../../dist/paas.service")
        .replace("/usr/local/bin/paas", &path("bin/paas"))
        .replace("/var/lib/paas", &path("data"))
        .replace("/etc/paas/paas.env", &path("etc/paas.env"));
    assert_eq!(unit, expected);
    let settings = std::fs::read_to_string(root.join("etc/paas.env")).unwrap();
    assert!(settings.lines().any(|l| l == "PAAS_API_LISTEN=0.0.0.0:5000"), "{settings}");
    assert!(settings.lines().any(|l| l == "#PAAS_DATABASE_URL=postgres://paas:PASSWORD@db.example:5432/paas"), "{settings}");
    let mode = |p: &str| std::fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("data"), mode("etc/paas.env"), mode("bin/paas"), mode("units/paas.service")), (0o711, 0o600, 0o755, 0o644));
    assert_eq!(std::fs::read(root.join("bin/paas")).unwrap(), std::fs::read(paas_bin()).unwrap());
    // The copy runs.
    assert!(ok(Command::new(root.join("bin/paas")).arg("version")).starts_with("paas "));

    // Again: nothing changes.
    let again = ok(&mut install(&[]));
    let unchanged: Vec<_> = again.lines().filter(|l| l.starts_with("unchanged ")).collect();
    assert_eq!(unchanged.len(), 4, "{again}");
    assert!(!again.contains("wrote "), "{again}");

    // A unit of other content is left alone, and nothing else is written either.
    std::fs::write(root.join("units/paas.service"), "[Service]\nExecStart=/bin/true\n").unwrap();
    let refused = run(&mut install(&["--domain", "apps.example"]));
    assert_eq!(refused.status.code(), Some(1));
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(said.contains(&format!("{} exist with other content", [path("units/paas.service"), path("etc/paas.env")].join(", "))), "{said}");
    assert!(said.contains("--force replaces them"), "{said}");
    assert_eq!(std::fs::read_to_string(root.join("units/paas.service")).unwrap(), "[Service]\nExecStart=/bin/true\n");
    assert!(!std::fs::read_to_string(root.join("etc/paas.env")).unwrap().contains("apps.example"));
    // Joining a grid needs its ledger.
    assert_eq!(run(&mut install(&["--join", "TOKEN"])).status.code(), Some(2));
    // --force replaces both.
    let joining = ["--database-url", "postgres://paas:pw@db.example/paas", "--join", "TOKEN", "--node-address", "192.0.2.7"];
    let forced = ok(install(&["--domain", "apps.example", "--force"]).args(joining));
    assert!(forced.lines().any(|l| l == format!("replaced {}", path("units/paas.service"))), "{forced}");
    assert_eq!(std::fs::read_to_string(root.join("units/paas.service")).unwrap(), expected);
    let settings = std::fs::read_to_string(root.join("etc/paas.env")).unwrap();
    for line in ["PAAS_DOMAIN=apps.example", "PAAS_DATABASE_URL=postgres://paas:pw@db.example/paas", "PAAS_JOIN=TOKEN", "PAAS_NODE_ADDRESS=192.0.2.7"] {
        assert!(settings.lines().any(|l| l == line), "no {line:?} in {settings}");
    }
}
