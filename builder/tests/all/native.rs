//! The native side of the rust and procfile buildpacks: a plain server on $PORT (the
//! threaded-rust example) and a crate that does not build for wasm32-wasip2 become native
//! binaries that run in a root of only the stack; a repo with only a Procfile runs as it is,
//! and a Procfile naming a missing or non-executable program fails saying which.

use std::collections::BTreeMap;
use std::fs;

use paas_builder::manifest::NATIVE_STACK;
use paas_builder::CollectOutput;

use crate::support::{build_ok, builder, native, repo_root, request, run_at_app, write_executable};

#[tokio::test]
async fn rust_server_reading_port_without_wasi_http_is_a_native_binary_that_runs_on_the_stack() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let (built, lines) = build_ok(&builder, "threaded-rust", &repo_root().join("examples/threaded-rust")).await;
    assert!(
        lines.contains(&"-----> Building natively (the app reads $PORT and does not use wasi:http: a plain server) with cargo build --release".to_string()),
        "{lines:#?}"
    );
    assert!(!lines.iter().any(|l| l.contains("wasm32-wasip2")), "no wasm build is tried: {lines:#?}");
    assert_eq!(built.manifest.stack, NATIVE_STACK);
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("target/release/threaded-rust"))]));

    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    // At /app with only the stack's libraries: the binary starts (and refuses a bad PORT).
    let at_app = run_at_app(&unpacked.path().join("app"), "PORT=nope target/release/threaded-rust");
    assert_eq!(at_app.status.code(), Some(101), "{at_app:?}");
    assert!(String::from_utf8_lossy(&at_app.stderr).contains("PORT is a port number"), "{at_app:?}");
}

#[tokio::test]
async fn rust_crate_that_cannot_build_for_wasm_is_built_natively() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let app = repo_root().join("builder/tests/fixtures/host-only-rust");
    let (built, lines) = build_ok(&builder, "host-only-rust", &app).await;
    assert!(lines.contains(&"       error: host-only-rust needs the host".to_string()), "{lines:#?}");
    assert!(
        lines.contains(&"-----> Building natively (the crate does not build for wasm32-wasip2) with cargo build --release".to_string()),
        "{lines:#?}"
    );
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("target/release/host-only-rust"))]));
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let at_app = run_at_app(&unpacked.path().join("app"), "target/release/host-only-rust");
    assert_eq!(String::from_utf8_lossy(&at_app.stdout), "host-only-rust ran natively\n", "{at_app:?}");
}

#[tokio::test]
async fn procfile_buildpack_runs_a_repo_as_it_is_when_nothing_else_detects_it() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(src.path().join("Procfile"), "web: bin/serve --port $PORT\nclock: MODE=tick sleep 60\n").unwrap();
    write_executable(&src.path().join("bin/serve"), "#!/bin/sh\nexec python3 -m http.server \"$2\"\n");
    let out = CollectOutput::default();
    let built = builder(data.path()).build(request("as-is", src.path()), &out).await.unwrap_or_else(|e| panic!("{e}: {:#?}", out.lines()));
    assert_eq!(
        out.lines()[..5],
        [
            "-----> Building with procfile buildpack",
            "-----> Procfile app detected",
            "-----> Checking the programs the Procfile runs",
            "       web: bin/serve",
            "       clock: sleep (the stack's)",
        ]
    );
    assert_eq!(built.manifest.stack, NATIVE_STACK);
    assert_eq!(
        built.manifest.processes,
        BTreeMap::from([
            ("web".to_string(), native("bin/serve --port $PORT")),
            ("clock".to_string(), native("MODE=tick sleep 60")),
        ])
    );
}

#[tokio::test]
async fn procfile_buildpack_names_programs_that_are_missing_or_not_executable() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    fs::write(src.path().join("Procfile"), "web: ./server\nworker: no-such-program --now\n").unwrap();
    fs::write(src.path().join("server"), "#!/bin/sh\n").unwrap();
    let out = CollectOutput::default();
    let error = builder(data.path()).build(request("as-is", src.path()), &out).await.unwrap_err();
    assert_eq!(error.to_string(), "failed to compile Procfile app: bin/compile of the procfile buildpack exited with status 1");
    assert_eq!(
        out.lines()[3..],
        [
            " !     web: ./server is not executable (git update-index --chmod=+x ./server)",
            " !     worker: no-such-program is neither a file of the repo nor a program of the stack (/usr/bin, /bin)",
        ]
    );
}
