//! Builds run in a sandbox (issue 18): a pushed app's build code probes the host — reads a 0600
//! file in the host's /tmp and the operator's API key, writes outside its folders, lists the
//! host's processes, fork-bombs, fills its disk — and each probe ends with a clear line in the
//! push output while the server stays up and another app keeps serving. Where no container
//! runtime runs, builds are refused saying why, unless `paas server --insecure-builds`.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use crate::support::{self, TestServer, ok, router_get};

/// The probes, as a buildpack's `bin/compile` (config vars name the host files to try).
const PROBE_COMPILE: &str = r#"#!/bin/bash
build=$1 env=$3
secret=$(cat "$env/SECRET_FILE") key=$(cat "$env/KEY_FILE") outside=$(cat "$env/OUTSIDE_DIR")
probe() { echo "probe $1: $2"; }
for name in secret key; do
  file=${!name}
  if head -c 64 "$file" >/dev/null 2>&1; then probe "read-$name" "READ"; else probe "read-$name" "denied"; fi
done
if echo written >"$outside/written" 2>/dev/null; then probe write-host-tmp "written (in its own /tmp)"; else probe write-host-tmp "denied"; fi
if touch /usr/paas-probe 2>/dev/null; then probe write-usr "WRITTEN"; else probe write-usr "denied"; fi
probe processes "$(ps -e -o comm= | sort -u | tr '\n' ' ')"
probe pid-1 "$(tr '\0' ' ' </proc/1/cmdline | cut -c1-40)"
probe uid "$(id -u)"
python3 - <<'PY'
import os
n = 0
while True:
    try:
        pid = os.fork()
    except OSError as e:
        print(f"probe fork-bomb: stopped after {n} processes: {e.strerror}", flush=True)
        break
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "60"])
    n += 1
PY
kill -9 -1 2>/dev/null
wait 2>/dev/null
probe fill-disk "$(dd if=/dev/zero of="$build/fill" bs=1M count=1024 2>&1 | grep -o 'No space left on device' | head -n1)"
rm -f "$build/fill"
probe done "yes"
"#;

fn write_executable(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// A probe buildpack in a folder everyone may read (the build's uid opens it).
fn probe_buildpack() -> tempfile::TempDir {
    support::buildpack(&[("compile", PROBE_COMPILE), ("release", "#!/bin/sh\necho '---'\n")])
}

/// The lines `remote: probe NAME: VALUE` of a push's output: (NAME, VALUE).
fn probes(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|l| l.trim_start_matches("remote:").trim().strip_prefix("probe "))
        .filter_map(|l| l.split_once(": ").map(|(k, v)| (k.to_string(), v.trim().to_string())))
        .collect()
}

