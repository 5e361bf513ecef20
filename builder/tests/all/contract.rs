//! The classic buildpack contract with tiny test buildpacks: detect/compile/release, arguments,
//! ENV_DIR, the cleaned environment, streaming, failures, the time limit, Procfile errors.

use std::time::Duration;

use paas_builder::build::BuildError;
use paas_builder::{CollectOutput, ProcessKind};

use crate::support::{builder, request, write_executable};

/// A buildpack that prints what it was given.
fn tiny_buildpack(dir: &std::path::Path) {
    write_executable(&dir.join("bin/detect"), "#!/bin/sh\n[ -f \"$1/tiny.txt\" ] && echo Tiny\n");
    write_executable(
        &dir.join("bin/compile"),
        r#"#!/bin/sh
set -e
echo "-----> Compiling tiny"
echo "       build=$(basename "$1") in $(basename "$(dirname "$1")" | cut -c1-8)… cwd-is-build=$([ "$(pwd)" = "$1" ] && echo yes)"
echo "       cache=$(basename "$2") env=$(basename "$3")"
echo "       GREETING=$(cat "$3/GREETING")"
echo "       home-in-build=$(case "$HOME" in "$(dirname "$1")"/*) echo yes;; *) echo no;; esac)"
echo "       STACK=$STACK SOURCE_VERSION=$SOURCE_VERSION host=${CARGO_MANIFEST_DIR:-none} greeting=${GREETING:-unset}"
echo "       to stderr" >&2
mkdir -p "$1/bin" && printf '#!/bin/sh\necho hi\n' > "$1/bin/web" && chmod +x "$1/bin/web"
echo run >> "$2/runs"
echo "       cached runs: $(wc -l < "$2/runs")"
"#,
    );
    write_executable(
        &dir.join("bin/release"),
        "#!/bin/sh\necho '---'\necho 'config_vars:'\necho '  LANG: C.UTF-8'\necho 'default_process_types:'\necho '  web: bin/web --port $PORT'\n",
    );
}

#[tokio::test]
async fn tiny_buildpack_gets_the_classic_contract_and_a_clean_environment() {
    let (data, src, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    tiny_buildpack(bp.path());
    std::fs::write(src.path().join("tiny.txt"), "x").unwrap();
    let builder = builder(data.path());
    let mut req = request("tiny-app", src.path());
    req.buildpack_url = Some(bp.path().display().to_string());
    req.config_vars.insert("GREETING".into(), "hello".into());
    req.source_version = Some("abc123".into());

    for run in 1..=2 {
        let out = CollectOutput::default();
        let built = builder.build(req.clone(), &out).await.unwrap();
        let bp_name = bp.path().file_name().unwrap().to_str().unwrap();
        assert_eq!(
            out.lines(),
            [
                format!("-----> Building with {bp_name} buildpack"),
                "-----> Tiny app detected".to_string(),
                "-----> Compiling tiny".to_string(),
                "       build=app in tiny-app… cwd-is-build=yes".to_string(),
                "       cache=cache env=env".to_string(),
                "       GREETING=hello".to_string(),
                "       home-in-build=yes".to_string(),
                "       STACK=paas-24 SOURCE_VERSION=abc123 host=none greeting=unset".to_string(),
                "       to stderr".to_string(),
                format!("       cached runs: {run}"),
                "-----> Discovering process types".to_string(),
                "       Default types for buildpack -> web".to_string(),
                "-----> Compressing...".to_string(),
                format!("       Done: {}", paas_builder::store::human_size(built.slug.size)),
            ]
        );
        assert_eq!(built.detected, "Tiny");
        assert_eq!(built.release.config_vars["LANG"], "C.UTF-8");
        assert_eq!(built.manifest.stack, "paas-24");
        assert_eq!(built.manifest.source_version.as_deref(), Some("abc123"));
        assert_eq!(
            built.manifest.processes["web"],
            ProcessKind::Native { command: "bin/web --port $PORT".into() }
        );
        let unpacked = tempfile::tempdir().unwrap();
        builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
        assert!(unpacked.path().join("app/bin/web").is_file());
        assert!(unpacked.path().join("app/tiny.txt").is_file());
    }
    assert_eq!(std::fs::read_dir(data.path().join("builds")).unwrap().count(), 0, "build dirs are removed");
}

#[tokio::test]
async fn nothing_detected_names_the_buildpacks_tried() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(src.path().join("README"), "nothing to build").unwrap();
    let error = builder(data.path()).build(request("empty-app", src.path()), &CollectOutput::default()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "no buildpack detected this app (tried wasm, rust, ruby, python, nodejs, java, php, go, static, procfile); add a Cargo.toml, a Gemfile, a requirements.txt, pyproject.toml or app.py, a package.json, a pom.xml or system.properties, a composer.json or index.php, a go.mod, a public/ folder or static.json, or a Procfile (a .wasm component, or commands run as they are), or set BUILDPACK_URL"
    );
}

