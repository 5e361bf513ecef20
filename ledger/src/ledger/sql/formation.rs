//! The formation (process type → quantity, size) and dyno restart/stop requests.

use std::collections::BTreeMap;

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::releases::current_release_in;
use super::{Backend, SqlLedger, col_i64, col_str, col_ts, col_uuid, now, ts};
use crate::ledger::{LedgerError, Result};
use crate::model::{Formation, FormationUpdate, ProcessTypes, Quantity, RELEASE_PHASE};

/// The most dynos of one process type.
pub const MAX_QUANTITY: i64 = 100;

const FORMATION_SELECT: &str = "SELECT id, app_id, process_type, quantity, size, created_at, updated_at \
                                FROM formations WHERE app_id = $1 ORDER BY process_type";

fn formation_from_row(row: &AnyRow, process_types: &ProcessTypes) -> Result<Formation> {
    let process_type = col_str(row, "process_type")?;
    Ok(Formation {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        command: process_types.get(&process_type).cloned().unwrap_or_default(),
        process_type,
        quantity: col_i64(row, "quantity")?,
        size: col_str(row, "size")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

/// Formation rows of the types in `process_types` (rows of types a later release dropped are kept
/// but not shown), never `release` (the release phase runs once per release).
fn visible(rows: &[AnyRow], process_types: &ProcessTypes) -> Result<Vec<Formation>> {
    let mut out = Vec::new();
    for row in rows {
        let formation = formation_from_row(row, process_types)?;
        if process_types.contains_key(&formation.process_type) && formation.process_type != RELEASE_PHASE {
            out.push(formation);
        }
    }
    Ok(out)
}

pub(super) async fn list_formation(ledger: &SqlLedger, app_id: Uuid) -> Result<Vec<Formation>> {
    let process_types = super::releases::current_release(ledger, app_id)
        .await?
        .map(|release| release.process_types)
        .unwrap_or_default();
    let rows = sqlx::query(FORMATION_SELECT).bind(app_id.to_string()).fetch_all(&ledger.pool).await?;
    visible(&rows, &process_types)
}

/// The message for a process type the current release does not have.
fn unknown_type(process_type: &str, process_types: &ProcessTypes) -> String {
    if process_type == RELEASE_PHASE && process_types.contains_key(RELEASE_PHASE) {
        "The release process type runs once per release, before it goes live (the release phase): \
         it cannot be scaled."
            .to_string()
    } else if process_types.is_empty() {
        format!("No such process type {process_type}: this app has no process types yet; push code first.")
    } else {
        let types: Vec<&str> = process_types.keys().map(String::as_str).filter(|t| *t != RELEASE_PHASE).collect();
        format!("No such process type {process_type} defined in Procfile. Types: {}", types.join(", "))
    }
}

pub(super) async fn update_formation(
    ledger: &SqlLedger,
    app_id: Uuid,
    updates: Vec<FormationUpdate>,
) -> Result<Vec<Formation>> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let process_types = current_release_in(&mut tx, app_id)
        .await?
        .map(|release| release.process_types)
        .unwrap_or_default();
    let rows = sqlx::query(FORMATION_SELECT).bind(app_id.to_string()).fetch_all(&mut *tx).await?;
    let mut formation: BTreeMap<String, Formation> = visible(&rows, &process_types)?
        .into_iter()
        .map(|f| (f.process_type.clone(), f))
        .collect();
    // Validate every update before writing any: all or nothing.
    for update in &updates {
        let Some(current) = formation.get_mut(&update.process_type) else {
            return Err(LedgerError::Invalid(unknown_type(&update.process_type, &process_types)));
        };
        if let Some(quantity) = update.quantity {
            let new = match quantity {
                Quantity::Absolute(n) => n,
                Quantity::Relative(delta) => current.quantity.saturating_add(delta),
            };
            if new < 0 {
                return Err(LedgerError::Invalid(format!(
                    "Quantity of {} would be {new}: it cannot be negative.",
                    update.process_type
                )));
            }
            if new > MAX_QUANTITY {
                return Err(LedgerError::Invalid(format!(
                    "Quantity of {} would be {new}: at most {MAX_QUANTITY} dynos per process type.",
                    update.process_type
                )));
            }
            current.quantity = new;
        }
        if let Some(size) = &update.size {
            current.size = size.clone();
        }
    }
    let time = now();
    for update in &updates {
        let current = &formation[&update.process_type];
        sqlx::query("UPDATE formations SET quantity = $1, size = $2, updated_at = $3 WHERE id = $4")
            .bind(current.quantity)
            .bind(current.size.clone())
            .bind(ts(time))
            .bind(current.id.to_string())
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    for update in &updates {
        if let Some(current) = formation.get_mut(&update.process_type) {
            current.updated_at = time;
        }
    }
    Ok(formation.into_values().collect())
}

pub(super) async fn record_dyno_action(
    ledger: &SqlLedger,
    app_id: Uuid,
    user_id: Uuid,
    action: &str,
    target: Option<&str>,
) -> Result<()> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    if ledger.backend() == Backend::Postgres {
        // The sequence numbers at INSERT, but rows become visible at commit: one lock for every
        // app's actions (held to the commit) makes them commit in `seq` order, so a node reading
        // `seq > last` skips none. (SQLite serialises its writers already.)
        sqlx::query("SELECT 1 FROM pg_advisory_xact_lock(7301)").execute(&mut *tx).await?;
    }
    // PostgreSQL numbers requests with a sequence; SQLite's writers are serialised, so the next
    // number is read in this transaction.
    let sql = match ledger.backend() {
        Backend::Postgres => {
            "INSERT INTO dyno_actions (id, app_id, user_id, action, target, created_at) VALUES ($1, $2, $3, $4, $5, $6)"
        }
        Backend::Sqlite => {
            "INSERT INTO dyno_actions (id, app_id, user_id, action, target, created_at, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, (SELECT COALESCE(MAX(seq), 0) + 1 FROM dyno_actions))"
        }
    };
    sqlx::query(sql)
    .bind(Uuid::new_v4().to_string())
    .bind(app_id.to_string())
    .bind(user_id.to_string())
    .bind(action.to_string())
    .bind(target.map(str::to_string))
    .bind(ts(now()))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_type_names_the_types() {
        let mut types = ProcessTypes::new();
        assert!(unknown_type("web", &types).contains("push code first"));
        types.insert("web".into(), "./server".into());
        types.insert("clock".into(), "./clock".into());
        assert_eq!(
            unknown_type("worker", &types),
            "No such process type worker defined in Procfile. Types: clock, web"
        );
    }
}
