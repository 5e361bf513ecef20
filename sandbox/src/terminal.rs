//! The pseudo-terminal a container on a terminal is run with: its host end ([`Terminal`], async
//! read and write) and its other end, given to `runc run` as its stdin and stdout.
//!
//! runc relays the container's own pty (which it allocates and receives over a console socket of
//! its own) to its stdin and stdout, and insists that one of them is a terminal. Its
//! `--console-socket` (the container pty's master sent to the caller over `SCM_RIGHTS`) is only
//! accepted with `--detach`, and a detached container's exit status reaches only whoever reaps
//! its process (a subreaper), not this server. So runc stays in the foreground and gets this pty,
//! opened in-process (no util-linux `script` in front of it): raw (runc sets that too; doing it
//! first leaves no moment of echo) and sized as the client's terminal, which runc copies to the
//! container's pty when it starts.

use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use rustix::pty::OpenptFlags;
use rustix::termios::{OptionalActions, Winsize};
use tokio::io::unix::AsyncFd;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// A new pty pair: the host end (non-blocking) and the terminal end for runc's stdio.
pub(crate) struct Pair {
    pub host: OwnedFd,
    pub terminal: OwnedFd,
}

/// Opens a pty pair of `rows` × `cols`, raw.
pub(crate) fn open(rows: u16, cols: u16) -> io::Result<Pair> {
    let flags = OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC;
    let host = rustix::pty::openpt(flags)?;
    rustix::pty::grantpt(&host)?;
    rustix::pty::unlockpt(&host)?;
    // The other end by the descriptor (TIOCGPTPEER), not by a /dev/pts path looked up again.
    let terminal = rustix::pty::ioctl_tiocgptpeer(&host, flags)?;
    let mut termios = rustix::termios::tcgetattr(&terminal)?;
    termios.make_raw();
    rustix::termios::tcsetattr(&terminal, OptionalActions::Now, &termios)?;
    rustix::termios::tcsetwinsize(&host, Winsize { ws_row: rows, ws_col: cols, ws_xpixel: 0, ws_ypixel: 0 })?;
    rustix::io::ioctl_fionbio(&host, true)?;
    Ok(Pair { host, terminal })
}

/// The host end of a container's terminal: what is read is the terminal's output (the process's
/// stdout and stderr, and the echo of what was typed), what is written is typed into it. Reading
/// ends (EOF) once every process holding the other end has exited. Dropping it hangs up.
#[derive(Debug)]
pub struct Terminal {
    fd: AsyncFd<OwnedFd>,
}

impl Terminal {
    /// The host end, registered with tokio's reactor (in a tokio runtime).
    #[allow(unsafe_code)] // tokio's registration of a descriptor is unsafe since 1.54; see SAFETY
    pub(crate) fn new(host: OwnedFd) -> io::Result<Terminal> {
        // SAFETY: an `OwnedFd` is a valid open descriptor, `as_raw_fd` always returns that one,
        // and it is closed only when the `AsyncFd` (its owner: nothing takes it out) is dropped.
        let fd = unsafe { AsyncFd::register(host) }.map_err(|e| e.into_parts().1)?;
        Ok(Terminal { fd })
    }
}

impl AsyncRead for Terminal {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        loop {
            let mut guard = ready!(self.fd.poll_read_ready(cx))?;
            let unfilled = buf.initialize_unfilled();
            match guard.try_io(|fd| rustix::io::read(fd.get_ref(), &mut *unfilled).map_err(io::Error::from)) {
                Ok(Ok(n)) => {
                    buf.advance(n);
                    return Poll::Ready(Ok(()));
                }
                // Linux answers EIO once the other end is closed by all: the end of the output.
                Ok(Err(e)) if e.raw_os_error() == Some(rustix::io::Errno::IO.raw_os_error()) => {
                    return Poll::Ready(Ok(()));
                }
                Ok(Err(e)) => return Poll::Ready(Err(e)),
                Err(_would_block) => continue,
            }
        }
    }
}

impl AsyncWrite for Terminal {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, data: &[u8]) -> Poll<io::Result<usize>> {
        loop {
            let mut guard = ready!(self.fd.poll_write_ready(cx))?;
            match guard.try_io(|fd| rustix::io::write(fd.get_ref(), data).map_err(io::Error::from)) {
                Ok(written) => return Poll::Ready(written),
                Err(_would_block) => continue,
            }
        }
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// A terminal has no end of input of its own (Ctrl-D is a byte the caller types): nothing
    /// to do.
    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn a_pair_is_raw_and_sized_and_its_output_ends_when_the_other_end_closes() {
        let pair = open(33, 101).unwrap();
        let size = rustix::termios::tcgetwinsize(&pair.terminal).unwrap();
        assert_eq!((size.ws_row, size.ws_col), (33, 101));
        let mut host = Terminal::new(pair.host).unwrap();
        let terminal = std::fs::File::from(pair.terminal);
        // Typed bytes arrive as they are (no echo, no line editing: raw).
        host.write_all(b"a\x7fb\r").await.unwrap();
        let mut typed = [0u8; 4];
        std::io::Read::read_exact(&mut &terminal, &mut typed).unwrap();
        assert_eq!(&typed, b"a\x7fb\r");
        std::io::Write::write_all(&mut &terminal, b"out\n").unwrap();
        drop(terminal);
        let mut out = Vec::new();
        host.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"out\n", "no echo of what was typed, no \\r added");
    }
}
