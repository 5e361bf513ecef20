//! Rewrites `receive-pack`'s report so a push rejected by the build says why: git reports every
//! failed `pre-receive` hook as `pre-receive hook declined`; the pusher sees
//! `! [remote rejected] main -> main (build failed)` instead.
//!
//! The report is pkt-lines (`ng <ref> <reason>`), carried in side-band 1 packets when the client
//! asked for side-band (every git does); other packets pass through untouched.

use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};

const DECLINED: &[u8] = b"pre-receive hook declined";

/// The reason a push was rejected, set by the hook's handler before `receive-pack` reports.
pub type Rejection = Arc<Mutex<Option<String>>>;

/// An incremental rewriter of a `receive-pack` response.
pub struct ReportRewriter {
    reason: Rejection,
    outer: BytesMut,
    inner: BytesMut,
}

impl ReportRewriter {
    /// Rewrites `pre-receive hook declined` to the reason, once one is set.
    pub fn new(reason: Rejection) -> ReportRewriter {
        ReportRewriter { reason, outer: BytesMut::new(), inner: BytesMut::new() }
    }

    /// Feeds a chunk of the response; returns what can be sent on.
    pub fn feed(&mut self, chunk: &[u8]) -> Bytes {
        self.outer.extend_from_slice(chunk);
        let mut out = BytesMut::new();
        while let Some(length) = packet_length(&self.outer) {
            if length == 0 || length < 4 {
                out.extend_from_slice(&self.outer.split_to(4));
                continue;
            }
            if self.outer.len() < length {
                break;
            }
            let packet = self.outer.split_to(length);
            let payload = &packet[4..];
            match payload.first() {
                Some(1) => {
                    self.inner.extend_from_slice(&payload[1..]);
                    while let Some(inner_length) = packet_length(&self.inner) {
                        let inner_length = inner_length.max(4);
                        if self.inner.len() < inner_length {
                            break;
                        }
                        let line = self.inner.split_to(inner_length);
                        let mut data = vec![1u8];
                        data.extend_from_slice(&self.rewrite(&line));
                        out.extend_from_slice(&pkt(&data));
                    }
                }
                Some(b'n') => out.extend_from_slice(&self.rewrite(&packet)),
                _ => out.extend_from_slice(&packet),
            }
        }
        out.freeze()
    }

    /// What is left at the end (an incomplete packet, passed on as it is).
    pub fn finish(&mut self) -> Bytes {
        let mut rest = self.inner.split();
        rest.extend_from_slice(&self.outer.split());
        rest.freeze()
    }

    /// One report pkt-line, rewritten if it is `ng <ref> pre-receive hook declined`.
    fn rewrite(&self, line: &[u8]) -> Vec<u8> {
        let payload = &line[4.min(line.len())..];
        let text = payload.strip_suffix(b"\n").unwrap_or(payload);
        let reason = self.reason.lock().expect("rejection").clone();
        match (text.strip_suffix(DECLINED), reason) {
            (Some(prefix), Some(reason)) if text.starts_with(b"ng ") => {
                let mut data = prefix.to_vec();
                data.extend_from_slice(reason.as_bytes());
                data.push(b'\n');
                pkt(&data)
            }
            _ => line.to_vec(),
        }
    }
}

fn packet_length(buffer: &[u8]) -> Option<usize> {
    let hex = std::str::from_utf8(buffer.get(..4)?).ok()?;
    usize::from_str_radix(hex, 16).ok()
}

fn pkt(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:04x}", data.len() + 4).into_bytes();
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report(lines: &[&str]) -> Vec<u8> {
        let mut inner = Vec::new();
        for line in lines {
            inner.extend(pkt(line.as_bytes()));
        }
        inner.extend(b"0000");
        let mut data = vec![1u8];
        data.extend(inner);
        let mut out = pkt(b"\x02remote: hello\n");
        out.extend(pkt(&data));
        out.extend(b"0000");
        out
    }

    #[test]
    fn rewrites_the_declined_ref_in_side_band_reports_fed_byte_by_byte() {
        let input = report(&["unpack ok\n", "ng refs/heads/main pre-receive hook declined\n"]);
        let mut rewriter = ReportRewriter::new(Arc::new(Mutex::new(Some("build failed".into()))));
        let mut output = Vec::new();
        for byte in &input {
            output.extend_from_slice(&rewriter.feed(&[*byte]));
        }
        output.extend_from_slice(&rewriter.finish());
        let mut expected = pkt(b"\x02remote: hello\n");
        expected.extend(pkt(&[b"\x01".as_slice(), &pkt(b"unpack ok\n")].concat()));
        expected.extend(pkt(&[b"\x01".as_slice(), &pkt(b"ng refs/heads/main build failed\n")].concat()));
        expected.extend(pkt(b"\x010000"));
        expected.extend(b"0000");
        assert_eq!(String::from_utf8_lossy(&output), String::from_utf8_lossy(&expected));
    }

    #[test]
    fn rewrites_reports_without_side_band() {
        let mut input = pkt(b"unpack ok\n");
        input.extend(pkt(b"ng refs/heads/main pre-receive hook declined\n"));
        input.extend(b"0000");
        let mut rewriter = ReportRewriter::new(Arc::new(Mutex::new(Some("build failed".into()))));
        let output = rewriter.feed(&input);
        let mut expected = pkt(b"unpack ok\n");
        expected.extend(pkt(b"ng refs/heads/main build failed\n"));
        expected.extend(b"0000");
        assert_eq!(output.as_ref(), expected.as_slice());
    }
}
