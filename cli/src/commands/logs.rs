//! `paas logs [-n N] [--tail] [--source app|paas] [--dyno web.1|web]`: an app's log stream, over
//! Heroku's log-session protocol: `POST /apps/{app}/log-sessions`, then the session's
//! `logplex_url` read as Server-Sent Events (no `Authorization`: the URL is the capability).
//! With `--tail`, a dropped stream is reopened with `Last-Event-ID`, so nothing is repeated.

use std::io::Write;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Map, Value, json};

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::LogSessionView;

/// Display an app's recent log lines, or follow them.
#[derive(Debug, Args)]
pub struct LogsCommand {
    #[command(flatten)]
    app: AppArg,
    /// How many past lines to show (at most 1500).
    #[arg(short = 'n', long = "num", value_name = "N", default_value_t = 100)]
    num: u32,
    /// Keep following new lines until interrupted.
    #[arg(short = 't', long)]
    tail: bool,
    /// Only lines of this source: app or paas.
    #[arg(short = 's', long, value_name = "SOURCE")]
    source: Option<String>,
    /// Only lines of this dyno (web.1) or process type (web, router, api).
    #[arg(short = 'd', long, value_name = "DYNO")]
    dyno: Option<String>,
    /// Only lines of this process type (the same as --dyno TYPE).
    #[arg(short = 'p', long = "process-type", value_name = "TYPE", conflicts_with = "dyno")]
    process_type: Option<String>,
}

impl LogsCommand {
    /// Makes a log session and prints its stream.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let mut body = Map::new();
        if let Some(dyno) = self.dyno.or(self.process_type) {
            body.insert("dyno".into(), json!(dyno));
        }
        if let Some(source) = self.source {
            body.insert("source".into(), json!(source));
        }
        body.insert("lines".into(), json!(self.num));
        body.insert("tail".into(), json!(self.tail));
        let session: LogSessionView = parse(api.post(&format!("/apps/{}/log-sessions", seg(&name)), &Value::Object(body)).await?)?;
        if session.logplex_url.is_empty() {
            bail!("the log session has no logplex_url");
        }
        let url = session.logplex_url;
        let http = reqwest::Client::builder()
            .user_agent(concat!("paas-cli/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("cannot set up the HTTP client")?;
        let mut last_id: Option<String> = None;
        loop {
            let mut request = http.get(&url).header("accept", "text/event-stream");
            if let Some(id) = &last_id {
                request = request.header("last-event-id", id);
            }
            let mut response = request.send().await.with_context(|| format!("cannot reach the log stream at {url}"))?;
            if !response.status().is_success() {
                bail!("the log stream answered {}: the session has expired; run paas logs again", response.status());
            }
            let mut events = EventReader::default();
            let mut stdout = std::io::stdout();
            while let Ok(Some(chunk)) = response.chunk().await {
                for line in events.push(&chunk) {
                    writeln!(stdout, "{line}")?;
                }
                stdout.flush()?;
                if events.last_id.is_some() {
                    last_id.clone_from(&events.last_id);
                }
            }
            if !self.tail {
                return Ok(());
            }
            // The stream dropped: reopen it after the last line seen.
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}

/// Reads Server-Sent Events as they arrive (lines end at `\r\n`, `\n` or `\r`): each event's
/// data (its `data:` fields joined by `\n`, as the server splits a line holding a line break),
/// and the last `id:`.
#[derive(Debug, Default)]
struct EventReader {
    pending: Vec<u8>,
    /// The last line ended at a `\r`: a `\n` right after it belongs to that line end.
    after_cr: bool,
    /// The `data:` fields of the event being read.
    data: Option<String>,
    last_id: Option<String>,
}

impl EventReader {
    /// Takes a chunk; gives the data of the events completed by it.
    fn push(&mut self, chunk: &[u8]) -> Vec<String> {
        self.pending.extend_from_slice(chunk);
        let mut events = Vec::new();
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n' || *b == b'\r') {
            let raw: Vec<u8> = self.pending.drain(..=end).collect();
            let after_cr = std::mem::replace(&mut self.after_cr, raw[end] == b'\r');
            if end == 0 && raw[0] == b'\n' && after_cr {
                continue;
            }
            let line = String::from_utf8_lossy(&raw[..end]);
            if line.is_empty() {
                events.extend(self.data.take());
            } else if let Some(value) = line.strip_prefix("data:") {
                let value = value.strip_prefix(' ').unwrap_or(value);
                match &mut self.data {
                    Some(data) => {
                        data.push('\n');
                        data.push_str(value);
                    }
                    None => self.data = Some(value.to_string()),
                }
            } else if let Some(id) = line.strip_prefix("id:") {
                self.last_id = Some(id.trim().to_string());
            }
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_across_chunks() {
        let mut reader = EventReader::default();
        assert!(reader.push(b"retry: 1\n\nid: 7\nda").is_empty());
        assert_eq!(reader.last_id.as_deref(), Some("7"));
        assert_eq!(reader.push(b"ta: one\n\n: keep-alive\n\ndata: two\n\n"), ["one", "two"]);
    }

    /// What broke: a log line holding a `\r` went out raw, and the rest of it was lost.
    #[test]
    fn a_line_split_at_a_carriage_return_arrives_whole() {
        let mut reader = EventReader::default();
        assert_eq!(reader.push(b"id: 3\ndata: 50%\rdata: 100%\n\n"), ["50%\n100%"]);
        // Line ends of every kind, split across chunks (a `\r\n` cut in two is one line end).
        assert_eq!(reader.push(b"data: a\r"), Vec::<String>::new());
        assert_eq!(reader.push(b"\n\r\ndata: b\r\r"), ["a", "b"]);
    }
}
