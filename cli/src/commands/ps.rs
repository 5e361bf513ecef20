//! `paas ps`: lists an app's dynos, grouped by process type, size and command.

use anyhow::Result;
use chrono::Utc;
use clap::Args;
use serde_json::Value;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{Dyno, size_label};
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
        let values = credentials::connect()?.list(&format!("/apps/{}/dynos", seg(&name)), None).await?;
        if self.json {
            output::json(&Value::Array(values));
            return Ok(());
        }
        let dynos: Vec<Dyno> = parse_all(values)?;
        print!("{}", render(&name, dynos, Utc::now()));
        Ok(())
    }
}

/// `=== web (Basic): <command> (N)` groups of `web.1: up <time> (~ 13m ago)` lines.
fn render(app: &str, mut dynos: Vec<Dyno>, now: chrono::DateTime<Utc>) -> String {
    if dynos.is_empty() {
        return format!("No dynos on {}\n", output::app(app));
    }
    dynos.sort_by(|a, b| {
        (a.kind.as_str(), dyno_number(&a.name), a.name.as_str()).cmp(&(b.kind.as_str(), dyno_number(&b.name), b.name.as_str()))
    });
    let mut groups: Vec<(String, Vec<&Dyno>)> = Vec::new();
    for dyno in &dynos {
        let title = format!(
            "{} ({}): {}",
            dyno.kind,
            size_label(dyno.size.as_deref()),
            dyno.command.as_deref().unwrap_or_default()
        );
        match groups.last_mut() {
            Some((last, members)) if *last == title => members.push(dyno),
            _ => groups.push((title, vec![dyno])),
        }
    }
    let mut out = String::new();
    for (n, (title, members)) in groups.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        out.push_str(&format!("=== {title} ({})\n\n", members.len()));
        for dyno in members {
            let mut line = format!("{}: {} {}", dyno.name, dyno.state, output::time(dyno.updated_at.as_deref()));
            if let Some(ago) = output::ago(dyno.updated_at.as_deref(), now) {
                line.push_str(&format!(" ({ago})"));
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
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
        let dynos: Vec<Dyno> = serde_json::from_value(serde_json::json!([
            {"name": "web.10", "type": "web", "state": "up", "command": "serve", "size": "basic"},
            {"name": "worker.1", "type": "worker", "state": "crashed", "command": "work", "size": "basic"},
            {"name": "web.2", "type": "web", "state": "starting", "command": "serve", "size": "basic"}
        ]))
        .unwrap();
        assert_eq!(
            render("myapp", dynos, Utc::now()),
            "=== web (Basic): serve (2)\n\nweb.2: starting\nweb.10: up\n\n=== worker (Basic): work (1)\n\nworker.1: crashed\n"
        );
        assert_eq!(render("myapp", Vec::new(), Utc::now()), "No dynos on ⬢ myapp\n");
    }
}
