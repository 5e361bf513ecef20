//! The router's own HTTP/1.1 exchange with a native dyno, for requests without a body (most of
//! them: GET, HEAD) or with one of a known length: the request is written and the response read
//! in the request's own task, on a keep-alive connection of the dyno's pool ([`crate::tcp`]).
//! hyper's client hands each request to its connection's task and the response back (a queue, a
//! oneshot and a body channel, two task switches a request); this does neither. Upgrades and
//! bodies of unknown length (chunked) keep hyper's client.
//!
//! A response is framed as RFC 9112 §6.3 says: no body after HEAD and for 204 and 304;
//! `Transfer-Encoding` ending in `chunked`: chunks, decoded here, trailers kept; other transfer
//! codings: until the dyno closes; otherwise `Content-Length` (one value, however often
//! repeated); otherwise until the dyno closes. Interim responses (1xx) are skipped. A connection
//! goes back to the pool only after a whole response framed by length or chunks, with nothing
//! after it and no `Connection: close`.
//!
//! Bounds: a response head (or one interim head) of 64 KiB and 100 fields, 16 interim heads, a
//! chunk-size line of 4 KiB, trailers of 64 KiB; body bytes are handed on as they are read, 16
//! to 64 KiB a read.

use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker, ready};

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, StatusCode, Version, header, request};
use http_body::{Body, Frame, SizeHint};
use tokio::io::{AsyncWriteExt, Interest};
use tokio::net::TcpStream;

use crate::backend::{BackendError, BoxError, RouterBody, empty_body, full_body, into_router_body};

/// Bytes of a response head (status line and fields), and of a chunked body's trailers.
const MAX_HEAD: usize = 64 * 1024;
/// Fields of a response head, and of a chunked body's trailers.
const MAX_FIELDS: usize = 100;
/// Interim (1xx) responses before the final one.
const MAX_INTERIM: usize = 16;
/// Bytes of a request body at hand that are written with its head, in one write.
const COALESCE: usize = 64 * 1024;
/// Bytes of a chunk-size line, its extensions included.
const MAX_CHUNK_LINE: usize = 4096;
/// Room made for a connection's first read from the dyno; doubled after each read that fills
/// it, up to [`MAX_READ_SIZE`] (a large body is read in fewer, larger reads).
const READ_SIZE: usize = 16 * 1024;
const MAX_READ_SIZE: usize = 64 * 1024;

/// How `req` goes the router's own way: `Some(0)` without a body (none to come either),
/// `Some(length)` with a body of its `Content-Length`; `None` (hyper's client) for an upgrade or
/// a body of unknown length.
pub(crate) fn body_length(req: &Request<RouterBody>) -> Option<u64> {
    let headers = req.headers();
    if headers.contains_key(header::UPGRADE) || headers.contains_key(header::TRANSFER_ENCODING) {
        return None;
    }
    let length = match headers.get(header::CONTENT_LENGTH) {
        None => 0,
        Some(value) => value.to_str().ok()?.trim().parse().ok()?,
    };
    match (length, req.body().is_end_stream()) {
        (0, true) => Some(0),
        (0, false) => None,
        (length, _) => Some(length),
    }
}

