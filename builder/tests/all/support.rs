//! Shared helpers: paths, a builder over a temp data dir, test buildpacks, components built once.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use paas_builder::{BuildRequest, Builder, BuilderConfig, Source};

/// The repository's root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A builder over `data` with the repository's built-in buildpacks.
pub fn builder(data: &Path) -> Builder {
    Builder::new(BuilderConfig::new(data, repo_root().join("buildpacks"))).unwrap()
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
