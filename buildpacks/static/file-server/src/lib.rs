//! A small `wasi:http` file server, the `web` process of apps built by the static buildpack.
//!
//! It serves files from the slug (`/app`, or the current directory when `/app` is not
//! preopened) below the `root` named in `static.json` (default `public/`): content types by
//! extension, `index.html` for directories, the root's `404.html` (or `error_page`) for missing
//! files, `Cache-Control` (`no-cache` for HTML, an hour for other assets) and an `ETag` answered
//! with `304 Not Modified`. Only `GET` and `HEAD`; paths escaping the root are refused.

use std::fs;
use std::path::{Path, PathBuf};

use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

struct FileServer;

wasi::http::proxy::export!(FileServer);

impl wasi::exports::http::incoming_handler::Guest for FileServer {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let reply = serve(&request);
        send(out, reply);
    }
}

/// What to answer: status, headers and body (empty for `HEAD`).
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

/// The site's settings read from `static.json` (a subset of heroku-buildpack-static's).
struct Site {
    root: PathBuf,
    error_page: String,
}

fn site() -> Site {
    let base = if Path::new("/app").is_dir() { PathBuf::from("/app") } else { PathBuf::from(".") };
    let config = fs::read_to_string(base.join("static.json")).unwrap_or_default();
    let root = json_string(&config, "root").unwrap_or_else(|| "public/".to_string());
    let error_page = json_string(&config, "error_page").unwrap_or_else(|| "404.html".to_string());
    Site { root: base.join(root.trim_start_matches('/')), error_page }
}

/// Finds `"key": "value"` in a flat JSON object (enough for static.json's string settings).
fn json_string(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\""))?;
    let rest = json[at + key.len() + 2..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

fn serve(request: &IncomingRequest) -> Reply {
    let head = match request.method() {
        Method::Get => false,
        Method::Head => true,
        _ => return text(405, "405 Method Not Allowed\n").header("allow", "GET, HEAD"),
    };
    let path_with_query = request.path_with_query().unwrap_or_else(|| "/".to_string());
    let path = path_with_query.split(['?', '#']).next().unwrap_or("/");
    let Some(relative) = safe_relative(path) else {
        return text(400, "400 Bad Request\n");
    };
    let site = site();
    let mut file = site.root.join(&relative);
    if file.is_dir() {
        if !path.ends_with('/') {
            return text(301, "").header("location", &format!("{path}/"));
        }
        file = file.join("index.html");
    }
    let mut reply = match fs::read(&file) {
        Ok(body) => {
            let etag = format!("\"{:016x}\"", fnv1a(&body));
            if header(request, "if-none-match").is_some_and(|tags| tags.contains(&etag)) {
                Reply { status: 304, headers: Vec::new(), body: Vec::new() }
                    .header("etag", &etag)
                    .header("cache-control", cache_control(&file))
            } else {
                Reply { status: 200, headers: Vec::new(), body }
                    .header("content-type", content_type(&file))
                    .header("cache-control", cache_control(&file))
                    .header("etag", &etag)
            }
        }
        Err(_) => match fs::read(site.root.join(&site.error_page)) {
            Ok(body) => Reply { status: 404, headers: Vec::new(), body }
                .header("content-type", "text/html; charset=utf-8")
                .header("cache-control", "no-cache"),
            Err(_) => text(404, "404 Not Found\n"),
        },
    };
    let length = reply.body.len().to_string();
    reply = reply.header("content-length", &length);
    if head {
        reply.body.clear();
    }
    reply
}

impl Reply {
    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
        .header("content-type", "text/plain; charset=utf-8")
}

fn header(request: &IncomingRequest, name: &str) -> Option<String> {
    let values = request.headers().get(&name.to_string());
    values.first().map(|value| String::from_utf8_lossy(value).into_owned())
}

/// Percent-decodes the URL path and keeps it below the root: `None` for `..` or bad encoding.
fn safe_relative(path: &str) -> Option<PathBuf> {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    let decoded = String::from_utf8(decoded).ok()?;
    let mut relative = PathBuf::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            s if s.contains('\\') || s.contains('\0') => return None,
            s => relative.push(s),
        }
    }
    Some(relative)
}

fn content_type(file: &Path) -> &'static str {
    let extension = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match extension.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "avif" => "image/avif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "pdf" => "application/pdf",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        _ => "application/octet-stream",
    }
}

fn cache_control(file: &Path) -> &'static str {
    match file.extension().and_then(|e| e.to_str()) {
        Some("html" | "htm") => "no-cache",
        _ => "public, max-age=3600",
    }
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn send(out: ResponseOutparam, reply: Reply) {
    let headers = Fields::new();
    for (name, value) in &reply.headers {
        let _ = headers.append(name, &value.as_bytes().to_vec());
    }
    let response = OutgoingResponse::new(headers);
    let _ = response.set_status_code(reply.status);
    let body = response.body().expect("outgoing body");
    ResponseOutparam::set(out, Ok(response));
    let stream = body.write().expect("body stream");
    for chunk in reply.body.chunks(4096) {
        if stream.blocking_write_and_flush(chunk).is_err() {
            break;
        }
    }
    drop(stream);
    let _ = OutgoingBody::finish(body, None);
}
