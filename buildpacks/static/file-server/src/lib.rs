//! A small `wasi:http` file server, the `web` process of apps built by the static buildpack.
//!
//! It serves files from the slug (`/app`, or the current directory when `/app` is not
//! preopened) below the `root` named in `static.json` (default `public/`): content types by
//! extension, `index.html` for directories, the root's `404.html` (or `error_page`) for missing
//! files, `Cache-Control` (`no-cache` for HTML, an hour for other assets) and an `ETag` answered
//! with `304 Not Modified`. Only `GET` and `HEAD`; paths escaping the root are refused. The logic
//! is in [`site`]; this file is the wasi glue.

pub mod site;

use std::path::{Path, PathBuf};

use wasi::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

use site::Reply;

struct FileServer;

wasi::http::proxy::export!(FileServer);

impl wasi::exports::http::incoming_handler::Guest for FileServer {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let base = if Path::new("/app").is_dir() { PathBuf::from("/app") } else { PathBuf::from(".") };
        let method = match request.method() {
            Method::Get => "GET",
            Method::Head => "HEAD",
            _ => "OTHER",
        };
        let path = request.path_with_query().unwrap_or_else(|| "/".to_string());
        let if_none_match = request.headers().get("if-none-match");
        let if_none_match = if_none_match.first().map(|v| String::from_utf8_lossy(v).into_owned());
        let reply = site::respond(&site::site(&base), method, &path, if_none_match.as_deref());
        send(out, reply);
    }
}

fn send(out: ResponseOutparam, reply: Reply) {
    let headers = Fields::new();
    for (name, value) in &reply.headers {
        let _ = headers.append(name, value.as_bytes());
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
