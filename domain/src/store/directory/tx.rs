//! The final transaction: one write that switches the directory over to what the run staged.

use crate::store::db;
use sqlx::FromRow;

use super::*;
use crate::store::{AuditRecord, Store, StoreError};

// ---------- the final transaction's rows ----------

#[derive(Debug, Clone, FromRow)]
pub struct CreatedUserRow {
    pub external_id: String,
    pub email: String,
    pub display_name: String,
}

/// A staged user that changes a stored one: old and new values.
#[derive(Debug, Clone, FromRow)]
pub struct UpdatedUserRow {
    pub id: String,
    pub external_id: String,
    pub email: String,
    pub old_email: String,
    pub login: String,
    pub old_login: String,
    pub display_name: String,
    pub old_display_name: String,
    pub first_name: String,
    pub old_first_name: String,
    pub last_name: String,
    pub old_last_name: String,
    pub okta_status: String,
    pub old_okta_status: String,
    pub old_state: String,
    pub account_disabled_by_run: Option<String>,
}

/// A stored user the provider no longer lists (or lists as deprovisioned), with the console
/// account whose identity at this provider is this very person (never by email).
#[derive(Debug, Clone, FromRow)]
pub struct CandidateRow {
    pub id: String,
    pub external_id: String,
    pub email: String,
    pub display_name: String,
    pub okta_status: String,
    pub account_id: Option<String>,
    /// The account's role: its own, or `admin` when role mappings make it an admin.
    pub account_role: Option<String>,
    /// An admin by its own role or through role mappings.
    pub account_admin: bool,
    pub account_disabled_at: Option<i64>,
}

#[derive(Debug, Clone, FromRow)]
pub struct GroupChangeRow {
    pub external_id: String,
    pub name: String,
    pub old_name: Option<String>,
    pub description: Option<String>,
    pub old_description: Option<String>,
}

#[derive(Debug, Clone, FromRow)]
pub struct DeletedGroupRow {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub members: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct MembershipChangeRow {
    pub group_external_id: String,
    pub user_external_id: String,
    pub change: String,
}

/// The final transaction of a run: every write that switches the directory over.
pub struct DirectoryTx {
    tx: crate::store::Tx,
    store: Store,
}

impl Store {
    pub async fn begin_directory(&self) -> Result<DirectoryTx, StoreError> {
        let mut tx = self.begin_write().await?;
        // The switch-over touches every index of a large directory: a 16 MiB page cache
        // instead of SQLite's 2 MiB halves it. Set back before the connection goes back.
        // (PostgreSQL sizes its shared buffers for the server.)
        if tx.is_sqlite() {
            db::query("PRAGMA cache_size = -16384").execute(&mut tx).await?;
        }
        Ok(DirectoryTx { tx, store: self.clone() })
    }
}

const DEFAULT_CACHE: &str = "PRAGMA cache_size = -2000";

impl DirectoryTx {
    async fn restore_cache(&mut self) -> Result<(), StoreError> {
        if self.tx.is_sqlite() {
            db::query(DEFAULT_CACHE).execute(&mut self.tx).await?;
        }
        Ok(())
    }

    pub async fn commit(mut self) -> Result<(), StoreError> {
        self.restore_cache().await?;
        self.tx.commit().await?;
        self.store.changed();
        Ok(())
    }

    /// Undoes everything (dry runs, a tripped breaker).
    pub async fn rollback(mut self) -> Result<(), StoreError> {
        self.restore_cache().await?;
        self.tx.rollback().await?;
        Ok(())
    }

    pub async fn insert_audit(&mut self, r: &AuditRecord) -> Result<(), StoreError> {
        crate::store::audit::insert_audit_with(&mut self.tx, r).await
    }

    pub async fn update_run(&mut self, r: &SyncRunRow) -> Result<(), StoreError> {
        update_run(&mut self.tx, r).await
    }

