//! Getting an app's source into a build directory: a git commit (`git archive`, quarantine-aware
//! for pre-receive), a tarball (`.tar` or `.tar.gz`, from `paas deploy`) or a folder; then
//! removing what `.slugignore` names.

use std::fs;
use std::io::{self, BufReader, Read};
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use cap_std::fs::Dir;

use crate::tree::{MAX_METADATA_SIZE, TenantTree, UntrustedPath};

/// Where a build's source comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A commit in a (bare) git repository. `env` is extra git environment, e.g. the
    /// `GIT_OBJECT_DIRECTORY` and `GIT_ALTERNATE_OBJECT_DIRECTORIES` of a pre-receive quarantine.
    Git {
        /// The repository (`--git-dir`).
        repo: PathBuf,
        /// The commit to build.
        rev: String,
        /// Extra environment for git.
        env: Vec<(String, String)>,
    },
    /// A tar archive, gzip'd or not, of the working tree.
    Tarball(PathBuf),
    /// A folder, copied.
    Dir(PathBuf),
}

/// Writes the source into `dest` (which exists and is empty), refuses metadata files that are
/// links ([`crate::tree::METADATA_FILES`]), then applies `.slugignore`.
/// Blocking.
pub fn fetch(source: &Source, dest: &Path) -> io::Result<()> {
    match source {
        Source::Git { repo, rev, env } => {
            let mut child = std::process::Command::new("git")
                .arg("--git-dir")
                .arg(repo)
                .args(["archive", "--format=tar", rev])
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()?;
            let mut stdout = child.stdout.take().expect("piped stdout");
            let unpacked = unpack_tar(&mut stdout, dest);
            // tar stops at the end-of-archive marker; read git's trailing padding too, or git
            // may die of SIGPIPE and fail the build with an empty message (a flaky push).
            let _ = io::copy(&mut stdout, &mut io::sink());
            drop(stdout);
            let output = child.wait_with_output()?;
            if !output.status.success() {
                return Err(io::Error::other(format!(
                    "git archive {rev}: {}",
                    String::from_utf8_lossy(&output.stderr).trim()
                )));
            }
            unpacked?;
        }
        Source::Tarball(path) => unpack_tar(open_tarball(path)?, dest)?,
        Source::Dir(dir) => copy_tree(dir, dest)?,
    }
    TenantTree::open(dest)?.refuse_linked_metadata().map_err(io::Error::other)?;
    apply_slugignore(dest)
}

/// The most a source may unpack to (the sum of its files' sizes, pushed or uploaded): 1 GiB.
/// Past it the build fails with [`too_large`]'s message and the build dir is removed.
pub const MAX_SOURCE_SIZE: u64 = 1 << 30;

/// The most entries (files, folders, links) a source may hold: 200,000.
pub const MAX_SOURCE_ENTRIES: u64 = 200_000;

/// The most bytes of tar stream (headers included) read for one source: the unpacked limit plus
/// room for the headers of as many entries. It also bounds what the tar reader holds in memory
/// for one long name or extension header.
pub const MAX_TAR_STREAM: u64 = MAX_SOURCE_SIZE + MAX_SOURCE_ENTRIES * 1024;

/// Opens a tarball file, `.tar` or `.tar.gz` (told by its first two bytes), as a stream of tar.
pub fn open_tarball(path: &Path) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let gzipped = fs::File::open(path)?.read(&mut magic)? == 2 && magic == [0x1f, 0x8b];
    let file = BufReader::new(fs::File::open(path)?);
    Ok(if gzipped { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(file) })
}

/// One entry of a source tar archive read by [`walk_tar`].
pub type TarEntry<'a, 'r> = tar::Entry<'a, Box<dyn Read + 'r>>;

