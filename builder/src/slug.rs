//! The slug archive: a deterministic gzip'd tar of `manifest.toml` followed by the `app/` tree.
//!
//! Entries are sorted, with zeroed owners and timestamps, so the same build gives the same bytes
//! and therefore the same content address. Symlinks are stored as symlinks, never followed.

use std::fs;
use std::io::{self, Read, Write};
use std::path::Path;

use cap_std::fs::PermissionsExt;
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::manifest::{ManifestError, SlugManifest};
use crate::tree::{MAX_METADATA_SIZE, TenantTree, TreeError, UntrustedPath};

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
    /// The manifest is a link or too large.
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// Writes the archive of `app_dir` with `manifest` to `out`, returning `out`. The tree is read
/// through a [`TenantTree`]: a symbolic link is stored as a link (never what it points to), and
/// every file is opened inside the tree.
pub fn pack<W: Write>(app_dir: &Path, manifest: &SlugManifest, out: W) -> io::Result<W> {
    let tree = TenantTree::open(app_dir)?;
    let gz = GzEncoder::new(out, Compression::new(6));
    let mut tar = tar::Builder::new(gz);
    tar.follow_symlinks(false);
    let text = manifest.to_toml();
    let mut header = entry_header(tar::EntryType::Regular, 0o644, text.len() as u64);
    tar.append_data(&mut header, MANIFEST_FILE, text.as_bytes())?;
    let mut header = header_for_dir();
    tar.append_data(&mut header, APP_DIR, io::empty())?;
    for relative in tree.walk()? {
        let name = Path::new(APP_DIR).join(&relative);
        let meta = tree.dir().symlink_metadata(&relative)?;
        let mode = if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 };
        if meta.file_type().is_symlink() {
            let target = tree.dir().read_link_contents(&relative)?;
            let mut header = entry_header(tar::EntryType::Symlink, 0o777, 0);
            tar.append_link(&mut header, &name, &target)?;
        } else if meta.is_dir() {
            let mut header = header_for_dir();
            tar.append_data(&mut header, &name, io::empty())?;
        } else if meta.is_file() {
            let file = tree.dir().open(&relative)?;
            if !file.metadata()?.is_file() || file.metadata()?.len() != meta.len() {
                return Err(io::Error::other(format!("{} changed while the slug was made", relative.display())));
            }
            let mut header = entry_header(tar::EntryType::Regular, mode, meta.len());
            tar.append_data(&mut header, &name, file)?;
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
    read_unpacked_manifest(dest)
}

/// The manifest of an unpacked slug (`dir/manifest.toml`), read inside `dir` only: a manifest
/// that is a link, or larger than [`MAX_METADATA_SIZE`], is refused.
pub fn read_unpacked_manifest(dir: &Path) -> Result<SlugManifest, ArchiveError> {
    let tree = TenantTree::open(dir)?;
    let text = tree.read_metadata(UntrustedPath::new(MANIFEST_FILE), MAX_METADATA_SIZE)?.ok_or(ArchiveError::NoManifest)?;
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
    let tree = TenantTree::open(dir)?;
    let mut total = 0;
    for relative in tree.walk()? {
        let meta = tree.dir().symlink_metadata(&relative)?;
        if meta.is_file() {
            total += meta.len();
        }
    }
    Ok(total)
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

    #[test]
    fn a_link_to_a_host_file_is_stored_as_a_link_not_its_content() {
        let host = tempfile::tempdir().unwrap();
        fs::write(host.path().join("operator-api-key"), "host-secret-7f3a").unwrap();
        let src = tempfile::tempdir().unwrap();
        fs::create_dir(src.path().join("public")).unwrap();
        std::os::unix::fs::symlink(host.path().join("operator-api-key"), src.path().join("public/key.txt")).unwrap();
        std::os::unix::fs::symlink(host.path(), src.path().join("public/hostdir")).unwrap();
        let manifest = SlugManifest::new("paas-24", BTreeMap::new());
        let packed = pack(src.path(), &manifest, Vec::new()).unwrap();
        let mut plain = Vec::new();
        GzDecoder::new(&packed[..]).read_to_end(&mut plain).unwrap();
        assert!(!plain.windows(16).any(|w| w == b"host-secret-7f3a"), "the host file's content is in the slug");
        let dest = tempfile::tempdir().unwrap();
        unpack(&packed[..], dest.path()).unwrap();
        let link = dest.path().join("app/public/key.txt");
        assert!(fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(tree_size(src.path()).unwrap(), 0);
    }
}
