//! The client side of the rendezvous (`paas run`): connects to an `attach_url`
//! (`rendezvous://HOST:PORT/SECRET`) over TLS, verified against the paas server's CA, sends the
//! secret, waits for the greeting, then copies the terminal both ways: stdin to the dyno (`\x04`
//! at its end), the dyno's output to stdout. The command is sent with the exit-status suffix
//! heroku's `run -x` uses; its line is taken out of the output and gives the exit code.

use std::io::Write;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The rendezvous's greeting.
const GREETING: &[u8] = b"rendezvous\r\n";

/// What the exit-status line starts with (heroku's `run -x` convention).
const STATUS_MARK: &str = "\u{FFFF} heroku-command-exit-status: ";

/// The command as sent: `command`, then the shell suffix that prints the exit-status line (a
/// paas server recognises it for wasm slugs, which have no shell).
pub fn with_exit_status(command: &str) -> String {
    format!("{command} ; echo \"{}$?\"", STATUS_MARK)
}

/// A TLS client configuration trusting `ca_pem` (PEM certificates), or the system's roots.
pub fn client_config(ca_pem: Option<&[u8]>) -> Result<rustls::ClientConfig> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(pem) = ca_pem else {
        use rustls_platform_verifier::ConfigVerifierExt;
        return rustls::ClientConfig::with_platform_verifier().context("cannot load the system's trusted certificates");
    };
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots.add(cert.context("the CA file is not PEM certificates")?).context("the CA file holds a bad certificate")?;
    }
    if roots.is_empty() {
        bail!("the CA file holds no certificate (-----BEGIN CERTIFICATE-----)");
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Connects to `attach_url` and runs the terminal until the dyno exits; answers its exit code
/// (`None`: the connection closed without an exit-status line).
pub async fn attach(attach_url: &str, tls: rustls::ClientConfig) -> Result<Option<i32>> {
    let url = reqwest::Url::parse(attach_url).with_context(|| format!("the server gave a bad attach_url {attach_url:?}"))?;
    let (Some(host), Some(port), "rendezvous") = (url.host_str(), url.port(), url.scheme()) else {
        bail!("the server gave an attach_url {attach_url:?} that is not rendezvous://HOST:PORT/SECRET");
    };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    let secret = match url.query() {
        Some(query) => format!("{}?{query}", url.path().trim_start_matches('/')),
        None => url.path().trim_start_matches('/').to_string(),
    };
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .with_context(|| format!("cannot reach the rendezvous at {host}:{port}"))?;
    let _ = tcp.set_nodelay(true);
    let name = ServerName::try_from(host.clone()).with_context(|| format!("bad rendezvous host {host:?}"))?;
    let mut stream = tokio_rustls::TlsConnector::from(Arc::new(tls))
        .connect(name, tcp)
        .await
        .with_context(|| format!("TLS with the rendezvous at {host}:{port} failed (log in again with `paas login` to record the server's CA)"))?;
    stream.write_all(format!("{secret}\r\n").as_bytes()).await?;
    stream.flush().await?;

    let mut first = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    while first.len() < GREETING.len() {
        let n = stream.read(&mut buf).await.context("the rendezvous connection broke")?;
        if n == 0 {
            bail!("the rendezvous refused the connection (its secret is wrong, used or expired)");
        }
        first.extend_from_slice(&buf[..n]);
    }
    if !first.starts_with(GREETING) {
        bail!("the rendezvous did not greet as expected: {:?}", String::from_utf8_lossy(&first));
    }
    let (mut from_dyno, mut to_dyno) = tokio::io::split(stream);
    // stdin to the dyno, then end of stdin (\x04); Ctrl-C in raw mode is \x03, sent as is.
    let pump = tokio::spawn(async move {
        let mut stdin = tokio::io::stdin();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_dyno.write_all(&buf[..n]).await.is_err() || to_dyno.flush().await.is_err() {
                        return;
                    }
                }
            }
        }
        let _ = to_dyno.write_all(&[0x04]).await;
        let _ = to_dyno.flush().await;
        // Keep the connection's write side open: the dyno's output is still coming.
        std::future::pending::<()>().await;
    });

    let mut status = StatusLine::default();
    let mut stdout = std::io::stdout();
    let mut show = |bytes: &[u8]| -> Result<()> {
        stdout.write_all(bytes)?;
        stdout.flush()?;
        Ok(())
    };
    show(&status.push(&first[GREETING.len()..]))?;
    loop {
        let n = match from_dyno.read(&mut buf).await {
            Ok(n) => n,
            // The server closes without TLS's close_notify at times; what came is all there is.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(e).context("the rendezvous connection broke"),
        };
        if n == 0 {
            break;
        }
        show(&status.push(&buf[..n]))?;
    }
    show(&status.finish())?;
    pump.abort();
    Ok(status.code)
}

