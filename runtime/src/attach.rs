//! The terminal of an attached one-off dyno: the guest's stdout and stderr bytes, exactly as
//! written and in the order written, go to one bounded pipe (instead of the log sink) whose reading
//! end the platform copies to the client. A guest writing faster than the client reads waits; a
//! reader that went away makes the guest's writes fail (as a closed terminal would). The reader
//! sees end of file once the dyno's instance is gone and everything written was read.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};

/// How many bytes the pipe holds before the guest waits for the client.
pub const ATTACHED_BUFFER: usize = 64 * 1024;

#[derive(Default)]
struct Pipe {
    buf: VecDeque<u8>,
    /// Live writing handles (every clone of [`AttachedOutput`] and every stream it opened).
    writers: usize,
    reader_gone: bool,
    read_waker: Option<Waker>,
    write_wakers: Vec<Waker>,
}

fn lock(pipe: &Mutex<Pipe>) -> std::sync::MutexGuard<'_, Pipe> {
    pipe.lock().unwrap_or_else(|e| e.into_inner())
}

/// The writing end: give it to [`crate::DynoSpec::attached`].
pub struct AttachedOutput(Arc<Mutex<Pipe>>);

/// The reading end: the guest's output until its instance is gone.
pub struct AttachedReader(Arc<Mutex<Pipe>>);

/// A pipe for one attached dyno's output.
pub fn attached_output() -> (AttachedOutput, AttachedReader) {
    let pipe = Arc::new(Mutex::new(Pipe { writers: 1, ..Pipe::default() }));
    (AttachedOutput(pipe.clone()), AttachedReader(pipe))
}

impl Clone for AttachedOutput {
    fn clone(&self) -> Self {
        lock(&self.0).writers += 1;
        AttachedOutput(self.0.clone())
    }
}

impl std::fmt::Debug for AttachedOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AttachedOutput")
    }
}

impl Drop for AttachedOutput {
    fn drop(&mut self) {
        let mut pipe = lock(&self.0);
        pipe.writers -= 1;
        if pipe.writers == 0
            && let Some(waker) = pipe.read_waker.take()
        {
            waker.wake();
        }
    }
}

impl IsTerminal for AttachedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for AttachedOutput {
    fn async_stream(&self) -> Box<dyn AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl AsyncWrite for AttachedOutput {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, bytes: &[u8]) -> Poll<std::io::Result<usize>> {
        let mut pipe = lock(&self.0);
        if pipe.reader_gone {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        let room = ATTACHED_BUFFER.saturating_sub(pipe.buf.len());
        if room == 0 {
            pipe.write_wakers.push(cx.waker().clone());
            return Poll::Pending;
        }
        let n = room.min(bytes.len());
        pipe.buf.extend(&bytes[..n]);
        if let Some(waker) = pipe.read_waker.take() {
            waker.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for AttachedReader {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, out: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let mut pipe = lock(&self.0);
        if pipe.buf.is_empty() {
            if pipe.writers == 0 {
                return Poll::Ready(Ok(()));
            }
            pipe.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = out.remaining().min(pipe.buf.len());
        let (front, back) = pipe.buf.as_slices();
        let from_front = n.min(front.len());
        out.put_slice(&front[..from_front]);
        out.put_slice(&back[..n - from_front]);
        pipe.buf.drain(..n);
        for waker in pipe.write_wakers.drain(..) {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for AttachedReader {
    fn drop(&mut self) {
        let mut pipe = lock(&self.0);
        pipe.reader_gone = true;
        pipe.buf.clear();
        for waker in pipe.write_wakers.drain(..) {
            waker.wake();
        }
    }
}

impl AttachedReader {
    /// Reads everything until the dyno's instance is gone.
    pub async fn read_to_end(mut self) -> Bytes {
        let mut all = Vec::new();
        let _ = tokio::io::AsyncReadExt::read_to_end(&mut self, &mut all).await;
        all.into()
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[tokio::test]
    async fn bytes_arrive_in_order_and_the_end_comes_when_every_writer_is_gone() {
        let (out, reader) = attached_output();
        let mut stdout = out.clone();
        let mut stderr = out.clone();
        drop(out);
        stdout.write_all(b"out 1\n").await.unwrap();
        stderr.write_all(b"err\n").await.unwrap();
        stdout.write_all(b"no newline").await.unwrap();
        drop((stdout, stderr));
        assert_eq!(&reader.read_to_end().await[..], b"out 1\nerr\nno newline");
    }

    #[tokio::test]
    async fn a_full_pipe_makes_the_writer_wait_for_the_reader() {
        let (mut out, mut reader) = attached_output();
        let big = vec![b'x'; ATTACHED_BUFFER * 3];
        let writer = tokio::spawn(async move {
            out.write_all(&big).await.unwrap();
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!writer.is_finished(), "the writer waits while the pipe is full");
        let mut got = Vec::new();
        AsyncReadExt::read_to_end(&mut reader, &mut got).await.unwrap();
        assert_eq!(got.len(), ATTACHED_BUFFER * 3);
        writer.await.unwrap();
    }

    #[tokio::test]
    async fn writes_fail_once_the_reader_is_gone() {
        let (mut out, reader) = attached_output();
        drop(reader);
        let err = out.write_all(b"anyone?").await.unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    }
}