/// Walks the entries of a source tar stream within paas's bounds, handing each to `visit` until it
/// answers `Break` (whose value is returned) or the archive ends (`None`). This is the one reader of
/// untrusted tar streams: unpacking a build's source and looking for a file in an uploaded tarball
/// (app setups' `app.json`) both go through it.
///
/// Bounded: at most [`MAX_TAR_STREAM`] bytes of (decompressed) stream, [`MAX_SOURCE_SIZE`] bytes of
/// entries and [`MAX_SOURCE_ENTRIES`] entries; an extension header (long name, PAX records) over
/// [`MAX_EXTENSION_HEADER`] is refused before the tar reader holds it in memory; sparse files
/// (whose size on disk is not what the archive holds) are refused. Each error says which bound.
pub fn walk_tar<'r, T>(
    reader: impl Read + 'r,
    mut visit: impl FnMut(&mut TarEntry<'_, 'r>) -> io::Result<ControlFlow<T>>,
) -> io::Result<Option<T>> {
    let reader: Box<dyn Read + 'r> = Box::new(HeaderGuard::new(reader.take(MAX_TAR_STREAM)));
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(false);
    archive.set_overwrite(true);
    let (mut size, mut count) = (0u64, 0u64);
    for entry in archive.entries()? {
        let mut entry = entry?;
        count += 1;
        if count > MAX_SOURCE_ENTRIES {
            return Err(too_large(format!("more than {MAX_SOURCE_ENTRIES} files and folders")));
        }
        if entry.header().entry_type() == tar::EntryType::GNUSparse {
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the source archive holds a sparse file, which paas does not unpack"));
        }
        size = size.saturating_add(entry.size());
        if size > MAX_SOURCE_SIZE {
            return Err(too_large(format!("more than {} MiB of files", MAX_SOURCE_SIZE >> 20)));
        }
        if let ControlFlow::Break(found) = visit(&mut entry)? {
            return Ok(Some(found));
        }
    }
    Ok(None)
}

/// Unpacks with permissions but not modification times: every file is as new as the build.
/// `git archive` stamps files with the commit's time (whole seconds), so a commit made in the same
/// second as the previous build looked older than that build's cached outputs, and cargo (or any
/// mtime-based build cache) kept the stale binary: the new release ran the old code.
///
/// Bounded as [`walk_tar`] is. The tar reader refuses entries with `..` and writes through no link
/// (each parent is checked to stay inside `dest`, files are created anew).
fn unpack_tar<R: Read>(reader: R, dest: &Path) -> io::Result<()> {
    walk_tar(reader, |entry| entry.unpack_in(dest).map(|_| ControlFlow::<()>::Continue(())))?;
    Ok(())
}

/// The largest extension header (a GNU long name or link, PAX records) a source archive may hold:
/// 64 KiB. The tar reader holds each one whole in memory, so a bigger one is refused before.
pub const MAX_EXTENSION_HEADER: u64 = 64 << 10;

/// Passes a tar stream through unchanged, following its headers to refuse an extension header
/// over [`MAX_EXTENSION_HEADER`] before the tar reader reads it into memory.
struct HeaderGuard<R> {
    inner: R,
    /// The bytes of the header being read (a header is 512 bytes).
    header: Vec<u8>,
    /// Bytes of entry data and padding before the next header.
    data_left: u64,
    /// The records of a PAX header being read, and how many of its bytes are still to come.
    pax: Vec<u8>,
    pax_left: u64,
    /// A PAX `size` record: the next entry's size.
    next_size: Option<u64>,
}

impl<R: Read> HeaderGuard<R> {
    fn new(inner: R) -> HeaderGuard<R> {
        HeaderGuard { inner, header: Vec::with_capacity(512), data_left: 0, pax: Vec::new(), pax_left: 0, next_size: None }
    }

    /// Follows `bytes` of the stream.
    fn follow(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.data_left > 0 {
                let n = bytes.len().min(usize::try_from(self.data_left).unwrap_or(usize::MAX));
                let take = n.min(usize::try_from(self.pax_left).unwrap_or(usize::MAX));
                self.pax.extend_from_slice(&bytes[..take]);
                self.pax_left -= take as u64;
                if self.pax_left == 0 && take > 0 {
                    self.next_size = pax_size(&std::mem::take(&mut self.pax));
                }
                self.data_left -= n as u64;
                bytes = &bytes[n..];
                continue;
            }
            let n = bytes.len().min(512 - self.header.len());
            self.header.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.header.len() == 512 {
                let header = std::mem::replace(&mut self.header, Vec::with_capacity(512));
                self.on_header(&header)?;
            }
        }
        Ok(())
    }

    fn on_header(&mut self, header: &[u8]) -> io::Result<()> {
        if header.iter().all(|&b| b == 0) {
            return Ok(()); // the end-of-archive blocks
        }
        let invalid = || io::Error::new(io::ErrorKind::InvalidData, "the source archive has an invalid tar header");
        let size = tar_number(&header[124..136]).ok_or_else(invalid)?;
        let extension = matches!(header[156], b'L' | b'K' | b'x' | b'g' | b'X');
        if extension && size > MAX_EXTENSION_HEADER {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the source archive has a {size}-byte extension header (long name or PAX records); paas allows {MAX_EXTENSION_HEADER}"),
            ));
        }
        let size = if extension { size } else { self.next_size.take().unwrap_or(size) };
        if header[156] == b'x' {
            (self.pax, self.pax_left) = (Vec::new(), size);
        }
        self.data_left = size.div_ceil(512).saturating_mul(512);
        Ok(())
    }
}