/// Takes the exit-status line out of the output, keeping its code.
#[derive(Debug, Default)]
pub struct StatusLine {
    pending: Vec<u8>,
    /// The exit code, once its line went by.
    pub code: Option<i32>,
}

impl StatusLine {
    /// The output to show of `chunk` (bytes that may start the status line wait for the rest).
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        let mark = STATUS_MARK.as_bytes();
        self.pending.extend_from_slice(chunk);
        let mut out = Vec::new();
        loop {
            let Some(start) = find(&self.pending, &mark[..3]) else {
                // Keep a trailing partial \u{FFFF}.
                let keep = (1..3).rev().find(|&k| self.pending.ends_with(&mark[..k])).unwrap_or(0);
                out.extend(self.pending.drain(..self.pending.len() - keep));
                return out;
            };
            out.extend(self.pending.drain(..start));
            let rest = &self.pending[..];
            if rest.len() < mark.len() {
                if mark.starts_with(rest) {
                    return out;
                }
            } else if rest.starts_with(mark) {
                match rest.iter().position(|&b| b == b'\n') {
                    None if rest.len() <= mark.len() + 16 => return out,
                    None => {}
                    Some(nl) => {
                        let digits = String::from_utf8_lossy(&rest[mark.len()..nl]).trim().to_string();
                        if let Ok(code) = digits.parse() {
                            self.code = Some(code);
                            self.pending.drain(..=nl);
                            continue;
                        }
                    }
                }
            }
            // Not the status line: show the \u{FFFF} and look further.
            out.extend(self.pending.drain(..3));
        }
    }

    /// What is left at the end of the output.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The terminal in raw mode (no echo, no line editing, Ctrl-C as a byte) until dropped;
/// `None` when stdin is not a terminal.
pub struct RawTerminal(rustix::termios::Termios);

impl RawTerminal {
    /// Puts the terminal on stdin in raw mode.
    pub fn enter() -> Option<RawTerminal> {
        use rustix::termios::{OptionalActions, tcgetattr, tcsetattr};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        tcsetattr(&stdin, OptionalActions::Now, &raw).ok()?;
        Some(RawTerminal(saved))
    }

    /// The size of the terminal on stdin as `(columns, lines)`, 80×24 where the terminal does
    /// not know its size (a pty nobody sized); `None` when stdin is not a terminal.
    pub fn size() -> Option<(u16, u16)> {
        let size = rustix::termios::tcgetwinsize(std::io::stdin()).ok()?;
        let known = |n: u16, default: u16| if n == 0 { default } else { n };
        Some((known(size.ws_col, 80), known(size.ws_row, 24)))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(std::io::stdin(), rustix::termios::OptionalActions::Now, &self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(chunks: &[&[u8]]) -> (Vec<u8>, Option<i32>) {
        let mut status = StatusLine::default();
        let mut out = Vec::new();
        for chunk in chunks {
            out.extend(status.push(chunk));
        }
        out.extend(status.finish());
        (out, status.code)
    }

    #[test]
    fn the_status_line_is_taken_out_wherever_the_chunks_split_it() {
        let all = "out 1\nerr\n\u{FFFF} heroku-command-exit-status: 3\n".as_bytes();
        for cut in 0..all.len() {
            let (out, code) = feed(&[&all[..cut], &all[cut..]]);
            assert_eq!((String::from_utf8(out).unwrap(), code), ("out 1\nerr\n".to_string(), Some(3)), "cut at {cut}");
        }
        let (out, code) = feed(&["x\r\n\u{FFFF} heroku-command-exit-status: 0\r\n".as_bytes()]);
        assert_eq!((out, code), (b"x\r\n".to_vec(), Some(0)));
    }

    #[test]
    fn other_output_with_the_marker_character_is_kept() {
        let text = "a\u{FFFF}b \u{FFFF} heroku-command-exit-status: x\nend \u{FFFF}";
        let (out, code) = feed(&[text.as_bytes()]);
        assert_eq!((String::from_utf8(out).unwrap(), code), (text.to_string(), None));
    }

    #[test]
    fn the_command_carries_the_heroku_suffix() {
        assert_eq!(with_exit_status("worker 3"), "worker 3 ; echo \"\u{FFFF} heroku-command-exit-status: $?\"");
    }
}
