//! `~/.netrc`: reads the `login`/`password` of one `machine`, and adds, replaces or removes one
//! machine's entry while keeping the rest of the file as it was. The file is written mode 0600.

use std::path::Path;

use anyhow::{Context, Result};

/// The `login` and `password` of one `machine` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The login (for paas: the user's email).
    pub login: Option<String>,
    /// The password (for paas: the API key).
    pub password: Option<String>,
}

/// A whitespace-separated token and where it is in the text.
struct Token<'a> {
    start: usize,
    text: &'a str,
}

/// Splits netrc text into tokens, skipping `macdef` bodies (which run to the next blank line)
/// and `#` comments.
fn tokens(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i].is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if bytes[i] == b'#' {
            while i < bytes.len() && bytes[i] != b'\n' {
                i += 1;
            }
            continue;
        }
        let start = i;
        while i < bytes.len() && !bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let token = &text[start..i];
        let previous_was_macdef = tokens.last().is_some_and(|t: &Token<'_>| t.text == "macdef");
        tokens.push(Token { start, text: token });
        if previous_was_macdef {
            // The macro's body follows its name, up to an empty line.
            i = text[i..].find("\n\n").map_or(text.len(), |end| i + end + 2);
        }
    }
    tokens
}

/// Where each entry starts: the `machine` or `default` tokens (and a top-level `macdef`).
fn entry_starts(tokens: &[Token<'_>]) -> Vec<usize> {
    tokens
        .iter()
        .enumerate()
        .filter(|(_, t)| matches!(t.text, "machine" | "default" | "macdef"))
        .map(|(index, _)| index)
        .collect()
}

/// The byte range of `machine`'s entry in `text`, and its tokens.
fn find_entry<'a>(text: &'a str, machine: &str) -> Option<(usize, usize, Vec<Token<'a>>)> {
    let tokens = tokens(text);
    let starts = entry_starts(&tokens);
    for (n, &first) in starts.iter().enumerate() {
        if tokens[first].text != "machine" || tokens.get(first + 1).map(|t| t.text) != Some(machine) {
            continue;
        }
        let end_token = starts.get(n + 1).copied().unwrap_or(tokens.len());
        let end = tokens.get(end_token).map_or(text.len(), |t| t.start);
        let start = tokens[first].start;
        let entry = tokens.into_iter().skip(first).take(end_token - first).collect();
        return Some((start, end, entry));
    }
    None
}

/// The entry of `machine` in netrc `text`.
pub fn lookup(text: &str, machine: &str) -> Option<Entry> {
    let (_, _, tokens) = find_entry(text, machine)?;
    let value = |key: &str| {
        tokens.windows(2).find(|pair| pair[0].text == key).map(|pair| pair[1].text.to_string())
    };
    Some(Entry { login: value("login"), password: value("password") })
}

/// `text` with `machine`'s entry set to `login` and `password`: replaced in place if it was
/// there, appended otherwise.
pub fn upsert(text: &str, machine: &str, login: &str, password: &str) -> String {
    let entry = format!("machine {machine}\n  login {login}\n  password {password}\n");
    match find_entry(text, machine) {
        Some((start, end, _)) => format!("{}{entry}{}", &text[..start], &text[end..]),
        None if text.is_empty() || text.ends_with('\n') => format!("{text}{entry}"),
        None => format!("{text}\n{entry}"),
    }
}

/// `text` without `machine`'s entry.
pub fn remove(text: &str, machine: &str) -> String {
    match find_entry(text, machine) {
        Some((start, end, _)) => format!("{}{}", &text[..start], &text[end..]),
        None => text.to_string(),
    }
}

/// Reads the netrc file at `path`; a missing file reads as empty.
pub fn read(path: &Path) -> Result<String> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes the netrc file at `path` (through a symlink, if it is one), readable by its owner only.
pub fn write(path: &Path, text: &str) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};

    let target = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let path = target.as_path();
    let temp = path.with_extension("paas-tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&temp)
        .with_context(|| format!("cannot write {}", temp.display()))?;
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", temp.display()))?;
    std::fs::rename(&temp, path).with_context(|| format!("cannot replace {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "machine api.heroku.com\n  login a@example.com\n  password one\n\
                        machine 127.0.0.1\n  login b@example.com\n  password two\n\
                        default login anonymous password guest\n";

    #[test]
    fn lookup_finds_the_named_machine_only() {
        let entry = lookup(FILE, "127.0.0.1").unwrap();
        assert_eq!(entry.login.as_deref(), Some("b@example.com"));
        assert_eq!(entry.password.as_deref(), Some("two"));
        assert_eq!(lookup(FILE, "example.com"), None);
        let one_line = "machine h login l password p machine k login m password q";
        assert_eq!(lookup(one_line, "k").unwrap().password.as_deref(), Some("q"));
    }

    #[test]
    fn upsert_replaces_an_existing_entry_in_place_and_keeps_the_others() {
        let text = upsert(FILE, "127.0.0.1", "c@example.com", "three");
        assert_eq!(
            text,
            "machine api.heroku.com\n  login a@example.com\n  password one\n\
             machine 127.0.0.1\n  login c@example.com\n  password three\n\
             default login anonymous password guest\n"
        );
        assert_eq!(text.matches("machine 127.0.0.1").count(), 1);
    }

    #[test]
    fn upsert_appends_a_new_entry() {
        assert_eq!(upsert("", "h", "l", "p"), "machine h\n  login l\n  password p\n");
        assert_eq!(upsert("machine x login y password z", "h", "l", "p"), "machine x login y password z\nmachine h\n  login l\n  password p\n");
    }

    #[test]
    fn remove_drops_only_the_named_entry() {
        let text = remove(FILE, "api.heroku.com");
        assert_eq!(text, "machine 127.0.0.1\n  login b@example.com\n  password two\ndefault login anonymous password guest\n");
        assert_eq!(remove(&text, "nothing"), text);
    }

    #[test]
    fn write_replaces_the_file_mode_0600_and_follows_a_symlink() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("dotfiles-netrc");
        std::fs::write(&real, "machine old login l password p\n").unwrap();
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join(".netrc");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        write(&link, "machine new login l password q\n").unwrap();
        assert!(std::fs::symlink_metadata(&link).unwrap().file_type().is_symlink());
        assert_eq!(std::fs::read_to_string(&real).unwrap(), "machine new login l password q\n");
        assert_eq!(std::fs::metadata(&real).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(read(&dir.path().join("missing")).unwrap(), "");
    }

    #[test]
    fn macdef_bodies_and_comments_are_not_tokens() {
        let text = "# machine evil\nmacdef init\nmachine fake password x\n\nmachine real login l password p\n";
        assert_eq!(lookup(text, "fake"), None);
        assert_eq!(lookup(text, "real").unwrap().password.as_deref(), Some("p"));
    }
}