/// Why an exchange gave no response.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    /// The connection ended (closed or reset) before a byte of a response came.
    #[error("the dyno closed the connection without a response")]
    Closed(#[source] Option<io::Error>),
    /// The connection ended in the middle of a response head.
    #[error("the dyno closed the connection in the middle of a response head")]
    Truncated,
    /// The connection ended before the body its response announced.
    #[error("the dyno closed the connection before the end of its response body")]
    TruncatedBody,
    /// A response head (or trailers) over [`MAX_HEAD`] bytes or [`MAX_FIELDS`] fields.
    #[error("the dyno's response head (or trailers) is over 64 KiB or {MAX_FIELDS} fields")]
    HeadTooLarge,
    /// Not HTTP/1.x as RFC 9112 frames it.
    #[error("malformed response from the dyno: {0}")]
    Malformed(&'static str),
    /// The request body failed (the client went away, or it is over the router's limit).
    #[error("the request body failed: {0}")]
    Body(#[source] BoxError),
    /// Any other failure to read from or write to the dyno.
    #[error("reading from or writing to the dyno: {0}")]
    Io(#[source] io::Error),
}

impl WireError {
    fn from_io(error: io::Error) -> Self {
        match error.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::UnexpectedEof => WireError::Closed(Some(error)),
            _ => WireError::Io(error),
        }
    }
}

impl From<WireError> for BackendError {
    fn from(error: WireError) -> Self {
        match error {
            WireError::Closed(_) | WireError::Truncated => BackendError::ClosedWithoutResponse(Some(Box::new(error))),
            _ => BackendError::Other(Box::new(error)),
        }
    }
}

/// A request's head as written on the wire: request line, fields, blank line. The URI is the
/// origin form the router hands over; field values cannot hold CR or LF (`HeaderValue` refuses
/// them), so nothing can be smuggled into the head.
pub(crate) fn encode_head(parts: &request::Parts) -> Vec<u8> {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let fields: usize = parts.headers.iter().map(|(name, value)| name.as_str().len() + value.len() + 4).sum();
    let mut head = Vec::with_capacity(parts.method.as_str().len() + target.len() + 13 + fields + 2);
    head.extend_from_slice(parts.method.as_str().as_bytes());
    head.push(b' ');
    head.extend_from_slice(target.as_bytes());
    head.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in &parts.headers {
        head.extend_from_slice(name.as_str().as_bytes());
        head.extend_from_slice(b": ");
        head.extend_from_slice(value.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    head
}

/// Where a connection whose response has ended goes back to (the dyno's pool).
pub(crate) trait Keep: Send + Sync + 'static {
    /// Takes back `wire`, idle and reusable.
    fn keep(&self, wire: Wire);
}

/// A keep-alive connection to a dyno, with the bytes read from it and not yet used.
#[derive(Debug)]
pub(crate) struct Wire {
    stream: TcpStream,
    buf: BytesMut,
    /// Room made for the next read.
    read_size: usize,
}

impl Wire {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Wire { stream, buf: BytesMut::new(), read_size: READ_SIZE }
    }

    /// Whether an idle connection can take a request: the dyno has neither closed it nor sent
    /// anything unasked for. No system call unless the socket became readable while idle.
    pub(crate) fn is_usable(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            // Readable: closed, sent something, or a readiness not yet found stale.
            Poll::Ready(Ok(())) => {
                matches!(self.stream.try_read_buf(&mut self.buf), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Writes `head` and reads the response's head. `head_request`: the request is HEAD (no body
    /// follows whatever the response says).
    pub(crate) async fn exchange(&mut self, head: &[u8], head_request: bool) -> Result<Head, WireError> {
        self.stream.write_all(head).await.map_err(WireError::from_io)?;
        let mut reading = Reading::default();
        std::future::poll_fn(|cx| self.poll_head(cx, &mut reading, head_request)).await
    }

    /// [`Wire::exchange`] for a request with a body of `length` bytes (its `Content-Length`): the
    /// body is written as it comes while the response is read. A response that comes before the
    /// whole body was written (a dyno refusing it early), or a dyno that stops reading it, ends
    /// the writing; the response is still read, and the connection is not reused.
    pub(crate) async fn exchange_with_body(
        &mut self,
        mut head: Vec<u8>,
        head_request: bool,
        mut body: RouterBody,
        length: u64,
    ) -> Result<Head, WireError> {
        let mut sending = Sending { pending: Bytes::new(), sent: 0, length, ended: false, stopped: false };
        // What of the body is at hand already (a small one came with the request's head) goes
        // out with the head, in one write.
        std::future::poll_fn(|cx| {
            while head.len() < COALESCE && !sending.ended {
                match sending.poll_body(cx, &mut body) {
                    Poll::Ready(Ok(())) => {
                        head.extend_from_slice(&sending.pending);
                        sending.pending = Bytes::new();
                    }
                    Poll::Ready(Err(error)) => return Poll::Ready(Err(error)),
                    Poll::Pending => break,
                }
            }
            Poll::Ready(Ok(()))
        })
        .await?;
        if let Err(error) = self.stream.write_all(&head).await {
            // The dyno may have answered (and closed) before reading it all: its answer is read.
            tracing::debug!(%error, "the dyno stopped reading the request");
            sending.stopped = true;
        }
        let mut reading = Reading::default();
        let mut head = std::future::poll_fn(|cx| {
            if let Poll::Ready(head) = self.poll_head(cx, &mut reading, head_request) {
                return Poll::Ready(head);
            }
            match self.poll_send(cx, &mut body, &mut sending) {
                Ok(()) => Poll::Pending,
                Err(error) => Poll::Ready(Err(error)),
            }
        })
        .await?;
        head.keep_alive &= sending.is_whole();
        Ok(head)
    }

    /// Reads a response head, skipping interim ones.
    fn poll_head(&mut self, cx: &mut Context<'_>, reading: &mut Reading, head_request: bool) -> Poll<Result<Head, WireError>> {
        loop {
            if !self.buf.is_empty() {
                reading.received = true;
                match parse_head(&mut self.buf, head_request)? {
                    Parsed::Final(head) => return Poll::Ready(Ok(head)),
                    Parsed::Interim if reading.interim == MAX_INTERIM => {
                        return Poll::Ready(Err(WireError::Malformed("more than 16 interim (1xx) responses")));
                    }
                    Parsed::Interim => {
                        reading.interim += 1;
                        continue;
                    }
                    Parsed::Partial if self.buf.len() >= MAX_HEAD => return Poll::Ready(Err(WireError::HeadTooLarge)),
                    Parsed::Partial => {}
                }
            }
            let error = match ready!(self.poll_fill(cx)) {
                Ok(0) if reading.received => WireError::Truncated,
                Ok(0) => WireError::Closed(None),
                Ok(_) => continue,
                Err(error) => match WireError::from_io(error) {
                    WireError::Closed(_) if reading.received => WireError::Truncated,
                    error => error,
                },
            };
            return Poll::Ready(Err(error));
        }
    }

    /// Writes what it can of the request body; `Ok` once it is waiting (on the body or the
    /// socket) or done.
    fn poll_send(&mut self, cx: &mut Context<'_>, body: &mut RouterBody, sending: &mut Sending) -> Result<(), WireError> {
        while !sending.is_whole() && !sending.stopped {
            if sending.pending.is_empty() {
                match sending.poll_body(cx, body) {
                    Poll::Ready(result) => result?,
                    Poll::Pending => return Ok(()),
                }
                continue;
            }
            match self.stream.poll_write_ready(cx) {
                Poll::Pending => return Ok(()),
                // The dyno stopped reading (closed, reset): what it answered is still read.
                Poll::Ready(Err(_)) => sending.stopped = true,
                Poll::Ready(Ok(())) => match self.stream.try_write(&sending.pending) {
                    Ok(written) => sending.pending.advance(written),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                    Err(_) => sending.stopped = true,
                },
            }
        }
        Ok(())
    }

    /// Reads what the dyno has sent into the buffer: the count read, 0 at its end.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.stream.poll_read_ready(cx))?;
            self.buf.reserve(self.read_size);
            match self.stream.try_read_buf(&mut self.buf) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                Ok(read) if read >= self.read_size => {
                    self.read_size = (self.read_size * 2).min(MAX_READ_SIZE);
                    return Poll::Ready(Ok(read));
                }
                read => return Poll::Ready(read),
            }
        }
    }

    /// Readies an emptied connection for the pool: its socket's readiness, known to be spent
    /// (the whole response was read and nothing after it), is forgotten, so that the next
    /// response is waited for rather than first tried for with a read that finds nothing, and
    /// anything the dyno sends while the connection idles (its close) shows as readiness.
    fn idle(self) -> Self {
        let _ = self.stream.try_io(Interest::READABLE, || Err::<(), _>(io::ErrorKind::WouldBlock.into()));
        self
    }
}

/// Where the reading of a response head is.
#[derive(Default)]
struct Reading {
    /// Some bytes of a response came.
    received: bool,
    /// Interim (1xx) responses skipped.
    interim: usize,
}

/// Where the writing of a request body is.
struct Sending {
    /// Bytes of the body read and not yet written.
    pending: Bytes,
    /// Bytes of the body read so far.
    sent: u64,
    /// Its `Content-Length`.
    length: u64,
    /// All of it read.
    ended: bool,
    /// Given up: the dyno answered or stopped reading first.
    stopped: bool,
}

impl Sending {
    /// All of the body written.
    fn is_whole(&self) -> bool {
        self.ended && self.pending.is_empty()
    }

    /// Reads the body's next bytes into `pending` (which is empty), or its end.
    fn poll_body(&mut self, cx: &mut Context<'_>, body: &mut RouterBody) -> Poll<Result<(), WireError>> {
        match ready!(Pin::new(body).poll_frame(cx)) {
            None if self.sent == self.length => self.ended = true,
            None => return Poll::Ready(Err(WireError::Body("it ended before its Content-Length".into()))),
            Some(Err(error)) => return Poll::Ready(Err(WireError::Body(error))),
            // Trailers have no place after a body framed by length: dropped.
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    self.sent += data.len() as u64;
                    if self.sent > self.length {
                        return Poll::Ready(Err(WireError::Body("it is longer than its Content-Length".into())));
                    }
                    self.pending = data;
                }
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// A response head and how its body is framed.
#[derive(Debug)]
pub(crate) struct Head {
    response: Response<()>,
    framing: Framing,
    keep_alive: bool,
}

/// How a response body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framing {
    /// No body.
    Empty,
    /// This many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(Chunk),
    /// Until the dyno closes the connection.
    UntilClose,
}

/// Where a chunked body's decoding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Before a chunk-size line.
    Size,
    /// In a chunk's data, this many bytes left.
    Data(u64),
    /// After a chunk's data: its CRLF.
    DataEnd,
    /// After the last chunk: trailer fields, then a blank line.
    Trailers,
}

/// What [`parse_head`] found at the front of the buffer.
enum Parsed {
    Final(Head),
    Interim,
    Partial,
}

/// Parses a response head at the front of `buf` and takes it off; an interim (1xx) one is taken
/// off and skipped.
fn parse_head(buf: &mut BytesMut, head_request: bool) -> Result<Parsed, WireError> {
    let mut fields = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_FIELDS];
    let mut parsed = httparse::Response::new(&mut []);
    let len = match httparse::ParserConfig::default().parse_response_with_uninit_headers(&mut parsed, buf, &mut fields) {
        Ok(httparse::Status::Complete(len)) if len > MAX_HEAD => return Err(WireError::HeadTooLarge),
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => return Err(WireError::HeadTooLarge),
        Err(_) => return Err(WireError::Malformed("not an HTTP/1.x response head")),
    };
    let status = parsed.code.and_then(|code| StatusCode::from_u16(code).ok()).ok_or(WireError::Malformed("status code"))?;
    if status.is_informational() {
        if status == StatusCode::SWITCHING_PROTOCOLS {
            return Err(WireError::Malformed("101 Switching Protocols to a request without an upgrade"));
        }
        buf.advance(len);
        return Ok(Parsed::Interim);
    }
    let version = if parsed.version == Some(0) { Version::HTTP_10 } else { Version::HTTP_11 };
    // Where each field lies in the head, so its value can share the head's bytes.
    let base = buf.as_ptr() as usize;
    let spans: Vec<_> = parsed
        .headers
        .iter()
        .map(|field| (field.name.as_ptr() as usize - base, field.name.len(), field.value.as_ptr() as usize - base, field.value.len()))
        .collect();
    let head = buf.split_to(len).freeze();
    let mut headers = HeaderMap::with_capacity(spans.len());
    for (name, name_len, value, value_len) in spans {
        let name = HeaderName::from_bytes(&head[name..name + name_len]).map_err(|_| WireError::Malformed("field name"))?;
        let value = HeaderValue::from_maybe_shared(head.slice(value..value + value_len))
            .map_err(|_| WireError::Malformed("field value"))?;
        headers.append(name, value);
    }
    let (framing, keep_alive) = framing(&headers, status, version, head_request)?;
    let mut response = Response::new(());
    *response.status_mut() = status;
    *response.version_mut() = version;
    *response.headers_mut() = headers;
    Ok(Parsed::Final(Head { response, framing, keep_alive }))
}

/// How the body of a response with these fields is framed, and whether its connection can be
/// reused after it (RFC 9112 §6.3, §9.3).
fn framing(headers: &HeaderMap, status: StatusCode, version: Version, head_request: bool) -> Result<(Framing, bool), WireError> {
    let connection = |token: &str| {
        headers.get_all(header::CONNECTION).iter().any(|value| {
            value.to_str().is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
        })
    };
    let mut keep_alive = if version == Version::HTTP_10 { connection("keep-alive") } else { !connection("close") };
    let length = content_length(headers)?;
    if head_request || status == StatusCode::NO_CONTENT || status == StatusCode::NOT_MODIFIED {
        return Ok((Framing::Empty, keep_alive));
    }
    if headers.contains_key(header::TRANSFER_ENCODING) {
        if version == Version::HTTP_10 {
            return Err(WireError::Malformed("Transfer-Encoding in an HTTP/1.0 response"));
        }
        let last = headers.get_all(header::TRANSFER_ENCODING).iter().next_back().and_then(|v| v.to_str().ok());
        let chunked = last.and_then(|v| v.rsplit(',').next()).is_some_and(|t| t.trim().eq_ignore_ascii_case("chunked"));
        // Both framings given: the coding wins, and the connection is not trusted again.
        if length.is_some() {
            keep_alive = false;
        }
        return Ok(if chunked { (Framing::Chunked(Chunk::Size), keep_alive) } else { (Framing::UntilClose, false) });
    }
    Ok(match length {
        Some(0) => (Framing::Empty, keep_alive),
        Some(length) => (Framing::Length(length), keep_alive),
        None => (Framing::UntilClose, false),
    })
}

/// The `Content-Length` of a response: every value (and every item of a list) the same number.
fn content_length(headers: &HeaderMap) -> Result<Option<u64>, WireError> {
    let mut length = None;
    for value in headers.get_all(header::CONTENT_LENGTH) {
        let value = value.to_str().map_err(|_| WireError::Malformed("Content-Length"))?;
        for item in value.split(',') {
            let item = item.trim();
            if item.is_empty() || item.len() > 19 || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(WireError::Malformed("Content-Length"));
            }
            let item: u64 = item.parse().map_err(|_| WireError::Malformed("Content-Length"))?;
            if length.is_some_and(|seen| seen != item) {
                return Err(WireError::Malformed("Content-Length values that differ"));
            }
            length = Some(item);
        }
    }
    Ok(length)
}

