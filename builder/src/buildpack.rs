//! One classic buildpack: a folder with `bin/detect`, `bin/compile` and `bin/release`, and the
//! YAML that `bin/release` prints (`default_process_types`, `config_vars`, `addons`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A buildpack folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Buildpack {
    /// Its name: the folder's name (`rust`), or the git URL it was cloned from.
    pub name: String,
    /// The folder holding `bin/`.
    pub dir: PathBuf,
}

impl Buildpack {
    /// The buildpack in `dir`, if it has an executable `bin/compile` (and `bin/detect`,
    /// `bin/release` are optional, as in Heroku's contract).
    pub fn open(dir: &Path, name: &str) -> Option<Buildpack> {
        is_executable(&dir.join("bin/compile"))
            .then(|| Buildpack { name: name.to_string(), dir: dir.to_path_buf() })
    }

    /// The path of `bin/<step>` if it exists and is executable.
    pub fn bin(&self, step: &str) -> Option<PathBuf> {
        let path = self.dir.join("bin").join(step);
        is_executable(&path).then_some(path)
    }
}

/// What `bin/release` printed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReleaseInfo {
    /// `default_process_types`: process type → command.
    pub default_process_types: BTreeMap<String, String>,
    /// `config_vars`: defaults the release should add when not set.
    pub config_vars: BTreeMap<String, String>,
    /// `addons`: add-ons the buildpack asks for.
    pub addons: Vec<String>,
}

/// `bin/release` printed something that is not the expected YAML.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bin/release output line {line}: {message}")]
pub struct ReleaseYamlError {
    /// 1-based line.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

impl ReleaseInfo {
    /// Parses the subset of YAML that classic buildpacks print: top-level `key:` sections holding
    /// `  name: value` maps (`default_process_types`, `config_vars`) or `  - item` lists (`addons`),
    /// with optional quotes; `{}` and `[]` for empty sections; `---` and comments ignored.
    pub fn parse(yaml: &str) -> Result<ReleaseInfo, ReleaseYamlError> {
        let mut info = ReleaseInfo::default();
        let mut section = String::new();
        for (index, raw) in yaml.lines().enumerate() {
            let line = index + 1;
            let error = |message: &str| ReleaseYamlError { line, message: message.to_string() };
            let text = raw.trim_end();
            if text.trim().is_empty() || text.trim_start().starts_with('#') || text == "---" {
                continue;
            }
            if !text.starts_with([' ', '\t', '-']) {
                let (key, rest) = text.split_once(':').ok_or_else(|| error("expected `key:`"))?;
                section = key.trim().to_string();
                if !matches!(rest.trim(), "" | "{}" | "[]" | "~" | "null") {
                    return Err(error("expected a nested map or list"));
                }
                continue;
            }
            let item = text.trim();
            if let Some(value) = item.strip_prefix("- ").or_else(|| item.strip_prefix('-')) {
                if section == "addons" {
                    info.addons.push(unquote(value.trim()));
                }
                continue;
            }
            let (key, value) = item.split_once(':').ok_or_else(|| error("expected `name: value`"))?;
            let (key, value) = (unquote(key.trim()), unquote(value.trim()));
            match section.as_str() {
                "default_process_types" => info.default_process_types.insert(key, value),
                "config_vars" => info.config_vars.insert(key, value),
                _ => None,
            };
        }
        Ok(info)
    }
}

fn unquote(value: &str) -> String {
    let bytes = value.as_bytes();
    if bytes.len() >= 2 && (bytes[0] == b'"' || bytes[0] == b'\'') && bytes[bytes.len() - 1] == bytes[0] {
        let inner = &value[1..value.len() - 1];
        if bytes[0] == b'"' { inner.replace("\\\"", "\"").replace("\\\\", "\\") } else { inner.replace("''", "'") }
    } else {
        value.to_string()
    }
}

pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_classic_release_yaml() {
        let yaml = "---\naddons:\n  - heroku-postgresql\nconfig_vars:\n  LANG: en_US.UTF-8\ndefault_process_types:\n  web: \"bundle exec rackup -p $PORT\"\n  worker: bin/worker --queue 'a'\n";
        let info = ReleaseInfo::parse(yaml).unwrap();
        assert_eq!(info.addons, ["heroku-postgresql"]);
        assert_eq!(info.config_vars["LANG"], "en_US.UTF-8");
        assert_eq!(info.default_process_types["web"], "bundle exec rackup -p $PORT");
        assert_eq!(info.default_process_types["worker"], "bin/worker --queue 'a'");
        assert_eq!(ReleaseInfo::parse("---\ndefault_process_types: web\n").unwrap_err().line, 2);
        assert_eq!(ReleaseInfo::parse("default_process_types: {}\n").unwrap(), ReleaseInfo::default());
    }
}
