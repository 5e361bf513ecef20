//! Shared helpers: paths, a builder over a temp data dir, test buildpacks, components built once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use paas_builder::{BuildRequest, Builder, BuilderConfig, BuiltSlug, CollectOutput, ProcessKind, Source};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A builder over `data` with the repository's built-in buildpacks.
pub fn builder(data: &Path) -> Builder {
    Builder::new(BuilderConfig::new(data, repo_root().join("buildpacks"))).unwrap()
}

/// Whether builds run in containers here (root and runc): builders then see no host folder.
pub fn runc_available() -> bool {
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")));
    root && std::process::Command::new("runc").arg("--version").output().is_ok_and(|o| o.status.success())
}

/// A build request for a folder.
pub fn request(app: &str, dir: &Path) -> BuildRequest {
    BuildRequest {
        app: app.to_string(),
        source: Source::Dir(dir.to_path_buf()),
        config_vars: Default::default(),
        buildpack_url: None,
        source_version: None,
    }
}

/// Builds `dir` as `app`: the slug and the build's output lines. A failed build panics with its
/// error and the lines.
pub async fn build_ok(builder: &Builder, app: &str, dir: &Path) -> (BuiltSlug, Vec<String>) {
    let out = CollectOutput::default();
    let built = builder.build(request(app, dir), &out).await.unwrap_or_else(|e| panic!("{e}: {:#?}", out.lines()));
    (built, out.lines())
}

/// Checks that each of `expected` is a whole line of the build's output `lines`.
pub fn assert_lines(lines: &[String], expected: &[&str]) {
    for expected in expected {
        assert!(lines.iter().any(|l| l == expected), "missing {expected:?} in {lines:#?}");
    }
}

/// A native process type running `command`.
pub fn native(command: &str) -> ProcessKind {
    ProcessKind::Native { command: command.into() }
}

/// Writes an executable file.
pub fn write_executable(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Builds `examples/hello-wasm/component` once per test run and returns the component.
pub fn hello_wasm_component() -> PathBuf {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap();
    if let Some(path) = built.as_ref() {
        return path.clone();
    }
    let target = std::env::temp_dir().join("paas-builder-tests/hello-wasm-target");
    let status = std::process::Command::new("cargo")
        .args(["build", "--quiet", "--release", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(repo_root().join("examples/hello-wasm/component/Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building the hello-wasm component");
    let path = target.join("wasm32-wasip2/release/hello_wasm.wasm");
    *built = Some(path.clone());
    path
}

/// A copy of `examples/hello-wasm` with its component built as `hello.wasm`.
pub fn hello_wasm_app(into: &Path) {
    paas_builder::source::copy_tree(&repo_root().join("examples/hello-wasm"), into).unwrap();
    std::fs::copy(hello_wasm_component(), into.join("hello.wasm")).unwrap();
}

/// The first 8 bytes of a component.
pub const COMPONENT_MAGIC: &[u8] = b"\0asm\x0d\0\x01\0";

/// Runs `script` with `sh` as a native dyno would see it: in a mount namespace whose root holds
/// only the host's `/usr`, `/lib*`, `/bin`, `/etc` (read-only), a fresh `/tmp` and `app_dir` at
/// `/app` (read-only), in `/app`, after sourcing `/app/.profile.d/*.sh`. Proves that what a
/// buildpack put in the slug works at `/app` and needs nothing else of the host (needs root).
pub fn run_at_app(app_dir: &Path, script: &str) -> std::process::Output {
    const ROOT: &str = r#"set -e
root=$(mktemp -d)
mount -t tmpfs stack "$root"
for dir in usr lib lib32 lib64 libx32 bin sbin etc; do
  if [ -L "/$dir" ]; then ln -s "$(readlink "/$dir")" "$root/$dir"
  elif [ -d "/$dir" ]; then mkdir "$root/$dir" && mount --rbind "/$dir" "$root/$dir" && mount -o remount,bind,ro "$root/$dir"; fi
done
mkdir "$root/app" "$root/tmp" "$root/proc" "$root/dev"
mount --bind "$1" "$root/app" && mount -o remount,bind,ro "$root/app"
mount -t tmpfs tmp "$root/tmp"
mount -t proc proc "$root/proc"
mount --rbind /dev "$root/dev"
exec chroot "$root" /bin/sh -c 'cd /app && for f in .profile.d/*.sh; do [ -r "$f" ] && . "./$f"; done; '"$2"
"#;
    std::process::Command::new("unshare")
        .args(["--mount", "--propagation", "private", "sh", "-c", ROOT, "sh"])
        .arg(app_dir)
        .arg(script)
        .env_clear()
        .env("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
        .output()
        .expect("unshare runs")
}
