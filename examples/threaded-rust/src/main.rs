//! A thread-per-connection HTTP/1.1 server on `$PORT`, std only: a native dyno.
//!
//! `GET /` greets (config var `GREETING_NAME`), `GET /dyno` says which dyno and process answered,
//! anything else is 404. Each request is logged on stdout.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};

static SERVED: AtomicU64 = AtomicU64::new(0);

fn main() {
    let port = std::env::var("PORT").expect("PORT is not set");
    let listener = TcpListener::bind(("0.0.0.0", port.parse::<u16>().expect("PORT is a port number")))
        .unwrap_or_else(|e| panic!("cannot listen on port {port}: {e}"));
    println!("threaded-rust listening on {port}");
    for stream in listener.incoming().flatten() {
        std::thread::spawn(move || {
            match serve(stream) {
                Err(e) if !matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                    eprintln!("threaded-rust: connection error: {e}");
                }
                _ => {}
            }
        });
    }
}

/// Serves requests on one connection until the client closes it (keep-alive).
fn serve(stream: TcpStream) -> std::io::Result<()> {
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line)? == 0 {
            return Ok(());
        }
        let mut close = false;
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 || header == "\r\n" || header == "\n" {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((&header, ""));
            let (name, value) = (name.trim().to_ascii_lowercase(), value.trim().to_ascii_lowercase());
            close |= name == "connection" && value == "close";
            if name == "content-length" {
                length = value.parse().unwrap_or(0);
            }
        }
        std::io::copy(&mut (&mut reader).take(length as u64), &mut std::io::sink())?;
        let mut words = request_line.split_whitespace();
        let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
        let thread = std::thread::current().id();
        let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
        println!("threaded-rust: {method} {path} on {thread:?} (request {served})");
        let (status, body) = match (method, path) {
            ("GET", "/") => {
                let name = std::env::var("GREETING_NAME").unwrap_or_else(|_| "world".into());
                ("200 OK", format!("Hello, {name}, from a threaded Rust server!\n"))
            }
            ("GET", "/dyno") => (
                "200 OK",
                format!(
                    "{{\"dyno\":\"{}\",\"pid\":{},\"served\":{served}}}\n",
                    std::env::var("DYNO").unwrap_or_default(),
                    std::process::id()
                ),
            ),
            _ => ("404 Not Found", "not found\n".to_string()),
        };
        // One write per response: pieces written separately would wait on delayed ACKs.
        let response = format!(
            "HTTP/1.1 {status}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\n{}\r\n{body}",
            body.len(),
            if close { "connection: close\r\n" } else { "" }
        );
        writer.write_all(response.as_bytes())?;
        if close {
            return Ok(());
        }
    }
}