#[test]
fn a_hostile_build_sees_nothing_of_the_host_and_the_server_and_other_apps_carry_on() {
    if !crate::native::runc_available() {
        return;
    }
    let server = TestServer::start_with(tempfile::tempdir().unwrap(), &["--build-disk-mib", "64"]);
    support::push_example(&server, "hello-wasm", "bystander");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while router_get(&server, "bystander", "/").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "the bystander does not answer");
        std::thread::sleep(Duration::from_millis(250));
    }

    // Host files the build must not see: a 0600 file in the host's /tmp, the operator's key.
    let host_tmp = tempfile::tempdir().unwrap();
    let secret = host_tmp.path().join("secret");
    std::fs::write(&secret, "host-secret-4242").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let key_file = server.data_dir().join("operator-api-key");
    let buildpack = probe_buildpack();
    let repo = support::app_repo(&server, "hello-wasm", "prober");
    let paas = |args: &[&str]| ok(server.paas().args(args).args(["-a", "prober"]).current_dir(repo.path()));
    paas(&["buildpacks:set", &buildpack.path().display().to_string()]);
    paas(&[
        "config:set",
        &format!("SECRET_FILE={}", secret.display()),
        &format!("KEY_FILE={}", key_file.display()),
        &format!("OUTSIDE_DIR={}", host_tmp.path().display()),
    ]);

    // The bystander is asked all along the hostile build.
    let (stop, asked, failed) = (Arc::new(AtomicBool::new(false)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let router_url = server.router_url.clone();
    let watcher = {
        let (stop, asked, failed) = (stop.clone(), asked.clone(), failed.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Acquire) {
                let status = Command::new("curl")
                    .args(["-s", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: bystander.localhost"])
                    .arg(format!("{router_url}/"))
                    .output()
                    .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                    .unwrap_or_default();
                asked.fetch_add(1, Ordering::Relaxed);
                if status != "200" {
                    failed.fetch_add(1, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
    };
    let push = support::try_git(&server.home(), repo.path(), &["push", "paas", "main"]);
    stop.store(true, Ordering::Release);
    watcher.join().unwrap();
    let output = format!("{}{}", String::from_utf8_lossy(&push.stdout), String::from_utf8_lossy(&push.stderr));
    let found = probes(&output);
    let probe = |name: &str| {
        found.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_else(|| panic!("no probe {name}: {output}"))
    };
    assert!(push.status.success(), "{output}");
    assert!(!output.contains("host-secret-4242") && !output.contains(&server.operator_key), "{output}");
    assert_eq!(probe("read-secret"), "denied", "{output}");
    assert_eq!(probe("read-key"), "denied", "{output}");
    assert_eq!(probe("write-usr"), "denied", "{output}");
    assert!(!host_tmp.path().join("written").exists(), "a build wrote into the host's /tmp");
    let processes = probe("processes");
    assert!(!processes.contains("paas") && processes.split(' ').count() < 12, "the build sees host processes: {processes}");
    assert!(probe("pid-1").contains("compile"), "{output}");
    assert!(probe("uid").parse::<u32>().unwrap() >= 100_000, "{output}");
    let bomb = probe("fork-bomb");
    assert!(bomb.starts_with("stopped after") && bomb.ends_with("Resource temporarily unavailable"), "{bomb}");
    assert_eq!(probe("fill-disk"), "No space left on device", "{output}");
    assert_eq!(probe("done"), "yes");

    // The server is up, the bystander served every request, and no container is left.
    assert!(asked.load(Ordering::Relaxed) > 0);
    assert_eq!(failed.load(Ordering::Relaxed), 0, "the bystander failed requests during the build");
    assert_eq!(router_get(&server, "bystander", "/").0, 200);
    let runc_root = server.data_dir().join("runtime/runc");
    let left = Command::new("runc").arg("--root").arg(&runc_root).args(["list", "--quiet"]).output().unwrap();
    let left = String::from_utf8_lossy(&left.stdout);
    assert!(!left.lines().any(|id| id.contains("build-prober")), "build containers left: {left}");
}

/// A `paas server` whose `runc` (first on its PATH) does not run, with `extra` flags.
fn server_without_runc(env: &[(&str, &str)]) -> TestServer {
    let dir = tempfile::tempdir().unwrap();
    let (data_dir, bin) = (dir.path().join("data"), dir.path().join("bin"));
    write_executable(&bin.join("runc"), "#!/bin/sh
echo 'runc: not on this node' >&2
exit 127
");
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let mut command = Command::new(support::paas_bin());
    command
        .arg("server")
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["--api-listen", "127.0.0.1:0", "--router-listen", "127.0.0.1:0", "--domain", "localhost"])
        .envs(env.iter().copied())
        .env("PAAS_DYNO_NETWORK", "host")
        .env("PATH", path);
    TestServer::spawn(command, dir, data_dir)
}

#[test]
fn without_a_container_runtime_builds_are_refused_saying_why() {
    let server = server_without_runc(&[]);
    let repo = support::app_repo(&server, "hello-wasm", "refused");
    let push = support::try_git(&server.home(), repo.path(), &["push", "paas", "main"]);
    let output = format!("{}{}", String::from_utf8_lossy(&push.stdout), String::from_utf8_lossy(&push.stderr));
    assert!(!push.status.success(), "{output}");
    assert!(output.contains("builds are refused on this node"), "{output}");
    assert!(output.contains("cannot run the container runtime `runc`"), "{output}");
    assert!(output.contains("--insecure-builds"), "{output}");
}

/// Asked through the variable as operators spell a yes (`1` here; `--insecure-builds` itself in
/// `crash.rs`); a value that is neither yes nor no is refused, naming the choices.
#[test]
fn insecure_builds_run_unsandboxed_where_the_operator_asks() {
    let refused = Command::new(support::paas_bin())
        // A data dir that cannot be one: were the value taken, the server would stop at once.
        .args(["server", "--data-dir", "/dev/null"])
        .env("PAAS_INSECURE_BUILDS", "maybe")
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{said}");
    assert!(said.contains("invalid value 'maybe' for '--insecure-builds': expected 1, true, yes or on"), "{said}");
    let server = server_without_runc(&[("PAAS_INSECURE_BUILDS", "1")]);
    support::push_example(&server, "hello-wasm", "insecure");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while support::router_get(&server, "insecure", "/").0 != 200 {
        assert!(std::time::Instant::now() < deadline, "the app built without a sandbox does not answer");
        std::thread::sleep(Duration::from_millis(250));
    }
    let help = ok(Command::new(support::paas_bin()).args(["server", "--help"]));
    assert!(help.contains("--insecure-builds") && help.contains("SINGLE-TENANT ONLY"), "{help}");
}
