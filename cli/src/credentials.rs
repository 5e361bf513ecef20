//! Where the client finds its API URL and key: `PAAS_API_URL` / `PAAS_API_KEY` first, else the
//! URL that `paas login` stored in `~/.config/paas/config.toml` and the key it stored in
//! `~/.netrc` under the API's host (as Heroku does, so `git push` to that host authenticates too).

use std::path::PathBuf;

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::api::Api;
use crate::netrc;

/// What `paas login` remembers besides the key: `~/.config/paas/config.toml`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct ClientConfig {
    /// The API URL given to the last `paas login`.
    pub api_url: Option<String>,
    /// The CA certificate (PEM) that server's TLS certificates are checked against, recorded by
    /// `paas login` (`None`: the system's roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// Where `paas login` keeps the server's CA: `~/.config/paas/ca.pem`.
pub fn ca_path() -> Result<PathBuf> {
    Ok(config_path()?.with_file_name("ca.pem"))
}

/// The CA (PEM) the server at `api_url` is trusted through: `PAAS_CA_FILE`, else the one
/// `paas login` recorded for that URL; `None` when there is neither.
pub fn trusted_ca(api_url: &str) -> Result<Option<Vec<u8>>> {
    let path = match env("PAAS_CA_FILE") {
        Some(path) => PathBuf::from(path),
        None => match load_config()? {
            ClientConfig { api_url: Some(url), ca_file: Some(path) } if url == api_url => path,
            _ => return Ok(None),
        },
    };
    std::fs::read(&path).map(Some).with_context(|| format!("cannot read the CA certificate {}", path.display()))
}

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// The user's home directory (`$HOME`).
pub fn home() -> Result<PathBuf> {
    env("HOME").map(PathBuf::from).ok_or_else(|| anyhow!("HOME is not set"))
}

/// `~/.netrc`.
pub fn netrc_path() -> Result<PathBuf> {
    Ok(home()?.join(".netrc"))
}

/// `$XDG_CONFIG_HOME/paas/config.toml`, by default `~/.config/paas/config.toml`.
pub fn config_path() -> Result<PathBuf> {
    let base = match env("XDG_CONFIG_HOME") {
        Some(dir) => PathBuf::from(dir),
        None => home()?.join(".config"),
    };
    Ok(base.join("paas").join("config.toml"))
}

/// Reads the client config; a missing file reads as empty.
pub fn load_config() -> Result<ClientConfig> {
    let path = config_path()?;
    match std::fs::read_to_string(&path) {
        Ok(text) => toml::from_str(&text).with_context(|| format!("cannot parse {}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(ClientConfig::default()),
        Err(error) => Err(error).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// Writes the client config.
pub fn save_config(config: &ClientConfig) -> Result<()> {
    let path = config_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let text = toml::to_string(config).context("cannot serialise the client config")?;
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))
}

/// The netrc machine names for an API URL: its host without the port, which is what git
/// (libcurl) looks up when it pushes to that host, and, when the URL has a port, `host:port`,
/// which is what Heroku's own CLI looks up for `HEROKU_HOST=<url>`. Most specific first.
pub fn machines(api_url: &str) -> Result<Vec<String>> {
    let url = reqwest::Url::parse(api_url).with_context(|| format!("invalid API URL {api_url:?}"))?;
    let Some(host) = url.host_str() else { bail!("invalid API URL {api_url:?}: it has no host") };
    let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
    Ok(match url.port() {
        Some(port) => vec![format!("{host}:{port}"), host],
        None => vec![host],
    })
}

/// Checks that an API URL is an absolute `http(s)://host[:port]` URL, and gives it without a
/// trailing slash.
pub fn normalize_api_url(api_url: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(api_url).map_err(|error| format!("invalid API URL {api_url:?}: {error}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(format!("invalid API URL {api_url:?}: expected http://HOST[:PORT] or https://HOST[:PORT]"));
    }
    Ok(api_url.trim_end_matches('/').to_string())
}

/// The API URL: `PAAS_API_URL`, else the one stored by `paas login`.
pub fn api_url() -> Result<Option<String>> {
    if let Some(url) = env("PAAS_API_URL") {
        return Ok(Some(url.trim_end_matches('/').to_string()));
    }
    Ok(load_config()?.api_url)
}

const NOT_LOGGED_IN: &str =
    "not logged in: run `paas login --api-url URL --api-key KEY`, or set PAAS_API_URL and PAAS_API_KEY";

/// A client of the API the user is logged in to.
pub fn connect() -> Result<Api> {
    let Some(url) = api_url()? else { bail!(NOT_LOGGED_IN) };
    let key = match env("PAAS_API_KEY") {
        Some(key) => key,
        None => {
            let text = netrc::read(&netrc_path()?)?;
            machines(&url)?
                .iter()
                .find_map(|machine| netrc::lookup(&text, machine).and_then(|entry| entry.password))
                .ok_or_else(|| anyhow!(NOT_LOGGED_IN))?
        }
    };
    Api::trusting(&url, &key, trusted_ca(&url)?.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_netrc_machines_are_host_port_and_host() {
        assert_eq!(machines("http://127.0.0.1:5000").unwrap(), ["127.0.0.1:5000", "127.0.0.1"]);
        assert_eq!(machines("https://paas.example.com/").unwrap(), ["paas.example.com"]);
        assert_eq!(machines("http://paas.example.com:80").unwrap(), ["paas.example.com"]);
        assert_eq!(machines("http://[::1]:8080").unwrap(), ["::1:8080", "::1"]);
    }

    #[test]
    fn api_urls_must_be_http() {
        assert_eq!(normalize_api_url("http://127.0.0.1:5000/").unwrap(), "http://127.0.0.1:5000");
        assert!(normalize_api_url("127.0.0.1:5000").is_err());
        assert!(normalize_api_url("ftp://example.com").is_err());
    }
}