    /// The run's status, read inside the transaction (approval races).
    pub async fn run_status(&mut self, run_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = db::query_as("SELECT status FROM sync_runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&mut self.tx)
            .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn set_watermark(
        &mut self,
        provider_id: &str,
        watermark: Option<&str>,
        full_at: Option<i64>,
    ) -> Result<(), StoreError> {
        db::query(
            "UPDATE sync_settings SET watermark = COALESCE($2, watermark), last_full_at = COALESCE($3, last_full_at) \
             WHERE provider_id = $1",
        )
        .bind(provider_id)
        .bind(watermark)
        .bind(full_at)
        .execute(&mut self.tx)
        .await?;
        Ok(())
    }

    pub async fn clear_stage(&mut self, run_id: &str) -> Result<(), StoreError> {
        clear_stage_in(&mut self.tx, run_id).await
    }

    // ---------- users ----------

    /// Whether the run stages anyone as gone, any group as gone, or any membership for removal
    /// (the breaker then needs the directory's sizes).
    pub async fn stages_removals(&mut self, run_id: &str) -> Result<bool, StoreError> {
        let (users,): (bool,) = db::query_as(
            "SELECT EXISTS (SELECT 1 FROM sync_stage_users WHERE run_id = $1 AND change = 'gone') \
             OR EXISTS (SELECT 1 FROM sync_stage_groups WHERE run_id = $1 AND change = 'gone') \
             OR EXISTS (SELECT 1 FROM sync_stage_memberships WHERE run_id = $1 AND change = 'remove')",
        )
        .bind(run_id)
        .fetch_one(&mut self.tx)
        .await?;
        Ok(users)
    }

    pub async fn count_active_users(&mut self, provider_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            db::query_as("SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 AND state = 'active'")
                .bind(provider_id)
                .fetch_one(&mut self.tx)
                .await?;
        Ok(n)
    }

    /// The next removal candidates; each one handled leaves the 'active' state, so asking again gives the next.
    pub async fn removal_candidates(
        &mut self,
        run_id: &str,
        provider_id: &str,
        limit: i64,
    ) -> Result<Vec<CandidateRow>, StoreError> {
        let admin = admin_account("a");
        let sql = format!(
            "SELECT d.id, d.external_id, d.email, d.display_name, s.okta_status, a.id AS account_id, \
                CASE WHEN a.id IS NULL THEN NULL WHEN {admin} THEN 'admin' ELSE a.role END AS account_role, \
                (a.id IS NOT NULL AND {admin}) AS account_admin, a.disabled_at AS account_disabled_at \
             FROM {} ORDER BY s.external_id LIMIT $3",
            *CANDIDATES
        );
        Ok(db::query_as(&sql).bind(run_id).bind(provider_id).bind(limit).fetch_all(&mut self.tx).await?)
    }

    /// The console accounts, tied to people the run removes, that are admins now: read before
    /// the run changes memberships, which may be what makes them admins.
    pub async fn admin_candidate_accounts(
        &mut self,
        run_id: &str,
        provider_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let sql = format!("SELECT a.id FROM {} AND a.id IS NOT NULL AND {}", *CANDIDATES, admin_account("a"));
        let rows: Vec<(String,)> = db::query_as(&sql).bind(run_id).bind(provider_id).fetch_all(&mut self.tx).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Admins whose console account is not disabled: by their own role or through role mappings.
    pub async fn count_active_admins(&mut self) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM users a WHERE a.disabled_at IS NULL AND {}", admin_account("a"));
        let (n,): (i64,) = db::query_as(&sql).fetch_one(&mut self.tx).await?;
        Ok(n)
    }

    /// Disables a console account and ends its sessions; the number of sessions ended.
    pub async fn disable_account(&mut self, account_id: &str, now: i64) -> Result<u64, StoreError> {
        db::query("UPDATE users SET disabled_at = $2, updated_at = $2 WHERE id = $1 AND disabled_at IS NULL")
            .bind(account_id)
            .bind(now)
            .execute(&mut self.tx)
            .await?;
        db::query("DELETE FROM access_sessions WHERE user_id = $1").bind(account_id).execute(&mut self.tx).await?;
        let done = db::query("DELETE FROM sessions WHERE user_id = $1").bind(account_id).execute(&mut self.tx).await?;
        Ok(done.rows_affected())
    }

    /// Re-enables the console account tied to this directory person (by identity) that a run
    /// disabled; whether one was re-enabled.
    pub async fn enable_tied_account(
        &mut self,
        provider_id: &str,
        external_id: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let done = db::query(
            "UPDATE users SET disabled_at = NULL, updated_at = $3 WHERE disabled_at IS NOT NULL AND id = \
             (SELECT user_id FROM user_identities WHERE provider_id = $1 AND subject = $2)",
        )
        .bind(provider_id)
        .bind(external_id)
        .bind(now)
        .execute(&mut self.tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// `state` is 'disabled' or 'kept'.
    pub async fn mark_user_removed(
        &mut self,
        id: &str,
        state: &str,
        okta_status: &str,
        run_id: &str,
        account_disabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        db::query(
            "UPDATE directory_users SET state = $2, okta_status = $3, removed_at = $5, last_changed_run = $4, updated_at = $5, \
             account_disabled_by_run = CASE WHEN $6 THEN $4 ELSE account_disabled_by_run END WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(okta_status)
        .bind(run_id)
        .bind(now)
        .bind(account_disabled)
        .execute(&mut self.tx)
        .await?;
        Ok(())
    }

    /// Deletes a directory user; their memberships go with them. How many memberships went.
    pub async fn delete_user(&mut self, id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = db::query_as("SELECT COUNT(*) FROM directory_memberships WHERE user_id = $1")
            .bind(id)
            .fetch_one(&mut self.tx)
            .await?;
        db::query("DELETE FROM directory_users WHERE id = $1").bind(id).execute(&mut self.tx).await?;
        Ok(n)
    }

    /// The next staged users marked `create`, after `after` (keyset), for the audit log.
    pub async fn created_users(
        &mut self,
        run_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<CreatedUserRow>, StoreError> {
        Ok(db::query_as(
            "SELECT external_id, email, display_name FROM sync_stage_users \
             WHERE run_id = $1 AND change = 'create' AND external_id > $2 ORDER BY external_id LIMIT $3",
        )
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut self.tx)
        .await?)
    }

    pub async fn insert_created_users(
        &mut self,
        run_id: &str,
        provider_id: &str,
        source: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = db::query(
            "INSERT INTO directory_users (id, provider_id, external_id, email, login, first_name, last_name, display_name, \
             okta_status, state, last_updated, fingerprint, source, first_seen_run, last_changed_run, created_at, updated_at) \
             SELECT id, $2, external_id, email, login, first_name, last_name, display_name, okta_status, 'active', \
             last_updated, fingerprint, $3, $1, $1, $4, $4 FROM sync_stage_users WHERE run_id = $1 AND change = 'create' \
             ON CONFLICT (provider_id, external_id) DO NOTHING",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(source)
        .bind(now)
        .execute(&mut self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// The next staged users marked `update`, with their stored values, after `after` (keyset).
    pub async fn updated_users(
        &mut self,
        run_id: &str,
        provider_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<UpdatedUserRow>, StoreError> {
        Ok(db::query_as(
            "SELECT d.id, s.external_id, s.email, d.email AS old_email, s.login, d.login AS old_login, \
                s.display_name, d.display_name AS old_display_name, s.first_name, d.first_name AS old_first_name, \
                s.last_name, d.last_name AS old_last_name, s.okta_status, d.okta_status AS old_okta_status, \
                d.state AS old_state, d.account_disabled_by_run \
             FROM sync_stage_users s JOIN directory_users d ON d.provider_id = $2 AND d.external_id = s.external_id \
             WHERE s.run_id = $1 AND s.change = 'update' AND s.external_id > $3 \
             AND (d.scim_changed_at IS NULL OR d.scim_changed_at < (SELECT started_at FROM sync_runs WHERE id = $1)) \
             ORDER BY s.external_id LIMIT $4",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut self.tx)
        .await?)
    }

    /// Writes staged `update` users over the stored ones; restored users become active again.
    pub async fn apply_updated_users(&mut self, run_id: &str, provider_id: &str, now: i64) -> Result<u64, StoreError> {
        let done = db::query(
            "UPDATE directory_users SET email = s.email, login = s.login, first_name = s.first_name, last_name = s.last_name, \
             display_name = s.display_name, okta_status = s.okta_status, last_updated = s.last_updated, \
             fingerprint = s.fingerprint, state = 'active', removed_at = NULL, account_disabled_by_run = NULL, \
             last_changed_run = $1, updated_at = $3 \
             FROM sync_stage_users s WHERE s.run_id = $1 AND s.change = 'update' \
             AND directory_users.provider_id = $2 AND directory_users.external_id = s.external_id \
             AND (directory_users.scim_changed_at IS NULL OR directory_users.scim_changed_at < (SELECT started_at FROM sync_runs WHERE id = $1))",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(now)
        .execute(&mut self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Stored groups the provider no longer lists.
    pub async fn deleted_groups(
        &mut self,
        run_id: &str,
        provider_id: &str,
    ) -> Result<Vec<DeletedGroupRow>, StoreError> {
        Ok(db::query_as(
            "SELECT g.id, g.external_id, g.name, (SELECT COUNT(*) FROM directory_memberships m WHERE m.group_id = g.id) AS members \
             FROM directory_groups g JOIN sync_stage_groups s ON s.run_id = $1 AND s.external_id = g.external_id \
             AND s.change = 'gone' WHERE g.provider_id = $2 ORDER BY g.name",
        )
        .bind(run_id)
        .bind(provider_id)
        .fetch_all(&mut self.tx)
        .await?)
    }

    pub async fn delete_group(&mut self, id: &str) -> Result<(), StoreError> {
        db::query("DELETE FROM directory_groups WHERE id = $1").bind(id).execute(&mut self.tx).await?;
        Ok(())
    }

    /// Staged groups marked `change` (create or update), with their stored name, after `after` (keyset).
    pub async fn changed_groups(
        &mut self,
        run_id: &str,
        provider_id: &str,
        change: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<GroupChangeRow>, StoreError> {
        Ok(db::query_as(
            "SELECT s.external_id, s.name, g.name AS old_name, s.description, g.description AS old_description \
             FROM sync_stage_groups s LEFT JOIN directory_groups g ON g.provider_id = $2 AND g.external_id = s.external_id \
             WHERE s.run_id = $1 AND s.change = $3 AND s.external_id > $4 ORDER BY s.external_id LIMIT $5",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(change)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut self.tx)
        .await?)
    }

    /// Writes staged new and changed groups; (created, updated). Groups whose only change is
    /// Okta's timestamps are updated but not counted.
    pub async fn apply_groups(&mut self, run_id: &str, provider_id: &str, now: i64) -> Result<(u64, u64), StoreError> {
        let created = db::query(
            "INSERT INTO directory_groups (id, provider_id, external_id, name, description, kind, source, last_updated, \
             last_membership_updated, synced_at, first_seen_run, last_changed_run) \
             SELECT id, $2, external_id, name, description, kind, 'sync', last_updated, last_membership_updated, $3, $1, $1 \
             FROM sync_stage_groups WHERE run_id = $1 AND change = 'create' ON CONFLICT (provider_id, external_id) DO NOTHING",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(now)
        .execute(&mut self.tx)
        .await?;
        let updated = db::query(
            "UPDATE directory_groups SET name = s.name, description = s.description, kind = s.kind, source = 'sync', \
             last_updated = s.last_updated, last_membership_updated = s.last_membership_updated, synced_at = $3, \
             last_changed_run = CASE WHEN s.change = 'update' THEN $1 ELSE directory_groups.last_changed_run END, \
             first_seen_run = COALESCE(directory_groups.first_seen_run, $1) \
             FROM sync_stage_groups s WHERE s.run_id = $1 AND s.change IN ('update', 'marks') \
             AND directory_groups.provider_id = $2 AND directory_groups.external_id = s.external_id",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(now)
        .execute(&mut self.tx)
        .await?;
        let (changed,): (i64,) =
            db::query_as("SELECT COUNT(*) FROM sync_stage_groups WHERE run_id = $1 AND change = 'update'")
                .bind(run_id)
                .fetch_one(&mut self.tx)
                .await?;
        Ok((created.rows_affected(), (changed as u64).min(updated.rows_affected())))
    }

    /// A provider's stored groups.
    pub async fn count_groups(&mut self, provider_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = db::query_as("SELECT COUNT(*) FROM directory_groups WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_one(&mut self.tx)
            .await?;
        Ok(n)
    }

    // ---------- memberships ----------

    /// A provider's stored memberships.
    pub async fn count_memberships(&mut self, provider_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = db::query_as("SELECT COUNT(*) FROM directory_memberships WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_one(&mut self.tx)
            .await?;
        Ok(n)
    }

    /// Each stored group's provider id and name.
    pub async fn group_names(&mut self, provider_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(db::query_as("SELECT external_id, name FROM directory_groups WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_all(&mut self.tx)
            .await?)
    }

    /// Staged membership changes after (group, user) (keyset), for the audit log.
    pub async fn membership_changes(
        &mut self,
        run_id: &str,
        after: (&str, &str),
        limit: i64,
    ) -> Result<Vec<MembershipChangeRow>, StoreError> {
        Ok(db::query_as(
            "SELECT group_external_id, user_external_id, change FROM sync_stage_memberships sm \
             WHERE run_id = $1 AND (group_external_id, user_external_id) > ($2, $3) \
             ORDER BY group_external_id, user_external_id LIMIT $4",
        )
        .bind(run_id)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(&mut self.tx)
        .await?)
    }

    /// Removes and adds the staged memberships; (removed, added). Okta lists deactivated users
    /// among group members: additions for people the directory does not hold are left out.
    pub async fn apply_membership_changes(
        &mut self,
        run_id: &str,
        provider_id: &str,
        now: i64,
    ) -> Result<(u64, u64), StoreError> {
        let removed = db::query(
            "DELETE FROM directory_memberships WHERE (group_id, user_id) IN \
             (SELECT group_id, user_id FROM sync_stage_memberships WHERE run_id = $1 AND change = 'remove') \
             AND NOT (source = 'scim' AND created_at >= (SELECT started_at FROM sync_runs WHERE id = $1))",
        )
        .bind(run_id)
        .execute(&mut self.tx)
        .await?;
        let added = db::query(
            "INSERT INTO directory_memberships (group_id, user_id, provider_id, source, sync_run_id, created_at) \
             SELECT sm.group_id, sm.user_id, $2, 'sync', $1, $3 FROM sync_stage_memberships sm \
             WHERE sm.run_id = $1 AND sm.change = 'add' \
             AND EXISTS (SELECT 1 FROM directory_users u WHERE u.id = sm.user_id) \
             AND EXISTS (SELECT 1 FROM directory_groups g WHERE g.id = sm.group_id) \
             AND NOT EXISTS (SELECT 1 FROM scim_membership_removals r WHERE r.group_id = sm.group_id \
                 AND r.user_id = sm.user_id AND r.removed_at >= (SELECT started_at FROM sync_runs WHERE id = $1)) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(now)
        .execute(&mut self.tx)
        .await?;
        Ok((removed.rows_affected(), added.rows_affected()))
    }
}
