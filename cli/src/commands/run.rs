//! `paas run -a APP [--size S] [--env K=V;K2=V2] [-x] [--no-tty] -- COMMAND ARGS…`: a one-off
//! dyno attached to this terminal through the TLS rendezvous (see [`crate::attach`]); exits with
//! the dyno's exit code.

use anyhow::{Context, Result, bail};
use clap::Args;
use serde_json::{Map, Value, json};

use crate::api::{parse, seg};
use crate::app_arg::AppArg;
use crate::attach::{self, RawTerminal};
use crate::commands::config::shell_quote;
use crate::credentials;
use crate::models::DynoView;
use crate::output;
use crate::usage::usage_bail;

/// Run a one-off dyno attached to this terminal, e.g. `paas run -a myapp -- worker 3`.
#[derive(Debug, Args)]
pub struct RunCommand {
    #[command(flatten)]
    app: AppArg,
    #[command(flatten)]
    oneoff: OneOffArgs,
    /// Exit with the dyno's exit code (always so; accepted as heroku's `run -x` is).
    #[arg(short = 'x', long = "exit-code")]
    exit_code: bool,
    /// Do not put the terminal in raw mode, even when stdin is a terminal.
    #[arg(long)]
    no_tty: bool,
}

/// What `run` and `run:detached` share.
#[derive(Debug, Args)]
pub struct OneOffArgs {
    /// The dyno size (Basic, Standard-1X, Standard-2X, Performance-M, …).
    #[arg(short = 's', long)]
    size: Option<String>,
    /// Environment variables for the dyno: K=V;K2=V2 (repeatable).
    #[arg(short = 'e', long, value_name = "K=V;K2=V2")]
    env: Vec<String>,
    /// Stop the dyno after this many seconds (default 3600).
    #[arg(long, value_name = "SECONDS")]
    time_to_live: Option<u64>,
    /// What to run: a process type of the Procfile or a component in the slug, and its
    /// arguments (a shell command for native apps).
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true, value_name = "COMMAND")]
    command: Vec<String>,
}

impl OneOffArgs {
    /// The command line: one argument as it is (`paas run 'echo hi; exit 3'`, as heroku's CLI
    /// takes it), several words quoted as a shell would need.
    pub fn command_line(&self) -> String {
        match self.command.as_slice() {
            [one] => one.clone(),
            words => words.iter().map(|w| shell_quote(w)).collect::<Vec<_>>().join(" "),
        }
    }

    /// The `POST /apps/{app}/dynos` body (without `attach` and the terminal's variables).
    pub fn body(&self, command: &str) -> Result<Map<String, Value>> {
        let mut env = Map::new();
        for pair in self.env.iter().flat_map(|e| e.split(';')).filter(|p| !p.trim().is_empty()) {
            let Some((key, value)) = pair.split_once('=') else {
                usage_bail!("--env {pair:?} is not K=V: write --env 'K=V;K2=V2'");
            };
            env.insert(key.trim().to_string(), json!(value));
        }
        let mut body = Map::new();
        body.insert("command".into(), json!(command));
        body.insert("env".into(), Value::Object(env));
        if let Some(size) = &self.size {
            body.insert("size".into(), json!(size));
        }
        if let Some(ttl) = self.time_to_live {
            body.insert("time_to_live".into(), json!(ttl));
        }
        Ok(body)
    }
}

impl RunCommand {
    /// `POST /apps/{app}/dynos` with `attach: true`, then the rendezvous; exits with the code.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let command = self.oneoff.command_line();
        let mut body = self.oneoff.body(&attach::with_exit_status(&command))?;
        let terminal = !self.no_tty && std::io::IsTerminal::is_terminal(&std::io::stdin());
        body.insert("attach".into(), json!(true));
        body.insert("force_no_tty".into(), json!(!terminal));
        if let Value::Object(env) = &mut body["env"] {
            let term = credentials::env("TERM").unwrap_or_else(|| "dumb".into());
            env.entry("TERM").or_insert(json!(term));
            if let Some((columns, lines)) = terminal.then(RawTerminal::size).flatten() {
                env.insert("COLUMNS".into(), json!(columns.to_string()));
                env.insert("LINES".into(), json!(lines.to_string()));
            }
        }
        let ca = match credentials::trusted_ca(api.base_url())? {
            Some(pem) => Some(pem),
            // Not recorded by `paas login` (PAAS_API_URL): the server's own, over the same
            // channel as the API key.
            None => fetch_ca(api.base_url()).await?,
        };
        let tls = attach::client_config(ca.as_deref())?;
        eprint!("Running {command} on {}... ", output::app(&name));
        let dyno = api.post(&format!("/apps/{}/dynos", seg(&name)), &Value::Object(body)).await;
        let dyno = dyno.inspect_err(|_| eprintln!())?;
        let shown: DynoView = parse(dyno.clone())?;
        let Some(attach_url) = shown.attach_url.as_deref() else {
            eprintln!();
            bail!("the server answered without an attach_url: {dyno}");
        };
        let code = {
            // Raw before "up" is shown: what is typed from then on goes to the dyno as it is.
            let raw = if terminal { RawTerminal::enter() } else { None };
            let end = if raw.is_some() { "\r\n" } else { "\n" };
            eprint!("up, {}{end}", if shown.name.is_empty() { "run" } else { &shown.name });
            attach::attach(attach_url, tls).await?
        };
        let Some(code) = code else { bail!("the dyno's connection closed without its exit code") };
        if code != 0 && self.exit_code {
            eprintln!("Process exited with code {code}");
        }
        std::process::exit(code);
    }
}

/// The server's local CA from `GET /paas/ca.pem` (`None`: it has none).
async fn fetch_ca(api_url: &str) -> Result<Option<Vec<u8>>> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("{api_url}/paas/ca.pem");
    let response = reqwest::Client::new().get(&url).send().await.with_context(|| format!("cannot fetch {url}"))?;
    if response.status() == reqwest::StatusCode::NOT_FOUND {
        return Ok(None);
    }
    let response = response.error_for_status().with_context(|| format!("cannot fetch {url}"))?;
    Ok(Some(response.bytes().await.with_context(|| format!("cannot fetch {url}"))?.to_vec()))
}
