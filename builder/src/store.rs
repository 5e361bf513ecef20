//! The slug store: immutable slug archives under `<data-dir>/slugs/`, named by their sha256.
//!
//! A slug is written to a temporary file in the same folder while it is hashed, then renamed to
//! `<sha256>.tar.gz` and made read-only, so readers never see a partial slug. Slugs over the size
//! limit (500 MiB by default, like Heroku's) are refused with a message naming their size.

use std::fs;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::manifest::SlugManifest;
use crate::slug::{self, ArchiveError};

/// The default slug size limit: 500 MiB.
pub const DEFAULT_MAX_SLUG_SIZE: u64 = 500 * 1024 * 1024;

/// A stored slug.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug {
    /// The sha256 of the archive, lowercase hex: the slug's id.
    pub id: String,
    /// The archive's size in bytes.
    pub size: u64,
    /// Where the archive is.
    pub path: PathBuf,
}

/// Errors of the slug store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The slug is over the size limit.
    #[error("slug is too large: {} ({size} bytes){what}, over the limit of {}", mib(*size), mib(*limit))]
    TooLarge {
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
        /// What was measured (files before compression, or the archive).
        what: &'static str,
    },
    /// No slug with this id.
    #[error("no slug {0}")]
    NotFound(String),
    /// Not a sha256 in hex.
    #[error("invalid slug id `{0}`")]
    InvalidId(String),
    /// Reading or writing failed.
    #[error("slug store: {0}")]
    Io(#[from] io::Error),
    /// The archive is unreadable.
    #[error(transparent)]
    Archive(#[from] ArchiveError),
    /// A received slug's content does not hash to the id it was asked for.
    #[error("slug {expected} received with content hashing to {actual}: discarded")]
    Mismatch {
        /// The id asked for.
        expected: String,
        /// The sha256 of what arrived.
        actual: String,
    },
}

/// `12.3 MiB`.
pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// `812 B`, `40.6 KiB`, `12.3 MiB`: for output lines.
pub fn human_size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => mib(bytes),
    }
}

/// The content-addressed slug store.
#[derive(Debug, Clone)]
pub struct SlugStore {
    dir: PathBuf,
    max_size: u64,
}

impl SlugStore {
    /// The store in `<data_dir>/slugs/` (created if missing) with the default size limit.
    pub fn new(data_dir: &Path) -> io::Result<SlugStore> {
        let dir = data_dir.join("slugs");
        fs::create_dir_all(&dir)?;
        Ok(SlugStore { dir, max_size: DEFAULT_MAX_SLUG_SIZE })
    }

    /// The same store with another size limit in bytes.
    pub fn with_max_size(mut self, max_size: u64) -> SlugStore {
        self.max_size = max_size;
        self
    }

    /// The size limit in bytes.
    pub fn max_size(&self) -> u64 {
        self.max_size
    }

    /// The folder holding the archives.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Archives `app_dir` with `manifest` and stores it. Refuses it before archiving when its
    /// files add up to more than the limit, and while archiving when the archive does.
    /// Blocking: call it from `spawn_blocking` in async code.
    pub fn create(&self, app_dir: &Path, manifest: &SlugManifest) -> Result<Slug, StoreError> {
        let files = slug::tree_size(app_dir)?;
        if files > self.max_size {
            return Err(self.too_large(files, " of files"));
        }
        let temp = tempfile::Builder::new().prefix(".incoming-").tempfile_in(&self.dir)?;
        let writer = HashingWriter { inner: BufWriter::new(temp), hash: Sha256::new(), written: 0, limit: self.max_size };
        let writer = match slug::pack(app_dir, manifest, writer) {
            Ok(writer) => writer,
            Err(e) if e.kind() == io::ErrorKind::FileTooLarge => {
                return Err(self.too_large(self.max_size + 1, " compressed"));
            }
            Err(e) => return Err(e.into()),
        };
        let HashingWriter { inner, hash, written, .. } = writer;
        let id = hex::encode(hash.finalize());
        let path = self.keep(inner, &id)?;
        Ok(Slug { id, size: written, path })
    }

