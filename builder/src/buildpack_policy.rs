//! Who may name which buildpack: a tenant names a built-in buildpack or a remote git URL; a
//! buildpack on the server's own filesystem (a folder, a local repository) is an operator's
//! choice (their key, or a folder they allowed with `paas server --buildpack-path`).

use std::path::{Path, PathBuf};

use crate::detect::BUILTIN_ORDER;

/// The git URL schemes a tenant may name as a buildpack.
pub const REMOTE_SCHEMES: &[&str] = &["https://", "http://", "git://", "ssh://"];

/// Whether a buildpack URL names something on the server itself (a folder, or a git repository
/// reached by a path, `file://` or any other transport) rather than a built-in buildpack's name or
/// a remote git URL ([`REMOTE_SCHEMES`]).
pub fn names_host_path(url: &str) -> bool {
    let url = url.trim();
    let builtin = !url.is_empty() && url.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    !builtin && !REMOTE_SCHEMES.iter().any(|scheme| url.starts_with(scheme))
}

/// Whether an app's tenant (not an operator) may name `url` as its buildpack (`buildpacks:set`,
/// `BUILDPACK_URL`): a built-in buildpack, a remote git URL, or a folder below one of `allowed`
/// (the operator's `paas server --buildpack-path`). `Err`'s text is the message to answer (422).
pub fn check_tenant_buildpack(url: &str, allowed: &[PathBuf]) -> Result<(), OperatorsBuildpack> {
    if !names_host_path(url) {
        return Ok(());
    }
    let path = Path::new(url.trim().trim_start_matches("file://"));
    let plain = path.is_absolute() && path.components().all(|c| !matches!(c, std::path::Component::ParentDir));
    if plain && !url.contains('#') && allowed.iter().any(|dir| path.starts_with(dir)) {
        return Ok(());
    }
    Err(OperatorsBuildpack { url: url.to_string() })
}

/// A tenant named a buildpack on the server's filesystem ([`check_tenant_buildpack`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "The buildpack {url} is on the server's filesystem, which only an operator may choose; name a built-in buildpack ({}) or a git URL ({})",
    BUILTIN_ORDER.join(", "),
    REMOTE_SCHEMES.iter().map(|s| format!("{s}…")).collect::<Vec<_>>().join(", ")
)]
pub struct OperatorsBuildpack {
    /// The URL as the tenant gave it.
    pub url: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenants_name_built_in_buildpacks_or_remote_git_urls() {
        let allowed = [PathBuf::from("/srv/buildpacks")];
        for ok in ["rust", "static", "https://github.com/heroku/heroku-buildpack-ruby#v1", "git://example.com/bp.git", "/srv/buildpacks/ruby"] {
            assert_eq!(check_tenant_buildpack(ok, &allowed), Ok(()), "{ok}");
        }
        let refused = [
            "/tmp/bp",
            "file:///var/lib/paas/repos/other.git#main",
            "../bp",
            "./bp",
            "ext::sh -c id",
            "git@github.com:x/y",
            "/srv/buildpacks/../../etc",
            "/srv/buildpacks/x#main",
            "",
            "rust/..",
        ];
        for url in refused {
            let error = check_tenant_buildpack(url, &allowed).unwrap_err().to_string();
            assert!(error.contains("only an operator may choose"), "{url}: {error}");
        }
        assert!(!names_host_path("nodejs") && names_host_path("/opt/bp") && names_host_path("file:///opt/bp"));
    }
}
