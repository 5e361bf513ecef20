//! The built-in buildpacks a `paas` binary carries, and their installation into the data dir.
//!
//! The binary embeds the repo's `buildpacks/` as a gzip'd tar made at build time (see
//! `cli/build.rs`: sorted entries, folders and regular files only, modes 0755/0644, no times or
//! owners), with the SHA-256 of the uncompressed tar. [`install`] unpacks it into
//! `<data-dir>/buildpacks/<hash>/` at start, so a copy of the binary alone deploys apps on a
//! machine without the source tree. The install is atomic: the archive is unpacked into a
//! `.unpacking-*` folder of its own, its hash checked over every byte, then the folder renamed into
//! place; a folder of that hash is therefore whole, and is used as it is. Only folders and regular
//! files are made (no links, devices or FIFOs), at relative paths of plain names, in a folder this
//! install created: nothing can be written outside it. Other versions' folders and half-made ones
//! are removed.

use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

/// How many hex digits of the hash name the installed folder.
const NAME_DIGITS: usize = 16;

/// The prefix of a folder an install is unpacking into.
const UNPACKING: &str = ".unpacking-";

/// Installing the embedded buildpacks failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// A file-system operation on the data dir failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done (`create`, `write`, `rename`…).
        action: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// Why it failed.
        source: io::Error,
    },
    /// The archive is not what the binary says it is (a damaged binary).
    #[error("the buildpacks embedded in this binary are damaged ({0}); reinstall paas, or give --buildpacks-dir")]
    Damaged(String),
}

/// What [`install`] did.
#[derive(Debug)]
pub struct Installed {
    /// The buildpacks folder (`<root>/<hash>`), absolute when `root` is.
    pub dir: PathBuf,
    /// Whether this call unpacked it (false: it was already there).
    pub unpacked: bool,
    /// The names of other versions' and half-made folders it removed from `root`.
    pub removed: Vec<String>,
}

