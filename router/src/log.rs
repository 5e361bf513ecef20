//! Router log lines in Heroku's format, and the [`RouterLog`] seam that receives them per app.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

/// A Heroku router error code, with its status and log description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    /// H10: the app's web dynos crashed or cannot be reached.
    H10,
    /// H12: the dyno did not answer within the request timeout.
    H12,
    /// H13: the dyno closed the connection without a response.
    H13,
    /// H14: no web dynos are running.
    H14,
    /// H15: the dyno's response body sent nothing for the idle timeout (55 s); cut off.
    H15,
    /// H25: the request broke an HTTP restriction (here: its body is over the limit).
    H25,
    /// H27: the client went away before the dyno's response began (logged with status 499).
    H27,
    /// H80: the app is in maintenance mode.
    H80,
    /// H99: an error in the platform itself.
    H99,
}

impl ErrorCode {
    /// The code as written in log lines (`H12`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::H10 => "H10",
            ErrorCode::H12 => "H12",
            ErrorCode::H13 => "H13",
            ErrorCode::H14 => "H14",
            ErrorCode::H15 => "H15",
            ErrorCode::H25 => "H25",
            ErrorCode::H27 => "H27",
            ErrorCode::H80 => "H80",
            ErrorCode::H99 => "H99",
        }
    }

    /// Heroku's description (`desc="Request timeout"`).
    pub fn desc(self) -> &'static str {
        match self {
            ErrorCode::H10 => "App crashed",
            ErrorCode::H12 => "Request timeout",
            ErrorCode::H13 => "Connection closed without response",
            ErrorCode::H14 => "No web processes running",
            ErrorCode::H15 => "Idle connection",
            ErrorCode::H25 => "HTTP restriction: request body too large",
            ErrorCode::H27 => "Client Request Interrupted",
            ErrorCode::H80 => "Maintenance mode",
            ErrorCode::H99 => "Platform error",
        }
    }

    /// The HTTP status the client gets (499, as logged, for H27: the client is gone).
    pub fn status(self) -> http::StatusCode {
        match self {
            ErrorCode::H25 => http::StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::H27 => http::StatusCode::from_u16(499).unwrap_or(http::StatusCode::BAD_REQUEST),
            _ => http::StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// `at=info` for H80 (maintenance is intended), `at=error` for the rest, as Heroku logs them.
    pub fn at(self) -> &'static str {
        match self {
            ErrorCode::H80 => "info",
            _ => "error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One router log line. `Display` writes it exactly as Heroku's router does, e.g.
///
/// `at=info method=GET path="/" host=hello.localhost request_id=… fwd="127.0.0.1" dyno=web.1 connect=0ms service=3ms status=200 bytes=21 protocol=http`
///
/// Fields that do not apply (no dyno was called) are written empty (`dyno= connect=`), as Heroku does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// The error code, if the request failed in the router.
    pub code: Option<ErrorCode>,
    /// Request method (a clone of a standard method allocates nothing).
    pub method: http::Method,
    /// Path and query.
    pub path: String,
    /// Host, lowercased, without port.
    pub host: String,
    /// The `X-Request-Id` forwarded to the dyno.
    pub request_id: String,
    /// The `X-Forwarded-For` value forwarded to the dyno.
    pub fwd: String,
    /// The dyno that served the request (`web.1`).
    pub dyno: Option<String>,
    /// Time to connect to the dyno.
    pub connect: Option<Duration>,
    /// Time the dyno took, from the request handed over to the end of the response body.
    pub service: Option<Duration>,
    /// Status sent to the client.
    pub status: u16,
    /// Response body bytes the dyno sent (empty when no dyno answered).
    pub bytes: Option<u64>,
    /// `http` or `https`: the protocol the client used, as in `X-Forwarded-Proto`.
    pub protocol: &'static str,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = String::with_capacity(self.capacity());
        self.write_to(&mut text);
        f.write_str(&text)
    }
}

impl LogLine {
    /// About the length of the line, for a buffer it is written into (`to_string` grows its
    /// buffer three or four times on the way; this runs once per request).
    pub fn capacity(&self) -> usize {
        self.path.len() + self.host.len() + self.request_id.len() + self.fwd.len() + 200
    }

    /// Appends the line (as `Display` writes it) to `out`: straight into the buffer, without
    /// the formatting machinery's call per piece (this runs once per request).
    pub fn write_to(&self, out: &mut String) {
        match self.code {
            Some(code) => {
                for piece in ["at=", code.at(), " code=", code.as_str(), " desc=\"", code.desc(), "\" "] {
                    out.push_str(piece);
                }
            }
            None => out.push_str("at=info "),
        }
        out.push_str("method=");
        out.push_str(self.method.as_str());
        out.push_str(" path=\"");
        push_escaped(out, &self.path);
        out.push_str("\" host=");
        out.push_str(&self.host);
        out.push_str(" request_id=");
        out.push_str(&self.request_id);
        out.push_str(" fwd=\"");
        push_escaped(out, &self.fwd);
        out.push_str("\" dyno=");
        out.push_str(self.dyno.as_deref().unwrap_or(""));
        out.push_str(" connect=");
        push_millis(out, self.connect);
        out.push_str(" service=");
        push_millis(out, self.service);
        out.push_str(" status=");
        push_decimal(out, u64::from(self.status));
        out.push_str(" bytes=");
        if let Some(bytes) = self.bytes {
            push_decimal(out, bytes);
        }
        out.push_str(" protocol=");
        out.push_str(self.protocol);
    }
}

/// Appends `text` with `"` and `\` escaped, so a quoted field cannot end early, and control
/// characters as `\u{…}`. Runs of plain characters are copied at once.
fn push_escaped(out: &mut String, text: &str) {
    let mut plain = 0;
    for (at, c) in text.char_indices() {
        if c != '"' && c != '\\' && !c.is_control() {
            continue;
        }
        out.push_str(&text[plain..at]);
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => {
                let _ = fmt::Write::write_fmt(out, format_args!("\\u{{{:x}}}", c as u32));
            }
        }
        plain = at + c.len_utf8();
    }
    out.push_str(&text[plain..]);
}

