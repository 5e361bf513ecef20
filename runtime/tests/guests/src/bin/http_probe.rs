//! A `wasi:http` guest whose routes each exercise one thing the runtime must allow or deny.

#![no_main]

use std::sync::atomic::{AtomicU64, Ordering};

use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingRequest, OutgoingResponse, ResponseOutparam, Scheme,
};
use wasi::io::streams::StreamError;

struct Probe;

wasi::http::proxy::export!(Probe);

static REQUESTS: AtomicU64 = AtomicU64::new(0);

impl Guest for Probe {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let seen = REQUESTS.fetch_add(1, Ordering::SeqCst) + 1;
        let pq = request.path_with_query().unwrap_or_default();
        let (path, query) = pq.split_once('?').unwrap_or((&pq, ""));
        let q = |key: &str| {
            query.split('&').find_map(|kv| kv.split_once('=').filter(|(k, _)| *k == key).map(|(_, v)| v.to_string()))
        };
        match path {
            "/" => respond(out, 200, b"ok"),
            "/count" => respond(out, 200, seen.to_string().as_bytes()),
            "/env" => match std::env::var(q("name").unwrap_or_default()) {
                Ok(v) => respond(out, 200, v.as_bytes()),
                Err(e) => respond(out, 404, e.to_string().as_bytes()),
            },
            "/read" => match std::fs::read(q("path").unwrap_or_default()) {
                Ok(bytes) => respond(out, 200, &bytes),
                Err(e) => respond(out, 403, format!("error: {e}").as_bytes()),
            },
            "/write" => match std::fs::write(q("path").unwrap_or_default(), q("value").unwrap_or_default()) {
                Ok(()) => respond(out, 200, b"written"),
                Err(e) => respond(out, 403, format!("error: {e}").as_bytes()),
            },
            "/list" => match std::fs::read_dir(q("path").unwrap_or_default()) {
                Ok(entries) => {
                    let mut names: Vec<String> =
                        entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
                    names.sort();
                    respond(out, 200, names.join("\n").as_bytes())
                }
                Err(e) => respond(out, 403, format!("error: {e}").as_bytes()),
            },
            "/alloc" => {
                let mib: usize = q("mib").and_then(|v| v.parse().ok()).unwrap_or(1);
                let v = vec![7u8; mib << 20];
                let sum: u64 = v.iter().step_by(4096).map(|&b| b as u64).sum();
                // `hold_ms`: keep the instance (and its memory) busy a while before answering.
                if let Some(ms) = q("hold_ms").and_then(|v| v.parse().ok()) {
                    std::thread::sleep(std::time::Duration::from_millis(ms));
                }
                respond(out, 200, format!("allocated {mib} MiB ({sum})").as_bytes())
            }
            "/loop" => {
                let mut i: u64 = 0;
                loop {
                    i = std::hint::black_box(i.wrapping_add(1));
                }
            }
            "/spin" => {
                // Busy for `ms` milliseconds of wall time, then answers.
                let ms: u64 = q("ms").and_then(|v| v.parse().ok()).unwrap_or(100);
                let end = std::time::Instant::now() + std::time::Duration::from_millis(ms);
                let mut i: u64 = 0;
                while std::time::Instant::now() < end {
                    for _ in 0..10_000 {
                        i = std::hint::black_box(i.wrapping_add(1));
                    }
                }
                respond(out, 200, b"spun")
            }
            "/open" => {
                // Opens `/tmp/open` `n` times and holds every descriptor until it answers.
                let n: usize = q("n").and_then(|v| v.parse().ok()).unwrap_or(1);
                std::fs::write("/tmp/open", b"x").unwrap();
                let held: Vec<std::fs::File> = (0..n).map(|_| std::fs::File::open("/tmp/open").unwrap()).collect();
                respond(out, 200, format!("opened {}", held.len()).as_bytes())
            }
            "/fill" => {
                // Writes `kib` KiB to /tmp/`name` through wasi:filesystem directly: answers "ok"
                // or the error-code the host gave.
                let kib: u64 = q("kib").and_then(|v| v.parse().ok()).unwrap_or(1);
                let name = q("name").unwrap_or_else(|| "fill".to_string());
                match fill(&name, kib) {
                    Ok(()) => respond(out, 200, b"ok"),
                    Err(code) => respond(out, 507, code.name().as_bytes()),
                }
            }
            "/sleep" => {
                let ms: u64 = q("ms").and_then(|v| v.parse().ok()).unwrap_or(1000);
                std::thread::sleep(std::time::Duration::from_millis(ms));
                // `touch`: a file in /tmp that says the call got past its sleep.
                if let Some(name) = q("touch") {
                    std::fs::write(format!("/tmp/{name}"), b"slept").unwrap();
                }
                respond(out, 200, b"slept")
            }
            "/linger" => {
                // Answers at once, then goes on for `ms` before its call returns.
                respond(out, 200, b"answered");
                let ms: u64 = q("ms").and_then(|v| v.parse().ok()).unwrap_or(20);
                std::thread::sleep(std::time::Duration::from_millis(ms));
            }
            "/panic" => panic!("probe panicked on purpose"),
            "/noresponse" => {}
            // Returns normally without setting the response and without dropping the outparam
            // (as StarlingMonkey does on a reused instance): the host's sender stays alive.
            "/noresponse-kept" => std::mem::forget(out),
            "/print" => {
                let bytes: usize = q("bytes").and_then(|v| v.parse().ok()).unwrap_or(0);
                use std::io::Write;
                let mut stdout = std::io::stdout().lock();
                let chunk = vec![b'x'; 64 * 1024];
                let mut left = bytes;
                while left > 0 {
                    let n = left.min(chunk.len());
                    stdout.write_all(&chunk[..n]).unwrap();
                    left -= n;
                }
                stdout.write_all(b"\n").unwrap();
                stdout.flush().unwrap();
                eprint!("printed {bytes} bytes\npartial");
                respond(out, 200, b"printed")
            }
            "/fetch" => match fetch(&q("url").unwrap_or_default()) {
                Ok((status, body)) => {
                    respond(out, 200, format!("{status} {}", String::from_utf8_lossy(&body)).as_bytes())
                }
                Err(e) => respond(out, 502, format!("error: {e}").as_bytes()),
            },
            "/connect" => match std::net::TcpStream::connect(q("addr").unwrap_or_default()) {
                Ok(_) => respond(out, 200, b"connected"),
                Err(e) => respond(out, 403, format!("error: {e}").as_bytes()),
            },
            "/listen" => match std::net::TcpListener::bind(q("addr").unwrap_or_default()) {
                Ok(_) => respond(out, 200, b"listening"),
                Err(e) => respond(out, 403, format!("error: {e}").as_bytes()),
            },
            "/udp" => match std::net::UdpSocket::bind("0.0.0.0:0")
                .and_then(|s| s.send_to(b"ping", q("addr").unwrap_or_default()))
            {
                Ok(_) => respond(out, 200, b"sent"),
                Err(e) => respond(out, 403, format!("error: {e}").as_bytes()),
            },
            "/lookup" => match std::net::ToSocketAddrs::to_socket_addrs(&(q("host").unwrap_or_default().as_str(), 80)) {
                Ok(_) => respond(out, 200, b"resolved"),
                Err(e) => respond(out, 403, format!("error: {e}").as_bytes()),
            },
            _ => respond(out, 404, b"not found"),
        }
    }
}

