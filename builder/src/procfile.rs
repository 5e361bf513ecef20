//! The Procfile: `type: command` lines, parsed strictly (errors name the line and what to write).

use std::fmt;

/// A parsed Procfile: process types in the order they were declared.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Procfile {
    entries: Vec<(String, String)>,
}

/// A Procfile line that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Procfile line {line}: {message}")]
pub struct ProcfileError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong and what to write instead.
    pub message: String,
}

impl Procfile {
    /// Parses a Procfile. Blank lines and `#` comments are allowed; every other line must be
    /// `type: command` with a type of letters, digits, `_` or `-`, each type declared once.
    pub fn parse(text: &str) -> Result<Procfile, ProcfileError> {
        let mut entries: Vec<(String, String)> = Vec::new();
        let mut declared_on = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let error = |message: String| ProcfileError { line, message };
            let trimmed = raw.trim_end();
            if trimmed.trim_start().is_empty() || trimmed.trim_start().starts_with('#') {
                continue;
            }
            if trimmed.starts_with(char::is_whitespace) {
                return Err(error(format!(
                    "unexpected indentation in `{}`; write each process type at the start of its line, e.g. `web: app.wasm`",
                    trimmed.trim()
                )));
            }
            let Some((name, command)) = trimmed.split_once(':') else {
                return Err(error(format!(
                    "expected `type: command`, found `{trimmed}`; write e.g. `web: app.wasm`"
                )));
            };
            if name.is_empty() {
                return Err(error(format!(
                    "missing process type before `:`; write e.g. `web:{command}`"
                )));
            }
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(error(format!(
                    "process type `{name}` may only contain letters, digits, `_` and `-`; write e.g. `web: {}`",
                    command.trim()
                )));
            }
            let command = command.trim();
            if command.is_empty() {
                return Err(error(format!(
                    "process type `{name}` has no command; write `{name}: <command>`"
                )));
            }
            if let Some(position) = entries.iter().position(|(n, _)| n == name) {
                return Err(error(format!(
                    "process type `{name}` is already declared on line {}; declare each type once",
                    declared_on[position]
                )));
            }
            entries.push((name.to_string(), command.to_string()));
            declared_on.push(line);
        }
        Ok(Procfile { entries })
    }

    /// The process types and their commands, in declaration order.
    pub fn entries(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, c)| (n.as_str(), c.as_str()))
    }

    /// The command of one process type.
    pub fn command(&self, name: &str) -> Option<&str> {
        self.entries().find(|(n, _)| *n == name).map(|(_, c)| c)
    }

    /// Whether no process type is declared.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl fmt::Display for Procfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, command) in self.entries() {
            writeln!(f, "{name}: {command}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(text: &str) -> ProcfileError {
        Procfile::parse(text).unwrap_err()
    }

    #[test]
    fn parses_types_in_order_with_comments_and_blank_lines() {
        let procfile = Procfile::parse("# web first\nweb: app.wasm\n\nworker:  bin/worker --queue=a:b \r\n").unwrap();
        let entries: Vec<_> = procfile.entries().collect();
        assert_eq!(entries, [("web", "app.wasm"), ("worker", "bin/worker --queue=a:b")]);
        assert_eq!(procfile.to_string(), "web: app.wasm\nworker: bin/worker --queue=a:b\n");
    }

    #[test]
    fn missing_colon_names_the_line() {
        let e = error("web: app.wasm\nworker bin/worker\n");
        assert_eq!(e.line, 2);
        assert_eq!(
            e.to_string(),
            "Procfile line 2: expected `type: command`, found `worker bin/worker`; write e.g. `web: app.wasm`"
        );
    }

    #[test]
    fn bad_type_name_empty_command_duplicates_and_indentation() {
        assert_eq!(
            error("we b: x").to_string(),
            "Procfile line 1: process type `we b` may only contain letters, digits, `_` and `-`; write e.g. `web: x`"
        );
        assert_eq!(
            error("\n\nweb:   \n").to_string(),
            "Procfile line 3: process type `web` has no command; write `web: <command>`"
        );
        assert_eq!(
            error("web: a\n# c\nweb: b").to_string(),
            "Procfile line 3: process type `web` is already declared on line 1; declare each type once"
        );
        assert_eq!(error("  web: a").line, 1);
        assert_eq!(error(": a").message, "missing process type before `:`; write e.g. `web: a`");
    }
}