/// `connect=` and `service=`: whole milliseconds and `ms`, or nothing.
fn push_millis(out: &mut String, duration: Option<Duration>) {
    if let Some(duration) = duration {
        push_decimal(out, u64::try_from(duration.as_millis()).unwrap_or(u64::MAX));
        out.push_str("ms");
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    loop {
        start -= 1;
        digits[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[start..].iter().map(|&d| char::from(d)));
}

/// Where router log lines go: one call per request, tagged with the app it was routed to.
/// Requests for unknown hosts belong to no app and are only traced (`tracing`), not logged here.
///
/// The logplex implements this to put the line into the app's stream as `heroku[router]: <line>`.
pub trait RouterLog: Send + Sync + 'static {
    /// Receives the line of one finished request of `app`.
    fn log(&self, app: &str, line: &LogLine);
}

impl<F: Fn(&str, &LogLine) + Send + Sync + 'static> RouterLog for F {
    fn log(&self, app: &str, line: &LogLine) {
        self(app, line)
    }
}

/// Discards every line (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct NoLog;

impl RouterLog for NoLog {
    fn log(&self, _app: &str, _line: &LogLine) {}
}

/// Sends `(app, line)` into a tokio channel; lines are dropped if the receiver is gone.
impl RouterLog for tokio::sync::mpsc::UnboundedSender<(String, LogLine)> {
    fn log(&self, app: &str, line: &LogLine) {
        let _ = self.send((app.to_string(), line.clone()));
    }
}

/// Keeps every line in memory, for tests.
#[derive(Debug, Default)]
pub struct MemoryLog(Mutex<Vec<(String, LogLine)>>);

impl MemoryLog {
    /// An empty log.
    pub fn new() -> Self {
        Self::default()
    }

    /// The lines logged so far, oldest first.
    pub fn lines(&self) -> Vec<(String, LogLine)> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl RouterLog for MemoryLog {
    fn log(&self, app: &str, line: &LogLine) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push((app.to_string(), line.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line() -> LogLine {
        LogLine {
            code: None,
            method: http::Method::GET,
            path: "/".into(),
            host: "hello.localhost".into(),
            request_id: "f9ed4675-f4d6-4e44-8a8a-a1a3bd1c4e9b".into(),
            fwd: "127.0.0.1".into(),
            dyno: Some("web.1".into()),
            connect: Some(Duration::from_micros(300)),
            service: Some(Duration::from_millis(3)),
            status: 200,
            bytes: Some(21),
            protocol: "http",
        }
    }

    #[test]
    fn info_line_is_herokus_format() {
        assert_eq!(
            line().to_string(),
            "at=info method=GET path=\"/\" host=hello.localhost request_id=f9ed4675-f4d6-4e44-8a8a-a1a3bd1c4e9b \
             fwd=\"127.0.0.1\" dyno=web.1 connect=0ms service=3ms status=200 bytes=21 protocol=http"
        );
    }

    #[test]
    fn error_line_without_dyno_leaves_fields_empty() {
        let line = LogLine {
            code: Some(ErrorCode::H14),
            dyno: None,
            connect: None,
            service: None,
            status: 503,
            bytes: None,
            path: "/a\"b".into(),
            ..line()
        };
        assert_eq!(
            line.to_string(),
            "at=error code=H14 desc=\"No web processes running\" method=GET path=\"/a\\\"b\" host=hello.localhost \
             request_id=f9ed4675-f4d6-4e44-8a8a-a1a3bd1c4e9b fwd=\"127.0.0.1\" dyno= connect= service= status=503 bytes= protocol=http"
        );
        assert!(LogLine { code: Some(ErrorCode::H80), ..line }.to_string().starts_with("at=info code=H80 desc=\"Maintenance mode\" "));
    }

    #[test]
    fn quoted_fields_escape_quotes_backslashes_and_control_characters() {
        let line = LogLine { path: "/é\\x\u{1b}y\"".into(), fwd: "\"".into(), ..line() };
        let text = line.to_string();
        assert!(text.contains(r#"path="/é\\x\u{1b}y\"" "#), "{text}");
        assert!(text.contains(r#"fwd="\"" "#), "{text}");
    }
}
