//! The built-in buildpacks on their examples and fixtures: wasm, rust (with its cache and a
//! compile error), static.

use std::fs;
use std::time::Instant;

use paas_builder::build::BuildError;
use paas_builder::manifest::WASI_STACK;
use paas_builder::{CollectOutput, ProcessKind};

use crate::support::{COMPONENT_MAGIC, builder, hello_wasm_app, repo_root, request};

#[tokio::test]
async fn wasm_buildpack_ships_the_prebuilt_component() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    hello_wasm_app(src.path());
    let builder = builder(data.path());
    let out = CollectOutput::default();
    let built = builder.build(request("hello-wasm", src.path()), &out).await.unwrap();
    let size = fs::metadata(src.path().join("hello.wasm")).unwrap().len();
    assert_eq!(
        out.lines()[..6],
        [
            "-----> Building with wasm buildpack".to_string(),
            "-----> WebAssembly app detected".to_string(),
            "-----> Checking the components named in the Procfile".to_string(),
            format!("       web: hello.wasm ({} KiB, component)", size / 1024),
            "-----> Discovering process types".to_string(),
            "       Procfile declares types -> web".to_string(),
        ]
    );
    assert_eq!(built.manifest.stack, WASI_STACK);
    assert_eq!(
        built.manifest.processes["web"],
        ProcessKind::Wasm { component: "hello.wasm".into(), reuse: false, args: vec![], native: None }
    );
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    assert_eq!(fs::read(unpacked.path().join("app/hello.wasm")).unwrap(), fs::read(src.path().join("hello.wasm")).unwrap());
    assert!(!unpacked.path().join("app/component").exists(), ".slugignore keeps the source out");
}

/// A prebuilt component named by the Procfile could not reuse instances: the Procfile's line
/// replaced what `.paas/processes.toml` said about the type, `reuse = true` included.
#[tokio::test]
async fn regression_a_procfile_component_keeps_the_reuse_its_processes_toml_declares() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    hello_wasm_app(src.path());
    fs::create_dir_all(src.path().join(".paas")).unwrap();
    fs::write(src.path().join(".paas/processes.toml"), "[processes.web]\nkind = \"wasm\"\ncomponent = \"hello.wasm\"\nreuse = true\n")
        .unwrap();
    let built = builder(data.path()).build(request("hello-wasm", src.path()), &CollectOutput::default()).await.unwrap();
    assert_eq!(
        built.manifest.processes["web"],
        ProcessKind::Wasm { component: "hello.wasm".into(), reuse: true, args: vec![], native: None }
    );
}

#[tokio::test]
async fn wasm_buildpack_refuses_a_core_module() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(src.path().join("Procfile"), "web: app.wasm\n").unwrap();
    fs::write(src.path().join("app.wasm"), b"\0asm\x01\0\0\0").unwrap();
    let out = CollectOutput::default();
    let error = builder(data.path()).build(request("core-module", src.path()), &out).await.unwrap_err();
    assert!(matches!(error, BuildError::Compile { .. }), "{error}");
    assert_eq!(
        out.lines()[3..],
        [
            " !     web: app.wasm is a core WebAssembly module, not a component.",
            " !     Build it for wasm32-wasip2, or wrap it with `wasm-tools component new`.",
        ]
    );
}

#[tokio::test]
async fn static_buildpack_serves_public_with_its_file_server_compiled_once_per_cache() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let site = repo_root().join("examples/static-site");
    let first = CollectOutput::default();
    let built = builder.build(request("static-site", &site), &first).await.unwrap();
    let lines = first.lines();
    assert_eq!(lines[..3], ["-----> Building with static buildpack", "-----> Static app detected", "-----> Serving public/ (4 files)"]);
    assert!(lines.iter().any(|l| l.trim_start().starts_with("Compiling paas-static-file-server")), "{lines:#?}");
    assert_eq!(
        built.manifest.processes["web"],
        ProcessKind::Wasm { component: ".paas/static-file-server.wasm".into(), reuse: true, args: vec![], native: None }
    );
    assert_eq!(built.manifest.stack, WASI_STACK);
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let component = fs::read(unpacked.path().join("app/.paas/static-file-server.wasm")).unwrap();
    assert_eq!(&component[..8], COMPONENT_MAGIC);
    assert!(unpacked.path().join("app/public/index.html").is_file());

    let second = CollectOutput::default();
    let again = builder.build(request("static-site", &site), &second).await.unwrap();
    assert!(!second.lines().iter().any(|l| l.contains("Compiling")), "{:#?}", second.lines());
    assert_eq!(again.slug.id, built.slug.id, "the same source builds the same slug");
}

