//! `paas login`: checks an API key against the server and stores it in `~/.netrc` under the API's
//! host, and `host:port` too when the URL has a port (login: the user's email), and the API URL in
//! `~/.config/paas/config.toml`, with the server's CA (`--ca-file`, else the server's
//! `GET /paas/ca.pem`) in `~/.config/paas/ca.pem` for `paas run`'s TLS rendezvous.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, Result};
use clap::Args;

use crate::api::{Api, parse};
use crate::credentials;
use crate::models::AccountView;
use crate::netrc;
use crate::usage::usage_bail;

/// Log in to a paas server with an API key.
#[derive(Debug, Args)]
pub struct LoginCommand {
    /// The URL of the paas API, e.g. http://paas.example.com:5000 [default: $PAAS_API_URL, else the last one logged in to]
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// Your API key [default: read from standard input]
    #[arg(long, value_name = "KEY")]
    api_key: Option<String>,
    /// The CA certificate (PEM) the server's TLS certificates are signed by [default: the one the
    /// server serves at /paas/ca.pem (its <data-dir>/tls/ca.pem), else the system's roots]
    #[arg(long, value_name = "FILE")]
    ca_file: Option<std::path::PathBuf>,
}

impl LoginCommand {
    /// Checks the key with `GET /account`, then stores it.
    pub async fn run(self) -> Result<()> {
        let Some(url) = self.api_url.or_else(|| credentials::api_url().ok().flatten()) else {
            usage_bail!("no API URL: pass --api-url URL, e.g. `paas login --api-url http://paas.example.com:5000`")
        };
        let url = match credentials::normalize_api_url(&url) {
            Ok(url) => url,
            Err(message) => usage_bail!("{message}"),
        };
        let key = match self.api_key {
            Some(key) => key,
            None => read_key()?,
        };
        if key.trim().is_empty() {
            usage_bail!("no API key: pass --api-key KEY, or type it on standard input");
        }
        let key = key.trim();
        let given_ca = match &self.ca_file {
            Some(path) => Some(std::fs::read(path).with_context(|| format!("cannot read the CA file {}", path.display()))?),
            None => None,
        };
        let account = Api::trusting(&url, key, given_ca.as_deref())?.get("/account").await.with_context(|| {
            match url.starts_with("https://") && given_ca.is_none() {
                true => format!("cannot log in to {url} (a server with a local CA: pass --ca-file <data-dir>/tls/ca.pem)"),
                false => format!("cannot log in to {url}"),
            }
        })?;
        let account: AccountView = parse(account)?;

        let path = credentials::netrc_path()?;
        let text = netrc::read(&path)?;
        let text = credentials::machines(&url)?
            .iter()
            .fold(text, |text, machine| netrc::upsert(&text, machine, &account.email, key));
        netrc::write(&path, &text)?;
        let mut config = credentials::load_config().unwrap_or_default();
        config.ca_file = record_ca(&url, given_ca).await?;
        config.api_url = Some(url);
        credentials::save_config(&config)?;
        println!("Logged in as {}", account.email);
        Ok(())
    }
}

/// Copies the CA to `~/.config/paas/ca.pem`: the given file, else the server's `/paas/ca.pem`;
/// answers where it is (`None`: the server has none, its certificate is publicly trusted).
async fn record_ca(url: &str, given: Option<Vec<u8>>) -> Result<Option<std::path::PathBuf>> {
    let pem = match given {
        Some(pem) => pem,
        None => {
            let _ = rustls::crypto::ring::default_provider().install_default();
            let response = reqwest::Client::new()
                .get(format!("{url}/paas/ca.pem"))
                .send()
                .await
                .with_context(|| format!("cannot fetch {url}/paas/ca.pem"))?;
            if response.status() == reqwest::StatusCode::NOT_FOUND {
                return Ok(None);
            }
            let response = response.error_for_status().with_context(|| format!("cannot fetch {url}/paas/ca.pem"))?;
            response.bytes().await.with_context(|| format!("cannot fetch {url}/paas/ca.pem"))?.to_vec()
        }
    };
    // Refuse what could not verify anything.
    crate::attach::client_config(Some(&pem)).context("the server's CA is not usable")?;
    let path = credentials::ca_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::write(&path, &pem).with_context(|| format!("cannot write {}", path.display()))?;
    eprintln!("Trusting the server's CA (saved in {})", path.display());
    Ok(Some(path))
}

fn read_key() -> Result<String> {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("API key: ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    stdin.lock().read_line(&mut line).context("cannot read the API key from standard input")?;
    Ok(line)
}