fn respond(out: ResponseOutparam, status: u16, body: &[u8]) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())]).unwrap();
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

fn fill(name: &str, kib: u64) -> Result<(), wasi::filesystem::types::ErrorCode> {
    use wasi::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};
    let (tmp, _) = wasi::filesystem::preopens::get_directories().into_iter().find(|(_, path)| path == "/tmp").unwrap();
    let file = tmp.open_at(
        PathFlags::empty(),
        name,
        OpenFlags::CREATE | OpenFlags::TRUNCATE,
        DescriptorFlags::READ | DescriptorFlags::WRITE,
    )?;
    let chunk = vec![b'x'; 1024];
    for i in 0..kib {
        file.write(&chunk, i * 1024)?;
    }
    Ok(())
}

fn fetch(url: &str) -> Result<(u16, Vec<u8>), String> {
    let (scheme, rest) = match url.strip_prefix("https://") {
        Some(rest) => (Scheme::Https, rest),
        None => (Scheme::Http, url.strip_prefix("http://").ok_or("only http:// and https:// URLs")?),
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let req = OutgoingRequest::new(Fields::new());
    req.set_scheme(Some(&scheme)).map_err(|()| "scheme")?;
    req.set_authority(Some(authority)).map_err(|()| "authority")?;
    req.set_path_with_query(Some(path)).map_err(|()| "path")?;
    let pending = wasi::http::outgoing_handler::handle(req, None).map_err(|e| format!("{e:?}"))?;
    pending.subscribe().block();
    let resp = pending.get().ok_or("no response")?.map_err(|()| "taken")?.map_err(|e| format!("{e:?}"))?;
    let status = resp.status();
    let body = resp.consume().map_err(|()| "body")?;
    let stream = body.stream().map_err(|()| "stream")?;
    let mut buf = Vec::new();
    loop {
        match stream.blocking_read(64 * 1024) {
            Ok(bytes) => buf.extend(bytes),
            Err(StreamError::Closed) => break,
            Err(e) => return Err(format!("{e:?}")),
        }
    }
    Ok((status, buf))
}
