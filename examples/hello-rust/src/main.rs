//! hello-rust: a paas web app as a `wasi:http` component. It answers `/` with a greeting,
//! `/config/NAME` with the config var NAME, `/tmp` by writing a file in `/tmp` and reading it
//! back, and `/upstream` with what a GET of the config var `UPSTREAM_URL` answered (an outgoing
//! `wasi:http` request: another app at `http://<app>.<domain>/`, or any public URL). Build with
//! `cargo build --release --target wasm32-wasip2`.

#![no_main]

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam, Scheme,
};
use wasi::io::streams::StreamError;

struct Hello;

wasi::http::proxy::export!(Hello);

impl Guest for Hello {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let path = request.path_with_query().unwrap_or_default();
        match path.as_str() {
            "/" => {
                let who = std::env::var("GREETING_NAME").unwrap_or_else(|_| "world".into());
                respond(out, 200, format!("Hello, {who}!\n").as_bytes());
            }
            "/tmp" => {
                let dyno = std::env::var("DYNO").unwrap_or_default();
                let written = format!("written by {dyno}");
                let result = std::fs::write("/tmp/hello.txt", &written).and_then(|()| std::fs::read_to_string("/tmp/hello.txt"));
                match result {
                    Ok(read) => respond(out, 200, format!("{read}\n").as_bytes()),
                    Err(e) => respond(out, 500, format!("cannot use /tmp: {e}\n").as_bytes()),
                }
            }
            "/upstream" => match std::env::var("UPSTREAM_URL") {
                Ok(url) => match get(&url) {
                    Ok((status, body)) => respond(out, 200, format!("{status} {body}").as_bytes()),
                    Err(e) => respond(out, 502, format!("cannot reach UPSTREAM_URL: {e}\n").as_bytes()),
                },
                Err(_) => respond(out, 404, b"UPSTREAM_URL is not set\n"),
            },
            p if p.starts_with("/config/") => match std::env::var(&p["/config/".len()..]) {
                Ok(value) => respond(out, 200, format!("{value}\n").as_bytes()),
                Err(_) => respond(out, 404, b"no such config var\n"),
            },
            _ => respond(out, 404, b"not found\n"),
        }
    }
}

/// GETs an `http://` or `https://` URL: its status and body (at most 1 MiB).
fn get(url: &str) -> Result<(u16, String), String> {
    let (scheme, rest) = match url.split_once("://") {
        Some(("http", rest)) => (Scheme::Http, rest),
        Some(("https", rest)) => (Scheme::Https, rest),
        _ => return Err(format!("not an http:// or https:// URL: {url}")),
    };
    let (authority, path) = rest.find('/').map_or((rest, "/"), |i| rest.split_at(i));
    let request = OutgoingRequest::new(Fields::new());
    request.set_scheme(Some(&scheme)).map_err(|()| "bad scheme")?;
    request.set_authority(Some(authority)).map_err(|()| "bad host")?;
    request.set_path_with_query(Some(path)).map_err(|()| "bad path")?;
    let pending = wasi::http::outgoing_handler::handle(request, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let response = pending.get().ok_or("no response")?.map_err(|()| "no response")?.map_err(|e| format!("{e:?}"))?;
    let status = response.status();
    let body = response.consume().map_err(|()| "no body")?;
    let stream = body.stream().map_err(|()| "no body")?;
    let mut bytes = Vec::new();
    while bytes.len() < 1 << 20 {
        match stream.blocking_read(64 * 1024) {
            Ok(chunk) => bytes.extend(chunk),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain; charset=utf-8".to_vec())]).unwrap();
    let resp = OutgoingResponse::new(headers);
    resp.set_status_code(status).unwrap();
    let outgoing = resp.body().unwrap();
    ResponseOutparam::set(out, Ok(resp));
    let stream = outgoing.write().unwrap();
    for chunk in body.chunks(4096) {
        stream.blocking_write_and_flush(chunk).unwrap();
    }
    drop(stream);
    OutgoingBody::finish(outgoing, None).unwrap();
}