#[tokio::test]
async fn a_failing_compile_stores_no_slug() {
    let (data, src, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_executable(&bp.path().join("bin/compile"), "#!/bin/sh\necho '       oops' >&2\nexit 7\n");
    let builder = builder(data.path());
    let mut req = request("fail-app", src.path());
    req.config_vars.insert("BUILDPACK_URL".into(), bp.path().display().to_string());
    let out = CollectOutput::default();
    let error = builder.build(req, &out).await.unwrap_err();
    let name = bp.path().file_name().unwrap().to_str().unwrap().to_string();
    assert_eq!(
        error.to_string(),
        format!("failed to compile {name} app: bin/compile of the {name} buildpack exited with status 7")
    );
    assert_eq!(out.lines().last().unwrap(), "       oops");
    assert_eq!(std::fs::read_dir(builder.store().dir()).unwrap().count(), 0);
}

#[tokio::test]
async fn a_build_over_its_time_limit_is_killed() {
    let (data, src, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_executable(&bp.path().join("bin/compile"), "#!/bin/sh\necho started\nsleep 60\n");
    let mut config = paas_builder::BuilderConfig::new(data.path(), crate::support::repo_root().join("buildpacks"));
    config.time_limit = Duration::from_secs(1);
    let builder = paas_builder::Builder::new(config).unwrap();
    let mut req = request("slow-app", src.path());
    req.buildpack_url = Some(bp.path().display().to_string());
    let started = std::time::Instant::now();
    let error = builder.build(req, &CollectOutput::default()).await.unwrap_err();
    assert!(matches!(error, BuildError::Run(_)));
    assert_eq!(error.to_string(), "build timed out after 1 s and was killed");
    assert!(started.elapsed() < Duration::from_secs(10));
}

#[tokio::test]
async fn a_bad_procfile_fails_the_build_with_its_line_number() {
    let (data, src, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    write_executable(&bp.path().join("bin/compile"), "#!/bin/sh\n");
    std::fs::write(src.path().join("Procfile"), "web: bin/web\nworker bin/worker\n").unwrap();
    let mut req = request("procfile-app", src.path());
    req.buildpack_url = Some(bp.path().display().to_string());
    let error = builder(data.path()).build(req, &CollectOutput::default()).await.unwrap_err();
    assert_eq!(
        error.to_string(),
        "Procfile line 2: expected `type: command`, found `worker bin/worker`; write e.g. `web: app.wasm`"
    );
}

#[tokio::test]
async fn a_buildpack_from_a_git_url_is_cloned() {
    let (data, src, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    tiny_buildpack(bp.path());
    std::fs::write(src.path().join("tiny.txt"), "x").unwrap();
    let git = |args: &[&str]| {
        let status = std::process::Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
            .args(args)
            .current_dir(bp.path())
            .output()
            .unwrap();
        assert!(status.status.success(), "{status:?}");
    };
    git(&["init", "--quiet", "--initial-branch=trunk"]);
    git(&["add", "."]);
    git(&["commit", "--quiet", "-m", "tiny"]);
    let mut req = request("cloned-app", src.path());
    let url = format!("file://{}#trunk", bp.path().display());
    req.buildpack_url = Some(url.clone());
    req.config_vars.insert("GREETING".into(), "hi".into());
    let out = CollectOutput::default();
    let built = builder(data.path()).build(req, &out).await.unwrap();
    assert_eq!(built.buildpack, url);
    assert_eq!(out.lines()[1], "-----> Tiny app detected");
}

/// Records what it was asked to precompile.
#[derive(Default)]
struct RecordPrecompile(std::sync::Mutex<Vec<(String, Vec<String>)>>);

#[async_trait::async_trait]
impl paas_builder::Precompile for RecordPrecompile {
    async fn precompile(
        &self,
        slug: &paas_builder::Slug,
        manifest: &paas_builder::SlugManifest,
        app_dir: &std::path::Path,
    ) -> Result<(), paas_builder::PrecompileError> {
        let mut components = Vec::new();
        for kind in manifest.processes.values() {
            if let ProcessKind::Wasm { component, .. } = kind {
                assert!(app_dir.join(component).is_file());
                components.push(component.clone());
            }
        }
        self.0.lock().unwrap().push((slug.id.clone(), components));
        Ok(())
    }
}

#[tokio::test]
async fn new_slugs_are_handed_to_the_precompiler() {
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    crate::support::hello_wasm_app(src.path());
    let precompile = std::sync::Arc::new(RecordPrecompile::default());
    let builder = builder(data.path()).with_precompile(precompile.clone());
    let out = CollectOutput::default();
    let built = builder.build(request("precompiled", src.path()), &out).await.unwrap();
    assert_eq!(*precompile.0.lock().unwrap(), [(built.slug.id.clone(), vec!["hello.wasm".to_string()])]);
    assert_eq!(out.lines()[out.lines().len() - 2..], ["-----> Compiling components for this node...", "       Done"]);
}

#[tokio::test]
async fn a_build_sees_only_its_own_folders_and_keeps_its_cache() {
    let (data, src, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let builder = builder(data.path());
    assert!(builder.is_isolated(), "this host runs builds in containers (root and runc)");
    let data_dir = data.path().canonicalize().unwrap();
    std::fs::create_dir_all(data_dir.join("cache/other-app")).unwrap();
    std::fs::write(data_dir.join("cache/other-app/secret"), "s3cret").unwrap();
    std::fs::write(data_dir.join("paas.db"), "api keys").unwrap();
    write_executable(
        &bp.path().join("bin/compile"),
        r#"#!/bin/sh
data=$(cat "$3/DATA")
echo "       data: $(ls "$data" | tr '\n' ' ')"
echo "       cache: $(ls "$data/cache" 2>/dev/null | tr '\n' ' ')"
cat "$data/cache/other-app/secret" 2>/dev/null || echo "       no secret"
cat "$data/paas.db" 2>/dev/null || echo "       no database"
echo "       kept: $(cat "$2/file" 2>/dev/null)"
echo mine > "$2/file" && echo "       cache writable: $(cat "$2/file")"
echo "       uid: $(id -u)"
"#,
    );
    let mut req = request("isolated-app", src.path());
    req.buildpack_url = Some(bp.path().display().to_string());
    req.config_vars.insert("DATA".into(), data_dir.display().to_string());
    for kept in ["", "mine"] {
        let out = CollectOutput::default();
        builder.build(req.clone(), &out).await.unwrap();
        let lines = out.lines();
        assert_eq!(
            lines[2..8],
            [
                "       data: builds ".to_string(),
                "       cache: ".to_string(),
                "       no secret".to_string(),
                "       no database".to_string(),
                format!("       kept: {kept}"),
                "       cache writable: mine".to_string(),
            ]
        );
        let uid: u32 = lines[8].trim().strip_prefix("uid: ").unwrap().parse().unwrap();
        assert!(uid >= 100_000, "a build runs as its own unprivileged uid, not {uid}");
    }
    // The cache lives on the app's disk image, not in the data dir's folders.
    assert!(builder.disk_image("isolated-app").is_file());
}

#[tokio::test]
async fn a_build_that_fills_its_disk_fails_saying_so_and_the_next_build_has_room() {
    let (data, src, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut config = paas_builder::BuilderConfig::new(data.path(), crate::support::repo_root().join("buildpacks"));
    config.disk_limit = 32 << 20;
    let builder = paas_builder::Builder::new(config).unwrap();
    if !builder.is_isolated() {
        return; // the disk is the sandbox's
    }
    write_executable(
        &bp.path().join("bin/compile"),
        "#!/bin/sh\nset -e\n[ -f \"$3/FILL\" ] || exit 0\ndd if=/dev/zero of=\"$2/fill\" bs=1M count=100 2>&1 | head -n 3\nexit 1\n",
    );
    let mut req = request("full-app", src.path());
    req.buildpack_url = Some(bp.path().display().to_string());
    req.config_vars.insert("FILL".into(), "1".into());
    let out = CollectOutput::default();
    let error = builder.build(req.clone(), &out).await.unwrap_err();
    let name = bp.path().file_name().unwrap().to_str().unwrap();
    assert_eq!(
        error.to_string(),
        format!("failed to compile {name} app: the build filled its disk (32 MiB for the build dir, cache, env dir and home; `paas builds:cache:purge` empties the cache)")
    );
    assert!(out.lines().iter().any(|l| l.contains("No space left on device")), "{:#?}", out.lines());
    // The cache keeps the file; purging it gives the app its room back.
    builder.purge_cache("full-app").await.unwrap();
    req.config_vars.remove("FILL");
    builder.build(req, &CollectOutput::default()).await.unwrap();
}

#[tokio::test]
async fn a_restarted_builder_unmounts_the_build_disks_a_crashed_one_left() {
    let data = tempfile::tempdir().unwrap();
    if !builder(data.path()).is_isolated() {
        return;
    }
    let stale = data.path().canonicalize().unwrap().join("builds/crashed-app.disk");
    std::fs::create_dir_all(&stale).unwrap();
    let mounted = std::process::Command::new("mount").args(["-t", "tmpfs", "stale", &stale.display().to_string()]).status();
    assert!(mounted.unwrap().success());
    let _restarted = builder(data.path());
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(&stale.display().to_string()), "still mounted");
    assert!(!stale.exists());
}

#[tokio::test]
async fn with_build_network_none_a_build_has_loopback_only_and_with_egress_a_link_too() {
    let (data, src, bp) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut config = paas_builder::BuilderConfig::new(data.path(), crate::support::repo_root().join("buildpacks"));
    config.build_network = paas_builder::build::BuildNetwork::None;
    let builder = paas_builder::Builder::new(config).unwrap();
    if !builder.is_isolated() {
        return;
    }
    write_executable(
        &bp.path().join("bin/compile"),
        "#!/bin/sh\necho \"       interfaces: $(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ' ')\"\n",
    );
    let mut req = request("offline-app", src.path());
    req.buildpack_url = Some(bp.path().display().to_string());
    let out = CollectOutput::default();
    builder.build(req.clone(), &out).await.unwrap();
    assert_eq!(out.lines()[2], "       interfaces: lo ");
    // With egress (the default) the same build has an interface to the node as well.
    let out = CollectOutput::default();
    crate::support::builder(data.path()).build(req, &out).await.unwrap();
    assert!(out.lines()[2].starts_with("       interfaces: ") && out.lines()[2] != "       interfaces: lo ", "{:?}", out.lines());
}

#[tokio::test]
async fn a_buildpacks_dir_named_through_dot_dot_still_detects_in_the_sandbox() {
    // The builder example names `builder/../buildpacks`: a container sees folders at their host
    // paths, and `..` through a folder it lacks resolved nowhere (the wasm buildpack "detected"
    // everything and its bin/compile was not found).
    let (data, src) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let buildpacks = crate::support::repo_root().join("builder/../buildpacks");
    let builder = paas_builder::Builder::new(paas_builder::BuilderConfig::new(data.path(), buildpacks)).unwrap();
    std::fs::write(src.path().join("Procfile"), "web: sleep 1\n").unwrap();
    let out = CollectOutput::default();
    let built = builder.build(request("dotdot-app", src.path()), &out).await.unwrap();
    assert_eq!(built.detected, "Procfile", "{:#?}", out.lines());
}
