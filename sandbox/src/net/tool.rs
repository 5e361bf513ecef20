//! Running `ip` (iproute2) and `nft` (nftables): a script on standard input, standard error in
//! the error.

use std::io::Write;
use std::process::{Command, Stdio};

use super::NetError;

/// Runs `program args`, feeding `stdin`; its standard output, or [`NetError::Command`] with its
/// standard error ([`NetError::Tool`] when it cannot be run at all).
pub(crate) fn run(program: &'static str, args: &[&str], stdin: Option<&str>) -> Result<String, NetError> {
    let mut child = Command::new(program)
        .args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| NetError::Tool { program, detail: e.to_string() })?;
    if let (Some(text), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // A failed write shows as the command's own error below.
        let _ = pipe.write_all(text.as_bytes());
    }
    let output = child.wait_with_output().map_err(|e| NetError::Tool { program, detail: e.to_string() })?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
    }
    Err(NetError::Command {
        command: format!("{program} {}", args.join(" ")),
        detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}
