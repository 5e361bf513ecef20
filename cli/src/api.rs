//! The client of the Platform API: Heroku's v3 wire format (`Accept` header, bearer key, JSON
//! bodies), its `{"id", "message"}` errors, and its `Range` / `Next-Range` pagination.

use std::fmt;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use reqwest::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// The media type every request asks for, as Heroku's API wants it.
pub const ACCEPT: &str = "application/vnd.heroku+json; version=3";

/// A guard against a server that keeps answering `Next-Range`.
const MAX_PAGES: usize = 1000;

/// An error answered by the API: its HTTP status and Heroku-style `id` and `message`.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status code.
    pub status: u16,
    /// Heroku's error id, e.g. `not_found`, `unauthorized`, `invalid_params`.
    pub id: String,
    /// The human-readable message, printed as the error.
    pub message: String,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApiError {}

/// A connection to one paas API with one key.
#[derive(Debug, Clone)]
pub struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    /// A client of the API at `base_url` (e.g. `http://127.0.0.1:5000`) sending `key`; an
    /// https:// API's certificate is checked against the system's roots and `ca_pem` (PEM
    /// certificates, e.g. the paas server's local CA).
    pub fn trusting(base_url: &str, key: &str, ca_pem: Option<&[u8]>) -> Result<Api> {
        // https:// APIs use rustls with the ring provider; installing it twice is harmless.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder();
        for cert in ca_pem.map(reqwest::Certificate::from_pem_bundle).transpose().context("the CA file is not PEM certificates")?.unwrap_or_default() {
            builder = builder.add_root_certificate(cert);
        }
        let http = builder
            .user_agent(concat!("paas-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(120))
            .build()
            .context("cannot set up the HTTP client")?;
        Ok(Api { http, base: base_url.trim_end_matches('/').to_string(), key: key.to_string() })
    }

    /// The API's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET path`, answering the JSON body.
    pub async fn get(&self, path: &str) -> Result<Value> {
        self.call(Method::GET, path, None, None).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::POST, path, None, Some(body)).await
    }

    /// `PATCH path` with a JSON body.
    pub async fn patch(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PATCH, path, None, Some(body)).await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Result<Value> {
        self.call(Method::DELETE, path, None, None).await
    }

    /// One page of a list: `GET path` with `Range: range`, not following `Next-Range`
    /// (e.g. the newest release: `version ..; order=desc, max=1`).
    pub async fn page(&self, path: &str, range: &str) -> Result<Vec<Value>> {
        match self.call(Method::GET, path, Some(range), None).await? {
            Value::Array(items) => Ok(items),
            other => bail!("the paas API answered GET {path} with {other} instead of a list"),
        }
    }

    /// A whole list: `GET path` (with `Range: first_range` if given), then the same request
    /// with each `Next-Range` the server gives on a `206 Partial Content` answer.
    pub async fn list(&self, path: &str, first_range: Option<&str>) -> Result<Vec<Value>> {
        let mut items = Vec::new();
        let mut range = first_range.map(str::to_string);
        for _ in 0..MAX_PAGES {
            let response = self.send(Method::GET, path, range.as_deref(), None).await?;
            let partial = response.status() == StatusCode::PARTIAL_CONTENT;
            let next = response
                .headers()
                .get("next-range")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string);
            match json_body(response).await? {
                Value::Array(page) => items.extend(page),
                other => bail!("the paas API answered GET {path} with {other} instead of a list"),
            }
            match next {
                Some(next) if partial => range = Some(next),
                _ => return Ok(items),
            }
        }
        bail!("the paas API answered GET {path} with more than {MAX_PAGES} pages")
    }

    /// `GET path`, answering the response as it starts arriving (its body is read by the caller,
    /// e.g. a running build's output as it is written). No overall time limit.
    pub async fn get_streaming(&self, path: &str) -> Result<reqwest::Response> {
        self.streaming(self.http.get(format!("{}{path}", self.base))).await
    }

    /// `POST path` with a raw body of `content_type`, answering the response as it starts
    /// arriving (its body is read by the caller, e.g. a build's output as it is written).
    /// No overall time limit: builds take minutes.
    pub async fn post_streaming(&self, path: &str, content_type: &str, body: Vec<u8>) -> Result<reqwest::Response> {
        let request = self.http.post(format!("{}{path}", self.base)).header(header::CONTENT_TYPE, content_type).body(body);
        self.streaming(request).await
    }

    async fn streaming(&self, request: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let response = request
            .header(header::ACCEPT, ACCEPT)
            .bearer_auth(&self.key)
            .timeout(Duration::from_secs(24 * 60 * 60))
            .send()
            .await
            .with_context(|| format!("cannot reach the paas API at {}", self.base))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        Err(api_error(status, &bytes).into())
    }

    /// `PUT path` with a JSON body.
    pub async fn put(&self, path: &str, body: &Value) -> Result<Value> {
        self.call(Method::PUT, path, None, Some(body)).await
    }

    async fn call(&self, method: Method, path: &str, range: Option<&str>, body: Option<&Value>) -> Result<Value> {
        json_body(self.send(method, path, range, body).await?).await
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        range: Option<&str>,
        body: Option<&Value>,
    ) -> Result<reqwest::Response> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(header::ACCEPT, ACCEPT)
            .bearer_auth(&self.key);
        if let Some(range) = range {
            request = request.header(header::RANGE, range);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.with_context(|| format!("cannot reach the paas API at {}", self.base))?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let bytes = response.bytes().await.unwrap_or_default();
        Err(api_error(status, &bytes).into())
    }
}