/// The response to hand the router for `head` read on `wire`. A body already read whole (most
/// small responses come in the head's read) is handed over as it is, and the connection goes
/// back to `pool` at once; any other is read as the router polls it.
pub(crate) fn respond<K: Keep>(mut wire: Wire, head: Head, pool: Arc<K>) -> Response<RouterBody> {
    let Head { response, framing, keep_alive } = head;
    let whole = match framing {
        Framing::Empty => Some(Bytes::new()),
        Framing::Length(length) if wire.buf.len() as u64 >= length => Some(wire.buf.split_to(length as usize).freeze()),
        _ => None,
    };
    let body = match whole {
        Some(bytes) => {
            if keep_alive && wire.buf.is_empty() {
                pool.keep(wire.idle());
            }
            if bytes.is_empty() { empty_body() } else { full_body(bytes) }
        }
        None => into_router_body(WireBody { wire: Some(wire), framing, keep_alive, pool }),
    };
    response.map(|()| body)
}

/// A response body read from the dyno as it is polled.
struct WireBody<K: Keep> {
    /// `None` once the body has ended (the connection back in the pool or closed).
    wire: Option<Wire>,
    framing: Framing,
    keep_alive: bool,
    pool: Arc<K>,
}

impl<K: Keep> WireBody<K> {
    /// The body has ended: its connection goes back to the pool if it can be reused.
    fn end(&mut self) {
        if let Some(wire) = self.wire.take()
            && self.keep_alive
            && wire.buf.is_empty()
        {
            self.pool.keep(wire.idle());
        }
    }
}

