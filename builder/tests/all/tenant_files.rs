//! The host never follows a tenant's symlink: a Procfile, `.paas/processes.toml` or `.slugignore`
//! that links to a host file fails the build with a message quoting nothing of that file; a
//! component behind a link leaving the tree is not read; a `public/` file linking to a host file
//! is stored in the slug as a link, never as the host file's content.

use std::os::unix::fs::symlink;
use std::path::Path;

use paas_builder::CollectOutput;

use crate::support::{builder, request, write_executable};

/// The host file every test points at: what an operator's key file looks like.
const SECRET: &str = "paas-operator-key-0123456789abcdef";

fn host_secret() -> tempfile::TempDir {
    let host = tempfile::tempdir().unwrap();
    std::fs::write(host.path().join("operator-api-key"), format!("{SECRET}\n")).unwrap();
    host
}

/// A buildpack that builds nothing and (optionally) runs `compile` as its `bin/compile`.
fn noop_buildpack(dir: &Path, compile: &str) {
    write_executable(&dir.join("bin/compile"), &format!("#!/bin/sh\n{compile}\n"));
}

async fn build_fails(src: &Path, buildpack: &Path) -> (String, String) {
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let mut req = request("link-app", src);
    req.buildpack_url = Some(buildpack.display().to_string());
    let out = CollectOutput::default();
    let error = builder.build(req, &out).await.expect_err("the build must fail").to_string();
    assert_eq!(std::fs::read_dir(builder.store().dir()).unwrap().count(), 0, "no slug stored");
    (error, out.text())
}

#[tokio::test]
async fn a_procfile_linking_to_a_host_file_is_refused_without_quoting_it() {
    let (host, src, bp) = (host_secret(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    noop_buildpack(bp.path(), "");
    symlink(host.path().join("operator-api-key"), src.path().join("Procfile")).unwrap();
    let (error, output) = build_fails(src.path(), bp.path()).await;
    assert_eq!(
        error,
        "could not unpack the source: Procfile is a symbolic link; paas does not follow links in metadata files"
    );
    assert!(!error.contains(SECRET) && !output.contains(SECRET), "{error}\n{output}");
}

#[tokio::test]
async fn a_processes_toml_or_slugignore_linking_out_is_refused() {
    for (name, also) in [(".paas/processes.toml", None), (".slugignore", None), ("processes.toml", Some(".paas"))] {
        let (host, src, bp) = (host_secret(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        noop_buildpack(bp.path(), "");
        match also {
            // `.paas` itself links to the host folder holding a processes.toml.
            Some(dir) => {
                std::fs::write(host.path().join(name), format!("[processes.web]\nkind = \"native\"\ncommand = \"{SECRET}\"\n")).unwrap();
                symlink(host.path(), src.path().join(dir)).unwrap();
            }
            None => {
                std::fs::create_dir_all(src.path().join(".paas")).unwrap();
                symlink(host.path().join("operator-api-key"), src.path().join(name)).unwrap();
            }
        }
        let (error, output) = build_fails(src.path(), bp.path()).await;
        assert!(error.starts_with("could not unpack the source: "), "{name}: {error}");
        assert!(error.contains("symbolic link"), "{name}: {error}");
        assert!(!error.contains(SECRET) && !output.contains(SECRET), "{name}: {error}\n{output}");
    }
}

#[tokio::test]
async fn a_processes_toml_a_buildpack_links_out_after_unpacking_is_refused_when_read() {
    let (host, src, bp) = (host_secret(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let target = host.path().join("operator-api-key");
    noop_buildpack(bp.path(), &format!("mkdir -p \"$1/.paas\" && ln -s {} \"$1/.paas/processes.toml\"", target.display()));
    let (error, output) = build_fails(src.path(), bp.path()).await;
    assert_eq!(error, ".paas/processes.toml is a symbolic link; paas does not follow links in metadata files");
    assert!(!output.contains(SECRET), "{output}");
}

#[tokio::test]
async fn a_component_behind_a_link_leaving_the_tree_is_not_read() {
    let (host, src, bp) = (host_secret(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::write(host.path().join("app.wasm"), b"\0asm\x0d\0\x01\0").unwrap();
    symlink(host.path(), src.path().join("hostdir")).unwrap();
    std::fs::write(src.path().join("Procfile"), "web: hostdir/app.wasm\n").unwrap();
    noop_buildpack(bp.path(), "");
    let (error, _) = build_fails(src.path(), bp.path()).await;
    assert_eq!(
        error,
        "process type `web` names the component hostdir/app.wasm, which the build did not produce (or which leaves the app's folder)"
    );
}

#[tokio::test]
async fn a_public_file_linking_to_a_host_file_is_stored_as_a_link() {
    let (host, src, bp) = (host_secret(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    std::fs::create_dir_all(src.path().join("public")).unwrap();
    std::fs::write(src.path().join("public/index.html"), "hello").unwrap();
    symlink(host.path().join("operator-api-key"), src.path().join("public/key.txt")).unwrap();
    std::fs::write(src.path().join("Procfile"), "web: bin/serve\n").unwrap();
    noop_buildpack(bp.path(), "");
    let data = tempfile::tempdir().unwrap();
    let builder = builder(data.path());
    let mut req = request("link-app", src.path());
    req.buildpack_url = Some(bp.path().display().to_string());
    let built = builder.build(req, &CollectOutput::default()).await.unwrap();
    let mut plain = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(std::fs::File::open(&built.slug.path).unwrap()), &mut plain).unwrap();
    assert!(!plain.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "the host file's content is in the slug");
    let unpacked = tempfile::tempdir().unwrap();
    builder.store().unpack(&built.slug.id, unpacked.path()).unwrap();
    let link = unpacked.path().join("app/public/key.txt");
    assert!(std::fs::symlink_metadata(link).unwrap().file_type().is_symlink());
}