/// The error for a non-2xx answer: Heroku's `{"id", "message"}` when the body has it.
fn api_error(status: StatusCode, body: &[u8]) -> ApiError {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed.as_ref().and_then(|value| value.get(name)).and_then(Value::as_str).map(str::to_string)
    };
    let id = field("id").unwrap_or_else(|| status.as_str().to_string());
    let message = field("message").unwrap_or_else(|| {
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        if text.is_empty() {
            format!("the paas API answered HTTP {status}")
        } else {
            format!("the paas API answered HTTP {status}: {text}")
        }
    });
    ApiError { status: status.as_u16(), id, message }
}

async fn json_body(response: reqwest::Response) -> Result<Value> {
    let bytes = response.bytes().await.context("cannot read the paas API's answer")?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&bytes).context("the paas API answered something that is not JSON")
}

/// Reads a JSON value as one of the types in [`crate::models`].
pub fn parse<T: DeserializeOwned>(value: Value) -> Result<T> {
    serde_json::from_value(value).context("unexpected answer from the paas API")
}

/// Reads each value of a list.
pub fn parse_all<T: DeserializeOwned>(values: Vec<Value>) -> Result<Vec<T>> {
    values.into_iter().map(parse).collect()
}

/// Percent-encodes one path segment (an app name, an email, a hostname, a dyno name).
pub fn seg(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_error_takes_the_message_of_a_heroku_error_body() {
        let error = api_error(StatusCode::NOT_FOUND, br#"{"id":"not_found","message":"Couldn't find that app."}"#);
        assert_eq!((error.status, error.id.as_str()), (404, "not_found"));
        assert_eq!(error.to_string(), "Couldn't find that app.");
    }

    #[test]
    fn api_error_without_a_json_body_names_the_status() {
        let error = api_error(StatusCode::BAD_GATEWAY, b"");
        assert_eq!(error.to_string(), "the paas API answered HTTP 502 Bad Gateway");
        let error = api_error(StatusCode::INTERNAL_SERVER_ERROR, b"boom\n");
        assert_eq!(error.to_string(), "the paas API answered HTTP 500 Internal Server Error: boom");
    }

    /// A one-shot HTTP server: answers each connection with the next of `answers`, and gives back
    /// the request heads it saw.
    async fn fake_server(answers: Vec<String>) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let mut heads = Vec::new();
            for answer in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut request = Vec::new();
                while !request.ends_with(b"\r\n\r\n") {
                    let mut byte = [0u8; 1];
                    if socket.read(&mut byte).await.unwrap() == 0 {
                        break;
                    }
                    request.push(byte[0]);
                }
                heads.push(String::from_utf8_lossy(&request).to_lowercase());
                socket.write_all(answer.as_bytes()).await.unwrap();
                socket.shutdown().await.unwrap();
            }
            heads
        });
        (url, task)
    }

    fn answer(status: &str, extra_header: &str, body: &str) -> String {
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n{extra_header}content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn list_follows_next_range_on_206_and_sends_heroku_headers() {
        let (url, server) = fake_server(vec![
            answer("206 Partial Content", "next-range: name ]b..; max=2\r\n", r#"[{"name":"a"},{"name":"b"}]"#),
            answer("200 OK", "", r#"[{"name":"c"}]"#),
        ])
        .await;
        let items = Api::trusting(&url, "KEY", None).unwrap().list("/apps", Some("name ..; max=2")).await.unwrap();
        let names: Vec<&str> = items.iter().map(|item| item["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        let heads = server.await.unwrap();
        assert!(heads[0].starts_with("get /apps http/1.1\r\n"), "{}", heads[0]);
        assert!(heads[0].contains("\r\naccept: application/vnd.heroku+json; version=3\r\n"), "{}", heads[0]);
        assert!(heads[0].contains("\r\nauthorization: bearer key\r\n"), "{}", heads[0]);
        assert!(heads[0].contains("\r\nrange: name ..; max=2\r\n"), "{}", heads[0]);
        assert!(heads[1].contains("\r\nrange: name ]b..; max=2\r\n"), "{}", heads[1]);
    }

    #[tokio::test]
    async fn list_stops_when_a_200_carries_next_range() {
        let (url, server) = fake_server(vec![answer("200 OK", "next-range: id ]x..\r\n", "[1]")]).await;
        let items = Api::trusting(&url, "KEY", None).unwrap().list("/things", None).await.unwrap();
        assert_eq!(items, [serde_json::json!(1)]);
        assert!(!server.await.unwrap()[0].contains("\r\nrange:"));
    }

    #[tokio::test]
    async fn an_error_answer_becomes_an_api_error() {
        let (url, _server) =
            fake_server(vec![answer("422 Unprocessable Entity", "", r#"{"id":"invalid_params","message":"Nope."}"#)]).await;
        let error = Api::trusting(&url, "KEY", None).unwrap().post("/apps", &serde_json::json!({})).await.unwrap_err();
        let api = error.downcast_ref::<ApiError>().unwrap();
        assert_eq!((api.status, api.id.as_str(), api.message.as_str()), (422, "invalid_params", "Nope."));
    }

    #[test]
    fn seg_escapes_everything_but_unreserved_characters() {
        assert_eq!(seg("web.1"), "web.1");
        assert_eq!(seg("bob@example.com"), "bob@example.com");
        assert_eq!(seg("a b/c?"), "a%20b%2Fc%3F");
    }
}
