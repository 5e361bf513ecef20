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
        // Piece by piece rather than one `write!`: this runs once per request.
        match self.code {
            Some(code) => write!(f, "at={} code={} desc=\"{}\" ", code.at(), code, code.desc())?,
            None => f.write_str("at=info ")?,
        }
        f.write_str("method=")?;
        f.write_str(self.method.as_str())?;
        f.write_str(" path=\"")?;
        fmt::Display::fmt(&Escaped(&self.path), f)?;
        f.write_str("\" host=")?;
        f.write_str(&self.host)?;
        f.write_str(" request_id=")?;
        f.write_str(&self.request_id)?;
        f.write_str(" fwd=\"")?;
        fmt::Display::fmt(&Escaped(&self.fwd), f)?;
        f.write_str("\" dyno=")?;
        f.write_str(self.dyno.as_deref().unwrap_or(""))?;
        f.write_str(" connect=")?;
        fmt::Display::fmt(&Millis(self.connect), f)?;
        f.write_str(" service=")?;
        fmt::Display::fmt(&Millis(self.service), f)?;
        f.write_str(" status=")?;
        fmt::Display::fmt(&self.status, f)?;
        f.write_str(" bytes=")?;
        fmt::Display::fmt(&Bytes(self.bytes), f)?;
        f.write_str(" protocol=")?;
        f.write_str(self.protocol)
    }
}

impl LogLine {
    /// About the length of the line, for a buffer it is written into (`to_string` grows its
    /// buffer three or four times on the way; this runs once per request).
    pub fn capacity(&self) -> usize {
        self.path.len() + self.host.len() + self.request_id.len() + self.fwd.len() + 200
    }
}

/// Writes `"` and `\` escaped so a quoted field cannot end early.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Runs of plain characters are written at once: this runs once per request.
        let mut plain = 0;
        for (at, c) in self.0.char_indices() {
            if c != '"' && c != '\\' && !c.is_control() {
                continue;
            }
            f.write_str(&self.0[plain..at])?;
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                c => write!(f, "\\u{{{:x}}}", c as u32)?,
            }
            plain = at + c.len_utf8();
        }
        f.write_str(&self.0[plain..])
    }
}

/// `bytes=`: the count, or nothing.
struct Bytes(Option<u64>);

impl fmt::Display for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => fmt::Display::fmt(&n, f),
            None => Ok(()),
        }
    }
}

struct Millis(Option<Duration>);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(d) => {
                fmt::Display::fmt(&d.as_millis(), f)?;
                f.write_str("ms")
            }
            None => Ok(()),
        }
    }
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