impl<R: Read> Read for HeaderGuard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.follow(&buf[..n])?;
        Ok(n)
    }
}

/// A tar numeric field: octal text, or base-256 when its first byte has the high bit set.
fn tar_number(field: &[u8]) -> Option<u64> {
    if field[0] & 0x80 != 0 {
        return field[1..].iter().try_fold(u64::from(field[0] & 0x7f), |n, &b| n.checked_mul(256)?.checked_add(u64::from(b)));
    }
    let text = std::str::from_utf8(field).ok()?.trim_matches(|c: char| c == '\0' || c == ' ');
    if text.is_empty() { Some(0) } else { u64::from_str_radix(text, 8).ok() }
}

/// The `size` record of PAX extended header records (`LEN size=N\n`), if any.
fn pax_size(records: &[u8]) -> Option<u64> {
    let text = String::from_utf8_lossy(records);
    text.lines().find_map(|line| line.split_once(' ')?.1.strip_prefix("size=")?.parse().ok())
}

/// The error of a source over its limits.
fn too_large(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::FileTooLarge, format!("the source unpacks to {what}, over paas's limit; keep large files out of the repository"))
}

/// Copies a folder tree (files, folders, symlinks as symlinks), skipping `.git`.
pub fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let (source, target) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type()?;
        if entry.file_name() == ".git" {
            continue;
        } else if kind.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&source)?, &target)?;
        } else if kind.is_dir() {
            copy_tree(&source, &target)?;
        } else {
            fs::copy(&source, &target)?;
        }
    }
    Ok(())
}

/// Removes the paths `.slugignore` names, in `.gitignore`'s syntax as Heroku reads it (the
/// `ignore` crate's matcher: `#` comments, `*`, `?`, `[…]`, `**`, a pattern with a `/` anchored at
/// the root, a trailing `/` for folders only), except that negations (`!pattern`) are not
/// supported, as on Heroku: such lines are skipped. The file is read, and paths removed, only
/// inside `dir` ([`TenantTree`]); a `.slugignore` that is a link is refused.
pub fn apply_slugignore(dir: &Path) -> io::Result<()> {
    let tree = TenantTree::open(dir)?;
    let text = tree.read_metadata(UntrustedPath::new(".slugignore"), MAX_METADATA_SIZE).map_err(io::Error::other)?;
    let Some(text) = text else { return Ok(()) };
    // The matcher only reads the patterns; paths are walked through `tree`, never from `dir`.
    let mut patterns = ignore::gitignore::GitignoreBuilder::new("");
    for line in text.lines().filter(|l| !l.trim_start().starts_with('!')) {
        // A line that is no valid glob ignores nothing, as in git.
        let _ = patterns.add_line(None, line);
    }
    let patterns = patterns.build().map_err(io::Error::other)?;
    remove_matching(tree.dir(), Path::new(""), &patterns)
}