#[tokio::test]
async fn rust_buildpack_builds_components_and_reuses_its_cache() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let app = repo_root().join("builder/tests/fixtures/rust-app");
    let first = CollectOutput::default();
    let started = Instant::now();
    let built = builder.build(request("rust-app", &app), &first).await.unwrap();
    let first_time = started.elapsed();
    let lines = first.lines();
    assert_eq!(lines[..2], ["-----> Building with rust buildpack", "-----> Rust app detected"]);
    assert!(lines.contains(&"-----> Building with cargo build --release --target wasm32-wasip2".to_string()));
    assert!(lines.iter().any(|l| l.trim_start().starts_with("Compiling rust-app v0.1.0")), "{lines:#?}");
    assert!(lines.iter().any(|l| l.trim_start().starts_with("Compiling wasi v0.14")), "{lines:#?}");
    assert_eq!(
        built.manifest.processes,
        [
            ("web".to_string(), ProcessKind::Wasm { component: "target/wasm32-wasip2/release/rust_app.wasm".into(), reuse: true, args: vec![], native: None }),
            ("worker".to_string(), ProcessKind::Wasm { component: "target/wasm32-wasip2/release/worker.wasm".into(), reuse: false, args: vec![], native: None }),
        ]
        .into_iter()
        .collect()
    );
    assert!(lines.contains(&"       Default types for buildpack -> web, worker".to_string()), "{lines:#?}");
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let web = fs::read(unpacked.path().join("app/target/wasm32-wasip2/release/rust_app.wasm")).unwrap();
    assert_eq!(&web[..8], COMPONENT_MAGIC);
    if crate::support::runc_available() {
        // Sandboxed: the cache (target/, cargo/registry) lives on the app's disk image.
        assert!(builder.disk_image("rust-app").is_file());
    } else {
        // Unsandboxed: the cache the last successful build left is cache/<app>.saved.
        assert!(data.path().join("cache/rust-app.saved/target").is_dir());
        assert!(data.path().join("cache/rust-app.saved/cargo/registry").is_dir());
    }

    let second = CollectOutput::default();
    let started = Instant::now();
    builder.build(request("rust-app", &app), &second).await.unwrap();
    let second_time = started.elapsed();
    // The dependencies come from the cache; only the app's own crate (new files) is recompiled.
    let compiled: Vec<String> = second.lines().into_iter().filter(|l| l.contains("Compiling ")).collect();
    assert_eq!(compiled.len(), 1, "{compiled:#?}");
    assert!(compiled[0].trim_start().starts_with("Compiling rust-app v0.1.0"), "{compiled:#?}");
    assert!(!second.lines().iter().any(|l| l.contains("Downloaded")), "{:#?}", second.lines());
    assert!(second_time < first_time, "second build {second_time:?}, first {first_time:?}");

    builder.purge_cache("rust-app").await.unwrap();
    assert!(!data.path().join("cache/rust-app").exists());
}

#[tokio::test]
async fn a_broken_rust_app_fails_with_the_compiler_error_and_no_slug() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let app = repo_root().join("builder/tests/fixtures/broken-rust");
    let out = CollectOutput::default();
    let error = builder.build(request("broken-rust", &app), &out).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "failed to compile Rust app: bin/compile of the rust buildpack exited with status 1"
    );
    let lines = out.lines();
    assert!(lines.contains(&"       error[E0308]: mismatched types".to_string()), "{lines:#?}");
    assert_eq!(lines.last().unwrap(), " !     cargo build failed");
    assert_eq!(fs::read_dir(builder.store().dir()).unwrap().count(), 0);
}

#[tokio::test]
async fn rust_buildpack_builds_the_hello_and_worker_examples() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let out = CollectOutput::default();
    let hello = builder.build(request("hello-rust", &repo_root().join("examples/hello-rust")), &out).await.unwrap();
    assert_eq!(
        hello.manifest.processes,
        [(
            "web".to_string(),
            ProcessKind::Wasm { component: "target/wasm32-wasip2/release/hello-rust.wasm".into(), reuse: false, args: vec![], native: None }
        )]
        .into_iter()
        .collect()
    );
    let worker = builder.build(request("worker-rust", &repo_root().join("examples/worker-rust")), &out).await.unwrap();
    assert_eq!(
        worker.manifest.processes,
        [(
            "worker-rust".to_string(),
            ProcessKind::Wasm { component: "target/wasm32-wasip2/release/worker-rust.wasm".into(), reuse: false, args: vec![], native: None }
        )]
        .into_iter()
        .collect()
    );
}

#[test]
fn the_static_file_server_passes_its_own_tests() {
    // Its logic (paths, index.html, 404 page, content types, cache headers, ETags) is plain std,
    // tested on the host; the wasi glue around it is built by the static buildpack tests above.
    let output = std::process::Command::new("cargo")
        .args(["test", "--quiet", "--lib", "--manifest-path"])
        .arg(repo_root().join("buildpacks/static/file-server/Cargo.toml"))
        .env("CARGO_TARGET_DIR", std::env::temp_dir().join("paas-builder-tests/file-server-host"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(stdout.contains("test result: ok. 1 passed"), "{stdout}");
}
