//! redis-counter-wasm: a paas web app as a `wasi:http` component that counts its requests in
//! Redis. Each request to `/` reads `REDIS_URL` (`redis://[user]:password@host:port[/db]`, as the
//! heroku-redis add-on sets it), connects over `wasi:sockets` TCP (`std::net`), sends `AUTH`
//! (and `SELECT` for a database), `INCR`s the key `hits` and answers the new count. A wasm dyno's
//! sockets reach only its app's attached add-ons, and it has no name lookups: the URL's host is
//! an IP address. Build with `cargo build --release --target wasm32-wasip2`.

#![no_main]

mod resp;

use std::net::{IpAddr, SocketAddr, TcpStream};

use resp::{Connection, Reply};
use wasi::exports::http::incoming_handler::Guest;
use wasi::http::types::{Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam};

struct Counter;

wasi::http::proxy::export!(Counter);

impl Guest for Counter {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        match request.path_with_query().unwrap_or_default().as_str() {
            "/" => match count() {
                Ok(n) => respond(out, 200, &format!("{n}\n")),
                Err(e) => respond(out, 502, &format!("{e}\n")),
            },
            _ => respond(out, 404, "not found\n"),
        }
    }
}

/// `INCR hits` on the Redis of `REDIS_URL`: the new count.
fn count() -> Result<i64, String> {
    let url = std::env::var("REDIS_URL").map_err(|_| "REDIS_URL is not set (attach a Redis add-on: paas addons:create heroku-redis:mini)")?;
    let url = RedisUrl::parse(&url).map_err(|e| format!("REDIS_URL is not a usable redis:// URL: {e}"))?;
    let stream = TcpStream::connect(url.addr).map_err(|e| format!("cannot connect to Redis at {}: {e}", url.addr))?;
    let mut redis = Connection::new(stream);
    if let Some(password) = &url.password {
        let mut auth = vec!["AUTH"];
        auth.extend(url.user.as_deref());
        auth.push(password);
        expect_ok(redis.command(&auth), "AUTH")?;
    }
    if let Some(db) = &url.db {
        expect_ok(redis.command(&["SELECT", db]), "SELECT")?;
    }
    match redis.command(&["INCR", "hits"]) {
        Ok(Reply::Integer(n)) => Ok(n),
        other => Err(format!("Redis answered INCR with {}", describe(other))),
    }
}

fn expect_ok(reply: Result<Reply, String>, what: &str) -> Result<(), String> {
    match reply {
        Ok(Reply::Simple(s)) if s == "OK" => Ok(()),
        other => Err(format!("Redis refused {what}: {}", describe(other))),
    }
}

fn describe(reply: Result<Reply, String>) -> String {
    match reply {
        Ok(Reply::Error(e)) => e,
        Ok(reply) => format!("{reply:?}"),
        Err(e) => e,
    }
}

/// The parts of a `redis://` URL this app uses. Its messages never quote the URL (it holds the
/// password).
#[derive(Debug, PartialEq)]
struct RedisUrl {
    addr: SocketAddr,
    user: Option<String>,
    password: Option<String>,
    db: Option<String>,
}

impl RedisUrl {
    fn parse(url: &str) -> Result<RedisUrl, String> {
        let rest = match url.split_once("://") {
            Some(("redis", rest)) => rest,
            Some(("rediss", _)) => return Err("rediss:// (TLS) is not supported by this app".into()),
            Some(_) => return Err("the scheme is not redis://".into()),
            None => return Err("no scheme (expected redis://)".into()),
        };
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, host_port) = match authority.rsplit_once('@') {
            Some((userinfo, host_port)) => (Some(userinfo), host_port),
            None => (None, authority),
        };
        let (user, password) = match userinfo {
            None => (None, None),
            Some(info) => {
                let (user, password) = info.split_once(':').unwrap_or(("", info));
                let user = decode(user).ok_or("the user name has a bad %-escape")?;
                let password = decode(password).ok_or("the password has a bad %-escape")?;
                ((!user.is_empty()).then_some(user), Some(password))
            }
        };
        let (host, port) = match host_port.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => {
                (host, port.parse::<u16>().map_err(|_| "the port is not a number from 0 to 65535")?)
            }
            _ => (host_port, 6379),
        };
        let host = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
        if host.is_empty() {
            return Err("no host".into());
        }
        let ip: IpAddr = host
            .parse()
            .map_err(|_| "the host is not an IP address (wasm dynos have no name lookups)")?;
        let db = path.split(['?', '#']).next().filter(|db| !db.is_empty());
        if let Some(db) = db
            && db.parse::<u32>().is_err()
        {
            return Err("the path is not a database number".into());
        }
        Ok(RedisUrl { addr: SocketAddr::new(ip, port), user, password, db: db.map(str::to_owned) })
    }
}

/// `s` with its `%XX` escapes decoded (None: a bad escape or not UTF-8).
fn decode(s: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(s.len());
    let mut rest = s.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(tail.get(..2)?).ok()?;
            bytes.push(u8::from_str_radix(hex, 16).ok()?);
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    String::from_utf8(bytes).ok()
}

fn respond(out: ResponseOutparam, status: u16, body: &str) {
    let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain; charset=utf-8".to_vec())]).unwrap();
    let resp = OutgoingResponse::new(headers);
    resp.set_status_code(status).unwrap();
    let outgoing = resp.body().unwrap();
    ResponseOutparam::set(out, Ok(resp));
    let stream = outgoing.write().unwrap();
    for chunk in body.as_bytes().chunks(4096) {
        stream.blocking_write_and_flush(chunk).unwrap();
    }
    drop(stream);
    OutgoingBody::finish(outgoing, None).unwrap();
}
