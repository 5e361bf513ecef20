//! Test harness: a router on port 0, an HTTP client, native dynos and log helpers.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, Result};
use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use paas_router::{LogLine, MemoryLog, RouteTable, Router, RouterBody, RouterConfig, full_body};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A router serving on 127.0.0.1:0 with an in-memory log.
pub struct Harness {
    pub addr: SocketAddr,
    pub table: Arc<RouteTable>,
    pub log: Arc<MemoryLog>,
    client: Client<HttpConnector, RouterBody>,
    stop: Option<oneshot::Sender<()>>,
    pub task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Harness {
    pub async fn start() -> Self {
        Self::with_config(RouterConfig::default()).await
    }

    pub async fn with_config(config: RouterConfig) -> Self {
        let table = Arc::new(RouteTable::new("localhost"));
        let log = Arc::new(MemoryLog::new());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let router = Router::new(table.clone(), config).with_log(log.clone());
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(router.serve_with_shutdown(listener, async {
            let _ = stopped.await;
        }));
        Harness { addr, table, log, client: client(false), stop: Some(stop), task: Some(task) }
    }

    /// Asks the router to shut down.
    pub fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    pub async fn get(&self, host: &str, path: &str) -> Result<Reply> {
        let req = Request::get(self.url(path)).header("host", host).body(full_body(""))?;
        self.send(req).await
    }

    pub async fn send(&self, req: Request<RouterBody>) -> Result<Reply> {
        Reply::read(self.client.request(req).await.context("request")?).await
    }

    /// Waits (up to 2 s) until the log holds `n` lines, and returns them.
    pub async fn log_lines(&self, n: usize) -> Vec<(String, LogLine)> {
        for _ in 0..200 {
            let lines = self.log.lines();
            if lines.len() >= n {
                return lines;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.log.lines()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.shutdown();
    }
}

pub fn client(http2: bool) -> Client<HttpConnector, RouterBody> {
    Client::builder(TokioExecutor::new()).http2_only(http2).build_http()
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub version: http::Version,
    pub headers: HeaderMap,
    pub body: String,
}

impl Reply {
    pub async fn read(response: Response<Incoming>) -> Result<Reply> {
        let (parts, body) = response.into_parts();
        let body = body.collect().await.context("response body")?.to_bytes();
        Ok(Reply {
            status: parts.status,
            version: parts.version,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        })
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }
}

/// A native dyno: an HTTP/1.1 server answering `<name>` and echoing what it received in
/// `echo-*` response headers. `/sleep/<ms>` waits first; `/len` answers the request body length.
pub async fn native_dyno(name: &str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let name = name.to_string();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let name = name.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req: Request<Incoming>| {
                    let name = name.clone();
                    async move { Ok::<_, Infallible>(native_answer(&name, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

async fn native_answer(name: &str, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let mut echoed = HeaderMap::new();
    for header in ["host", "x-request-id", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-port", "via", "connection", "x-secret", "x-request-start"] {
        if let Some(value) = req.headers().get(header) {
            echoed.insert(http::HeaderName::from_bytes(format!("echo-{header}").as_bytes()).unwrap(), value.clone());
        }
    }
    echoed.insert("echo-path", req.uri().to_string().parse().unwrap());
    echoed.insert("echo-version", format!("{:?}", req.version()).parse().unwrap());
    if let Some(ms) = path.strip_prefix("/sleep/") {
        tokio::time::sleep(Duration::from_millis(ms.parse().unwrap())).await;
    }
    let body = if path == "/len" {
        match req.into_body().collect().await {
            Ok(body) => body.to_bytes().len().to_string(),
            Err(error) => format!("body error: {error}"),
        }
    } else {
        name.to_string()
    };
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.headers_mut() = echoed;
    response
}

/// A "dyno" that accepts a connection, reads the request, and closes without answering.
pub async fn closing_dyno() -> SocketAddr {
    use tokio::io::AsyncReadExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf).await;
            drop(stream);
        }
    });
    addr
}

/// An address nothing listens on.
pub async fn dead_address() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    listener.local_addr().unwrap()
}

/// A request body sent in chunks, without a length (chunked transfer encoding).
pub struct Chunks(pub Vec<Bytes>);

impl Body for Chunks {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.0.is_empty() {
            Poll::Ready(None)
        } else {
            Poll::Ready(Some(Ok(Frame::data(self.0.remove(0)))))
        }
    }
}

/// A log line with the `connect=` and `service=` milliseconds replaced by `N`.
pub fn mask_times(line: &str) -> String {
    line.split(' ')
        .map(|field| {
            for key in ["connect=", "service="] {
                if let Some(ms) = field.strip_prefix(key)
                    && let Some(n) = ms.strip_suffix("ms")
                    && n.bytes().all(|b| b.is_ascii_digit())
                {
                    return format!("{key}Nms");
                }
            }
            field.to_string()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
