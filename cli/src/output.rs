//! Output in the style of Heroku's CLI: `=== headers`, aligned `Key: value` lists, two-space
//! tables, `2026/11/21 18:59:17 +0000` times, the `⬢ app` label, and `Doing X... done` actions
//! (on stderr, so stdout stays data). `--json` prints the API's answer instead.

use std::io::Write;

use chrono::{DateTime, Local, Utc};
use serde_json::Value;

/// An app's name as Heroku's CLI shows it: `⬢ myapp`.
pub fn app(name: &str) -> String {
    format!("⬢ {name}")
}

/// Prints `=== title` and a blank line.
pub fn header(title: &str) {
    println!("=== {title}\n");
}

/// Prints a JSON value, pretty.
pub fn json(value: &Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string()));
}

/// `Key: value` lines with the values aligned; each line ends in `\n`.
pub fn styled_object<K: AsRef<str>, V: AsRef<str>>(pairs: &[(K, V)]) -> String {
    let width = pairs.iter().map(|(key, _)| key.as_ref().chars().count()).max().unwrap_or(0) + 2;
    let mut out = String::new();
    for (key, value) in pairs {
        let label = format!("{}:", key.as_ref());
        let mut lines = value.as_ref().split('\n');
        out.push_str(format!("{label:<width$}{}", lines.next().unwrap_or("")).trim_end());
        out.push('\n');
        for line in lines {
            out.push_str(format!("{:width$}{line}", "").trim_end());
            out.push('\n');
        }
    }
    out
}

/// Rows in columns two spaces apart (no trailing spaces); each line ends in `\n`.
pub fn table(rows: &[Vec<String>]) -> String {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|c| rows.iter().filter_map(|row| row.get(c)).map(|cell| cell.chars().count()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (c, cell) in row.iter().enumerate() {
            if c > 0 {
                line.push_str("  ");
            }
            line.push_str(&format!("{cell:<width$}", width = widths[c]));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// An RFC 3339 time as Heroku's CLI shows it, in local time: `2026/11/21 18:59:17 +0000`.
pub fn time(rfc3339: Option<&str>) -> String {
    match rfc3339.map(DateTime::parse_from_rfc3339) {
        Some(Ok(time)) => time.with_timezone(&Local).format("%Y/%m/%d %H:%M:%S %z").to_string(),
        Some(Err(_)) => rfc3339.unwrap_or_default().to_string(),
        None => String::new(),
    }
}

/// How long ago an RFC 3339 time was, as Heroku's `ps` shows it: `~ 13m ago`.
pub fn ago(rfc3339: Option<&str>, now: DateTime<Utc>) -> Option<String> {
    let then = DateTime::parse_from_rfc3339(rfc3339?).ok()?;
    let seconds = (now - then.with_timezone(&Utc)).num_seconds().max(0);
    let text = match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    };
    Some(format!("~ {text} ago"))
}

/// A `Doing X... done` line on stderr: `start` prints `Doing X... `, [`Action::done`] ends the
/// line; dropped unfinished (an error), it ends the line with `!`.
pub struct Action {
    finished: bool,
}

impl Action {
    /// Prints `message... ` to stderr.
    pub fn start(message: &str) -> Action {
        eprint!("{message}... ");
        let _ = std::io::stderr().flush();
        Action { finished: false }
    }

    /// Ends the line with `done`.
    pub fn done(mut self) {
        self.finished = true;
        eprintln!("done");
    }

    /// Ends the line with `done, <detail>`.
    pub fn done_with(mut self, detail: &str) {
        self.finished = true;
        eprintln!("done, {detail}");
    }
}

impl Drop for Action {
    fn drop(&mut self) {
        if !self.finished {
            eprintln!("!");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn styled_object_aligns_values_two_past_the_longest_key() {
        assert_eq!(styled_object(&[("FOO", "bar"), ("LONGKEY", "x")]), "FOO:     bar\nLONGKEY: x\n");
        assert_eq!(styled_object(&[("A", "one\ntwo"), ("B", "")]), "A: one\n   two\nB:\n");
        assert_eq!(styled_object::<&str, &str>(&[]), "");
    }

    #[test]
    fn table_pads_all_but_the_last_column() {
        let rows = vec![
            vec!["v10".to_string(), "Set FOO config vars".to_string(), "a@example.com".to_string()],
            vec!["v9".to_string(), "Initial release".to_string(), "bob@example.com".to_string()],
        ];
        assert_eq!(
            table(&rows),
            "v10  Set FOO config vars  a@example.com\nv9   Initial release      bob@example.com\n"
        );
    }

    #[test]
    fn ago_rounds_down_to_the_largest_unit() {
        let now = DateTime::parse_from_rfc3339("2026-11-21T19:12:20Z").unwrap().with_timezone(&Utc);
        assert_eq!(ago(Some("2026-11-21T18:59:17Z"), now).as_deref(), Some("~ 13m ago"));
        assert_eq!(ago(Some("2026-11-21T19:12:15+00:00"), now).as_deref(), Some("~ 5s ago"));
        assert_eq!(ago(Some("2026-11-19T19:12:15Z"), now).as_deref(), Some("~ 2d ago"));
        assert_eq!(ago(Some("nonsense"), now), None);
    }

    #[test]
    fn time_keeps_what_it_cannot_parse() {
        assert_eq!(time(Some("yesterday")), "yesterday");
        assert_eq!(time(None), "");
    }
}
