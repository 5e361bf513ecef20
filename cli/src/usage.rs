//! Usage errors found after clap has parsed the command line (no app given, a wrong
//! `--confirm`, ...): `main` prints them like other errors but exits 2, as clap does.

use std::fmt;

/// A mistake in how the command was called; the message says what to type instead.
#[derive(Debug)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

/// Returns early with a [`UsageError`].
macro_rules! usage_bail {
    ($($arg:tt)*) => {
        return Err(anyhow::Error::new($crate::usage::UsageError(format!($($arg)*))))
    };
}
pub(crate) use usage_bail;
