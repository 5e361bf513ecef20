//! Apps' SNI endpoints (custom certificates) and which custom domain serves with which.

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::resources::{DOMAIN_SELECT, domain_from_row};
use super::{SqlLedger, col_str, col_ts, col_uuid, conflict_on_unique, now, read_or_not_found, ts};
use crate::ledger::{LedgerError, Result};
use crate::model::MAX_SNI_ENDPOINTS_PER_APP;
use crate::model::{Domain, PrivateKeyPem, SniDomain, SniEndpoint, SniEndpointStamp, SniRoutes};

const ENDPOINT_SELECT: &str = "SELECT e.id, e.app_id, e.name, e.certificate_chain, e.private_key, e.created_at, \
                               e.updated_at FROM sni_endpoints e";

fn endpoint_from_row(row: &AnyRow) -> Result<SniEndpoint> {
    Ok(SniEndpoint {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        name: col_str(row, "name")?,
        certificate_chain: col_str(row, "certificate_chain")?,
        private_key: PrivateKeyPem::new(col_str(row, "private_key")?),
        domains: Vec::new(),
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

/// Fills each endpoint's `domains` with the ids of the app's domains set to it.
async fn with_domains(ledger: &SqlLedger, app_id: Uuid, mut endpoints: Vec<SniEndpoint>) -> Result<Vec<SniEndpoint>> {
    let rows = sqlx::query("SELECT id, sni_endpoint_id FROM domains WHERE app_id = $1 AND sni_endpoint_id IS NOT NULL ORDER BY hostname")
        .bind(app_id.to_string())
        .fetch_all(&ledger.pool)
        .await?;
    for row in &rows {
        let (domain, endpoint) = (col_uuid(row, "id")?, col_uuid(row, "sni_endpoint_id")?);
        if let Some(found) = endpoints.iter_mut().find(|e| e.id == endpoint) {
            found.domains.push(domain);
        }
    }
    Ok(endpoints)
}

pub(super) async fn list(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<SniEndpoint>> {
    let sql = format!("{ENDPOINT_SELECT} WHERE e.app_id = $1 ORDER BY e.created_at, e.name");
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(app_id.to_string()).fetch_all(&ledger.pool).await?;
    let endpoints = rows.iter().map(endpoint_from_row).collect::<Result<Vec<_>>>()?;
    with_domains(ledger, app_id, endpoints).await
}

/// The endpoint `name_or_id` of the app, or a not-found error naming it.
async fn one(ledger: &SqlLedger, app_id: Uuid, name_or_id: &str) -> Result<SniEndpoint> {
    let sql = format!("{ENDPOINT_SELECT} WHERE e.app_id = $1 AND (e.name = $2 OR e.id = $2)");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(app_id.to_string())
        .bind(name_or_id.to_string())
        .fetch_optional(&ledger.pool)
        .await?;
    let endpoint = read_or_not_found(row, endpoint_from_row, || format!("Couldn't find SNI endpoint {name_or_id}."))?;
    Ok(with_domains(ledger, app_id, vec![endpoint]).await?.remove(0))
}

/// A name as Heroku gives them: a word and five digits (`tokyo-76465`).
fn new_name() -> String {
    const WORDS: &[&str] = &[
        "akita", "berlin", "cairo", "dakar", "essen", "fuji", "geneva", "hanoi", "izmir", "jaipur", "kyoto", "lima",
        "madrid", "nagoya", "osaka", "perth", "quito", "rabat", "sapporo", "tokyo", "utrecht", "vienna", "warsaw", "zagreb",
    ];
    let n: u32 = rand::random();
    format!("{}-{:05}", WORDS[n as usize % WORDS.len()], (n / 32) % 100_000)
}

pub(super) async fn create(ledger: &SqlLedger, app_id: Uuid, chain: &str, key: &PrivateKeyPem) -> Result<SniEndpoint> {
    let time = now();
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let count: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM sni_endpoints WHERE app_id = $1").bind(app_id.to_string()).fetch_one(&mut *tx).await?;
    if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_SNI_ENDPOINTS_PER_APP {
        return Err(LedgerError::Invalid(format!(
            "This app already has {MAX_SNI_ENDPOINTS_PER_APP} SNI endpoints (certificates), the most an app may have: \
             remove one (certs:remove) or replace one (certs:update) instead."
        )));
    }
    let id = Uuid::new_v4();
    // A name already taken: another try (ten, then the id's own digits make it unique).
    let mut name = new_name();
    for attempt in 0..10 {
        let taken = sqlx::query("SELECT 1 FROM sni_endpoints WHERE name = $1").bind(name.clone()).fetch_optional(&mut *tx).await?;
        if taken.is_none() {
            break;
        }
        name = if attempt < 9 { new_name() } else { format!("sni-{}", id.simple()) };
    }
    sqlx::query(
        "INSERT INTO sni_endpoints (id, app_id, name, certificate_chain, private_key, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $6)",
    )
    .bind(id.to_string())
    .bind(app_id.to_string())
    .bind(name.clone())
    .bind(chain.to_string())
    .bind(key.expose().to_string())
    .bind(ts(time))
    .execute(&mut *tx)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("SNI endpoint {name} exists already.")))?;
    tx.commit().await?;
    Ok(SniEndpoint {
        id,
        app_id,
        name,
        certificate_chain: chain.to_string(),
        private_key: key.clone(),
        domains: Vec::new(),
        created_at: time,
        updated_at: time,
    })
}

pub(super) async fn update(ledger: &SqlLedger, app_id: Uuid, name_or_id: &str, chain: &str, key: &PrivateKeyPem) -> Result<SniEndpoint> {
    let found = one(ledger, app_id, name_or_id).await?;
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let time = now();
    sqlx::query("UPDATE sni_endpoints SET certificate_chain = $1, private_key = $2, updated_at = $3 WHERE id = $4")
        .bind(chain.to_string())
        .bind(key.expose().to_string())
        .bind(ts(time))
        .bind(found.id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(SniEndpoint { certificate_chain: chain.to_string(), private_key: key.clone(), updated_at: time, ..found })
}

pub(super) async fn remove(ledger: &SqlLedger, app_id: Uuid, name_or_id: &str) -> Result<SniEndpoint> {
    let found = one(ledger, app_id, name_or_id).await?;
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    sqlx::query("UPDATE domains SET sni_endpoint_id = NULL WHERE sni_endpoint_id = $1")
        .bind(found.id.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM sni_endpoints WHERE id = $1").bind(found.id.to_string()).execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(found)
}

pub(super) async fn set_domain_endpoint(ledger: &SqlLedger, app_id: Uuid, hostname_or_id: &str, endpoint: Option<&str>) -> Result<Domain> {
    let endpoint = match endpoint {
        Some(name) => Some(one(ledger, app_id, name).await?),
        None => None,
    };
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let found = sqlx::query("SELECT id FROM domains WHERE app_id = $1 AND (hostname = $2 OR id = $3)")
        .bind(app_id.to_string())
        .bind(hostname_or_id.to_lowercase())
        .bind(hostname_or_id.to_string())
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| LedgerError::NotFound(format!("Couldn't find domain {hostname_or_id}.")))?;
    let domain_id = col_str(&found, "id")?;
    sqlx::query("UPDATE domains SET sni_endpoint_id = $1, updated_at = $2 WHERE id = $3")
        .bind(endpoint.as_ref().map(|e| e.id.to_string()))
        .bind(ts(now()))
        .bind(domain_id.clone())
        .execute(&mut *tx)
        .await?;
    let sql = format!("{DOMAIN_SELECT} AND d.id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(app_id.to_string()).bind(domain_id).fetch_optional(&mut *tx).await?;
    let domain = read_or_not_found(row, domain_from_row, || format!("Couldn't find domain {hostname_or_id}."))?;
    tx.commit().await?;
    Ok(domain)
}

pub(super) async fn routes(ledger: &SqlLedger) -> Result<SniRoutes> {
    let domains = sqlx::query(
        "SELECT d.hostname, d.app_id, d.sni_endpoint_id FROM domains d JOIN apps a ON a.id = d.app_id \
         WHERE a.deleted_at IS NULL AND EXISTS (SELECT 1 FROM sni_endpoints e WHERE e.app_id = d.app_id) ORDER BY d.hostname",
    )
    .fetch_all(&ledger.pool)
    .await?;
    let endpoints = sqlx::query(
        "SELECT e.id, e.app_id, e.updated_at FROM sni_endpoints e JOIN apps a ON a.id = e.app_id \
         WHERE a.deleted_at IS NULL ORDER BY e.created_at, e.name",
    )
    .fetch_all(&ledger.pool)
    .await?;
    Ok(SniRoutes {
        domains: domains
            .iter()
            .map(|row| {
                Ok(SniDomain {
                    hostname: col_str(row, "hostname")?,
                    app_id: col_uuid(row, "app_id")?,
                    endpoint: super::col_opt_uuid(row, "sni_endpoint_id")?,
                })
            })
            .collect::<Result<_>>()?,
        endpoints: endpoints
            .iter()
            .map(|row| {
                Ok(SniEndpointStamp { id: col_uuid(row, "id")?, app_id: col_uuid(row, "app_id")?, updated_at: col_ts(row, "updated_at")? })
            })
            .collect::<Result<_>>()?,
    })
}

/// Ids bound per query of [`find_by_ids`].
const IDS_PER_QUERY: usize = 100;

pub(super) async fn find_by_ids(ledger: &SqlLedger, ids: &[Uuid]) -> Result<Vec<SniEndpoint>> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let marks: Vec<String> = (1..=chunk.len()).map(|n| format!("${n}")).collect();
        let sql = format!("{ENDPOINT_SELECT} WHERE e.id IN ({})", marks.join(", "));
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for id in chunk {
            query = query.bind(id.to_string());
        }
        for row in query.fetch_all(&ledger.pool).await? {
            found.push(endpoint_from_row(&row)?);
        }
    }
    Ok(found)
}