/// What a body's decoding made of the bytes read so far.
#[derive(Debug)]
enum Step {
    Frame(Frame<Bytes>),
    /// The body has ended.
    End,
    /// More bytes are needed.
    More,
}

impl Framing {
    /// Decodes the next frame of a body from the front of `buf`.
    fn decode(&mut self, buf: &mut BytesMut) -> Result<Step, WireError> {
        loop {
            match self {
                Framing::Empty | Framing::Length(0) => return Ok(Step::End),
                Framing::Length(left) | Framing::Chunked(Chunk::Data(left)) => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    let take = (*left).min(buf.len() as u64);
                    *left -= take;
                    let data = buf.split_to(take as usize).freeze();
                    if *self == Framing::Chunked(Chunk::Data(0)) {
                        *self = Framing::Chunked(Chunk::DataEnd);
                    }
                    return Ok(Step::Frame(Frame::data(data)));
                }
                Framing::UntilClose => {
                    if buf.is_empty() {
                        return Ok(Step::More);
                    }
                    return Ok(Step::Frame(Frame::data(buf.split().freeze())));
                }
                Framing::Chunked(Chunk::Size) => {
                    let Some(end) = find_crlf(buf, MAX_CHUNK_LINE) else {
                        return if buf.len() > MAX_CHUNK_LINE {
                            Err(WireError::Malformed("chunk-size line over 4 KiB"))
                        } else {
                            Ok(Step::More)
                        };
                    };
                    let size = chunk_size(&buf[..end])?;
                    buf.advance(end + 2);
                    *self = Framing::Chunked(if size == 0 { Chunk::Trailers } else { Chunk::Data(size) });
                }
                Framing::Chunked(Chunk::DataEnd) => {
                    if buf.len() < 2 {
                        return Ok(Step::More);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(WireError::Malformed("chunk data longer than its size"));
                    }
                    buf.advance(2);
                    *self = Framing::Chunked(Chunk::Size);
                }
                Framing::Chunked(Chunk::Trailers) => {
                    if buf.starts_with(b"\r\n") {
                        buf.advance(2);
                        *self = Framing::Empty;
                        return Ok(Step::End);
                    }
                    let mut fields = [httparse::EMPTY_HEADER; MAX_FIELDS];
                    let (len, trailers) = match httparse::parse_headers(buf, &mut fields) {
                        Ok(httparse::Status::Complete((len, _))) if len > MAX_HEAD => return Err(WireError::HeadTooLarge),
                        Ok(httparse::Status::Complete((len, fields))) => (len, trailer_map(fields)?),
                        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => return Err(WireError::HeadTooLarge),
                        Ok(httparse::Status::Partial) => return Ok(Step::More),
                        Err(httparse::Error::TooManyHeaders) => return Err(WireError::HeadTooLarge),
                        Err(_) => return Err(WireError::Malformed("trailer fields")),
                    };
                    buf.advance(len);
                    *self = Framing::Empty;
                    return Ok(Step::Frame(Frame::trailers(trailers)));
                }
            }
        }
    }

    /// Whether nothing more of the body is to come.
    fn is_done(&self) -> bool {
        matches!(self, Framing::Empty | Framing::Length(0))
    }
}

