//! The headers the router adds and removes on the way to a dyno and back: `X-Request-Id`,
//! `X-Forwarded-For/-Proto/-Port`, `Via`, and hop-by-hop headers.

use std::net::IpAddr;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-Forwarded-For`.
pub static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
/// `X-Forwarded-Proto`.
pub static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
/// `X-Forwarded-Port`.
pub static X_FORWARDED_PORT: HeaderName = HeaderName::from_static("x-forwarded-port");
/// `X-Request-Start`: when the router received the request, in Unix milliseconds (Heroku's).
pub static X_REQUEST_START: HeaderName = HeaderName::from_static("x-request-start");

/// Whether a client-sent request id is kept: 20 to 200 characters of `A-Z a-z 0-9 + = / -`,
/// Heroku's rule.
pub fn is_valid_request_id(id: &str) -> bool {
    (20..=200).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'=' | b'/' | b'-'))
}

/// The request id for a request: the client's `X-Request-Id` when valid, a new UUID otherwise.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_valid_request_id(id))
        .map(str::to_string)
        .unwrap_or_else(new_request_id)
}

/// A fresh UUID v4 from the thread-local generator (no system call per request), encoded
/// without the formatting machinery.
fn new_request_id() -> String {
    let uuid = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
    // `String::from`, not `to_string`: on a `&mut str` that went through the formatter.
    String::from(&*uuid.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()))
}

/// What the router knows about the client connection a request came on.
#[derive(Debug, Clone, Copy)]
pub struct Forwarded {
    /// The client's IP address.
    pub client_ip: IpAddr,
    /// The port the client connected to (`X-Forwarded-Port`).
    pub port: u16,
    /// `http` or `https` (`X-Forwarded-Proto`).
    pub proto: &'static str,
}

/// Sets `X-Request-Id`, `X-Request-Start`, `X-Forwarded-*` and `Via` on a request bound for a dyno, and removes
/// hop-by-hop headers. Returns the `X-Forwarded-For` value sent (the log's `fwd=`).
///
/// `X-Forwarded-For` gets the client's address appended to any it sent, as Heroku does;
/// `Via` gets `<version> <via>` appended.
pub fn prepare_request(
    headers: &mut HeaderMap,
    request_id: &str,
    forwarded: &Forwarded,
    version: http::Version,
    via: &str,
) -> String {
    remove_hop_by_hop(headers);
    // Room for the six headers added below at once: a client's few headers (wrk sends one)
    // made the map grow twice on the way (0.5% of the server's CPU, moves included).
    headers.reserve(6);
    let received = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let millis = u64::try_from(received.as_millis()).unwrap_or(u64::MAX);
    let prior = headers
        .get(&X_FORWARDED_FOR)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|prior| !prior.is_empty())
        .map(str::to_string);
    let fwd = RECENT.with_borrow_mut(|recent| {
        let ip = forwarded.client_ip.to_canonical();
        let (text, value) = recent.client(ip);
        let fwd = match prior {
            Some(prior) => {
                let fwd = format!("{prior}, {text}");
                set(headers, &X_FORWARDED_FOR, &fwd);
                fwd
            }
            None => {
                headers.insert(X_FORWARDED_FOR.clone(), value);
                text
            }
        };
        headers.insert(X_REQUEST_START.clone(), recent.start(millis));
        headers.insert(X_FORWARDED_PORT.clone(), recent.port(forwarded.port));
        fwd
    });
    set(headers, &X_REQUEST_ID, request_id);
    headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static(forwarded.proto));
    append_via(headers, version, via);
    fwd
}

/// Swaps the request's `Host` for this thread's copy of the same value, as the request arrives.
/// The value hyper parsed is a slice of the connection's read buffer. hyper reads on while a
/// request is served (to notice a client that leaves), and a buffer any slice of which lives
/// cannot be reused: it allocated a new one for every request (1.7 % of the server's CPU with
/// its frees, `bench/flamegraph.sh 10 256 reuse`). `Host` is in every HTTP/1.1 request and the
/// same from one to the next; a request with other headers still holds the buffer.
pub fn own_host(headers: &mut HeaderMap) {
    if let Some(host) = headers.get_mut(header::HOST) {
        *host = RECENT.with_borrow_mut(|recent| recent.host(host));
    }
}

thread_local! {
    static RECENT: std::cell::RefCell<Recent> = std::cell::RefCell::default();
}

/// Header values that repeat from one request to the next (the client's address on a
/// keep-alive connection, the port, the millisecond, `Via`), kept per thread: made once and then
/// cloned (a reference count), rather than formatted and copied into a new buffer for every
/// request (these were 8 of a request's ~65 allocations).
#[derive(Default)]
struct Recent {
    host: Option<HeaderValue>,
    client: Option<(IpAddr, String, HeaderValue)>,
    port: Option<(u16, HeaderValue)>,
    start: Option<(u64, HeaderValue)>,
    via: Option<(http::Version, String, HeaderValue)>,
}

impl Recent {
    /// `ip` as text and as a header value.
    fn client(&mut self, ip: IpAddr) -> (String, HeaderValue) {
        match &self.client {
            Some((last, text, value)) if *last == ip => (text.clone(), value.clone()),
            _ => {
                use std::fmt::Write;
                let mut text = String::with_capacity(45);
                let _ = write!(text, "{ip}");
                let value = HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""));
                self.client = Some((ip, text.clone(), value.clone()));
                (text, value)
            }
        }
    }

    /// `host`, as a value of this thread's own (the last one seen, or a copy).
    fn host(&mut self, host: &HeaderValue) -> HeaderValue {
        match &self.host {
            Some(last) if last.as_bytes() == host.as_bytes() => last.clone(),
            _ => {
                let mut copy = HeaderValue::from_bytes(host.as_bytes()).unwrap_or_else(|_| host.clone());
                copy.set_sensitive(host.is_sensitive());
                self.host.insert(copy).clone()
            }
        }
    }

    fn port(&mut self, port: u16) -> HeaderValue {
        match &self.port {
            Some((last, value)) if *last == port => value.clone(),
            _ => self.port.insert((port, HeaderValue::from(port))).1.clone(),
        }
    }

    fn start(&mut self, millis: u64) -> HeaderValue {
        match &self.start {
            Some((last, value)) if *last == millis => value.clone(),
            _ => self.start.insert((millis, HeaderValue::from(millis))).1.clone(),
        }
    }

    /// `Via` for a request or response without one: `<version> <via>`.
    fn via(&mut self, version: http::Version, via: &str) -> Option<HeaderValue> {
        match &self.via {
            Some((last, text, value)) if *last == version && text == via => Some(value.clone()),
            _ => {
                let value = HeaderValue::from_str(&format!("{} {via}", protocol_version(version))).ok()?;
                self.via = Some((version, via.to_string(), value.clone()));
                Some(value)
            }
        }
    }
}

/// [`prepare_request`] for a request another node of the grid forwarded: its router set the
/// client's `X-Request-Id`, `X-Request-Start`, `X-Forwarded-*` and `Via`, which are kept; only
/// hop-by-hop headers go. Returns the `X-Forwarded-For` value (the log's `fwd=`).
pub fn prepare_hop_request(headers: &mut HeaderMap) -> String {
    remove_hop_by_hop(headers);
    headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// [`prepare_response`] for a forwarded request: the sending router adds `Via`.
pub fn prepare_hop_response(headers: &mut HeaderMap) {
    remove_hop_by_hop(headers);
}

/// Removes hop-by-hop headers from a dyno's response and appends `Via`.
pub fn prepare_response(headers: &mut HeaderMap, version: http::Version, via: &str) {
    remove_hop_by_hop(headers);
    append_via(headers, version, via);
}

fn append_via(headers: &mut HeaderMap, version: http::Version, via: &str) {
    let prior = headers.get(header::VIA).and_then(|v| v.to_str().ok()).map(str::trim).filter(|p| !p.is_empty());
    if prior.is_none()
        && let Some(value) = RECENT.with_borrow_mut(|recent| recent.via(version, via))
    {
        headers.insert(header::VIA, value);
        return;
    }
    let mut value = String::with_capacity(prior.map_or(0, |p| p.len() + 2) + 4 + via.len());
    if let Some(prior) = prior {
        value.push_str(prior);
        value.push_str(", ");
    }
    value.push_str(protocol_version(version));
    value.push(' ');
    value.push_str(via);
    set(headers, &header::VIA, &value);
}

/// `1.1` or `2.0`, as written in `Via`.
fn protocol_version(version: http::Version) -> &'static str {
    match version {
        http::Version::HTTP_09 => "0.9",
        http::Version::HTTP_10 => "1.0",
        http::Version::HTTP_2 => "2.0",
        http::Version::HTTP_3 => "3.0",
        _ => "1.1",
    }
}

/// Drops the headers that describe one connection (RFC 9110 §7.6.1), including any the
/// `Connection` header names.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
    static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
    let hop_by_hop = [
        &header::TE,
        &header::TRAILER,
        &header::TRANSFER_ENCODING,
        &header::UPGRADE,
        &header::PROXY_AUTHENTICATE,
        &header::PROXY_AUTHORIZATION,
        &KEEP_ALIVE,
        &PROXY_CONNECTION,
    ];
    // Most requests carry none: one look at each of their names costs less than a hashed
    // lookup of each of the nine (0.6% of the server's CPU).
    if !headers.keys().any(|name| name == header::CONNECTION || hop_by_hop.contains(&name)) {
        return;
    }
    if headers.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
        headers.remove(header::CONNECTION);
    }
    for name in hop_by_hop {
        headers.remove(name);
    }
}

fn set(headers: &mut HeaderMap, name: &HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        headers.insert(name.clone(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_rule_is_herokus() {
        assert!(is_valid_request_id("abcdefghij0123456789"));
        assert!(is_valid_request_id(&"a+=/-".repeat(40)));
        assert!(!is_valid_request_id("abcdefghij012345678")); // 19 chars
        assert!(!is_valid_request_id(&"a".repeat(201)));
        assert!(!is_valid_request_id("abcdefghij0123456789_"));
        let mut headers = HeaderMap::new();
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static("short"));
        let generated = request_id(&headers);
        assert_eq!(generated.len(), 36);
        assert!(is_valid_request_id(&generated));
    }

    /// `own_host` lets go of the read buffer the parsed `Host` was a slice of, keeps the value,
    /// and follows a new host.
    #[test]
    fn own_host_lets_go_of_the_read_buffer_and_keeps_the_value() {
        for host in ["a.example.com", "a.example.com", "b.example.com:8080"] {
            let read = bytes::Bytes::from(format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n"));
            let start = "GET / HTTP/1.1\r\nHost: ".len();
            let slice = read.slice(start..start + host.len());
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_maybe_shared(slice).unwrap());
            assert!(!read.is_unique());
            own_host(&mut headers);
            assert!(read.is_unique(), "{host}: the request still holds the read buffer");
            assert_eq!(headers[header::HOST], host);
        }
        let mut headers = HeaderMap::new();
        own_host(&mut headers);
        assert!(headers.is_empty());
    }

    /// The values kept from one request to the next (per thread) follow the request: another
    /// client, port or protocol version gets its own.
    #[test]
    fn kept_header_values_follow_each_requests_client_port_and_version() {
        let cases = [
            ("127.0.0.1", 5000, http::Version::HTTP_11, "1.1 paas"),
            ("10.0.0.9", 5000, http::Version::HTTP_11, "1.1 paas"),
            ("10.0.0.9", 443, http::Version::HTTP_10, "1.0 paas"),
            ("::1", 443, http::Version::HTTP_2, "2.0 paas"),
            ("127.0.0.1", 5000, http::Version::HTTP_11, "1.1 paas"),
        ];
        for (ip, port, version, via) in cases {
            let mut headers = HeaderMap::new();
            let forwarded = Forwarded { client_ip: ip.parse().unwrap(), port, proto: "http" };
            let fwd = prepare_request(&mut headers, "rid-0123456789abcdefgh", &forwarded, version, "paas");
            assert_eq!((fwd.as_str(), &headers["x-forwarded-for"]), (ip, &HeaderValue::from_static(ip)));
            assert_eq!(headers["x-forwarded-port"], port.to_string().as_str());
            assert_eq!(headers["via"], via);
            let start: u64 = headers["x-request-start"].to_str().unwrap().parse().unwrap();
            assert!(start > 1_700_000_000_000, "{start}");
        }
        let mut response = HeaderMap::new();
        prepare_response(&mut response, http::Version::HTTP_11, "other");
        assert_eq!(response["via"], "1.1 other");
    }

    #[test]
    fn forwarded_headers_append_and_hop_by_hop_go() {
        let mut headers = HeaderMap::new();
        headers.insert(&X_FORWARDED_FOR, HeaderValue::from_static("10.0.0.1"));
        headers.insert(header::VIA, HeaderValue::from_static("1.1 edge"));
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive, x-secret"));
        headers.insert("x-secret", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        let forwarded =
            Forwarded { client_ip: "::ffff:127.0.0.1".parse().unwrap(), port: 5000, proto: "http" };
        let fwd = prepare_request(&mut headers, "rid-0123456789abcdefgh", &forwarded, http::Version::HTTP_11, "paas");
        assert_eq!(fwd, "10.0.0.1, 127.0.0.1");
        assert_eq!(headers["x-forwarded-for"], "10.0.0.1, 127.0.0.1");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["x-forwarded-port"], "5000");
        assert_eq!(headers["via"], "1.1 edge, 1.1 paas");
        assert_eq!(headers["x-request-id"], "rid-0123456789abcdefgh");
        assert!(!headers.contains_key("x-secret") && !headers.contains_key("connection"));
        assert!(!headers.contains_key("keep-alive"));
    }
}