    /// The stored slug with this id.
    pub fn get(&self, id: &str) -> Result<Slug, StoreError> {
        check_id(id)?;
        let path = self.path_of(id);
        match fs::metadata(&path) {
            Ok(meta) => Ok(Slug { id: id.to_string(), size: meta.len(), path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::NotFound(id.to_string())),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads a slug's manifest without unpacking it.
    pub fn manifest(&self, id: &str) -> Result<SlugManifest, StoreError> {
        let slug = self.get(id)?;
        Ok(slug::read_manifest(io::BufReader::new(fs::File::open(slug.path)?))?)
    }

    /// Unpacks a slug into `dest` (`dest/manifest.toml`, `dest/app/`) for dynos.
    pub fn unpack(&self, id: &str, dest: &Path) -> Result<SlugManifest, StoreError> {
        let slug = self.get(id)?;
        Ok(slug::unpack(io::BufReader::new(fs::File::open(slug.path)?), dest)?)
    }

    /// The slug unpacked below `root` (as `root/<id>/app` and `root/<id>/manifest.toml`), unpacking
    /// it first if needed: into a temporary folder renamed into place, so concurrent callers and
    /// crashes never leave a partial tree. Returns `root/<id>`. Blocking.
    pub fn unpacked(&self, id: &str, root: &Path) -> Result<PathBuf, StoreError> {
        let slug = self.get(id)?;
        let dest = root.join(id);
        if dest.join(slug::MANIFEST_FILE).is_file() {
            return Ok(dest);
        }
        fs::create_dir_all(root)?;
        let temp = tempfile::Builder::new().prefix(".unpacking-").tempdir_in(root)?;
        slug::unpack(io::BufReader::new(fs::File::open(slug.path)?), temp.path())?;
        match fs::rename(temp.path(), &dest) {
            Ok(()) => {
                let _ = temp.keep();
            }
            Err(_) if dest.join(slug::MANIFEST_FILE).is_file() => {} // another caller won the race
            Err(e) => return Err(e.into()),
        }
        Ok(dest)
    }

    /// Starts receiving the slug `id` from elsewhere (another node): its bytes go to a temporary
    /// file in the store, hashed and counted; [`Incoming::finish`] stores it only when they hash
    /// to `id`. Over the size limit, writes fail with [`io::ErrorKind::FileTooLarge`]. Blocking.
    pub fn receive(&self, id: &str) -> Result<Incoming, StoreError> {
        check_id(id)?;
        let temp = tempfile::Builder::new().prefix(".incoming-").tempfile_in(&self.dir)?;
        let writer = HashingWriter { inner: BufWriter::new(temp), hash: Sha256::new(), written: 0, limit: self.max_size };
        Ok(Incoming { store: self.clone(), id: id.to_string(), writer })
    }

    /// Recomputes a slug's sha256 and checks it matches its id.
    pub fn verify(&self, id: &str) -> Result<bool, StoreError> {
        let slug = self.get(id)?;
        let mut hash = Sha256::new();
        io::copy(&mut fs::File::open(slug.path)?, &mut hash)?;
        Ok(hex::encode(hash.finalize()) == id)
    }

    /// Flushes and syncs a written temporary file, then renames it into place as `id`, read-only
    /// (unless the store holds it already).
    fn keep(&self, written: BufWriter<tempfile::NamedTempFile>, id: &str) -> io::Result<PathBuf> {
        let temp = written.into_inner().map_err(|e| e.into_error())?;
        temp.as_file().sync_all()?;
        let path = self.path_of(id);
        if !path.exists() {
            set_read_only(temp.path())?;
            temp.persist(&path).map_err(|e| e.error)?;
        }
        Ok(path)
    }

    fn path_of(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.tar.gz"))
    }

    fn too_large(&self, size: u64, what: &'static str) -> StoreError {
        StoreError::TooLarge { size, limit: self.max_size, what }
    }
}

/// A slug being received ([`SlugStore::receive`]); dropped unfinished, nothing is stored.
pub struct Incoming {
    store: SlugStore,
    id: String,
    writer: HashingWriter<BufWriter<tempfile::NamedTempFile>>,
}

impl Incoming {
    /// The bytes received so far.
    pub fn received(&self) -> u64 {
        self.writer.written
    }

    /// Checks the content's sha256 against the id, then renames it into place (read-only); a
    /// mismatch is [`StoreError::Mismatch`] and the bytes are discarded. Blocking.
    pub fn finish(self) -> Result<Slug, StoreError> {
        let Incoming { store, id, writer } = self;
        let HashingWriter { inner, hash, written, .. } = writer;
        let actual = hex::encode(hash.finalize());
        if actual != id {
            return Err(StoreError::Mismatch { expected: id, actual });
        }
        let path = store.keep(inner, &id)?;
        Ok(Slug { id, size: written, path })
    }
}

impl Write for Incoming {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.writer.flush()
    }
}

fn check_id(id: &str) -> Result<(), StoreError> {
    if id.len() == 64 && id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        Ok(())
    } else {
        Err(StoreError::InvalidId(id.to_string()))
    }
}

fn set_read_only(path: &Path) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(0o444))
}

