//! Sync settings, runs, and the removals a run records for approval.

use crate::store::db;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::*;
use crate::store::{Store, StoreError, Tx};

// ---------- settings ----------

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct SyncSettingsRow {
    pub provider_id: String,
    pub enabled: bool,
    pub interval_minutes: i64,
    pub full_every_hours: i64,
    pub scope: String,
    pub app_id: Option<String>,
    pub deprovision_action: String,
    pub admin_deprovision_action: String,
    pub removal_threshold_percent: i64,
    pub watermark: Option<String>,
    pub last_full_at: Option<i64>,
    pub updated_at: i64,
}

const SETTINGS_COLUMNS: &str =
    "provider_id, enabled, interval_minutes, full_every_hours, scope, app_id, deprovision_action, \
    admin_deprovision_action, removal_threshold_percent, watermark, last_full_at, updated_at";

// ---------- runs ----------

/// One sync run, as stored.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct SyncRunRow {
    pub id: String,
    pub provider_id: String,
    /// `full`, `incremental` or `dry_run`.
    pub mode: String,
    /// `org` or `app`.
    pub scope: String,
    /// `manual` or `schedule`.
    pub trigger_kind: String,
    pub triggered_by: Option<String>,
    /// `running`, `succeeded`, `failed`, `awaiting_approval`, `approved` or `cancelled`.
    pub status: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub users_seen: i64,
    pub groups_seen: i64,
    pub memberships_seen: i64,
    pub created: i64,
    pub updated: i64,
    pub disabled: i64,
    pub deleted: i64,
    pub kept: i64,
    pub unchanged: i64,
    pub groups_created: i64,
    pub groups_updated: i64,
    pub groups_deleted: i64,
    pub memberships_added: i64,
    pub memberships_removed: i64,
    pub requests: i64,
    pub rate_limit_waits: i64,
    pub paced_waits: i64,
    pub retries: i64,
    pub error: Option<String>,
    pub error_fix: Option<String>,
    pub watermark: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
}

const RUN_COLUMNS: &str = "id, provider_id, mode, scope, trigger_kind, triggered_by, status, started_at, finished_at, \
    users_seen, groups_seen, memberships_seen, created, updated, disabled, deleted, kept, unchanged, groups_created, \
    groups_updated, groups_deleted, memberships_added, memberships_removed, requests, rate_limit_waits, paced_waits, \
    retries, error, error_fix, watermark, decided_by, decided_at";

/// Someone a run would disable, delete or keep.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalRow {
    pub directory_user_id: String,
    pub external_id: String,
    pub email: String,
    pub display_name: String,
    /// `DEPROVISIONED`, or `GONE` when the provider no longer lists the user.
    pub okta_status: String,
    /// `disable`, `delete` or `keep`.
    pub action: String,
    /// The role of the console account tied to this person (by its identity at the provider), if there is one.
    pub account_role: Option<String>,
}

/// A group a run would delete, with the memberships that go with it.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRemovalRow {
    pub external_id: String,
    pub name: String,
    pub members: i64,
}

/// A group membership a run would remove: the person left the group, or the group goes.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipRemovalRow {
    pub group_external_id: String,
    pub group_name: String,
    pub user_external_id: String,
    pub email: String,
    pub display_name: String,
    pub group_deleted: bool,
}

/// Rows of each kind of removal a held run or a dry run keeps for the approval panel.
const REMOVALS_KEPT: i64 = 1000;

impl Store {
    // ---------- settings ----------

    pub async fn sync_settings(&self, provider_id: &str) -> Result<Option<SyncSettingsRow>, StoreError> {
        let sql = format!("SELECT {SETTINGS_COLUMNS} FROM sync_settings WHERE provider_id = $1");
        Ok(db::query_as(&sql).bind(provider_id).fetch_optional(&self.pool).await?)
    }