fn remove_matching(root: &Dir, relative: &Path, patterns: &ignore::gitignore::Gitignore) -> io::Result<()> {
    let dir = if relative.as_os_str().is_empty() { root.try_clone()? } else { root.open_dir(relative)? };
    for entry in dir.entries()? {
        let entry = entry?;
        let path = relative.join(entry.file_name());
        let kind = entry.file_type()?;
        if patterns.matched(&path, kind.is_dir()).is_ignore() {
            if kind.is_dir() { root.remove_dir_all(&path)? } else { root.remove_file(&path)? }
        } else if kind.is_dir() {
            remove_matching(root, &path, patterns)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_from_git_are_as_new_as_the_fetch_not_the_commit() {
        let repo = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let status = std::process::Command::new("git")
                .arg("-C")
                .arg(repo.path())
                .args(args)
                .env("GIT_AUTHOR_DATE", "2001-01-01T00:00:00Z")
                .env("GIT_COMMITTER_DATE", "2001-01-01T00:00:00Z")
                .status()
                .unwrap();
            assert!(status.success(), "git {args:?}");
        };
        git(&["init", "--quiet", "--initial-branch=main"]);
        fs::write(repo.path().join("main.rs"), "fn main() {}").unwrap();
        git(&["add", "main.rs"]);
        git(&["-c", "user.name=t", "-c", "user.email=t@t", "commit", "--quiet", "-m", "old"]);
        let dest = tempfile::tempdir().unwrap();
        let before = std::time::SystemTime::now() - std::time::Duration::from_secs(5);
        let source = Source::Git { repo: repo.path().join(".git"), rev: "main".into(), env: Vec::new() };
        fetch(&source, dest.path()).unwrap();
        let modified = fs::metadata(dest.path().join("main.rs")).unwrap().modified().unwrap();
        assert!(modified >= before, "main.rs carries the commit's time (2001), so build caches think it is old");
    }

    #[test]
    fn a_tarball_with_a_huge_long_name_is_refused_before_it_is_read() {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::GNULongName);
        header.set_size(1 << 30);
        header.set_cksum();
        let mut archive = header.as_bytes().to_vec();
        archive.extend(std::iter::repeat_n(b'a', 1 << 20)); // the rest never needs to be read
        let dest = tempfile::tempdir().unwrap();
        let error = unpack_tar(&archive[..], dest.path()).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the source archive has a 1073741824-byte extension header (long name or PAX records); paas allows 65536"
        );
    }

    #[test]
    fn a_source_unpacking_past_the_limit_is_refused_with_a_message() {
        let mut header = tar::Header::new_gnu();
        header.set_path("huge.bin").unwrap();
        header.set_size(MAX_SOURCE_SIZE + 1);
        header.set_mode(0o644);
        header.set_cksum();
        let mut archive = header.as_bytes().to_vec();
        archive.extend(std::iter::repeat_n(0u8, 4096)); // the rest is never read
        let dest = tempfile::tempdir().unwrap();
        let error = unpack_tar(&archive[..], dest.path()).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(
            error.to_string(),
            "the source unpacks to more than 1024 MiB of files, over paas's limit; keep large files out of the repository"
        );
        assert_eq!(fs::read_dir(dest.path()).unwrap().count(), 0, "nothing unpacked");
    }

    #[test]
    fn tarballs_with_long_names_pax_sizes_and_links_still_unpack() {
        let mut builder = tar::Builder::new(Vec::new());
        let long = format!("{}/file.txt", "d".repeat(200));
        let mut header = tar::Header::new_gnu();
        header.set_size(5);
        header.set_mode(0o644);
        builder.append_data(&mut header, &long, &b"hello"[..]).unwrap();
        let mut header = tar::Header::new_ustar();
        header.set_size(3);
        header.set_mode(0o644);
        builder.append_pax_extensions([("size", &b"3"[..]), ("comment", &b"x"[..])]).unwrap();
        builder.append_data(&mut header, "pax.txt", &b"abc"[..]).unwrap();
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(tar::EntryType::Symlink);
        header.set_size(0);
        builder.append_link(&mut header, "link", "pax.txt").unwrap();
        let archive = builder.into_inner().unwrap();
        let dest = tempfile::tempdir().unwrap();
        unpack_tar(&archive[..], dest.path()).unwrap();
        assert_eq!(fs::read_to_string(dest.path().join(&long)).unwrap(), "hello");
        assert_eq!(fs::read_to_string(dest.path().join("link")).unwrap(), "abc");
    }

    #[test]
    fn slugignore_removes_matching_paths() {
        let dir = tempfile::tempdir().unwrap();
        for file in ["a.psd", "docs/x.md", "src/b.psd", "src/keep.rs", "test/t.rs", "src/test/u.rs"] {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
        fs::write(dir.path().join(".slugignore"), "# big files\n*.psd\n/docs\n/test/\n").unwrap();
        apply_slugignore(dir.path()).unwrap();
        let mut left: Vec<String> = Vec::new();
        for file in ["a.psd", "docs/x.md", "src/b.psd", "src/keep.rs", "test/t.rs", "src/test/u.rs"] {
            if dir.path().join(file).exists() {
                left.push(file.to_string());
            }
        }
        assert_eq!(left, ["src/keep.rs", "src/test/u.rs"]);
    }

    /// `**` matched nothing (the hand-written glob had only `*` and `?`), and a `!` line would
    /// have kept what Heroku removes.
    #[test]
    fn slugignore_takes_double_stars_and_skips_negations() {
        let dir = tempfile::tempdir().unwrap();
        let files = ["assets/raw/a.tif", "assets/raw/deep/b.tif", "assets/site.css", "spec/x_spec.rb", "lib/spec/y.rb", "keep.tif"];
        for file in files {
            let path = dir.path().join(file);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x").unwrap();
        }
        fs::write(dir.path().join(".slugignore"), "assets/**/*.tif
**/spec/
!keep.tif
*.tif
[
").unwrap();
        apply_slugignore(dir.path()).unwrap();
        let left: Vec<&str> = files.into_iter().filter(|f| dir.path().join(f).exists()).collect();
        assert_eq!(left, ["assets/site.css"]);
    }
}
