//! The go buildpack: examples/hello-go is `go install`ed by the stack's go into `bin/`, its
//! binary is `web` and runs at /app on the stack alone; a vendored module builds with
//! -mod=vendor; code that does not compile, a module that is neither vendored nor cached
//! (GOPROXY=off), and a go.mod too new for the stack's go fail the build with go's own message.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use paas_builder::manifest::NATIVE_STACK;
use paas_builder::{Builder, CollectOutput};

use crate::support::{assert_lines, build_ok, builder, native, repo_root, request, run_at_app};

/// What the buildpack says about WebAssembly, first.
const NATIVE_LINE: &str = "-----> Go: building natively: the stack's go";

/// A copy of examples/hello-go in `into`, with `main.go` changed by `edit`.
fn hello_go(into: &Path, edit: impl Fn(String) -> String) {
    paas_builder::source::copy_tree(&repo_root().join("examples/hello-go"), into).unwrap();
    let main = into.join("main.go");
    fs::write(&main, edit(fs::read_to_string(&main).unwrap())).unwrap();
}

/// Builds `src` and gives the error and the output's lines.
async fn fails(builder: &Builder, src: &Path) -> (String, Vec<String>) {
    let out = CollectOutput::default();
    let error = builder.build(request("go-app", src), &out).await.unwrap_err();
    (error.to_string(), out.lines())
}

#[tokio::test]
async fn go_example_is_a_native_binary_named_after_the_module_that_runs_on_the_stack() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let (built, lines) = build_ok(&builder, "hello-go", &repo_root().join("examples/hello-go")).await;
    assert_eq!(lines[1], "-----> Go app detected", "{lines:#?}");
    assert!(lines[2].starts_with(NATIVE_LINE), "{lines:#?}");
    assert!(lines.contains(&"-----> Running: go install . (GOFLAGS=none, GOPROXY=off, CGO_ENABLED=0)".to_string()), "{lines:#?}");
    assert!(lines.contains(&"       Binaries in bin/: hello-go".to_string()), "{lines:#?}");
    assert!(!lines.iter().any(|l| l.contains("build cache")), "the first build has no cache: {lines:#?}");
    assert_eq!(built.manifest.stack, NATIVE_STACK);
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("bin/hello-go"))]));

    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    // At /app with only the stack: the binary is on PATH (.profile.d) and starts; without PORT it
    // says so; go itself is the stack's, for one-off dynos.
    let at_app = run_at_app(&unpacked.path().join("app"), "command -v hello-go; go version; hello-go");
    let stdout = String::from_utf8_lossy(&at_app.stdout);
    assert!(stdout.starts_with("/app/bin/hello-go\ngo version go1."), "{at_app:?}");
    assert!(String::from_utf8_lossy(&at_app.stderr).contains("PORT is not set"), "{at_app:?}");

    // The second build takes the packages from the build cache in CACHE_DIR.
    let out = CollectOutput::default();
    builder.build(request("hello-go", &repo_root().join("examples/hello-go")), &out).await.unwrap();
    assert!(out.lines().iter().any(|l| l.starts_with("-----> Using go's build cache from the last build (")), "{:#?}", out.lines());
}

#[tokio::test]
async fn go_module_with_vendor_builds_with_mod_vendor_and_names_web_without_its_major_version() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let greet = src.path().join("vendor/example.com/greet");
    fs::create_dir_all(&greet).unwrap();
    fs::write(src.path().join("go.mod"), "module example.com/vendored/v2\n\ngo 1.19\n\nrequire example.com/greet v1.0.0\n").unwrap();
    fs::write(src.path().join("vendor/modules.txt"), "# example.com/greet v1.0.0\n## explicit\nexample.com/greet\n").unwrap();
    fs::write(greet.join("greet.go"), "package greet\n\nfunc Hello() string { return \"vendored\" }\n").unwrap();
    fs::write(src.path().join("main.go"), "package main\n\nimport \"example.com/greet\"\n\nfunc main() { println(greet.Hello()) }\n").unwrap();
    let builder = builder(data.path());
    let (built, lines) = build_ok(&builder, "vendored", src.path()).await;
    assert_lines(&lines, &["-----> Running: go install -mod=vendor . (GOFLAGS=none, GOPROXY=off, CGO_ENABLED=0)"]);
    assert_eq!(built.manifest.processes, BTreeMap::from([("web".to_string(), native("bin/vendored"))]));
}

#[tokio::test]
async fn go_code_that_does_not_compile_or_needs_a_missing_module_fails_with_gos_message() {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());

    let broken = tempfile::tempdir().unwrap();
    hello_go(broken.path(), |main| main.replace("name := os.Getenv", "name := nosuch + os.Getenv"));
    let (error, lines) = fails(&builder, broken.path()).await;
    assert_eq!(error, "failed to compile Go app: bin/compile of the go buildpack exited with status 1");
    assert!(lines.iter().any(|l| l.starts_with("       ./main.go:") && l.ends_with("undefined: nosuch")), "{lines:#?}");
    assert_eq!(lines.last().unwrap(), " !     go install failed (the errors above are go's)");

    // Neither vendored nor in the module cache, and GOPROXY=off: go says what is missing.
    let missing = tempfile::tempdir().unwrap();
    hello_go(missing.path(), |main| main.replace("\"time\"", "\"time\"\n\n\t\"example.com/missing\"").replace("boot =", "_ = missing.X\nvar boot ="));
    fs::write(missing.path().join("go.mod"), "module example.com/hello-go\n\ngo 1.19\n\nrequire example.com/missing v1.0.0\n").unwrap();
    fs::write(missing.path().join("go.sum"), "example.com/missing v1.0.0 h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\nexample.com/missing v1.0.0/go.mod h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n").unwrap();
    let (_, lines) = fails(&builder, missing.path()).await;
    assert!(lines.iter().any(|l| l.ends_with("module lookup disabled by GOPROXY=off")), "{lines:#?}");

    // A go.mod of a newer go than the stack's: go's own errors, then what to do about it.
    let newer = tempfile::tempdir().unwrap();
    hello_go(newer.path(), |main| main);
    fs::write(newer.path().join("go.mod"), "module example.com/hello-go\n\ngo 1.22.3\n\ntoolchain go1.22.5\n").unwrap();
    let (_, lines) = fails(&builder, newer.path()).await;
    assert!(lines.iter().any(|l| l.ends_with("invalid go version '1.22.3': must match format 1.23")), "{lines:#?}");
    let hint = lines.last().unwrap();
    assert!(hint.starts_with(" !     go.mod asks for go 1.22.3, newer than the stack's go 1.19.") && hint.ends_with("'go 1.19' in go.mod builds code that needs nothing newer"), "{lines:#?}");
}
