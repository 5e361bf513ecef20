//! Requests without a body or with one of a known length reach native dynos through the router's
//! own HTTP/1.1 exchange: every response framing arrives whole, bodies are written whole or given
//! up on when the dyno answers first, connections are reused exactly when they can be, a pooled
//! connection the dyno closed is replaced, and broken or oversized responses are refused.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use http::Request;
use paas_router::{ErrorCode, TcpBackend, WebDyno, full_body};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::Harness;

/// What the scripted dyno does with one request.
enum Answer {
    /// Writes these bytes and waits for the next request on the connection.
    Send(Vec<u8>),
    /// Writes these bytes and closes the connection.
    SendAndClose(Vec<u8>),
    /// Closes the connection without a word.
    Close,
}

/// A dyno over raw sockets that answers each request head with `answer(index of the request on
/// its connection, the head)`; counts the connections it accepted.
async fn scripted_dyno(answer: impl Fn(usize, &str) -> Answer + Send + Sync + 'static) -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let answer = Arc::new(answer);
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            count.fetch_add(1, Ordering::SeqCst);
            let answer = answer.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut seen = Vec::new();
                let mut index = 0;
                loop {
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&seen[..end]).into_owned();
                        seen.drain(..end + 4);
                        match answer(index, &head) {
                            Answer::Send(bytes) => {
                                if stream.write_all(&bytes).await.is_err() {
                                    return;
                                }
                            }
                            Answer::SendAndClose(bytes) => {
                                let _ = stream.write_all(&bytes).await;
                                return;
                            }
                            Answer::Close => return,
                        }
                        index += 1;
                    }
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
            });
        }
    });
    (addr, accepted)
}

/// A router whose app `hello` has one web dyno, the native one at `addr`.
async fn router_to(addr: SocketAddr) -> (Harness, TcpBackend) {
    let router = Harness::start().await;
    let backend = TcpBackend::new(addr);
    router.table.set_web("hello", vec![WebDyno::new("web.1", backend.clone())]);
    (router, backend)
}

fn path_of(head: &str) -> &str {
    head.split(' ').nth(1).unwrap_or_default()
}

#[tokio::test]
async fn every_framing_arrives_whole_and_keeps_its_connection_when_it_can() {
    let (addr, accepted) = scripted_dyno(|_, head| {
        let bytes: &[u8] = match path_of(head) {
            "/length" if head.starts_with("HEAD ") => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n",
            "/length" => b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello",
            "/chunked" => b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ntrailer: x-sum\r\n\r\n\
                5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nx-sum: 11\r\n\r\n",
            "/interim" => b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok",
            "/nothing" => b"HTTP/1.1 204 No Content\r\n\r\n",
            "/unchanged" => b"HTTP/1.1 304 Not Modified\r\netag: \"x\"\r\n\r\n",
            "/until-close" => return Answer::SendAndClose(b"HTTP/1.0 200 OK\r\n\r\nuntil the end".to_vec()),
            _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n",
        };
        Answer::Send(bytes.to_vec())
    })
    .await;
    let (router, backend) = router_to(addr).await;

    for (path, status, body) in [
        ("/length", 200, "hello"),
        ("/chunked", 200, "hello world"),
        ("/interim", 200, "ok"),
        ("/nothing", 204, ""),
        ("/unchanged", 304, ""),
        ("/length", 200, "hello"),
    ] {
        let reply = router.get("hello.localhost", path).await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (status, body), "{path}: {:?}", reply.headers);
    }
    let head = Request::head(router.url("/length")).header("host", "hello.localhost").body(full_body("")).unwrap();
    let reply = router.send(head).await.unwrap();
    assert_eq!((reply.status.as_u16(), reply.header("content-length"), reply.body.as_str()), (200, "5", ""));
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for every response framed by length or chunks");
    assert_eq!(backend.idle_connections(), 1);

    // A body that ends with the connection: read whole, and the connection is not reused.
    let reply = router.get("hello.localhost", "/until-close").await.unwrap();
    assert_eq!(reply.body, "until the end");
    assert_eq!(backend.idle_connections(), 0);
    router.get("hello.localhost", "/length").await.unwrap();
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
    let codes: Vec<_> = router.log_lines(9).await.iter().map(|(_, line)| line.code).collect();
    assert_eq!(codes, vec![None; 9], "no H-code in the router log");
}

