//! The built-in buildpacks this binary carries (packed from the repo's `buildpacks/` by
//! `build.rs`), which `paas server` installs into `<data-dir>/buildpacks/<hash>/` when started
//! without `--buildpacks-dir` (see `paas_builder::builtin`).

/// The gzip'd tar of the built-in buildpacks.
const ARCHIVE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/buildpacks.tar.gz"));

/// The SHA-256 of [`ARCHIVE`]'s tar, uncompressed.
const SHA256: &str = env!("PAAS_BUILDPACKS_SHA256");

/// The built-in buildpacks, as the node installs them.
pub fn buildpacks() -> paas_node::Buildpacks {
    paas_node::Buildpacks::Embedded { archive: ARCHIVE, sha256: SHA256 }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;
    use std::path::{Path, PathBuf};

    use super::*;

    /// Installs the buildpacks as the node does and gives back their folder.
    fn install(data_dir: &Path) -> PathBuf {
        paas_builder::builtin::install(ARCHIVE, SHA256, &data_dir.join("buildpacks")).unwrap().dir
    }

    /// A path of a tree, with a file's content and executable bit (`None`: a folder).
    type Node = (PathBuf, Option<(Vec<u8>, bool)>);

    /// Every folder and file under `dir` (relative), leaving out what build.rs leaves out.
    fn tree(dir: &Path, relative: &Path, into: &mut Vec<Node>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let inner = relative.join(&name);
            if entry.file_type().unwrap().is_dir() {
                if !["target", "node_modules", "__pycache__", ".git"].contains(&name.as_str()) {
                    into.push((inner.clone(), None));
                    tree(&entry.path(), &inner, into);
                }
            } else if !name.ends_with(".pyc") {
                let executable = entry.metadata().unwrap().permissions().mode() & 0o111 != 0;
                into.push((inner, Some((std::fs::read(entry.path()).unwrap(), executable))));
            }
        }
        into.sort();
    }

    #[test]
    fn the_embedded_buildpacks_are_the_source_trees_with_their_executable_bits_and_a_prebuilt_file_server() {
        let data_dir = tempfile::tempdir().unwrap();
        let installed = install(data_dir.path());
        assert_eq!(installed, data_dir.path().join("buildpacks").join(&SHA256[..16]));
        let (mut embedded, mut source) = (Vec::new(), Vec::new());
        tree(&installed, Path::new(""), &mut embedded);
        tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../buildpacks"), Path::new(""), &mut source);
        // Besides, the static buildpack's file server, built by build.rs: a component.
        let at = embedded.iter().position(|(p, _)| p == Path::new("static/file-server.wasm")).expect("a prebuilt file server");
        let (_, file_server) = embedded.remove(at);
        let (wasm, executable) = file_server.unwrap();
        assert!(wasm.starts_with(b"\0asm\x0d\0\x01\0") && !executable, "not a component: {:?}", &wasm[..8.min(wasm.len())]);
        assert_eq!(embedded.iter().map(|(p, _)| p).collect::<Vec<_>>(), source.iter().map(|(p, _)| p).collect::<Vec<_>>());
        assert!(embedded == source, "a file's content or executable bit differs");
        assert!(embedded.iter().any(|(p, f)| p == Path::new("rust/bin/compile") && f.as_ref().is_some_and(|f| f.1)));
    }
}