/// Hashes and counts what goes through; fails with `FileTooLarge` past the limit.
struct HashingWriter<W> {
    inner: W,
    hash: Sha256,
    written: u64,
    limit: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > self.limit {
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, "slug over the size limit"));
        }
        let n = self.inner.write(buf)?;
        self.hash.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use crate::manifest::ProcessKind;

    fn manifest() -> SlugManifest {
        SlugManifest::new("paas-24", BTreeMap::from([("web".to_string(), ProcessKind::from_command("a.wasm"))]))
    }

    #[test]
    fn stores_content_addressed_read_only_and_unpacks() {
        let data = tempfile::tempdir().unwrap();
        let app = tempfile::tempdir().unwrap();
        fs::write(app.path().join("a.wasm"), b"component").unwrap();
        let store = SlugStore::new(data.path()).unwrap();
        let slug = store.create(app.path(), &manifest()).unwrap();
        assert_eq!(slug.path, data.path().join("slugs").join(format!("{}.tar.gz", slug.id)));
        assert_eq!(store.create(app.path(), &manifest()).unwrap(), slug, "same content, same slug");
        assert!(store.verify(&slug.id).unwrap());
        assert!(fs::metadata(&slug.path).unwrap().permissions().readonly());
        assert_eq!(store.manifest(&slug.id).unwrap(), manifest());
        let dest = tempfile::tempdir().unwrap();
        store.unpack(&slug.id, dest.path()).unwrap();
        assert_eq!(fs::read(dest.path().join("app/a.wasm")).unwrap(), b"component");
        let root = tempfile::tempdir().unwrap();
        let unpacked = store.unpacked(&slug.id, root.path()).unwrap();
        assert_eq!(unpacked, root.path().join(&slug.id));
        assert_eq!(fs::read(unpacked.join("app/a.wasm")).unwrap(), b"component");
        assert_eq!(store.unpacked(&slug.id, root.path()).unwrap(), unpacked, "unpacked once");
        assert_eq!(fs::read_dir(root.path()).unwrap().count(), 1);
        let names: Vec<_> = fs::read_dir(store.dir()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "no temporary files left: {names:?}");
        assert!(matches!(store.get("zz").unwrap_err(), StoreError::InvalidId(_)));
    }

    #[test]
    fn a_received_slug_whose_bytes_do_not_match_its_id_is_refused_and_not_stored() {
        let data = tempfile::tempdir().unwrap();
        let app = tempfile::tempdir().unwrap();
        fs::write(app.path().join("a.wasm"), b"component").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let origin = SlugStore::new(elsewhere.path()).unwrap();
        let slug = origin.create(app.path(), &manifest()).unwrap();
        let bytes = fs::read(&slug.path).unwrap();
        let store = SlugStore::new(data.path()).unwrap();
        // Tampered: one byte changed.
        let mut tampered = bytes.clone();
        tampered[bytes.len() / 2] ^= 1;
        let mut incoming = store.receive(&slug.id).unwrap();
        incoming.write_all(&tampered).unwrap();
        let error = incoming.finish().unwrap_err();
        assert!(matches!(&error, StoreError::Mismatch { expected, .. } if *expected == slug.id), "{error}");
        assert!(matches!(store.get(&slug.id), Err(StoreError::NotFound(_))));
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0, "nothing left behind");
        // Over the limit: refused while written.
        let small = SlugStore::new(data.path()).unwrap().with_max_size(bytes.len() as u64 - 1);
        let mut incoming = small.receive(&slug.id).unwrap();
        assert_eq!(incoming.write_all(&bytes).unwrap_err().kind(), io::ErrorKind::FileTooLarge);
        drop(incoming);
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0);
        // Not an id: refused before anything is written.
        assert!(matches!(store.receive("../../etc/passwd"), Err(StoreError::InvalidId(_))));
        // The real bytes are stored under their id.
        let mut incoming = store.receive(&slug.id).unwrap();
        incoming.write_all(&bytes).unwrap();
        assert_eq!(incoming.received(), bytes.len() as u64);
        let stored = incoming.finish().unwrap();
        assert_eq!(fs::read(&stored.path).unwrap(), bytes);
        assert!(store.verify(&slug.id).unwrap());
    }

    #[test]
    fn a_600_mib_slug_is_refused_with_its_size() {
        let data = tempfile::tempdir().unwrap();
        let app = tempfile::tempdir().unwrap();
        let big = fs::File::create(app.path().join("big.bin")).unwrap();
        big.set_len(600 * 1024 * 1024).unwrap(); // sparse: instant, no disk used
        let store = SlugStore::new(data.path()).unwrap();
        let error = store.create(app.path(), &manifest()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "slug is too large: 600.0 MiB (629145600 bytes) of files, over the limit of 500.0 MiB"
        );
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0);
    }

    #[test]
    fn an_archive_over_a_configured_limit_is_refused_while_written() {
        let data = tempfile::tempdir().unwrap();
        let app = tempfile::tempdir().unwrap();
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let noise: Vec<u8> = (0..200_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 32) as u8
            })
            .collect();
        fs::write(app.path().join("noise"), &noise).unwrap();
        let store = SlugStore::new(data.path()).unwrap().with_max_size(200_100);
        let error = store.create(app.path(), &manifest()).unwrap_err();
        assert!(matches!(error, StoreError::TooLarge { what: " compressed", .. }), "{error}");
        assert_eq!(fs::read_dir(store.dir()).unwrap().count(), 0);
    }
}