fn trailer_map(fields: &[httparse::Header<'_>]) -> Result<HeaderMap, WireError> {
    let mut trailers = HeaderMap::with_capacity(fields.len());
    for field in fields {
        let name = HeaderName::from_bytes(field.name.as_bytes()).map_err(|_| WireError::Malformed("trailer name"))?;
        let value = HeaderValue::from_bytes(field.value).map_err(|_| WireError::Malformed("trailer value"))?;
        trailers.append(name, value);
    }
    Ok(trailers)
}

/// The offset of the first CRLF in the first `within` bytes of `buf` (and the two after).
fn find_crlf(buf: &[u8], within: usize) -> Option<usize> {
    buf[..buf.len().min(within + 2)].windows(2).position(|pair| pair == b"\r\n")
}

/// A chunk-size line's size: hexadecimal digits, then optional whitespace and extensions.
fn chunk_size(line: &[u8]) -> Result<u64, WireError> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = &line[digits..];
    let rest_ok = rest.iter().find(|&&b| b != b' ' && b != b'\t').is_none_or(|&b| b == b';');
    if digits == 0 || digits > 16 || !rest_ok {
        return Err(WireError::Malformed("chunk-size line"));
    }
    let digits = std::str::from_utf8(&line[..digits]).map_err(|_| WireError::Malformed("chunk-size line"))?;
    u64::from_str_radix(digits, 16).map_err(|_| WireError::Malformed("chunk-size line"))
}

