//! hello-rust: a paas web app as a `wasi:http` component. It answers `/` with a greeting,
//! `/config/NAME` with the config var NAME, and `/tmp` by writing a file in `/tmp` and reading
//! it back. Build with `cargo build --release --target wasm32-wasip2`.

#![no_main]

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

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
            p if p.starts_with("/config/") => match std::env::var(&p["/config/".len()..]) {
                Ok(value) => respond(out, 200, format!("{value}\n").as_bytes()),
                Err(_) => respond(out, 404, b"no such config var\n"),
            },
            _ => respond(out, 404, b"not found\n"),
        }
    }
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
