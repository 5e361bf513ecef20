//! Bad input is rejected at load with a message naming what is wrong; good input is compiled
//! once and cached.

use paas_runtime::{CacheOutcome, ComponentKind, DynoSpec, LoadError, Runtime, RuntimeConfig, StartError, WebDyno};

use crate::util::{guest, runtime};

#[test]
fn a_text_file_is_not_a_component() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("app.wasm");
    std::fs::write(&path, "#!/bin/sh\necho hello\n").unwrap();
    let err = runtime().load_component(&path).unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a WebAssembly component: the file does not start with the WebAssembly magic bytes `\\0asm`"
    );
}

#[test]
fn a_core_module_is_not_a_component() {
    let err = runtime().load_component_bytes(b"\0asm\x01\x00\x00\x00").unwrap_err();
    assert_eq!(
        err.to_string(),
        "not a WebAssembly component: this is a core WebAssembly module; build a component (e.g. `--target wasm32-wasip2`)"
    );
}

#[test]
fn a_missing_file_names_the_path() {
    let err = runtime().load_component("/nonexistent/app.wasm").unwrap_err();
    assert!(matches!(err, LoadError::Read { .. }));
    assert!(err.to_string().starts_with("cannot read component `/nonexistent/app.wasm`: "), "{err}");
}

#[test]
fn a_corrupt_component_is_invalid() {
    let err = runtime().load_component_bytes(b"\0asm\x0d\x00\x01\x00\xff\xff\xff").unwrap_err();
    assert!(matches!(err, LoadError::Invalid { .. }), "{err:?}");
}

#[test]
fn imports_the_host_does_not_provide_are_named_at_load() {
    let err = runtime().load_component(guest("bad_import")).unwrap_err();
    match &err {
        LoadError::MissingImports { missing, .. } => assert_eq!(missing, &["paas:test/missing"]),
        other => panic!("expected MissingImports, got {other:?}"),
    }
    assert_eq!(err.to_string(), "component imports `paas:test/missing` which this host does not provide");
}

#[test]
fn a_component_of_an_unsupported_world_is_rejected_at_load() {
    // The smallest valid component: exports nothing.
    let err = runtime().load_component_bytes(b"\0asm\x0d\x00\x01\x00").unwrap_err();
    assert!(matches!(&err, LoadError::UnsupportedWorld { exports } if exports.is_empty()), "{err:?}");
    assert_eq!(
        err.to_string(),
        "unsupported world: the component exports neither `wasi:http/incoming-handler@0.2.x` (web) nor `wasi:cli/run@0.2.x` (worker, one-off); it exports []"
    );
}

#[test]
fn kinds_are_told_apart_and_a_command_cannot_be_a_web_dyno() {
    let rt = runtime();
    let web = rt.load_component(guest("http_probe")).unwrap();
    let cli = rt.load_component(guest("cli_probe")).unwrap();
    assert_eq!(web.kind(), ComponentKind::Web);
    assert_eq!(cli.kind(), ComponentKind::Command);
    let err = WebDyno::start(&rt, &cli, DynoSpec::new("app", "web.1")).err().unwrap();
    assert!(matches!(err, StartError::WrongKind { .. }));
    assert_eq!(
        err.to_string(),
        "a web (wasi:http/incoming-handler) dyno needs a web (wasi:http/incoming-handler) component, but this component is a command (wasi:cli/run) component"
    );
}

#[test]
fn components_are_compiled_once_then_mapped_from_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let config = || {
        let mut c = RuntimeConfig::new(dir.path());
        c.max_instances = 10;
        c
    };
    let first = Runtime::new(config()).unwrap();
    let component = first.load_component(guest("cli_probe")).unwrap();
    assert_eq!(component.cache_outcome(), CacheOutcome::Compiled);
    let cached = first.cache_path(component.sha256());
    assert!(cached.exists(), "{} missing", cached.display());
    assert!(cached.file_name().unwrap().to_str().unwrap().starts_with(component.sha256()));

    // Another process (here: another engine) finds it.
    let second = Runtime::new(config()).unwrap();
    let again = second.load_component(guest("cli_probe")).unwrap();
    assert_eq!(again.cache_outcome(), CacheOutcome::Hit);
    assert_eq!(again.sha256(), component.sha256());
}

#[test]
fn regression_a_corrupt_cache_file_is_recompiled_not_a_sigbus() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RuntimeConfig::new(dir.path());
    config.max_instances = 10;
    let rt = Runtime::new(config.clone()).unwrap();
    let component = rt.load_component(guest("cli_probe")).unwrap();
    // Replace (never modify in place: the old file is still mapped by `rt`).
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, b"garbage").unwrap();
    std::fs::rename(&garbage, rt.cache_path(component.sha256())).unwrap();
    let rt2 = Runtime::new(config).unwrap();
    assert_eq!(rt2.load_component(guest("cli_probe")).unwrap().cache_outcome(), CacheOutcome::Compiled);
}