#[tokio::test]
async fn a_pooled_connection_the_dyno_closed_is_replaced_for_idempotent_requests_only() {
    // Each connection answers its first request and closes on the second without a word, as a
    // dyno closing an idle connection just as the router sends on it.
    let (addr, accepted) = scripted_dyno(|index, _| match index {
        0 => Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello".to_vec()),
        _ => Answer::Close,
    })
    .await;
    let (router, _) = router_to(addr).await;
    for _ in 0..3 {
        let reply = router.get("hello.localhost", "/").await.unwrap();
        assert_eq!((reply.status.as_u16(), reply.body.as_str()), (200, "hello"));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 3, "the closed connection replaced each time");

    // A POST may have been acted on: not sent again, H13.
    let post = Request::post(router.url("/")).header("host", "hello.localhost").body(full_body("")).unwrap();
    assert_eq!(router.send(post).await.unwrap().status, 503);
    let codes: Vec<_> = router.log_lines(4).await.iter().map(|(_, line)| line.code).collect();
    assert_eq!(codes, vec![None, None, None, Some(ErrorCode::H13)]);

    // A dyno that closes its idle connections right after answering: the next request finds
    // the connection closed before sending on it.
    let (addr, accepted) =
        scripted_dyno(|_, _| Answer::SendAndClose(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec())).await;
    router.table.set_web("hello", vec![WebDyno::new("web.1", TcpBackend::new(addr))]);
    for _ in 0..3 {
        assert_eq!(router.get("hello.localhost", "/").await.unwrap().body, "ok");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let post = Request::post(router.url("/")).header("host", "hello.localhost").body(full_body("")).unwrap();
    assert_eq!(router.send(post).await.unwrap().body, "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), 4);
}

#[tokio::test]
async fn broken_and_oversized_responses_are_refused_and_their_connections_closed() {
    let (addr, accepted) = scripted_dyno(|_, head| match path_of(head) {
        "/huge-head" => {
            let mut bytes = b"HTTP/1.1 200 OK\r\nx-big: ".to_vec();
            bytes.resize(bytes.len() + 70 * 1024, b'x');
            bytes.extend_from_slice(b"\r\ncontent-length: 0\r\n\r\n");
            Answer::Send(bytes)
        }
        "/many-interim" => Answer::Send(
            [&b"HTTP/1.1 103 Early Hints\r\n\r\n".repeat(17)[..], b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"].concat(),
        ),
        "/two-lengths" => Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-length: 3\r\n\r\nabc".to_vec()),
        "/bad-chunk" => Answer::Send(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n".to_vec()),
        "/short" => Answer::SendAndClose(b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello".to_vec()),
        "/head-cut" => Answer::SendAndClose(b"HTTP/1.1 200 OK\r\ncontent-le".to_vec()),
        "/extra" => Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n".to_vec()),
        _ => Answer::Send(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok".to_vec()),
    })
    .await;
    let (router, backend) = router_to(addr).await;

    for (i, (path, code)) in [("/huge-head", ErrorCode::H99), ("/many-interim", ErrorCode::H99), ("/two-lengths", ErrorCode::H99), ("/head-cut", ErrorCode::H13)].into_iter().enumerate() {
        let reply = router.get("hello.localhost", path).await.unwrap();
        assert_eq!(reply.status, 503, "{path}");
        let lines = router.log_lines(i + 1).await;
        assert_eq!(lines[i].1.code, Some(code), "{path}");
        assert_eq!(backend.idle_connections(), 0, "{path}: its connection was pooled");
    }
    // A body cut short or misframed: the client's response is cut short too.
    for path in ["/bad-chunk", "/short"] {
        assert!(router.get("hello.localhost", path).await.is_err(), "{path} arrived whole");
        assert_eq!(backend.idle_connections(), 0, "{path}: its connection was pooled");
    }
    // Bytes after the response: served, but the connection is not trusted again.
    assert_eq!(router.get("hello.localhost", "/extra").await.unwrap().body, "ok");
    assert_eq!(backend.idle_connections(), 0);
    let before = accepted.load(Ordering::SeqCst);
    assert_eq!(router.get("hello.localhost", "/").await.unwrap().body, "ok");
    assert_eq!(router.get("hello.localhost", "/").await.unwrap().body, "ok");
    assert_eq!(accepted.load(Ordering::SeqCst), before + 1, "a good response's connection is reused");
}

/// A dyno over raw sockets that reads each request's `Content-Length` body and answers with its
/// length and first bytes; on `/refuse` it answers 413 after the head, reads nothing more and
/// closes. Counts the connections it accepted.
async fn body_reading_dyno() -> (SocketAddr, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else { return };
            count.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut seen = Vec::new();
                loop {
                    let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                        continue;
                    };
                    let head = String::from_utf8_lossy(&seen[..end]).to_lowercase();
                    seen.drain(..end + 4);
                    if path_of(&head) == "/refuse" {
                        let _ = stream.write_all(b"HTTP/1.1 413 Payload Too Large\r\ncontent-length: 4\r\nconnection: close\r\n\r\nnope").await;
                        return;
                    }
                    let length: usize = head
                        .lines()
                        .find_map(|line| line.strip_prefix("content-length:"))
                        .map_or(0, |v| v.trim().parse().unwrap());
                    while seen.len() < length {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => seen.extend_from_slice(&buf[..n]),
                        }
                    }
                    let body: Vec<u8> = seen.drain(..length).collect();
                    let text = format!("got {length}: {}", String::from_utf8_lossy(&body[..body.len().min(5)]));
                    let answer = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n{text}", text.len());
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn request_bodies_of_a_known_length_arrive_whole_and_keep_the_connection() {
    let (addr, accepted) = body_reading_dyno().await;
    let (router, backend) = router_to(addr).await;
    let post = |body: Vec<u8>| {
        Request::post(router.url("/"))
            .header("host", "hello.localhost")
            .header("content-length", body.len())
            .body(full_body(body))
            .unwrap()
    };
    assert_eq!(router.send(post(b"hello".to_vec())).await.unwrap().body, "got 5: hello");
    // Larger than the sockets' buffers: written as the dyno reads it.
    let big: Vec<u8> = (0..16 << 20).map(|i| b'a' + (i % 26) as u8).collect();
    assert_eq!(router.send(post(big)).await.unwrap().body, "got 16777216: abcde");
    assert_eq!(router.get("hello.localhost", "/").await.unwrap().body, "got 0: ");
    assert_eq!(router.send(post(b"again".to_vec())).await.unwrap().body, "got 5: again");
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "one connection for every request");
    assert_eq!(backend.idle_connections(), 1);
}

#[tokio::test]
async fn a_dyno_that_answers_before_reading_the_body_is_heard_and_its_connection_not_reused() {
    let (addr, accepted) = body_reading_dyno().await;
    let (router, backend) = router_to(addr).await;
    // A client announcing 64 MiB and sending the first 4 MiB: the dyno refuses after the head.
    let mut client = tokio::net::TcpStream::connect(router.addr).await.unwrap();
    let head = format!("POST /refuse HTTP/1.1\r\nhost: hello.localhost\r\ncontent-length: {}\r\n\r\n", 64 << 20);
    client.write_all(head.as_bytes()).await.unwrap();
    let _ = client.write_all(&vec![b'x'; 4 << 20]).await;
    let mut reply = vec![0u8; 4096];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), client.read(&mut reply)).await.unwrap().unwrap();
    let reply = String::from_utf8_lossy(&reply[..n]);
    assert!(reply.starts_with("HTTP/1.1 413"), "{reply}");
    let line = &router.log_lines(1).await[0].1;
    assert_eq!((line.code, line.status), (None, 413), "the dyno's answer, not an H-code");
    assert_eq!(backend.idle_connections(), 0, "a connection left mid-body was pooled");
    assert_eq!(router.get("hello.localhost", "/").await.unwrap().body, "got 0: ");
    assert_eq!(accepted.load(Ordering::SeqCst), 2);
}