/// Unpacks `archive` (a gzip'd tar whose uncompressed SHA-256 is `sha256`, in lowercase hex) into
/// `root/<first 16 digits of sha256>/` unless that folder is there already, and removes every
/// other folder of `root`. `root` is created (0755) if missing.
pub fn install(archive: &[u8], sha256: &str, root: &Path) -> Result<Installed, InstallError> {
    if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(InstallError::Damaged(format!("its hash {sha256:?} is not a SHA-256")));
    }
    let name = &sha256[..NAME_DIGITS];
    let dir = root.join(name);
    let io_err = |action: &'static str, path: &Path| {
        let path = path.to_path_buf();
        move |source| InstallError::Io { action, path, source }
    };
    std::fs::DirBuilder::new().recursive(true).mode(0o755).create(root).map_err(io_err("create", root))?;
    let mut removed = Vec::new();
    for entry in std::fs::read_dir(root).map_err(io_err("read", root))? {
        let entry = entry.map_err(io_err("read", root))?;
        let entry_name = entry.file_name().to_string_lossy().into_owned();
        let is_dir = entry.file_type().is_ok_and(|kind| kind.is_dir());
        if entry_name == name && is_dir {
            continue;
        }
        let path = entry.path();
        let gone = if is_dir { std::fs::remove_dir_all(&path) } else { std::fs::remove_file(&path) };
        gone.map_err(io_err("remove", &path))?;
        removed.push(entry_name);
    }
    if std::fs::symlink_metadata(&dir).is_ok_and(|meta| meta.is_dir()) {
        return Ok(Installed { dir, unpacked: false, removed });
    }
    let temp = root.join(format!("{UNPACKING}{name}-{}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o755).create(&temp).map_err(io_err("create", &temp))?;
    let unpacked = unpack(archive, sha256, &temp).and_then(|()| {
        std::fs::set_permissions(&temp, std::fs::Permissions::from_mode(0o755)).map_err(io_err("chmod", &temp))?;
        std::fs::rename(&temp, &dir).map_err(io_err("rename", &temp))
    });
    if let Err(e) = unpacked {
        let _ = std::fs::remove_dir_all(&temp);
        return Err(e);
    }
    Ok(Installed { dir, unpacked: true, removed })
}

/// Reads the whole archive into `into` (an empty folder), checking the hash of every byte of the
/// tar (the end padding included).
fn unpack(archive: &[u8], sha256: &str, into: &Path) -> Result<(), InstallError> {
    let damaged = |what: &dyn std::fmt::Display| InstallError::Damaged(what.to_string());
    let mut reader = HashingReader { inner: flate2::read::GzDecoder::new(archive), hasher: Sha256::new() };
    {
        let mut tar = tar::Archive::new(&mut reader);
        for entry in tar.entries().map_err(|e| damaged(&e))? {
            let mut entry = entry.map_err(|e| damaged(&e))?;
            let relative = entry.path().map_err(|e| damaged(&e))?.into_owned();
            if relative.as_os_str().is_empty() || !relative.components().all(|c| matches!(c, Component::Normal(_))) {
                return Err(damaged(&format!("the entry {} is not a plain relative path", relative.display())));
            }
            let path = into.join(&relative);
            let kind = entry.header().entry_type();
            if kind.is_dir() {
                std::fs::DirBuilder::new()
                    .recursive(true)
                    .mode(0o755)
                    .create(&path)
                    .map_err(|source| InstallError::Io { action: "create", path: path.clone(), source })?;
            } else if kind.is_file() {
                let executable = entry.header().mode().map_err(|e| damaged(&e))? & 0o111 != 0;
                let mut file = std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(if executable { 0o755 } else { 0o644 })
                    .open(&path)
                    .map_err(|source| InstallError::Io { action: "write", path: path.clone(), source })?;
                io::copy(&mut entry, &mut file)
                    .and_then(|_| file.flush())
                    .map_err(|source| InstallError::Io { action: "write", path: path.clone(), source })?;
            } else {
                return Err(damaged(&format!("the entry {} is not a folder nor a regular file", relative.display())));
            }
        }
    }
    io::copy(&mut reader, &mut io::sink()).map_err(|e| damaged(&e))?;
    let found = hex::encode(reader.hasher.finalize());
    if found != sha256 {
        return Err(damaged(&format!("its content hashes to {found}, not {sha256}")));
    }
    Ok(())
}

/// A reader that hashes what passes through it.
struct HashingReader<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        self.hasher.update(&buf[..read]);
        Ok(read)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A gzip'd tar of `entries` (path, mode, content; `None`: a folder) and its tar's SHA-256,
    /// made as `cli/build.rs` makes the embedded one.
    fn archive(entries: &[(&str, u32, Option<&[u8]>)]) -> (Vec<u8>, String) {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, mode, content) in entries {
            let mut header = tar::Header::new_gnu();
            header.set_mode(*mode);
            match content {
                Some(bytes) => {
                    header.set_entry_type(tar::EntryType::Regular);
                    header.set_size(bytes.len() as u64);
                    tar.append_data(&mut header, path, *bytes).unwrap();
                }
                None => {
                    header.set_entry_type(tar::EntryType::Directory);
                    header.set_size(0);
                    tar.append_data(&mut header, path, io::empty()).unwrap();
                }
            }
        }
        let tar = tar.into_inner().unwrap();
        let hash = hex::encode(Sha256::digest(&tar));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        (gz.finish().unwrap(), hash)
    }

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn buildpacks_are_unpacked_once_under_their_hash_with_their_executable_bits() {
        let root = tempfile::tempdir().unwrap();
        let (gz, hash) = archive(&[
            ("rust", 0o755, None),
            ("rust/bin", 0o755, None),
            ("rust/bin/detect", 0o4755, Some(b"#!/bin/sh\n")),
            ("rust/README", 0o666, Some(b"text")),
        ]);
        let buildpacks = root.path().join("buildpacks");
        let first = install(&gz, &hash, &buildpacks).unwrap();
        assert_eq!(first.dir, buildpacks.join(&hash[..16]));
        assert!(first.unpacked && first.removed.is_empty());
        assert_eq!(std::fs::read(first.dir.join("rust/bin/detect")).unwrap(), b"#!/bin/sh\n");
        // Executable bits kept, setuid and group/world write dropped.
        assert_eq!(mode(&first.dir.join("rust/bin/detect")), 0o755);
        assert_eq!(mode(&first.dir.join("rust/README")), 0o644);
        assert_eq!(mode(&first.dir), 0o755);
        let again = install(&gz, &hash, &buildpacks).unwrap();
        assert_eq!(again.dir, first.dir);
        assert!(!again.unpacked, "a folder of that hash is used as it is");
    }

    #[test]
    fn other_versions_and_half_made_folders_are_removed() {
        let root = tempfile::tempdir().unwrap();
        let (old, old_hash) = archive(&[("wasm", 0o755, None)]);
        let old_dir = install(&old, &old_hash, root.path()).unwrap().dir;
        std::fs::create_dir(root.path().join(".unpacking-0123-1")).unwrap();
        let (new, new_hash) = archive(&[("rust", 0o755, None)]);
        let installed = install(&new, &new_hash, root.path()).unwrap();
        let mut removed = installed.removed.clone();
        removed.sort();
        assert_eq!(removed, [".unpacking-0123-1".to_string(), old_hash[..16].to_string()]);
        assert!(!old_dir.exists() && installed.dir.join("rust").is_dir());
    }

    #[test]
    fn a_damaged_archive_installs_nothing() {
        let root = tempfile::tempdir().unwrap();
        let (gz, hash) = archive(&[("rust", 0o755, None), ("rust/x", 0o644, Some(b"x"))]);
        let wrong = "0".repeat(64);
        let error = install(&gz, &wrong, root.path()).unwrap_err().to_string();
        assert!(error.contains(&format!("hashes to {hash}")), "{error}");
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0, "nothing is left behind");
        let mut cut = gz.clone();
        cut.truncate(gz.len() / 2);
        assert!(matches!(install(&cut, &hash, root.path()), Err(InstallError::Damaged(_))));
        assert_eq!(std::fs::read_dir(root.path()).unwrap().count(), 0);
        assert!(matches!(install(&gz, "not a hash", root.path()), Err(InstallError::Damaged(_))));
    }

    #[test]
    fn links_and_escaping_paths_are_refused() {
        let root = tempfile::tempdir().unwrap();
        // A link (the tar crate writes it as given).
        let mut tar = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        tar.append_link(&mut header, "rust", "/etc").unwrap();
        let tar = tar.into_inner().unwrap();
        let hash = hex::encode(Sha256::digest(&tar));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&tar).unwrap();
        let error = install(&gz.finish().unwrap(), &hash, root.path()).unwrap_err().to_string();
        assert!(error.contains("rust is not a folder nor a regular file"), "{error}");
        // A path with `..` (written raw into the header: the tar crate refuses to make one).
        let mut header = tar::Header::new_old();
        header.as_old_mut().name[..9].copy_from_slice(b"../escape");
        header.set_entry_type(tar::EntryType::Regular);
        header.set_mode(0o644);
        header.set_size(1);
        header.set_cksum();
        let mut raw = header.as_bytes().to_vec();
        raw.push(b'x');
        raw.resize(512 * 4, 0);
        let hash = hex::encode(Sha256::digest(&raw));
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&raw).unwrap();
        let error = install(&gz.finish().unwrap(), &hash, &root.path().join("buildpacks")).unwrap_err().to_string();
        assert!(error.contains("../escape is not a plain relative path"), "{error}");
        assert!(!root.path().join("escape").exists());
        assert_eq!(std::fs::read_dir(root.path().join("buildpacks")).unwrap().count(), 0);
    }
}
