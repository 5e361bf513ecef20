//! Packs the repo's built-in buildpacks (`../buildpacks`) into `$OUT_DIR/buildpacks.tar.gz` for
//! `paas server` to embed (`src/builtin.rs`), and gives the SHA-256 of the tar as
//! `PAAS_BUILDPACKS_SHA256`. The tar is the same for the same files wherever it is built: entries
//! sorted by path, folders and regular files only (a link fails the build), mode 0755 for folders
//! and executables and 0644 for the rest, no times, no owners. Build outputs and caches
//! (`target/`, `node_modules/`, `__pycache__/`, `*.pyc`, `.git/`) are left out.
//!
//! The static buildpack's file server is also built here, from its source, for wasm32-wasip2
//! (a cargo of its own, its own target dir in `$OUT_DIR`), and packed as
//! `static/file-server.wasm`, which the buildpack uses instead of compiling it: static sites
//! then build on a node without a Rust toolchain. Where it cannot be built (no wasm32-wasip2
//! target here) the build says so in a warning and the buildpack compiles it per app, as it does
//! from the source tree.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

/// Folders never packed: what builds and editors leave in the source tree.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "__pycache__", ".git"];

/// Where the prebuilt file server goes in the tar.
const FILE_SERVER: &str = "static/file-server.wasm";

/// One entry of the tar: a folder, or a file's content and whether it is executable.
enum Entry {
    Folder,
    File(Vec<u8>, bool),
}

fn main() {
    let source = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR")).join("../buildpacks");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed={}", source.display());
    let mut entries = Vec::new();
    walk(&source, Path::new(""), &mut entries);
    match file_server(&source, &out_dir) {
        Ok(wasm) => entries.push((PathBuf::from(FILE_SERVER), Entry::File(wasm, false))),
        Err(why) => println!("cargo:warning=the static buildpack's file server is not prebuilt ({why}): static sites will compile it"),
    }
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    let mut tar = tar::Builder::new(Vec::new());
    for (relative, entry) in &entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        let content: &[u8] = match entry {
            Entry::Folder => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_mode(0o755);
                &[]
            }
            Entry::File(content, executable) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_mode(if *executable { 0o755 } else { 0o644 });
                content
            }
        };
        header.set_size(content.len() as u64);
        tar.append_data(&mut header, relative, content).expect("tar an entry");
    }
    let tar = tar.into_inner().expect("tar");
    let hash = Sha256::digest(&tar).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar).expect("gzip");
    let out = out_dir.join("buildpacks.tar.gz");
    std::fs::write(&out, gz.finish().expect("gzip")).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("cargo:rustc-env=PAAS_BUILDPACKS_SHA256={hash}");
}

/// Adds the folders and files under `dir` (at `relative` in the tar) to `entries`; panics on a
/// link or anything else that is not a folder or a regular file.
fn walk(dir: &Path, relative: &Path, entries: &mut Vec<(PathBuf, Entry)>) {
    let listed = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in listed {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        let name = entry.file_name();
        let text = name.to_string_lossy();
        let kind = entry.file_type().unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        let inner = relative.join(&name);
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&text.as_ref()) {
                entries.push((inner.clone(), Entry::Folder));
                walk(&entry.path(), &inner, entries);
            }
        } else if kind.is_file() {
            if !text.ends_with(".pyc") && inner != Path::new(FILE_SERVER) {
                let path = entry.path();
                let content = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                let executable = entry.metadata().map(|m| m.permissions().mode() & 0o111 != 0).unwrap_or(false);
                entries.push((inner, Entry::File(content, executable)));
            }
        } else {
            panic!("{} is neither a folder nor a regular file: the embedded buildpacks hold only those", entry.path().display());
        }
    }
}

/// Builds `static/file-server` for wasm32-wasip2 with the cargo running this build (a target dir
/// of its own: the outer one is locked) and gives back the component.
fn file_server(source: &Path, out_dir: &Path) -> Result<Vec<u8>, String> {
    let target_dir = out_dir.join("file-server-target");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .args(["build", "--release", "--quiet", "--locked", "--target", "wasm32-wasip2", "--manifest-path"])
        .arg(source.join("static/file-server/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET_DIR")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("RUSTFLAGS")
        .output()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    if !output.status.success() {
        let said = String::from_utf8_lossy(&output.stderr);
        return Err(said.lines().find(|l| l.contains("error")).unwrap_or("cargo failed").trim().to_string());
    }
    let wasm = target_dir.join("wasm32-wasip2/release/paas_static_file_server.wasm");
    std::fs::read(&wasm).map_err(|e| format!("{}: {e}", wasm.display()))
}
