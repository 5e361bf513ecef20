//! Pipelines, couplings and promotions ([`crate::pipelines::PipelineLedger`]).

use async_trait::async_trait;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::{Backend, SqlLedger, col_opt_str, col_opt_uuid, col_str, col_ts, col_uuid, conflict_on_unique, now, read_or_not_found, select_all, select_optional, ts};
use crate::ledger::{LedgerError, Result};
use crate::pipelines::{Coupling, MAX_PER_OWNER, Pipeline, PipelineLedger, PipelineOwner, Promotion, PromotionTarget, Stage};

const PIPELINE: &str = "SELECT id, name, owner_type, owner_id, created_at, updated_at FROM pipelines";
const COUPLING: &str = "SELECT c.id, c.pipeline_id, c.app_id, c.stage, c.created_at, c.updated_at \
                        FROM pipeline_couplings c JOIN apps a ON a.id = c.app_id AND a.deleted_at IS NULL";

fn pipeline_of(row: &AnyRow) -> Result<Pipeline> {
    let owner_id = col_uuid(row, "owner_id")?;
    let owner = match col_str(row, "owner_type")?.as_str() {
        "team" => PipelineOwner::Team(owner_id),
        _ => PipelineOwner::User(owner_id),
    };
    Ok(Pipeline {
        id: col_uuid(row, "id")?,
        name: col_str(row, "name")?,
        owner,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

fn coupling_of(row: &AnyRow) -> Result<Coupling> {
    Ok(Coupling {
        id: col_uuid(row, "id")?,
        pipeline_id: col_uuid(row, "pipeline_id")?,
        app_id: col_uuid(row, "app_id")?,
        stage: Stage::parse(&col_str(row, "stage")?).map_err(|e| LedgerError::Corrupt(e.to_string()))?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

fn target_of(row: &AnyRow) -> Result<PromotionTarget> {
    Ok(PromotionTarget {
        id: col_uuid(row, "id")?,
        app_id: col_uuid(row, "app_id")?,
        release_id: col_opt_uuid(row, "release_id")?,
        status: col_str(row, "status")?,
        error_message: col_opt_str(row, "error_message")?,
    })
}

fn taken(name: &str) -> impl FnOnce() -> String + '_ {
    move || format!("Name {name} is already taken by another pipeline.")
}

async fn pipeline_by_id(ledger: &SqlLedger, id: Uuid) -> Result<Pipeline> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{PIPELINE} WHERE id = $1")))
        .bind(id.to_string())
        .fetch_optional(&ledger.pool)
        .await?;
    read_or_not_found(row, pipeline_of, || "Couldn't find that pipeline.".into())
}

async fn coupling_by_id(ledger: &SqlLedger, id: Uuid) -> Result<Coupling> {
    select_optional(ledger, sqlx::AssertSqlSafe(format!("{COUPLING} WHERE c.id = $1")), id, coupling_of)
        .await?
        .ok_or_else(|| LedgerError::NotFound("Couldn't find that pipeline coupling.".into()))
}

#[async_trait]
impl PipelineLedger for SqlLedger {
    async fn create_pipeline(&self, name: &str, owner: PipelineOwner) -> Result<Pipeline> {
        let time = now();
        let pipeline = Pipeline { id: Uuid::new_v4(), name: name.to_string(), owner, created_at: time, updated_at: time };
        let mut tx = self.begin_write().await?;
        // On PostgreSQL the owner's row is locked, so two creates cannot both pass the count
        // (SQLite's BEGIN IMMEDIATE serialises writers already).
        if self.backend == Backend::Postgres {
            let lock = match owner {
                PipelineOwner::User(_) => "SELECT id FROM users WHERE id = $1 FOR UPDATE",
                PipelineOwner::Team(_) => "SELECT id FROM teams WHERE id = $1 FOR UPDATE",
            };
            sqlx::query(lock).bind(owner.id().to_string()).fetch_optional(&mut *tx).await?;
        }
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pipelines WHERE owner_type = $1 AND owner_id = $2")
            .bind(owner.kind())
            .bind(owner.id().to_string())
            .fetch_one(&mut *tx)
            .await?;
        if usize::try_from(count).unwrap_or(usize::MAX) >= MAX_PER_OWNER {
            return Err(LedgerError::Invalid(format!(
                "This {} already has {MAX_PER_OWNER} pipelines, the most one may have: destroy one before creating another.",
                owner.kind()
            )));
        }
        sqlx::query("INSERT INTO pipelines (id, name, owner_type, owner_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)")
            .bind(pipeline.id.to_string())
            .bind(name.to_string())
            .bind(owner.kind())
            .bind(owner.id().to_string())
            .bind(ts(time))
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_on_unique(e, taken(name)))?;
        tx.commit().await?;
        Ok(pipeline)
    }

    async fn find_pipeline(&self, name_or_id: &str) -> Result<Option<Pipeline>> {
        select_optional(self, sqlx::AssertSqlSafe(format!("{PIPELINE} WHERE id = $1 OR name = $1")), name_or_id, pipeline_of).await
    }

    async fn list_pipelines(&self, viewer: Option<Uuid>, name: Option<&str>) -> Result<Vec<Pipeline>> {
        // $1: the viewer, $2: the name (each bound only when its condition is in the query).
        let mine = "((owner_type = 'user' AND owner_id = $1) \
                    OR (owner_type = 'team' AND owner_id IN (SELECT team_id FROM team_members WHERE user_id = $1)))";
        let conditions: Vec<&str> = [viewer.map(|_| mine), name.map(|_| if viewer.is_some() { "name = $2" } else { "name = $1" })]
            .into_iter()
            .flatten()
            .collect();
        let filter = if conditions.is_empty() { String::new() } else { format!(" WHERE {}", conditions.join(" AND ")) };
        let sql = format!("{PIPELINE}{filter} ORDER BY name");
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        if let Some(viewer) = viewer {
            query = query.bind(viewer.to_string());
        }
        if let Some(name) = name {
            query = query.bind(name.to_string());
        }
        query.fetch_all(&self.pool).await?.iter().map(pipeline_of).collect()
    }

    async fn rename_pipeline(&self, id: Uuid, name: &str) -> Result<Pipeline> {
        let done = sqlx::query("UPDATE pipelines SET name = $1, updated_at = $2 WHERE id = $3")
            .bind(name.to_string())
            .bind(ts(now()))
            .bind(id.to_string())
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_on_unique(e, taken(name)))?;
        if done.rows_affected() == 0 {
            return Err(LedgerError::NotFound("Couldn't find that pipeline.".into()));
        }
        pipeline_by_id(self, id).await
    }

    async fn destroy_pipeline(&self, id: Uuid) -> Result<Pipeline> {
        let pipeline = pipeline_by_id(self, id).await?;
        let mut tx = self.begin_write().await?;
        let promotions = "SELECT id FROM pipeline_promotions WHERE pipeline_id = $1";
        for sql in [
            format!("DELETE FROM pipeline_promotion_targets WHERE promotion_id IN ({promotions})"),
            "DELETE FROM pipeline_promotions WHERE pipeline_id = $1".to_string(),
            "DELETE FROM pipeline_couplings WHERE pipeline_id = $1".to_string(),
            "DELETE FROM pipelines WHERE id = $1".to_string(),
        ] {
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(pipeline)
    }

    async fn create_coupling(&self, pipeline_id: Uuid, app_id: Uuid, stage: Stage) -> Result<Coupling> {
        let time = now();
        let coupling = Coupling { id: Uuid::new_v4(), pipeline_id, app_id, stage, created_at: time, updated_at: time };
        let mut tx = self.begin_write().await?;
        self.lock_app(&mut tx, app_id).await?;
        sqlx::query(
            "INSERT INTO pipeline_couplings (id, pipeline_id, app_id, stage, created_at, updated_at) \
             SELECT $1, id, $3, $4, $5, $5 FROM pipelines WHERE id = $2",
        )
        .bind(coupling.id.to_string())
        .bind(pipeline_id.to_string())
        .bind(app_id.to_string())
        .bind(stage.name())
        .bind(ts(time))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, || "This app is already in a pipeline: remove it from that one first.".into()))?
        .rows_affected()
        .eq(&1)
        .then_some(())
        .ok_or_else(|| LedgerError::NotFound("Couldn't find that pipeline.".into()))?;
        tx.commit().await?;
        Ok(coupling)
    }

    async fn list_couplings(&self, pipeline_id: Uuid) -> Result<Vec<Coupling>> {
        let sql = format!("{COUPLING} WHERE c.pipeline_id = $1 ORDER BY c.created_at, c.id");
        select_all(self, sqlx::AssertSqlSafe(sql), pipeline_id, coupling_of).await
    }

    async fn find_coupling(&self, id: Uuid) -> Result<Option<Coupling>> {
        select_optional(self, sqlx::AssertSqlSafe(format!("{COUPLING} WHERE c.id = $1")), id, coupling_of).await
    }

    async fn app_coupling(&self, app_id: Uuid) -> Result<Option<Coupling>> {
        select_optional(self, sqlx::AssertSqlSafe(format!("{COUPLING} WHERE c.app_id = $1")), app_id, coupling_of).await
    }

    async fn update_coupling(&self, id: Uuid, stage: Stage) -> Result<Coupling> {
        coupling_by_id(self, id).await?;
        sqlx::query("UPDATE pipeline_couplings SET stage = $1, updated_at = $2 WHERE id = $3")
            .bind(stage.name())
            .bind(ts(now()))
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        coupling_by_id(self, id).await
    }

    async fn remove_coupling(&self, id: Uuid) -> Result<Coupling> {
        let coupling = coupling_by_id(self, id).await?;
        sqlx::query("DELETE FROM pipeline_couplings WHERE id = $1").bind(id.to_string()).execute(&self.pool).await?;
        Ok(coupling)
    }

    async fn record_promotion(&self, promotion: &Promotion) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO pipeline_promotions (id, pipeline_id, source_app_id, source_release_id, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(promotion.id.to_string())
        .bind(promotion.pipeline_id.to_string())
        .bind(promotion.source_app_id.to_string())
        .bind(promotion.source_release_id.to_string())
        .bind(promotion.status.clone())
        .bind(ts(promotion.created_at))
        .bind(ts(promotion.updated_at))
        .execute(&mut *tx)
        .await?;
        for (position, target) in promotion.targets.iter().enumerate() {
            sqlx::query(
                "INSERT INTO pipeline_promotion_targets (id, promotion_id, app_id, release_id, status, error_message, position) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(target.id.to_string())
            .bind(promotion.id.to_string())
            .bind(target.app_id.to_string())
            .bind(target.release_id.map(|id| id.to_string()))
            .bind(target.status.clone())
            .bind(target.error_message.clone())
            .bind(i64::try_from(position).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn find_promotion(&self, id: Uuid) -> Result<Option<Promotion>> {
        let row = sqlx::query(
            "SELECT id, pipeline_id, source_app_id, source_release_id, status, created_at, updated_at \
             FROM pipeline_promotions WHERE id = $1",
        )
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let targets = select_all(
            self,
            "SELECT id, app_id, release_id, status, error_message, position FROM pipeline_promotion_targets \
             WHERE promotion_id = $1 ORDER BY position",
            id,
            target_of,
        )
        .await?;
        Ok(Some(Promotion {
            id: col_uuid(&row, "id")?,
            pipeline_id: col_uuid(&row, "pipeline_id")?,
            source_app_id: col_uuid(&row, "source_app_id")?,
            source_release_id: col_uuid(&row, "source_release_id")?,
            status: col_str(&row, "status")?,
            targets,
            created_at: col_ts(&row, "created_at")?,
            updated_at: col_ts(&row, "updated_at")?,
        }))
    }
}
