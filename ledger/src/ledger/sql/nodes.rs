//! The grid's tables ([`crate::grid::NodeLedger`]): nodes and their leases, join tokens, the
//! coordinator's leader row and the dyno assignments. Lease times are the database's clock in
//! milliseconds ([`db_now_ms`]), read once per operation.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{Any, Transaction};
use uuid::Uuid;

use super::{Backend, SqlLedger, col_i64, col_opt_str, col_str, col_ts, col_uuid, conflict_on_unique, now, ts};
use crate::auth;
use crate::grid::{
    Assignment, Capacity, Demand, DynoAction, DynoKey, FormationDemand, Leadership, Node, NodeLedger, NodeRegistration,
};
use crate::ledger::{LedgerError, Result};
use crate::model::{ProcessTypes, RELEASE_PHASE};

const NODE_COLUMNS: &str = "id, name, api_url, router_url, memory_mib, millicores, wasm, native, version, state, \
                            epoch, registered_at, heartbeat_ms, lease_until_ms";

/// Join tokens start with this, so that a token pasted in the wrong place is recognised.
pub const JOIN_TOKEN_PREFIX: &str = "paasjoin_";

/// Milliseconds since the epoch on the database's clock.
async fn db_now_ms<'e>(backend: Backend, executor: impl sqlx::Executor<'e, Database = Any>) -> Result<i64> {
    let sql = match backend {
        Backend::Sqlite => "SELECT CAST((julianday('now') - 2440587.5) * 86400000.0 AS INTEGER)",
        Backend::Postgres => "SELECT CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    };
    Ok(sqlx::query_scalar::<_, i64>(sql).fetch_one(executor).await?)
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX)
}

fn time_of(ms: i64) -> Result<DateTime<Utc>> {
    DateTime::from_timestamp_millis(ms).ok_or_else(|| LedgerError::Corrupt(format!("bad time {ms} ms")))
}

fn count(row: &AnyRow, col: &str) -> Result<u64> {
    u64::try_from(col_i64(row, col)?).map_err(|_| LedgerError::Corrupt(format!("negative {col}")))
}

fn node_from_row(row: &AnyRow, now_ms: i64) -> Result<Node> {
    let lease_until = col_i64(row, "lease_until_ms")?;
    Ok(Node {
        id: col_uuid(row, "id")?,
        name: col_str(row, "name")?,
        api_url: col_str(row, "api_url")?,
        router_url: col_str(row, "router_url")?,
        capacity: Capacity {
            memory_mib: count(row, "memory_mib")?,
            millicores: count(row, "millicores")?,
            wasm: col_i64(row, "wasm")? != 0,
            native: col_i64(row, "native")? != 0,
        },
        version: col_str(row, "version")?,
        epoch: col_i64(row, "epoch")?,
        up: col_str(row, "state")? == "up" && lease_until > now_ms,
        registered_at: col_ts(row, "registered_at")?,
        heartbeat_at: time_of(col_i64(row, "heartbeat_ms")?)?,
        lease_expires_at: time_of(lease_until)?,
    })
}

/// Sets the node row `id` from `registration`: up, the next epoch, a lease from `now_ms`.
async fn update_node(
    tx: &mut Transaction<'static, Any>,
    id: Uuid,
    key: &str,
    registration: &NodeRegistration,
    now_ms: i64,
    lease: Duration,
) -> Result<u64> {
    let capacity = &registration.capacity;
    let done = sqlx::query(
        "UPDATE nodes SET name = $2, api_url = $3, router_url = $4, memory_mib = $5, millicores = $6, wasm = $7, \
         native = $8, version = $9, state = 'up', epoch = epoch + 1, heartbeat_ms = $10, lease_until_ms = $11, \
         hop_hash = $12 WHERE id = $1",
    )
    .bind(id.to_string())
    .bind(registration.name.clone())
    .bind(registration.api_url.clone())
    .bind(registration.router_url.clone())
    .bind(i64::try_from(capacity.memory_mib).unwrap_or(i64::MAX))
    .bind(i64::try_from(capacity.millicores).unwrap_or(i64::MAX))
    .bind(i64::from(capacity.wasm))
    .bind(i64::from(capacity.native))
    .bind(registration.version.clone())
    .bind(now_ms)
    .bind(now_ms.saturating_add(millis(lease)))
    .bind(auth::hash_api_key(&crate::grid::hop_secret(key)))
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, || format!("Another node is named {}.", registration.name)))?;
    Ok(done.rows_affected())
}

