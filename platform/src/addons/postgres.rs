//! Heroku Postgres: each add-on is a database and a login role of the same name
//! (`addon_<hex>`) with a random password, on a PostgreSQL server this service administers
//! through sqlx's PostgreSQL driver: the operator's (`--addons-postgres-url`) or the
//! [`Cluster`] `paas server` runs. The role owns its database, `PUBLIC` may not connect to it,
//! and its plan's connection limit is the role's `CONNECTION LIMIT`. Passwords never reach a log.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use rand::RngExt;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{Connection, Executor};

use super::catalog::Plan;
use super::cluster::Cluster;
use super::{AddonError, Provisioned};

/// Where the add-ons' databases live.
#[derive(Debug, Clone)]
pub enum PostgresServer {
    /// The operator's server: a superuser's (or `CREATEDB CREATEROLE`) URL.
    External(String),
    /// The cluster `paas server` initialises and starts at the first add-on.
    Local(Arc<Cluster>),
}

/// The `heroku-postgresql` service.
#[derive(Debug)]
pub struct PostgresService {
    server: PostgresServer,
}

impl PostgresService {
    /// The service on `server`.
    pub fn new(server: PostgresServer) -> PostgresService {
        PostgresService { server }
    }

    /// An admin connection, and the host and port apps reach the server at.
    pub(crate) async fn admin(&self) -> Result<(PgConnection, String, u16), AddonError> {
        let (url, public) = match &self.server {
            PostgresServer::External(url) => (url.clone(), None),
            PostgresServer::Local(cluster) => {
                let url = cluster.admin_url().await?;
                (url, Some(cluster.public_address()))
            }
        };
        use sqlx::ConnectOptions;
        // sqlx logs no statement of the admin's (slow ones included): they name roles.
        let options = PgConnectOptions::from_str(&url)
            .map_err(|e| AddonError::Unavailable(format!("bad add-on PostgreSQL URL: {}", redact(&e.to_string()))))?
            .log_statements(tracing::log::LevelFilter::Off)
            .log_slow_statements(tracing::log::LevelFilter::Off, std::time::Duration::from_secs(3600));
        let connection = PgConnection::connect_with(&options).await.map_err(|e| {
            AddonError::Unavailable(format!("cannot connect to the add-on PostgreSQL server: {}", redact(&e.to_string())))
        })?;
        // A unix socket's folder stands in for the host (the URL then says `?host=/folder`).
        let host = match options.get_socket() {
            Some(socket) => socket.display().to_string(),
            None => options.get_host().to_string(),
        };
        let (host, port) = public.unwrap_or((host, options.get_port()));
        Ok((connection, host, port))
    }

    /// Creates a database and its role for `plan`; on any failure, removes what it made.
    pub async fn provision(&self, plan: &Plan) -> Result<Provisioned, AddonError> {
        let (mut admin, host, port) = self.admin().await?;
        let id = format!("addon_{}", uuid::Uuid::new_v4().simple());
        let password: String =
            rand::rng().sample_iter(rand::distr::Alphanumeric).take(40).map(char::from).collect();
        // The server is sent a SCRAM verifier, never the password: a statement PostgreSQL logs
        // (on an error, say) shows nothing that logs in.
        let verifier = scram_verifier(&password);
        let steps = [
            format!("CREATE ROLE {id} LOGIN PASSWORD '{verifier}' CONNECTION LIMIT {}", plan.connection_limit),
            format!("CREATE DATABASE {id} OWNER {id}"),
            format!("REVOKE ALL ON DATABASE {id} FROM PUBLIC"),
        ];
        for step in &steps {
            if let Err(e) = admin.execute(sqlx::AssertSqlSafe(step.clone())).await {
                let _ = drop_resource(&mut admin, &id).await;
                let _ = admin.close().await;
                return Err(AddonError::Failed(redact(&e.to_string()).replace(&verifier, "***")));
            }
        }
        let _ = admin.close().await;
        let url = database_url(&host, port, &id, &password);
        Ok(Provisioned { provider_id: id, config: BTreeMap::from([("URL".to_string(), url)]) })
    }

    /// Sets the role's connection limit to the plan's.
    pub async fn change_plan(&self, provider_id: &str, plan: &Plan) -> Result<(), AddonError> {
        check_id(provider_id)?;
        let (mut admin, _, _) = self.admin().await?;
        let sql = format!("ALTER ROLE {provider_id} CONNECTION LIMIT {}", plan.connection_limit);
        let result = admin.execute(sqlx::AssertSqlSafe(sql)).await;
        let _ = admin.close().await;
        result.map(|_| ()).map_err(|e| AddonError::Failed(e.to_string()))
    }

    /// Drops the database (ending its sessions) and the role.
    pub async fn deprovision(&self, provider_id: &str) -> Result<(), AddonError> {
        check_id(provider_id)?;
        let (mut admin, _, _) = self.admin().await?;
        let result = drop_resource(&mut admin, provider_id).await;
        let _ = admin.close().await;
        result.map_err(|e| AddonError::Failed(e.to_string()))
    }
}

