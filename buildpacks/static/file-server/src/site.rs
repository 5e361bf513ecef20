//! The file server's logic, free of wasi so it is tested on the host (`cargo test`): which file
//! answers a path, with which status, content type and cache headers.

use std::fs;
use std::path::{Path, PathBuf};

/// What to answer: status, headers and body (empty for `HEAD`).
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
    /// The body (empty for `HEAD`).
    pub body: Vec<u8>,
}

/// The site's settings read from `static.json` (a subset of heroku-buildpack-static's).
pub struct Site {
    root: PathBuf,
    error_page: String,
}

/// The site in `base` (the slug's root), configured by its `static.json`.
pub fn site(base: &Path) -> Site {
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

/// The answer to `method path_with_query` (with the request's `If-None-Match`, if any).
pub fn respond(site: &Site, method: &str, path_with_query: &str, if_none_match: Option<&str>) -> Reply {
    let head = match method {
        "GET" => false,
        "HEAD" => true,
        _ => return text(405, "405 Method Not Allowed\n").header("allow", "GET, HEAD"),
    };
    let path = path_with_query.split(['?', '#']).next().unwrap_or("/");
    let Some(relative) = safe_relative(path) else {
        return text(400, "400 Bad Request\n");
    };
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
            if if_none_match.is_some_and(|tags| tags.contains(&etag)) {
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
    /// The value of a header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    fn header(mut self, name: &str, value: &str) -> Reply {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }
}

fn text(status: u16, body: &str) -> Reply {
    Reply { status, headers: Vec::new(), body: body.as_bytes().to_vec() }
        .header("content-type", "text/plain; charset=utf-8")
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


#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        let base = std::env::temp_dir().join(format!("paas-file-server-{}", std::process::id()));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(base.join("public/about")).unwrap();
        fs::write(base.join("public/index.html"), "<h1>home</h1>").unwrap();
        fs::write(base.join("public/about/index.html"), "<h1>about</h1>").unwrap();
        fs::write(base.join("public/site.css"), "body{}").unwrap();
        fs::write(base.join("public/404.html"), "<h1>missing</h1>").unwrap();
        fs::write(base.join("secret.txt"), "outside the root").unwrap();
        base
    }

    #[test]
    fn serves_files_indexes_404s_and_cache_headers() {
        let site = site(&fixture());
        let home = respond(&site, "GET", "/?x=1", None);
        assert_eq!((home.status, home.body.as_slice()), (200, b"<h1>home</h1>".as_slice()));
        assert_eq!(home.get("content-type"), Some("text/html; charset=utf-8"));
        assert_eq!(home.get("cache-control"), Some("no-cache"));

        let css = respond(&site, "GET", "/site.css", None);
        assert_eq!(css.get("content-type"), Some("text/css; charset=utf-8"));
        assert_eq!(css.get("cache-control"), Some("public, max-age=3600"));
        let etag = css.get("etag").unwrap().to_string();
        let cached = respond(&site, "GET", "/site.css", Some(&etag));
        assert_eq!((cached.status, cached.body.len()), (304, 0));

        assert_eq!(respond(&site, "GET", "/about/", None).body, b"<h1>about</h1>");
        let redirect = respond(&site, "GET", "/about", None);
        assert_eq!((redirect.status, redirect.get("location")), (301, Some("/about/")));

        let missing = respond(&site, "GET", "/nope", None);
        assert_eq!((missing.status, missing.body.as_slice()), (404, b"<h1>missing</h1>".as_slice()));
        assert_eq!(respond(&site, "GET", "/../secret.txt", None).status, 400);
        assert_eq!(respond(&site, "GET", "/%2e%2e/secret.txt", None).status, 400);
        assert_eq!(respond(&site, "POST", "/", None).status, 405);
        let head = respond(&site, "HEAD", "/", None);
        assert_eq!((head.status, head.body.len(), head.get("content-length")), (200, 0, Some("13")));
    }
}