async fn epoch_of(tx: &mut Transaction<'static, Any>, id: Uuid) -> Result<i64> {
    let epoch = sqlx::query_scalar::<_, i64>("SELECT epoch FROM nodes WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    epoch.ok_or_else(|| LedgerError::NotFound("This node is not registered in the ledger.".into()))
}

/// Checks a join token and marks it used by `node_id`.
async fn use_join_token(tx: &mut Transaction<'static, Any>, token: &str, node_id: Uuid, now_ms: i64) -> Result<()> {
    let invalid = |why: &str| LedgerError::Invalid(format!("{why}: ask an operator for a new one (`paas nodes:token`)"));
    if !token.starts_with(JOIN_TOKEN_PREFIX) {
        return Err(invalid(&format!("A join token starts with {JOIN_TOKEN_PREFIX}")));
    }
    let row = sqlx::query("SELECT id, expires_ms, used_by FROM node_join_tokens WHERE token_hash = $1")
        .bind(auth::hash_api_key(token))
        .fetch_optional(&mut **tx)
        .await?;
    let Some(row) = row else { return Err(invalid("This join token is not known to the ledger")) };
    if col_i64(&row, "expires_ms")? < now_ms {
        return Err(invalid("This join token has expired"));
    }
    let used = sqlx::query("UPDATE node_join_tokens SET used_by = $2 WHERE id = $1 AND used_by IS NULL")
        .bind(col_str(&row, "id")?)
        .bind(node_id.to_string())
        .execute(&mut **tx)
        .await?;
    if used.rows_affected() == 0 {
        return Err(invalid("This join token was used already"));
    }
    Ok(())
}

/// Locks the leader row (PostgreSQL; SQLite's write transaction holds the database) and gives
/// back its holder, term and lease.
async fn leader_row(ledger: &SqlLedger, tx: &mut Transaction<'static, Any>) -> Result<(Option<Uuid>, i64, i64)> {
    let sql = match ledger.backend {
        Backend::Sqlite => "SELECT node_id, term, lease_until_ms FROM grid_leader WHERE id = 1",
        Backend::Postgres => "SELECT node_id, term, lease_until_ms FROM grid_leader WHERE id = 1 FOR UPDATE",
    };
    let row = sqlx::query(sql).fetch_one(&mut **tx).await?;
    let holder = super::col_opt_uuid(&row, "node_id")?;
    Ok((holder, col_i64(&row, "term")?, col_i64(&row, "lease_until_ms")?))
}

fn dyno_from_row(row: &AnyRow) -> Result<DynoKey> {
    Ok(DynoKey {
        app: col_uuid(row, "app_id")?,
        process_type: col_str(row, "process_type")?,
        index: u32::try_from(col_i64(row, "dyno")?).map_err(|_| LedgerError::Corrupt("bad dyno number".into()))?,
    })
}

#[async_trait]
impl NodeLedger for SqlLedger {
    async fn join_node(
        &self,
        registration: &NodeRegistration,
        token: Option<&str>,
        key: &str,
        lease: Duration,
    ) -> Result<(Uuid, i64)> {
        let mut tx = self.begin_write().await?;
        let now_ms = db_now_ms(self.backend, &mut *tx).await?;
        let existing = sqlx::query_scalar::<_, String>("SELECT id FROM nodes WHERE name = $1")
            .bind(registration.name.clone())
            .fetch_optional(&mut *tx)
            .await?;
        let id = match &existing {
            Some(id) => super::parse_uuid(id)?,
            None => Uuid::new_v4(),
        };
        match token {
            Some(token) => use_join_token(&mut tx, token.trim(), id, now_ms).await?,
            None if existing.is_none() => {
                let nodes = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM nodes").fetch_one(&mut *tx).await?;
                if nodes > 0 {
                    return Err(LedgerError::Invalid(format!(
                        "This ledger has {nodes} node(s) already, none named {}: a new node joins with a token. \
                         Run `paas nodes:token` as an operator, then start this server with --join TOKEN.",
                        registration.name
                    )));
                }
            }
            // The machine registered under this name comes back with a new data dir.
            None => {}
        }
        if existing.is_none() {
            // A placeholder row, filled in by update_node below.
            sqlx::query(
                "INSERT INTO nodes (id, name, api_url, router_url, memory_mib, millicores, wasm, native, version, \
                 key_hash, state, epoch, registered_at, heartbeat_ms, lease_until_ms) \
                 VALUES ($1, $2, '', '', 0, 0, 0, 0, '', NULL, 'down', 0, $3, $4, $4)",
            )
            .bind(id.to_string())
            .bind(registration.name.clone())
            .bind(ts(now()))
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("UPDATE nodes SET key_hash = $2 WHERE id = $1")
            .bind(id.to_string())
            .bind(auth::hash_api_key(key))
            .execute(&mut *tx)
            .await?;
        update_node(&mut tx, id, key, registration, now_ms, lease).await?;
        let epoch = epoch_of(&mut tx, id).await?;
        tx.commit().await?;
        Ok((id, epoch))
    }

    async fn register_node(&self, id: Uuid, key: &str, registration: &NodeRegistration, lease: Duration) -> Result<i64> {
        let mut tx = self.begin_write().await?;
        let now_ms = db_now_ms(self.backend, &mut *tx).await?;
        if update_node(&mut tx, id, key, registration, now_ms, lease).await? == 0 {
            return Err(LedgerError::NotFound("This node is not registered in the ledger.".into()));
        }
        let epoch = epoch_of(&mut tx, id).await?;
        tx.commit().await?;
        Ok(epoch)
    }

    async fn heartbeat_node(&self, id: Uuid, epoch: i64, lease: Duration) -> Result<bool> {
        let now_ms = db_now_ms(self.backend, &self.pool).await?;
        let done = sqlx::query(
            "UPDATE nodes SET heartbeat_ms = $3, lease_until_ms = $4 WHERE id = $1 AND epoch = $2 AND state = 'up'",
        )
        .bind(id.to_string())
        .bind(epoch)
        .bind(now_ms)
        .bind(now_ms.saturating_add(millis(lease)))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn leave_node(&self, id: Uuid, epoch: i64) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let now_ms = db_now_ms(self.backend, &mut *tx).await?;
        sqlx::query("UPDATE nodes SET state = 'down', epoch = epoch + 1, lease_until_ms = $3 WHERE id = $1 AND epoch = $2")
            .bind(id.to_string())
            .bind(epoch)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        sqlx::query("UPDATE grid_leader SET lease_until_ms = 0 WHERE id = 1 AND node_id = $1")
            .bind(id.to_string())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn authenticate_node(&self, key: &str) -> Result<Option<Node>> {
        let now_ms = db_now_ms(self.backend, &self.pool).await?;
        let row = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {NODE_COLUMNS} FROM nodes WHERE key_hash = $1")))
            .bind(auth::hash_api_key(key))
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(|row| node_from_row(row, now_ms)).transpose()
    }

    async fn list_nodes(&self) -> Result<Vec<Node>> {
        let now_ms = db_now_ms(self.backend, &self.pool).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("SELECT {NODE_COLUMNS} FROM nodes ORDER BY name")))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(|row| node_from_row(row, now_ms)).collect()
    }

    async fn create_join_token(&self, user_id: Uuid, ttl: Duration) -> Result<(String, DateTime<Utc>)> {
        let token = format!("{JOIN_TOKEN_PREFIX}{}", auth::generate_api_key());
        let mut tx = self.begin_write().await?;
        let expires_ms = db_now_ms(self.backend, &mut *tx).await?.saturating_add(millis(ttl));
        sqlx::query(
            "INSERT INTO node_join_tokens (id, token_hash, created_by, created_at, expires_ms, used_by) \
             VALUES ($1, $2, $3, $4, $5, NULL)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(auth::hash_api_key(&token))
        .bind(user_id.to_string())
        .bind(ts(now()))
        .bind(expires_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok((token, time_of(expires_ms)?))
    }

    async fn acquire_leadership(&self, node_id: Uuid, lease: Duration) -> Result<Option<Leadership>> {
        // Read first: the leader renews only once half its lease is gone, and others write only
        // when it expired, so a round takes no write lock (SQLite's is the whole database).
        let now_ms = db_now_ms(self.backend, &self.pool).await?;
        let row = sqlx::query("SELECT node_id, term, lease_until_ms FROM grid_leader WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let (holder, term, lease_until) =
            (super::col_opt_uuid(&row, "node_id")?, col_i64(&row, "term")?, col_i64(&row, "lease_until_ms")?);
        if holder == Some(node_id) && lease_until - now_ms > millis(lease) / 2 {
            return Ok(Some(Leadership { term }));
        }
        if holder.is_some() && holder != Some(node_id) && lease_until >= now_ms {
            return Ok(None);
        }
        let mut tx = self.begin_write().await?;
        let now_ms = db_now_ms(self.backend, &mut *tx).await?;
        let (holder, term, lease_until) = leader_row(self, &mut tx).await?;
        let term = if holder == Some(node_id) {
            term
        } else if holder.is_none() || lease_until < now_ms {
            term + 1
        } else {
            return Ok(None);
        };
        sqlx::query("UPDATE grid_leader SET node_id = $1, term = $2, lease_until_ms = $3 WHERE id = 1")
            .bind(node_id.to_string())
            .bind(term)
            .bind(now_ms.saturating_add(millis(lease)))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(Leadership { term }))
    }

    async fn fence_expired_nodes(&self) -> Result<Vec<Uuid>> {
        let now_ms = db_now_ms(self.backend, &self.pool).await?;
        let expired = sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM nodes WHERE state = 'up' AND lease_until_ms < $1")
            .bind(now_ms)
            .fetch_one(&self.pool)
            .await?;
        if expired == 0 {
            return Ok(Vec::new());
        }
        let mut tx = self.begin_write().await?;
        let now_ms = db_now_ms(self.backend, &mut *tx).await?;
        let ids = sqlx::query_scalar::<_, String>("SELECT id FROM nodes WHERE state = 'up' AND lease_until_ms < $1")
            .bind(now_ms)
            .fetch_all(&mut *tx)
            .await?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        for id in &ids {
            sqlx::query("UPDATE nodes SET state = 'down', epoch = epoch + 1 WHERE id = $1 AND state = 'up'")
                .bind(id.clone())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        ids.iter().map(|id| super::parse_uuid(id)).collect()
    }

    async fn formation_demands(&self) -> Result<Vec<FormationDemand>> {
        let rows = sqlx::query(
            "SELECT f.app_id, f.process_type, f.quantity, f.size, r.process_types, s.checksum, s.stack \
             FROM apps a \
             JOIN releases r ON r.app_id = a.id AND r.status = 'succeeded' AND r.version = \
               (SELECT MAX(m.version) FROM releases m WHERE m.app_id = a.id AND m.status = 'succeeded') \
             JOIN slugs s ON s.id = r.slug_id \
             JOIN formations f ON f.app_id = a.id \
             WHERE a.deleted_at IS NULL AND f.quantity > 0 \
             ORDER BY f.app_id, f.process_type",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut demands = Vec::new();
        for row in &rows {
            let process_type = col_str(row, "process_type")?;
            let types: ProcessTypes = super::col_json(row, "process_types")?;
            // Rows of types a later release dropped are kept but run nothing; the release
            // phase runs once per release, not as a dyno.
            if !types.contains_key(&process_type) || process_type == RELEASE_PHASE {
                continue;
            }
            demands.push(FormationDemand {
                app: col_uuid(row, "app_id")?,
                process_type,
                quantity: u32::try_from(col_i64(row, "quantity")?.max(0)).unwrap_or(u32::MAX),
                demand: Demand::for_size(&col_str(row, "size")?),
                stack: col_str(row, "stack")?,
                slug: Some(col_str(row, "checksum")?),
            });
        }
        Ok(demands)
    }

    async fn list_assignments(&self) -> Result<Vec<Assignment>> {
        let rows = sqlx::query(
            "SELECT app_id, process_type, dyno, node_id, epoch FROM dyno_assignments ORDER BY app_id, process_type, dyno",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(Assignment { dyno: dyno_from_row(row)?, node_id: col_uuid(row, "node_id")?, epoch: col_i64(row, "epoch")? })
            })
            .collect()
    }

    async fn app_stamps(&self) -> Result<HashMap<Uuid, String>> {
        // Per app and table: the newest change and the row count (a removed row changes it).
        let rows = sqlx::query(
            "SELECT app_id, 'formation' AS kind, MAX(updated_at) AS stamp, COUNT(*) AS n FROM formations GROUP BY app_id \
             UNION ALL SELECT app_id, 'domains', MAX(updated_at), COUNT(*) FROM domains GROUP BY app_id \
             UNION ALL SELECT app_id, 'features', MAX(updated_at), COUNT(*) FROM app_features GROUP BY app_id \
             UNION ALL SELECT app_id, 'drains', MAX(updated_at), COUNT(*) FROM log_drains GROUP BY app_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut parts: HashMap<Uuid, BTreeMap<String, String>> = HashMap::new();
        for row in &rows {
            let part = format!("{}/{}", col_str(row, "stamp")?, col_i64(row, "n")?);
            parts.entry(col_uuid(row, "app_id")?).or_default().insert(col_str(row, "kind")?, part);
        }
        Ok(parts
            .into_iter()
            .map(|(app, parts)| {
                let stamp: Vec<String> = parts.into_iter().map(|(kind, part)| format!("{kind}={part}")).collect();
                (app, stamp.join(" "))
            })
            .collect())
    }

    async fn last_dyno_action(&self) -> Result<i64> {
        let row = sqlx::query("SELECT COALESCE(MAX(seq), 0) AS seq FROM dyno_actions").fetch_one(&self.pool).await?;
        col_i64(&row, "seq")
    }

    async fn dyno_actions_after(&self, seq: i64) -> Result<Vec<DynoAction>> {
        let rows = sqlx::query(
            "SELECT seq, app_id, action, target FROM dyno_actions WHERE seq > $1 ORDER BY seq LIMIT 1000",
        )
        .bind(seq)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(DynoAction {
                    seq: col_i64(row, "seq")?,
                    app_id: col_uuid(row, "app_id")?,
                    action: col_str(row, "action")?,
                    target: col_opt_str(row, "target")?,
                })
            })
            .collect()
    }

    async fn write_assignments(&self, node_id: Uuid, term: i64, placement: &BTreeMap<DynoKey, Uuid>) -> Result<bool> {
        let mut tx = self.begin_write().await?;
        let now_ms = db_now_ms(self.backend, &mut *tx).await?;
        let (holder, held_term, lease_until) = leader_row(self, &mut tx).await?;
        if holder != Some(node_id) || held_term != term || lease_until < now_ms {
            return Ok(false);
        }
        let epochs: HashMap<Uuid, i64> = sqlx::query("SELECT id, epoch FROM nodes WHERE state = 'up'")
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(|row| Ok((col_uuid(row, "id")?, col_i64(row, "epoch")?)))
            .collect::<Result<_>>()?;
        let current: HashMap<DynoKey, (Uuid, i64)> =
            sqlx::query("SELECT app_id, process_type, dyno, node_id, epoch FROM dyno_assignments")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|row| Ok((dyno_from_row(row)?, (col_uuid(row, "node_id")?, col_i64(row, "epoch")?))))
                .collect::<Result<_>>()?;
        for dyno in current.keys() {
            if !placement.contains_key(dyno) {
                sqlx::query("DELETE FROM dyno_assignments WHERE app_id = $1 AND process_type = $2 AND dyno = $3")
                    .bind(dyno.app.to_string())
                    .bind(dyno.process_type.clone())
                    .bind(i64::from(dyno.index))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        let at = ts(now());
        for (dyno, node) in placement {
            // A node fenced since the plan was made: the next plan places its dynos.
            let Some(&epoch) = epochs.get(node) else { continue };
            if current.get(dyno) == Some(&(*node, epoch)) {
                continue;
            }
            sqlx::query(
                "INSERT INTO dyno_assignments (app_id, process_type, dyno, node_id, epoch, term, assigned_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (app_id, process_type, dyno) DO UPDATE SET \
                 node_id = excluded.node_id, epoch = excluded.epoch, term = excluded.term, assigned_at = excluded.assigned_at",
            )
            .bind(dyno.app.to_string())
            .bind(dyno.process_type.clone())
            .bind(i64::from(dyno.index))
            .bind(node.to_string())
            .bind(epoch)
            .bind(term)
            .bind(at.clone())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn assignments_of(&self, node_id: Uuid, epoch: i64) -> Result<Vec<DynoKey>> {
        let rows = sqlx::query(
            "SELECT a.app_id, a.process_type, a.dyno FROM dyno_assignments a JOIN nodes n ON n.id = a.node_id \
             WHERE a.node_id = $1 AND a.epoch = $2 AND n.epoch = $2 AND n.state = 'up' \
             ORDER BY a.app_id, a.process_type, a.dyno",
        )
        .bind(node_id.to_string())
        .bind(epoch)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(dyno_from_row).collect()
    }

    async fn hop_hashes(&self) -> Result<Vec<String>> {
        let rows = sqlx::query("SELECT hop_hash FROM nodes WHERE hop_hash IS NOT NULL").fetch_all(&self.pool).await?;
        rows.iter().map(|row| col_str(row, "hop_hash")).collect()
    }
}
