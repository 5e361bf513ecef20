//! `paas ps`: lists an app's dynos, grouped by process type, size and command (on a grid, each
//! with the node that runs it), with the memory each holds and the CPU time it used (from
//! `GET /apps/{app}/metrics`).

use std::collections::HashMap;

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use serde_json::Value;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{DynoView, size_label};
use crate::output;

/// List an app's dynos.
#[derive(Debug, Args)]
pub struct PsCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the dynos as JSON.
    #[arg(long)]
    json: bool,
}

impl PsCommand {
    /// `GET /apps/{app}/dynos`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let values = api.list(&format!("/apps/{}/dynos", seg(&name)), None).await?;
        if self.json {
            output::json(&Value::Array(values));
            return Ok(());
        }
        let dynos: Vec<DynoView> = parse_all(values)?;
        // Each dyno's memory and CPU time (a paas extension; a server without it shows none).
        let memory: HashMap<String, Usage> = match api.get(&format!("/apps/{}/metrics?since=1m", seg(&name))).await {
            Ok(metrics) => metrics["dynos"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| Some((d["name"].as_str()?.to_string(), (d["memory_bytes"].as_u64()?, d["cpu_seconds"].as_f64()))))
                .collect(),
            Err(_) => HashMap::new(),
        };
        print!("{}", render(&name, dynos, &memory, Utc::now()));
        Ok(())
    }
}

/// A dyno's memory in bytes and CPU seconds (when measured).
type Usage = (u64, Option<f64>);

/// `=== run: one-off processes (N)` first, then `=== web (Basic): <command> (N)` groups of
/// `web.1: up <time> (~ 13m ago)` lines, as Heroku's `ps` shows them.
fn render(app: &str, dynos: Vec<DynoView>, memory: &HashMap<String, Usage>, now: chrono::DateTime<Utc>) -> String {
    if dynos.is_empty() {
        return format!("No dynos on {}\n", output::app(app));
    }
    let since = |dyno: &DynoView| {
        let mut text = format!("{} {}", dyno.state, output::time(Some(&dyno.updated_at)));
        if let Some(ago) = output::ago(Some(&dyno.updated_at), now) {
            text.push_str(&format!(" ({ago})"));
        }
        if let Some(node) = &dyno.node {
            text.push_str(&format!(" on node {node}"));
        }
        let mut text = text.trim_end().to_string();
        if let Some((bytes, cpu)) = memory.get(&dyno.name) {
            text.push_str(&format!(", {:.1} MiB", *bytes as f64 / (1024.0 * 1024.0)));
            if let Some(cpu) = cpu {
                text.push_str(&format!(", {cpu:.1} s CPU"));
            }
        }
        text
    };
    let title = |dyno: &DynoView| {
        format!("{} ({}): {}", dyno.process_type, size_label(&dyno.size), dyno.command)
    };
    let (mut one_offs, mut services): (Vec<DynoView>, Vec<DynoView>) = dynos.into_iter().partition(|d| d.process_type == "run");
    let mut sections = Vec::new();
    if !one_offs.is_empty() {
        one_offs.sort_by(|a, b| a.name.cmp(&b.name));
        let mut section = format!("=== run: one-off processes ({})\n\n", one_offs.len());
        for dyno in &one_offs {
            let size = size_label(&dyno.size);
            section.push_str(&format!("{} ({size}): {}: {}\n", dyno.name, since(dyno), dyno.command));
        }
        sections.push(section);
    }
    services.sort_by_cached_key(|d| (d.process_type.clone(), title(d), dyno_number(&d.name), d.name.clone()));
    let mut groups: Vec<(String, Vec<&DynoView>)> = Vec::new();
    for dyno in &services {
        let title = title(dyno);
        match groups.last_mut() {
            Some((last, members)) if *last == title => members.push(dyno),
            _ => groups.push((title, vec![dyno])),
        }
    }
    for (title, members) in groups {
        let mut section = format!("=== {title} ({})\n\n", members.len());
        for dyno in members {
            section.push_str(&format!("{}: {}\n", dyno.name, since(dyno)));
        }
        sections.push(section);
    }
    sections.join("\n")
}

/// `web.12` → 12, so that `web.2` sorts before `web.10`.
fn dyno_number(name: &str) -> u64 {
    name.rsplit('.').next().and_then(|n| n.parse().ok()).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_groups_dynos_by_type_and_command() {
        let dynos: Vec<DynoView> = serde_json::from_value(serde_json::json!([
            {"name": "web.10", "type": "web", "state": "up", "command": "serve", "size": "basic"},
            {"name": "worker.1", "type": "worker", "state": "crashed", "command": "work", "size": "basic"},
            {"name": "web.2", "type": "web", "state": "starting", "command": "serve", "size": "basic"}
        ]))
        .unwrap();
        assert_eq!(
            render(
                "myapp",
                dynos,
                &HashMap::from([("web.10".to_string(), (5 << 19, None)), ("worker.1".to_string(), (1 << 20, Some(12.345)))]),
                Utc::now()
            ),
            "=== web (Basic): serve (2)\n\nweb.2: starting\nweb.10: up, 2.5 MiB\n\n=== worker (Basic): work (1)\n\nworker.1: crashed, 1.0 MiB, 12.3 s CPU\n"
        );
        assert_eq!(render("myapp", Vec::new(), &HashMap::new(), Utc::now()), "No dynos on ⬢ myapp\n");
    }

    #[test]
    fn render_lists_one_off_dynos_first_with_their_commands() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-11-21T19:12:17Z").unwrap().with_timezone(&Utc);
        let dynos: Vec<DynoView> = serde_json::from_value(serde_json::json!([
            {"name": "web.1", "type": "web", "state": "up", "command": "serve", "updated_at": "2026-11-21T18:59:17Z"},
            {"name": "run.4711", "type": "run", "state": "up", "command": "bash", "size": "basic", "updated_at": "2026-11-21T19:12:00Z"}
        ]))
        .unwrap();
        let text = render("myapp", dynos, &HashMap::new(), now);
        let expected_web = format!("web.1: up {} (~ 13m ago)", output::time(Some("2026-11-21T18:59:17Z")));
        let expected_run = format!("run.4711 (Basic): up {} (~ 17s ago): bash", output::time(Some("2026-11-21T19:12:00Z")));
        assert_eq!(
            text,
            format!("=== run: one-off processes (1)\n\n{expected_run}\n\n=== web (Basic): serve (1)\n\n{expected_web}\n")
        );
    }
}