    /// Saves the editable settings; the watermark and last full run are kept.
    pub async fn save_sync_settings(&self, row: &SyncSettingsRow) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        save_sync_settings_in(&mut tx, row).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the watermark, so the next run is a full one (the scope changed, say).
    pub async fn reset_sync_watermark(&self, provider_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        reset_sync_watermark_in(&mut tx, provider_id).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------- runs ----------

    pub async fn insert_sync_run(&self, r: &SyncRunRow) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO sync_runs (id, provider_id, mode, scope, trigger_kind, triggered_by, status, started_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&r.id)
        .bind(&r.provider_id)
        .bind(&r.mode)
        .bind(&r.scope)
        .bind(&r.trigger_kind)
        .bind(&r.triggered_by)
        .bind(&r.status)
        .bind(r.started_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "a running sync of this provider"))?;
        Ok(())
    }

    pub async fn update_sync_run(&self, r: &SyncRunRow) -> Result<(), StoreError> {
        update_run(&self.pool, r).await
    }

    pub async fn sync_run(&self, id: &str) -> Result<Option<SyncRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = $1");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// A provider's runs, newest first.
    pub async fn sync_runs(&self, provider_id: &str, limit: u32) -> Result<Vec<SyncRunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE provider_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
        );
        Ok(db::query_as(&sql).bind(provider_id).bind(limit.clamp(1, 1000) as i64).fetch_all(&self.pool).await?)
    }

    /// Runs of a provider in a status, newest first.
    pub async fn sync_runs_with_status(&self, provider_id: &str, status: &str) -> Result<Vec<SyncRunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE provider_id = $1 AND status = $2 ORDER BY started_at DESC, id DESC"
        );
        Ok(db::query_as(&sql).bind(provider_id).bind(status).fetch_all(&self.pool).await?)
    }

    /// Marks a run that died (killed, crashed) as failed, and drops its staging.
    pub async fn fail_interrupted_run(&self, id: &str, error: &str, fix: &str, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = db::query(
            "UPDATE sync_runs SET status = 'failed', error = $2, error_fix = $3, finished_at = $4 \
             WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(error)
        .bind(fix)
        .bind(now)
        .execute(&mut tx)
        .await?;
        clear_stage_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    // ---------- removals awaiting approval ----------

    /// Records who the run would remove, and how, from its staging (for approval and dry runs).
    pub async fn record_removals(
        &self,
        run_id: &str,
        provider_id: &str,
        action: &str,
        admin_action: &str,
    ) -> Result<i64, StoreError> {
        let admin = admin_account("a");
        let sql = format!(
            "INSERT INTO sync_run_removals (run_id, directory_user_id, external_id, email, display_name, okta_status, action, account_role) \
             SELECT $1, d.id, d.external_id, d.email, d.display_name, s.okta_status, \
                CASE WHEN a.id IS NOT NULL AND a.disabled_at IS NULL AND {admin} THEN $4 ELSE $3 END, \
                CASE WHEN a.id IS NULL THEN NULL WHEN {admin} THEN 'admin' ELSE a.role END \
             FROM {}",
            *CANDIDATES
        );
        let done =
            db::query(&sql).bind(run_id).bind(provider_id).bind(action).bind(admin_action).execute(&self.pool).await?;
        Ok(done.rows_affected() as i64)
    }

    /// Records the groups the run would delete and the memberships it would remove, from its
    /// staging and the directory as it is (the first rows of each).
    pub async fn record_group_removals(&self, run_id: &str, provider_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        db::query(
            "INSERT INTO sync_run_group_removals (run_id, external_id, name, members) \
             SELECT $1, g.external_id, g.name, (SELECT COUNT(*) FROM directory_memberships m WHERE m.group_id = g.id) \
             FROM sync_stage_groups s JOIN directory_groups g ON g.provider_id = $2 AND g.external_id = s.external_id \
             WHERE s.run_id = $1 AND s.change = 'gone' ORDER BY g.name LIMIT $3 ON CONFLICT DO NOTHING",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(REMOVALS_KEPT)
        .execute(&mut tx)
        .await?;
        db::query(
            "INSERT INTO sync_run_membership_removals \
                (run_id, group_external_id, group_name, user_external_id, email, display_name, group_deleted) \
             SELECT $1, g.external_id, g.name, u.external_id, u.email, u.display_name, FALSE \
             FROM sync_stage_memberships sm JOIN directory_groups g ON g.id = sm.group_id JOIN directory_users u ON u.id = sm.user_id \
             WHERE sm.run_id = $1 AND sm.change = 'remove' ORDER BY g.name, u.email LIMIT $2 ON CONFLICT DO NOTHING",
        )
        .bind(run_id)
        .bind(REMOVALS_KEPT)
        .execute(&mut tx)
        .await?;
        db::query(
            "INSERT INTO sync_run_membership_removals \
                (run_id, group_external_id, group_name, user_external_id, email, display_name, group_deleted) \
             SELECT $1, g.external_id, g.name, u.external_id, u.email, u.display_name, TRUE \
             FROM sync_stage_groups s JOIN directory_groups g ON g.provider_id = $2 AND g.external_id = s.external_id \
             JOIN directory_memberships m ON m.group_id = g.id JOIN directory_users u ON u.id = m.user_id \
             WHERE s.run_id = $1 AND s.change = 'gone' ORDER BY g.name, u.email LIMIT $3 ON CONFLICT DO NOTHING",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(REMOVALS_KEPT)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The groups and memberships recorded by [`Self::record_group_removals`], the first `limit` of each.
    pub async fn run_group_removals(
        &self,
        run_id: &str,
        limit: u32,
    ) -> Result<(Vec<GroupRemovalRow>, Vec<MembershipRemovalRow>), StoreError> {
        let groups = db::query_as(
            "SELECT external_id, name, members FROM sync_run_group_removals WHERE run_id = $1 ORDER BY name, external_id LIMIT $2",
        )
        .bind(run_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let memberships = db::query_as(
            "SELECT group_external_id, group_name, user_external_id, email, display_name, group_deleted \
             FROM sync_run_membership_removals WHERE run_id = $1 ORDER BY group_name, email LIMIT $2",
        )
        .bind(run_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        Ok((groups, memberships))
    }

    pub async fn run_removals(&self, run_id: &str, limit: u32) -> Result<(Vec<RemovalRow>, i64), StoreError> {
        let rows = db::query_as(
            "SELECT directory_user_id, external_id, email, display_name, okta_status, action, account_role \
             FROM sync_run_removals WHERE run_id = $1 ORDER BY email LIMIT $2",
        )
        .bind(run_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let (n,): (i64,) = db::query_as("SELECT COUNT(*) FROM sync_run_removals WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, n))
    }
}

pub(super) async fn update_run<'e>(conn: impl db::Exec<'e>, r: &SyncRunRow) -> Result<(), StoreError> {
    db::query(
        "UPDATE sync_runs SET status = $2, finished_at = $3, users_seen = $4, groups_seen = $5, memberships_seen = $6, \
         created = $7, updated = $8, disabled = $9, deleted = $10, kept = $11, unchanged = $12, groups_created = $13, \
         groups_updated = $14, groups_deleted = $15, memberships_added = $16, memberships_removed = $17, requests = $18, \
         rate_limit_waits = $19, paced_waits = $20, retries = $21, error = $22, error_fix = $23, watermark = $24, \
         decided_by = $25, decided_at = $26 WHERE id = $1",
    )
    .bind(&r.id)
    .bind(&r.status)
    .bind(r.finished_at)
    .bind(r.users_seen)
    .bind(r.groups_seen)
    .bind(r.memberships_seen)
    .bind(r.created)
    .bind(r.updated)
    .bind(r.disabled)
    .bind(r.deleted)
    .bind(r.kept)
    .bind(r.unchanged)
    .bind(r.groups_created)
    .bind(r.groups_updated)
    .bind(r.groups_deleted)
    .bind(r.memberships_added)
    .bind(r.memberships_removed)
    .bind(r.requests)
    .bind(r.rate_limit_waits)
    .bind(r.paced_waits)
    .bind(r.retries)
    .bind(&r.error)
    .bind(&r.error_fix)
    .bind(&r.watermark)
    .bind(&r.decided_by)
    .bind(r.decided_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// See [`Store::save_sync_settings`].
pub(in crate::store) async fn save_sync_settings_in(tx: &mut Tx, row: &SyncSettingsRow) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO sync_settings (provider_id, enabled, interval_minutes, full_every_hours, scope, app_id, \
         deprovision_action, admin_deprovision_action, removal_threshold_percent, watermark, last_full_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (provider_id) DO UPDATE SET enabled = excluded.enabled, interval_minutes = excluded.interval_minutes, \
         full_every_hours = excluded.full_every_hours, scope = excluded.scope, app_id = excluded.app_id, \
         deprovision_action = excluded.deprovision_action, admin_deprovision_action = excluded.admin_deprovision_action, \
         removal_threshold_percent = excluded.removal_threshold_percent, updated_at = excluded.updated_at",
    )
    .bind(&row.provider_id)
    .bind(row.enabled)
    .bind(row.interval_minutes)
    .bind(row.full_every_hours)
    .bind(&row.scope)
    .bind(&row.app_id)
    .bind(&row.deprovision_action)
    .bind(&row.admin_deprovision_action)
    .bind(row.removal_threshold_percent)
    .bind(&row.watermark)
    .bind(row.last_full_at)
    .bind(row.updated_at)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// See [`Store::reset_sync_watermark`].
pub(in crate::store) async fn reset_sync_watermark_in(tx: &mut Tx, provider_id: &str) -> Result<u64, StoreError> {
    let done = db::query("UPDATE sync_settings SET watermark = NULL, last_full_at = NULL WHERE provider_id = $1")
        .bind(provider_id)
        .execute(&mut *tx)
        .await?;
    Ok(done.rows_affected())
}
