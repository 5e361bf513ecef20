//! A minimal RESP2 client: commands as arrays of bulk strings, replies read with bounds (a
//! reply line of at most 64 KiB, bulk strings of at most 1 MiB, arrays of at most 1,024 items,
//! nested at most 8 deep).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

const MAX_LINE: usize = 64 * 1024;
const MAX_BULK: usize = 1 << 20;
const MAX_ITEMS: usize = 1024;
const MAX_DEPTH: usize = 8;

/// One reply.
#[derive(Debug, PartialEq)]
pub enum Reply {
    Simple(String),
    Error(String),
    Integer(i64),
    Bulk(Option<Vec<u8>>),
    Array(Option<Vec<Reply>>),
}

/// A connection to a Redis server.
pub struct Connection {
    reader: BufReader<TcpStream>,
}

impl Connection {
    pub fn new(stream: TcpStream) -> Self {
        Connection { reader: BufReader::new(stream) }
    }

    /// Sends one command and reads its reply.
    pub fn command(&mut self, args: &[&str]) -> Result<Reply, String> {
        let mut request = format!("*{}\r\n", args.len()).into_bytes();
        for arg in args {
            request.extend(format!("${}\r\n", arg.len()).as_bytes());
            request.extend(arg.as_bytes());
            request.extend(b"\r\n");
        }
        self.reader.get_mut().write_all(&request).map_err(|e| format!("cannot send to Redis: {e}"))?;
        read_reply(&mut self.reader, 0)
    }
}

fn read_reply(r: &mut impl BufRead, depth: usize) -> Result<Reply, String> {
    let line = read_line(r)?;
    let (kind, rest) = line.split_at_checked(1).ok_or("Redis sent an empty line")?;
    let number = || rest.parse::<i64>().map_err(|_| format!("Redis sent a bad length or integer: {rest:?}"));
    Ok(match kind {
        "+" => Reply::Simple(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(number()?),
        "$" => match number()? {
            -1 => Reply::Bulk(None),
            n if (0..=MAX_BULK as i64).contains(&n) => {
                let mut data = vec![0; n as usize + 2];
                r.read_exact(&mut data).map_err(|e| format!("cannot read from Redis: {e}"))?;
                data.truncate(n as usize);
                Reply::Bulk(Some(data))
            }
            n => return Err(format!("Redis sent a bulk string of {n} bytes (at most {MAX_BULK} read)")),
        },
        "*" => match number()? {
            -1 => Reply::Array(None),
            n if (0..=MAX_ITEMS as i64).contains(&n) && depth < MAX_DEPTH => {
                Reply::Array(Some((0..n).map(|_| read_reply(r, depth + 1)).collect::<Result<_, _>>()?))
            }
            n => return Err(format!("Redis sent an array of {n} items at depth {depth} (too large)")),
        },
        _ => return Err(format!("Redis sent a reply of unknown type {kind:?}")),
    })
}

/// One `\r\n`-terminated line, at most `MAX_LINE` bytes.
fn read_line(r: &mut impl BufRead) -> Result<String, String> {
    let mut line = Vec::new();
    r.take(MAX_LINE as u64 + 2).read_until(b'\n', &mut line).map_err(|e| format!("cannot read from Redis: {e}"))?;
    match line.strip_suffix(b"\r\n") {
        Some(body) => String::from_utf8(body.to_vec()).map_err(|_| "Redis sent a line that is not UTF-8".into()),
        None if line.is_empty() => Err("Redis closed the connection".into()),
        None => Err(format!("Redis sent a line without CRLF or over {MAX_LINE} bytes")),
    }
}