async fn drop_resource(admin: &mut PgConnection, id: &str) -> Result<(), sqlx::Error> {
    admin.execute(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {id} WITH (FORCE)"))).await?;
    admin.execute(sqlx::AssertSqlSafe(format!("DROP ROLE IF EXISTS {id}"))).await?;
    Ok(())
}

/// Whether `id` is a name this service makes (`addon_` and lower-case hex): only those are ever
/// put in SQL.
pub(crate) fn is_resource_name(id: &str) -> bool {
    let hex = id.strip_prefix("addon_").unwrap_or("");
    !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

fn check_id(id: &str) -> Result<(), AddonError> {
    if is_resource_name(id) {
        Ok(())
    } else {
        Err(AddonError::Failed(format!("not a Heroku Postgres resource name: {id:?}")))
    }
}

/// The add-on's `postgres://role:password@host:port/database` on the admin's server (a unix
/// socket host goes in `?host=`).
fn database_url(host: &str, port: u16, id: &str, password: &str) -> String {
    if host.starts_with('/') {
        format!("postgres://{id}:{password}@localhost:{port}/{id}?host={host}")
    } else if host.contains(':') {
        format!("postgres://{id}:{password}@[{host}]:{port}/{id}")
    } else {
        format!("postgres://{id}:{password}@{host}:{port}/{id}")
    }
}

/// PostgreSQL's stored form of a SCRAM-SHA-256 password (RFC 5802, RFC 7677):
/// `SCRAM-SHA-256$4096:<salt>$<StoredKey>:<ServerKey>`, all base64.
fn scram_verifier(password: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    const ITERATIONS: u32 = 4096;
    let salt: [u8; 16] = rand::random();
    // PBKDF2-HMAC-SHA-256, one 32-byte block.
    let mut block = hmac_sha256(password.as_bytes(), &[&salt[..], &1u32.to_be_bytes()].concat());
    let mut salted = block;
    for _ in 1..ITERATIONS {
        block = hmac_sha256(password.as_bytes(), &block);
        salted.iter_mut().zip(block).for_each(|(s, b)| *s ^= b);
    }
    let client_key = hmac_sha256(&salted, b"Client Key");
    let stored_key = sha2::Sha256::digest(client_key);
    let server_key = hmac_sha256(&salted, b"Server Key");
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    format!("SCRAM-SHA-256${ITERATIONS}:{}${}:{}", b64(&salt), b64(&stored_key), b64(&server_key))
}

/// HMAC-SHA-256 (RFC 2104).
pub(crate) fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha2::Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let pad = |byte: u8| block.iter().map(|k| k ^ byte).collect::<Vec<u8>>();
    let inner = sha2::Sha256::new().chain_update(pad(0x36)).chain_update(message).finalize();
    sha2::Sha256::new().chain_update(pad(0x5c)).chain_update(inner).finalize().into()
}

/// `text` with anything that looks like a URL's password replaced by `***`.
fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme) = rest.find("://") {
        let (head, tail) = rest.split_at(scheme + 3);
        out.push_str(head);
        let end = tail.find(|c: char| c.is_whitespace() || c == '/' || c == '"').unwrap_or(tail.len());
        let authority = &tail[..end];
        match (authority.rfind('@'), authority.find(':')) {
            (Some(at), Some(colon)) if colon < at => {
                out.push_str(&authority[..colon]);
                out.push_str(":***");
                out.push_str(&authority[at..]);
            }
            _ => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        // Test case 2 of RFC 4231.
        let mac = hmac_sha256(b"Jefe", b"what do ya want for nothing?");
        let hex: String = mac.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let verifier = scram_verifier("secret");
        assert!(verifier.starts_with("SCRAM-SHA-256$4096:") && !verifier.contains("secret"), "{verifier}");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("bad postgres://a:secret@h:5/db x"), "bad postgres://a:***@h:5/db x");
        assert_eq!(redact("no url here"), "no url here");
    }

    #[test]
    fn only_our_names_reach_sql() {
        assert!(check_id("addon_0123abcd").is_ok());
        assert!(check_id("addon_; DROP ROLE postgres").is_err());
        assert!(check_id("postgres").is_err());
    }

    #[test]
    fn urls_for_tcp_and_socket_servers() {
        assert_eq!(database_url("127.0.0.1", 5433, "addon_1", "pw"), "postgres://addon_1:pw@127.0.0.1:5433/addon_1");
        assert_eq!(database_url("/tmp/pg", 5432, "addon_1", "pw"), "postgres://addon_1:pw@localhost:5432/addon_1?host=/tmp/pg");
        assert_eq!(database_url("::1", 5432, "addon_1", "pw"), "postgres://addon_1:pw@[::1]:5432/addon_1");
    }
}
