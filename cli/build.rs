//! Packs the repo's built-in buildpacks (`../buildpacks`) into `$OUT_DIR/buildpacks.tar.gz` for
//! `paas server` to embed (`src/builtin.rs`), and gives the SHA-256 of the tar as
//! `PAAS_BUILDPACKS_SHA256`. The tar is the same for the same files wherever it is built: entries
//! sorted by path, folders and regular files only (a link fails the build), mode 0755 for folders
//! and executables and 0644 for the rest, no times, no owners. Build outputs and caches
//! (`target/`, `node_modules/`, `__pycache__/`, `*.pyc`, `.git/`) are left out.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Folders never packed: what builds and editors leave in the source tree.
const SKIPPED_DIRS: &[&str] = &["target", "node_modules", "__pycache__", ".git"];

fn main() {
    let source = Path::new(&std::env::var("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR")).join("../buildpacks");
    println!("cargo:rerun-if-changed={}", source.display());
    let mut entries = Vec::new();
    walk(&source, Path::new(""), &mut entries);
    entries.sort();
    let mut tar = tar::Builder::new(Vec::new());
    for relative in &entries {
        let path = source.join(relative);
        let meta = std::fs::symlink_metadata(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut header = tar::Header::new_gnu();
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        if meta.is_dir() {
            header.set_entry_type(tar::EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            tar.append_data(&mut header, relative, std::io::empty()).expect("tar a folder");
        } else {
            let content = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            header.set_entry_type(tar::EntryType::Regular);
            header.set_mode(if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 });
            header.set_size(content.len() as u64);
            tar.append_data(&mut header, relative, content.as_slice()).expect("tar a file");
        }
    }
    let tar = tar.into_inner().expect("tar");
    let hash = Sha256::digest(&tar).iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&tar).expect("gzip");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("buildpacks.tar.gz");
    std::fs::write(&out, gz.finish().expect("gzip")).unwrap_or_else(|e| panic!("{}: {e}", out.display()));
    println!("cargo:rustc-env=PAAS_BUILDPACKS_SHA256={hash}");
}

/// Adds the folders and files under `dir` (at `relative` in the tar) to `entries`; panics on a
/// link or anything else that is not a folder or a regular file.
fn walk(dir: &Path, relative: &Path, entries: &mut Vec<PathBuf>) {
    let listed = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
    for entry in listed {
        let entry = entry.unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()));
        let name = entry.file_name();
        let text = name.to_string_lossy();
        let kind = entry.file_type().unwrap_or_else(|e| panic!("{}: {e}", entry.path().display()));
        let inner = relative.join(&name);
        if kind.is_dir() {
            if !SKIPPED_DIRS.contains(&text.as_ref()) {
                entries.push(inner.clone());
                walk(&entry.path(), &inner, entries);
            }
        } else if kind.is_file() {
            if !text.ends_with(".pyc") {
                entries.push(inner);
            }
        } else {
            panic!("{} is neither a folder nor a regular file: the embedded buildpacks hold only those", entry.path().display());
        }
    }
}
