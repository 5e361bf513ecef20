//! The slug archive: a deterministic gzip'd tar of `manifest.toml` followed by the `app/` tree.
//!
//! Entries are sorted, with zeroed owners and timestamps, so the same build gives the same bytes
//! and therefore the same content address. Symlinks are stored as symlinks, never followed.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::manifest::{ManifestError, SlugManifest};

/// The manifest's name inside a slug archive and an unpacked slug.
pub const MANIFEST_FILE: &str = "manifest.toml";
/// The folder holding the app (mounted at `/app` in dynos) inside a slug archive and an unpacked slug.
pub const APP_DIR: &str = "app";

/// A slug archive that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// Reading or writing failed.
    #[error("slug archive: {0}")]
    Io(#[from] io::Error),
    /// The archive has no `manifest.toml` first.
    #[error("slug archive has no {MANIFEST_FILE}")]
    NoManifest,
    /// The manifest is invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
}

/// Writes the archive of `app_dir` with `manifest` to `out`, returning `out`.
pub fn pack<W: Write>(app_dir: &Path, manifest: &SlugManifest, out: W) -> io::Result<W> {
    let gz = GzEncoder::new(out, Compression::new(6));
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    let text = manifest.to_toml();
    let mut header = entry_header(tar::EntryType::Regular, 0o644, text.len() as u64);
    tar.append_data(&mut header, MANIFEST_FILE, text.as_bytes())?;
    let mut header = header_for_dir();
    tar.append_data(&mut header, APP_DIR, io::empty())?;
    for relative in sorted_tree(app_dir)? {
        let path = app_dir.join(&relative);
        let name = Path::new(APP_DIR).join(&relative);
        let meta = fs::symlink_metadata(&path)?;
        let mode = if is_executable(&meta) { 0o755 } else { 0o644 };
        if meta.file_type().is_symlink() {
            let target = fs::read_link(&path)?;
            let mut header = entry_header(tar::EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut header, &name, &target)?;
        } else if meta.is_dir() {
            let mut header = header_for_dir();
            tar.append_data(&mut header, &name, io::empty())?;
        } else if meta.is_file() {
            let mut header = entry_header(tar::EntryType::Regular, mode, meta.len());
            tar.append_data(&mut header, &name, fs::File::open(&path)?)?;
        }
    }
    tar.into_inner()?.finish()
}

/// Unpacks a slug archive into `dest` (`dest/manifest.toml`, `dest/app/…`), returning its manifest.
pub fn unpack<R: Read>(archive: R, dest: &Path) -> Result<SlugManifest, ArchiveError> {
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    tar.set_preserve_permissions(true);
    tar.set_overwrite(true);
    fs::create_dir_all(dest)?;
    tar.unpack(dest)?;
    let text = fs::read_to_string(dest.join(MANIFEST_FILE)).map_err(|_| ArchiveError::NoManifest)?;
    Ok(SlugManifest::from_toml(&text)?)
}

/// Reads only the manifest (the archive's first entry).
pub fn read_manifest<R: Read>(archive: R) -> Result<SlugManifest, ArchiveError> {
    let mut tar = tar::Archive::new(GzDecoder::new(archive));
    let mut entry = tar.entries()?.next().ok_or(ArchiveError::NoManifest)??;
    if entry.path()?.as_ref() != Path::new(MANIFEST_FILE) {
        return Err(ArchiveError::NoManifest);
    }
    let mut text = String::new();
    entry.read_to_string(&mut text)?;
    Ok(SlugManifest::from_toml(&text)?)
}

/// The total size in bytes of the regular files below `dir` (symlinks not followed; sparse files
/// count their full length, as they would once archived).
pub fn tree_size(dir: &Path) -> io::Result<u64> {
    let mut total = 0;
    for relative in sorted_tree(dir)? {
        let meta = fs::symlink_metadata(dir.join(relative))?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
}

/// Every path below `dir`, relative to it, sorted so parents come before their children.
fn sorted_tree(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(relative) = stack.pop() {
        let mut children: Vec<_> = fs::read_dir(dir.join(&relative))?
            .map(|entry| entry.map(|e| (e.file_name(), e.file_type())))
            .collect::<io::Result<_>>()?;
        children.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, kind) in children.into_iter().rev() {
            let child = relative.join(name);
            if kind?.is_dir() {
                stack.push(child.clone());
            }
            out.push(child);
        }
    }
    out.sort();
    Ok(out)
}

fn entry_header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn header_for_dir() -> tar::Header {
    entry_header(tar::EntryType::Directory, 0o755, 0)
}

fn is_executable(meta: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::manifest::ProcessKind;

    #[test]
    fn packs_deterministically_and_unpacks_with_modes_and_symlinks() {
        use std::os::unix::fs::PermissionsExt;
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("bin")).unwrap();
        fs::write(src.path().join("bin/run"), "#!/bin/sh\n").unwrap();
        fs::set_permissions(src.path().join("bin/run"), fs::Permissions::from_mode(0o700)).unwrap();
        fs::write(src.path().join("app.wasm"), b"\0asm").unwrap();
        std::os::unix::fs::symlink("app.wasm", src.path().join("link.wasm")).unwrap();
        let manifest = SlugManifest::new(
            "paas-24",
            BTreeMap::from([("web".to_string(), ProcessKind::from_command("app.wasm"))]),
        );
        let first = pack(src.path(), &manifest, Vec::new()).unwrap();
        let second = pack(src.path(), &manifest, Vec::new()).unwrap();
        assert_eq!(first, second, "same tree, same bytes");
        assert_eq!(read_manifest(&first[..]).unwrap(), manifest);

        let dest = tempfile::tempdir().unwrap();
        assert_eq!(unpack(&first[..], dest.path()).unwrap(), manifest);
        let app = dest.path().join(APP_DIR);
        assert_eq!(fs::read(app.join("app.wasm")).unwrap(), b"\0asm");
        assert_eq!(fs::read_link(app.join("link.wasm")).unwrap(), Path::new("app.wasm"));
        let mode = fs::metadata(app.join("bin/run")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(tree_size(src.path()).unwrap(), 14);
    }
}