impl<K: Keep> Body for WireBody<K> {
    type Data = Bytes;
    type Error = WireError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, WireError>>> {
        let this = &mut *self;
        loop {
            let Some(wire) = this.wire.as_mut() else { return Poll::Ready(None) };
            let step = this.framing.decode(&mut wire.buf);
            match step {
                Ok(Step::Frame(frame)) => {
                    if this.framing.is_done() {
                        this.end();
                    }
                    return Poll::Ready(Some(Ok(frame)));
                }
                Ok(Step::End) => {
                    this.end();
                    return Poll::Ready(None);
                }
                Ok(Step::More) => match ready!(wire.poll_fill(cx)) {
                    Ok(0) if this.framing == Framing::UntilClose => {
                        this.framing = Framing::Empty;
                        this.end();
                        return Poll::Ready(None);
                    }
                    Ok(0) => {
                        this.wire = None;
                        return Poll::Ready(Some(Err(WireError::TruncatedBody)));
                    }
                    Ok(_) => {}
                    Err(error) => {
                        this.wire = None;
                        return Poll::Ready(Some(Err(WireError::Io(error))));
                    }
                },
                Err(error) => {
                    this.wire = None;
                    return Poll::Ready(Some(Err(error)));
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.wire.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        match self.framing {
            Framing::Length(left) if self.wire.is_some() => SizeHint::with_exact(left),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `bytes` to the head parser and the body decoder one byte at a time (every split a
    /// dyno's writes could make), and returns the head and the body's data and trailers.
    fn byte_by_byte(bytes: &[u8], head_request: bool) -> Result<(Head, Vec<u8>, Option<HeaderMap>), WireError> {
        let mut buf = BytesMut::new();
        let mut rest = bytes.iter();
        let head = loop {
            match parse_head(&mut buf, head_request)? {
                Parsed::Final(head) => break head,
                Parsed::Interim => continue,
                Parsed::Partial => buf.extend_from_slice(&[*rest.next().ok_or(WireError::Truncated)?]),
            }
        };
        let mut framing = head.framing;
        let (mut data, mut trailers) = (Vec::new(), None);
        loop {
            match framing.decode(&mut buf)? {
                Step::Frame(frame) => match frame.into_data() {
                    Ok(bytes) => data.extend_from_slice(&bytes),
                    Err(frame) => trailers = frame.into_trailers().ok(),
                },
                Step::End => break,
                Step::More => match rest.next() {
                    Some(byte) => buf.extend_from_slice(&[*byte]),
                    None if framing == Framing::UntilClose => break,
                    None => return Err(WireError::TruncatedBody),
                },
            }
        }
        assert!(rest.next().is_none() && buf.is_empty(), "bytes left after the response");
        Ok((head, data, trailers))
    }

    #[test]
    fn chunked_bodies_decode_with_extensions_and_trailers_however_the_bytes_are_split() {
        let response = b"HTTP/1.1 103 Early Hints\r\nlink: </style.css>\r\n\r\n\
            HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nX-A: 1\r\n\r\n\
            5\r\nhello\r\n6 ;name=value\r\n world\r\nA\r\n0123456789\r\n0\r\nX-Checksum: abc\r\n\r\n";
        let (head, data, trailers) = byte_by_byte(response, false).unwrap();
        assert_eq!(head.response.status(), 200);
        assert_eq!(head.response.headers()["x-a"], "1");
        assert!(head.keep_alive);
        assert_eq!(data, b"hello world0123456789");
        assert_eq!(trailers.unwrap()["x-checksum"], "abc");

        let (_, data, trailers) = byte_by_byte(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n", false).unwrap();
        assert!(data.is_empty() && trailers.is_none());
    }

    #[test]
    fn length_close_and_bodiless_framings_follow_rfc_9112() {
        let (head, data, _) = byte_by_byte(b"HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\ncontent-length: 5\r\n\r\nhello", false).unwrap();
        assert_eq!((data.as_slice(), head.keep_alive), (&b"hello"[..], true));

        let (head, data, _) = byte_by_byte(b"HTTP/1.0 200 OK\r\n\r\nuntil the end", false).unwrap();
        assert_eq!((data.as_slice(), head.keep_alive, head.response.version()), (&b"until the end"[..], false, Version::HTTP_10));
        let (head, _, _) = byte_by_byte(b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", false).unwrap();
        assert!(head.keep_alive);
        let (head, _, _) = byte_by_byte(b"HTTP/1.1 200 OK\r\nConnection: Close\r\nContent-Length: 2\r\n\r\nok", false).unwrap();
        assert!(!head.keep_alive);
        let (head, _, _) = byte_by_byte(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n3\r\nabc\r\n0\r\n\r\n", false).unwrap();
        assert!(!head.keep_alive, "a response with both framings is not trusted again");
        let (head, data, _) = byte_by_byte(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nzipped", false).unwrap();
        assert_eq!((data.as_slice(), head.keep_alive), (&b"zipped"[..], false));

        // HEAD, 204 and 304: no body, whatever the length says.
        for (response, head_request) in [
            (&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"[..], true),
            (b"HTTP/1.1 204 No Content\r\n\r\n", false),
            (b"HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n", false),
        ] {
            let (head, data, _) = byte_by_byte(response, head_request).unwrap();
            assert_eq!((head.framing, data.len(), head.keep_alive), (Framing::Empty, 0, true));
        }
    }

    #[test]
    fn malformed_and_oversized_responses_are_refused() {
        let refused = |bytes: &[u8]| byte_by_byte(bytes, false).map(|_| ()).unwrap_err().to_string();
        assert!(refused(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello").contains("differ"));
        assert!(refused(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n").contains("Content-Length"));
        assert!(refused(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n").contains("Content-Length"));
        assert!(refused(b"SSH-2.0-OpenSSH\r\n\r\n").contains("malformed"));
        assert!(refused(b"HTTP/1.1 101 Switching Protocols\r\n\r\n").contains("101"));
        assert!(refused(b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n").contains("HTTP/1.0"));
        assert!(refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n").contains("chunk-size"));
        assert!(refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n11111111111111111\r\n").contains("chunk-size"));
        assert!(refused(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n").contains("longer"));
        assert!(refused(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello").contains("before the end"));
        assert!(refused(b"HTTP/1.1 200 OK\r\nContent-Len").contains("middle of a response head"));

        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..=MAX_FIELDS {
            many.extend_from_slice(format!("x-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        assert!(refused(&many).contains("fields"));
        let mut long_head = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
        long_head.resize(long_head.len() + MAX_HEAD, b'x');
        long_head.extend_from_slice(b"\r\n\r\n");
        assert!(refused(&long_head).contains("64 KiB"));
        let mut long_line = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;".to_vec();
        long_line.resize(long_line.len() + MAX_CHUNK_LINE + 8, b'x');
        assert!(refused(&long_line).contains("4 KiB"));
    }

    #[test]
    fn requests_of_a_known_length_go_the_routers_own_way_and_the_others_through_hyper() {
        let req = |length: Option<&str>, upgrade: bool, body: RouterBody| {
            let mut req = Request::post("/").body(body).unwrap();
            if let Some(length) = length {
                req.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from_str(length).unwrap());
            }
            if upgrade {
                req.headers_mut().insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            }
            body_length(&req)
        };
        assert_eq!(req(None, false, empty_body()), Some(0));
        assert_eq!(req(Some("0"), false, empty_body()), Some(0));
        assert_eq!(req(Some("5"), false, full_body("hello")), Some(5));
        assert_eq!(req(None, false, full_body("chunked")), None, "a body of unknown length");
        assert_eq!(req(None, true, empty_body()), None, "an upgrade");
        assert_eq!(req(Some("five"), false, full_body("hello")), None);
    }

    #[test]
    fn request_heads_carry_the_method_target_and_fields_as_given() {
        let req = Request::get("/a/b?c=d").header("host", "app.example").header("x-request-id", "abc").body(()).unwrap();
        let (parts, ()) = req.into_parts();
        assert_eq!(encode_head(&parts), b"GET /a/b?c=d HTTP/1.1\r\nhost: app.example\r\nx-request-id: abc\r\n\r\n");
    }
}
