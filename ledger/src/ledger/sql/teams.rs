//! Teams, their members, team apps (lock, transfer) and what a user is to an app
//! ([`Relation`], for [`crate::access::permissions_of`]).

use sqlx::any::AnyRow;
use uuid::Uuid;

use super::apps::app_by_id;
use super::resources::{collaborator_permissions, insert_collaborator};
use super::{
    SqlLedger, col_str, col_ts, col_uuid, conflict_on_unique, now, read_or_not_found, select_all, select_optional, ts,
};
use crate::access::{AppOwner, Permissions, Relation, Team, TeamMember, TeamRole};
use crate::ledger::{LedgerError, Result};
use crate::model::{App, UserRef};

const TEAM_SELECT: &str = "SELECT t.id, t.name, t.created_at, t.updated_at FROM teams t WHERE t.deleted_at IS NULL";

fn team_from_row(row: &AnyRow) -> Result<Team> {
    Ok(Team {
        id: col_uuid(row, "id")?,
        name: col_str(row, "name")?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

fn role_of(text: &str) -> Result<TeamRole> {
    text.parse().map_err(|e: crate::access::UnknownRole| LedgerError::Corrupt(e.to_string()))
}

const MEMBER_SELECT: &str = "SELECT m.id, m.team_id, m.user_id, u.email, m.role, m.created_at, m.updated_at \
                             FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = $1";

fn member_from_row(row: &AnyRow) -> Result<TeamMember> {
    Ok(TeamMember {
        id: col_uuid(row, "id")?,
        team_id: col_uuid(row, "team_id")?,
        user: UserRef { id: col_uuid(row, "user_id")?, email: col_str(row, "email")? },
        role: role_of(&col_str(row, "role")?)?,
        created_at: col_ts(row, "created_at")?,
        updated_at: col_ts(row, "updated_at")?,
    })
}

fn team_not_found() -> LedgerError {
    LedgerError::NotFound("Couldn't find that team.".into())
}

pub(super) async fn create_team(ledger: &SqlLedger, name: &str, creator: Uuid) -> Result<Team> {
    let time = now();
    let team = Team { id: Uuid::new_v4(), name: name.to_string(), created_at: time, updated_at: time };
    let mut tx = ledger.begin_write().await?;
    sqlx::query("INSERT INTO teams (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3)")
        .bind(team.id.to_string())
        .bind(team.name.clone())
        .bind(ts(time))
        .execute(&mut *tx)
        .await
        .map_err(|e| conflict_on_unique(e, || format!("Name {name} is already taken.")))?;
    insert_member(&mut tx, team.id, creator, TeamRole::Admin).await?;
    tx.commit().await?;
    Ok(team)
}

async fn insert_member(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    team_id: Uuid,
    user_id: Uuid,
    role: TeamRole,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO team_members (id, team_id, user_id, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
    )
    .bind(Uuid::new_v4().to_string())
    .bind(team_id.to_string())
    .bind(user_id.to_string())
    .bind(role.name())
    .bind(ts(now()))
    .execute(&mut **tx)
    .await
    .map_err(|e| conflict_on_unique(e, || "That user is already a member of the team.".into()))?;
    Ok(())
}

pub(super) async fn find_team(ledger: &SqlLedger, name_or_id: &str) -> Result<Option<Team>> {
    let sql = format!("{TEAM_SELECT} AND (t.name = $1 OR t.id = $1)");
    select_optional(ledger, sqlx::AssertSqlSafe(sql), name_or_id, team_from_row).await
}

pub(super) async fn list_teams(ledger: &SqlLedger, user_id: Uuid) -> Result<Vec<(Team, TeamRole)>> {
    let sql = "SELECT t.id, t.name, t.created_at, t.updated_at, m.role FROM teams t \
               JOIN team_members m ON m.team_id = t.id WHERE t.deleted_at IS NULL AND m.user_id = $1 ORDER BY t.name";
    select_all(ledger, sql, user_id, |row| Ok((team_from_row(row)?, role_of(&col_str(row, "role")?)?))).await
}

pub(super) async fn destroy_team(ledger: &SqlLedger, team_id: Uuid) -> Result<Team> {
    let mut tx = ledger.begin_write().await?;
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{TEAM_SELECT} AND t.id = $1")))
        .bind(team_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
    let team = read_or_not_found(row, team_from_row, || "Couldn't find that team.".into())?;
    let apps: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM apps WHERE team_id = $1 AND deleted_at IS NULL")
        .bind(team_id.to_string())
        .fetch_one(&mut *tx)
        .await?;
    if apps > 0 {
        return Err(LedgerError::Invalid(format!(
            "Team {} still owns {apps} app(s): transfer or destroy them first.",
            team.name
        )));
    }
    for sql in [
        "UPDATE users SET default_team_id = NULL WHERE default_team_id = $1",
        "DELETE FROM team_members WHERE team_id = $1",
    ] {
        sqlx::query(sql).bind(team_id.to_string()).execute(&mut *tx).await?;
    }
    sqlx::query("UPDATE teams SET deleted_at = $1 WHERE id = $2")
        .bind(ts(now()))
        .bind(team_id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(team)
}

pub(super) async fn list_team_members(ledger: &SqlLedger, team_id: Uuid) -> Result<Vec<TeamMember>> {
    let sql = format!("{MEMBER_SELECT} ORDER BY u.email");
    select_all(ledger, sqlx::AssertSqlSafe(sql), team_id, member_from_row).await
}

/// The member `who` (email or user id) of the team, read inside `tx`.
async fn member_in(tx: &mut sqlx::Transaction<'static, sqlx::Any>, team_id: Uuid, who: &str) -> Result<Option<TeamMember>> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{MEMBER_SELECT} AND (u.email = $2 OR u.id = $3)")))
        .bind(team_id.to_string())
        .bind(who.trim().to_lowercase())
        .bind(who.to_string())
        .fetch_optional(&mut **tx)
        .await?;
    row.as_ref().map(member_from_row).transpose()
}

/// Fails when `member` is the team's last admin (a team must keep one).
async fn keep_an_admin(tx: &mut sqlx::Transaction<'static, sqlx::Any>, member: &TeamMember) -> Result<()> {
    if member.role != TeamRole::Admin {
        return Ok(());
    }
    let admins: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM team_members WHERE team_id = $1 AND role = 'admin'")
        .bind(member.team_id.to_string())
        .fetch_one(&mut **tx)
        .await?;
    if admins <= 1 {
        return Err(LedgerError::Invalid(format!("{} is the team's last admin: a team needs one.", member.user.email)));
    }
    Ok(())
}

pub(super) async fn set_team_member(
    ledger: &SqlLedger,
    team_id: Uuid,
    user_id: Uuid,
    role: TeamRole,
    create: bool,
) -> Result<TeamMember> {
    let mut tx = ledger.begin_write().await?;
    match member_in(&mut tx, team_id, &user_id.to_string()).await? {
        Some(member) => {
            if role < TeamRole::Admin {
                keep_an_admin(&mut tx, &member).await?;
            }
            sqlx::query("UPDATE team_members SET role = $1, updated_at = $2 WHERE id = $3")
                .bind(role.name())
                .bind(ts(now()))
                .bind(member.id.to_string())
                .execute(&mut *tx)
                .await?;
        }
        None if create => insert_member(&mut tx, team_id, user_id, role).await?,
        None => return Err(LedgerError::NotFound("That user is not a member of the team.".into())),
    }
    let member = member_in(&mut tx, team_id, &user_id.to_string()).await?.ok_or_else(team_not_found)?;
    tx.commit().await?;
    Ok(member)
}

pub(super) async fn remove_team_member(ledger: &SqlLedger, team_id: Uuid, who: &str) -> Result<TeamMember> {
    let mut tx = ledger.begin_write().await?;
    let member = member_in(&mut tx, team_id, who)
        .await?
        .ok_or_else(|| LedgerError::NotFound(format!("{who} is not a member of the team.")))?;
    keep_an_admin(&mut tx, &member).await?;
    let (user, team) = (member.user.id.to_string(), team_id.to_string());
    sqlx::query("DELETE FROM team_members WHERE id = $1").bind(member.id.to_string()).execute(&mut *tx).await?;
    // Their grants on the team's apps go with the membership.
    sqlx::query(
        "DELETE FROM collaborators WHERE user_id = $1 AND app_id IN (SELECT id FROM apps WHERE team_id = $2)",
    )
    .bind(user.clone())
    .bind(team.clone())
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE users SET default_team_id = NULL WHERE id = $1 AND default_team_id = $2")
        .bind(user)
        .bind(team)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(member)
}

pub(super) async fn team_role(ledger: &SqlLedger, team_id: Uuid, user_id: Uuid) -> Result<Option<TeamRole>> {
    let role: Option<String> = sqlx::query_scalar("SELECT role FROM team_members WHERE team_id = $1 AND user_id = $2")
        .bind(team_id.to_string())
        .bind(user_id.to_string())
        .fetch_optional(&ledger.pool)
        .await?;
    role.as_deref().map(role_of).transpose()
}

pub(super) async fn relation(ledger: &SqlLedger, app: &App, user_id: Uuid) -> Result<Relation> {
    let team_role = match &app.team {
        Some(team) => team_role(ledger, team.id, user_id).await?,
        None => None,
    };
    Ok(Relation { team_role, collaborator: collaborator_permissions(ledger, app.id, user_id).await? })
}

pub(super) async fn set_app_locked(ledger: &SqlLedger, app_id: Uuid, locked: bool) -> Result<App> {
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    sqlx::query("UPDATE apps SET locked = $1, updated_at = $2 WHERE id = $3")
        .bind(i64::from(locked))
        .bind(ts(now()))
        .bind(app_id.to_string())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    app_by_id(ledger, app_id).await
}

pub(super) async fn transfer_app(ledger: &SqlLedger, app_id: Uuid, to: AppOwner) -> Result<App> {
    let app = app_by_id(ledger, app_id).await?;
    let mut tx = ledger.begin_write().await?;
    ledger.lock_app(&mut tx, app_id).await?;
    let time = ts(now());
    match to {
        AppOwner::Team(team) => {
            sqlx::query("UPDATE apps SET team_id = $1, updated_at = $2 WHERE id = $3")
                .bind(team.to_string())
                .bind(time)
                .bind(app_id.to_string())
                .execute(&mut *tx)
                .await?;
            // A personal app's owner keeps full access as a collaborator.
            if app.team.is_none() {
                insert_collaborator(&mut tx, app_id, app.owner.id, Permissions::ALL).await?;
            }
        }
        AppOwner::User(user) => {
            sqlx::query("UPDATE apps SET team_id = NULL, locked = 0, owner_id = $1, updated_at = $2 WHERE id = $3")
                .bind(user.to_string())
                .bind(time)
                .bind(app_id.to_string())
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM collaborators WHERE app_id = $1").bind(app_id.to_string()).execute(&mut *tx).await?;
        }
    }
    tx.commit().await?;
    app_by_id(ledger, app_id).await
}

pub(super) async fn default_team(ledger: &SqlLedger, user_id: Uuid) -> Result<Option<Team>> {
    let sql = format!("{TEAM_SELECT} AND t.id = (SELECT default_team_id FROM users WHERE id = $1)");
    select_optional(ledger, sqlx::AssertSqlSafe(sql), user_id, team_from_row).await
}

pub(super) async fn set_default_team(ledger: &SqlLedger, user_id: Uuid, team_id: Option<Uuid>) -> Result<()> {
    sqlx::query("UPDATE users SET default_team_id = $1, updated_at = $2 WHERE id = $3")
        .bind(team_id.map(|id| id.to_string()))
        .bind(ts(now()))
        .bind(user_id.to_string())
        .execute(&ledger.pool)
        .await?;
    Ok(())
}
