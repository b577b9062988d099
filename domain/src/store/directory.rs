//! Directory synchronization's storage: sync settings and runs, the staging tables a run
//! writes while it fetches, the final transaction that switches the directory over, and the
//! queries behind the Directory pages.

use serde::{Deserialize, Serialize};
use sqlx::{FromRow, QueryBuilder, Sqlite};

use super::{AuditRecord, Store, StoreError};

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
#[derive(Debug, Clone, FromRow, PartialEq, Eq, Serialize, Deserialize)]
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

// ---------- staging ----------

/// A user to stage: new (`create`), changed (`update`), or `gone` (deprovisioned, or no
/// longer listed by a run that lists everyone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageUser {
    pub external_id: String,
    /// The row id to use if the user is new.
    pub id: String,
    pub change: String,
    pub email: String,
    pub login: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    /// With `gone`: DEPROVISIONED, or GONE when no longer listed.
    pub okta_status: String,
    pub last_updated: Option<String>,
    pub fingerprint: String,
}

/// A group to stage: `create`, `update` (name, description or type), `marks` (only Okta's
/// timestamps moved) or `gone`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageGroup {
    pub external_id: String,
    pub id: String,
    pub change: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub last_updated: Option<String>,
    pub last_membership_updated: Option<String>,
}

/// A membership to add or remove, by the provider's ids and the rows' ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StageMembership {
    pub group_external_id: String,
    pub user_external_id: String,
    pub group_id: String,
    pub user_id: String,
    /// `add` or `remove`.
    pub change: &'static str,
}

/// What a batch of fetched pages adds to staging.
#[derive(Debug, Default)]
pub struct StageBatch {
    pub users: Vec<StageUser>,
    pub groups: Vec<StageGroup>,
    pub memberships: Vec<StageMembership>,
    /// Groups that disappeared while the run fetched their members.
    pub vanished_groups: Vec<String>,
    /// Row ids given to group members the run did not create (Okta lists deactivated users
    /// among members): their staged additions are dropped.
    pub phantom_users: Vec<String>,
}

impl StageBatch {
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    pub fn len(&self) -> usize {
        self.users.len()
            + self.groups.len()
            + self.memberships.len()
            + self.vanished_groups.len()
            + self.phantom_users.len()
    }
}

/// A stored user as a run compares it.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct UserMark {
    pub external_id: String,
    pub id: String,
    pub fingerprint: String,
    pub state: String,
}

/// A stored group as a run compares it.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct GroupMark {
    pub id: String,
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub source: String,
    pub last_updated: Option<String>,
    pub last_membership_updated: Option<String>,
}

/// Rows per multi-row INSERT: well under SQLite's 32,766 parameters.
const INSERT_CHUNK: usize = 500;

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
    tx: sqlx::Transaction<'static, Sqlite>,
    store: Store,
}

// ---------- the Directory pages ----------

/// Search and paging for the Directory pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DirectoryQuery {
    pub provider_id: Option<String>,
    /// Part of a name, email or login (users), or of a name (groups); case-insensitive.
    pub search: Option<String>,
    /// Users only: `active`, `disabled` or `kept`.
    pub state: Option<String>,
    pub offset: u32,
    /// 1 to 500; 50 when 0.
    pub limit: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryPage<T> {
    pub items: Vec<T>,
    /// How many match, across all pages.
    pub total: i64,
}

/// A directory user with where it came from.
#[derive(Debug, Clone, FromRow, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryUserView {
    pub id: String,
    pub provider_id: String,
    pub provider_name: String,
    pub external_id: String,
    pub email: String,
    pub login: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub okta_status: String,
    /// `active`, `disabled` or `kept`.
    pub state: String,
    pub source: String,
    pub first_seen_run: Option<String>,
    /// The sync run that last created or changed it.
    pub last_changed_run: Option<String>,
    pub removed_at: Option<i64>,
    pub updated_at: i64,
    /// The console account whose identity at the provider is this person: its role, if any.
    pub account_role: Option<String>,
}

/// A directory group with its member count and where it came from.
#[derive(Debug, Clone, FromRow, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryGroupView {
    pub id: String,
    pub provider_id: String,
    pub provider_name: String,
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub source: String,
    pub member_count: i64,
    pub first_seen_run: Option<String>,
    pub last_changed_run: Option<String>,
    pub synced_at: i64,
}

static USER_VIEW: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT d.id, d.provider_id, p.name AS provider_name, d.external_id, d.email, d.login, d.first_name, \
         d.last_name, d.display_name, d.okta_status, d.state, d.source, d.first_seen_run, d.last_changed_run, d.removed_at, \
         d.updated_at, CASE WHEN a.id IS NULL THEN NULL WHEN {} THEN 'admin' ELSE a.role END AS account_role \
         FROM directory_users d JOIN identity_providers p ON p.id = d.provider_id {TIED_ACCOUNT}",
        admin_account("a")
    )
});

/// The console account tied to directory user `d`: the one whose identity at d's provider
/// has d's id as its subject. Never by email: anyone can hold an email at some provider.
const TIED_ACCOUNT: &str =
    "LEFT JOIN user_identities i ON i.provider_id = d.provider_id AND i.subject = d.external_id \
    LEFT JOIN users a ON a.id = i.user_id";

/// SQL: console account `a` is an admin, by its own role or through a role mapping of one of
/// its identities' providers: a group the person is in (the directory's memberships, the
/// provider's Everyone group, or the groups seen at their last sign-in), or a live session
/// with the admin role. Over-inclusive on purpose: it picks the admin setting and guards the
/// last admin.
fn admin_account(a: &str) -> String {
    format!(
        "({a}.role = 'admin' \
         OR EXISTS (SELECT 1 FROM sessions se WHERE se.user_id = {a}.id AND se.role = 'admin' \
            AND se.expires_at > CAST(strftime('%s', 'now') AS INTEGER) * 1000) \
         OR EXISTS (SELECT 1 FROM user_identities ai JOIN role_mappings rm ON rm.provider_id = ai.provider_id AND rm.role = 'admin' \
            WHERE ai.user_id = {a}.id AND ( \
                EXISTS (SELECT 1 FROM directory_users du JOIN directory_memberships dm ON dm.user_id = du.id \
                    JOIN directory_groups dg ON dg.id = dm.group_id \
                    WHERE du.provider_id = ai.provider_id AND du.external_id = ai.subject AND dg.external_id = rm.group_external_id) \
                OR EXISTS (SELECT 1 FROM directory_groups dg WHERE dg.provider_id = ai.provider_id \
                    AND dg.external_id = rm.group_external_id AND dg.kind = 'BUILT_IN') \
                OR EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(ai.groups) THEN ai.groups ELSE '[]' END) jg \
                    WHERE jg.value = rm.group_name OR jg.value = rm.group_external_id))))"
    )
}

/// Everyone (BUILT_IN) holds every user of its provider: its members are not stored.
const GROUP_VIEW: &str =
    "SELECT g.id, g.provider_id, p.name AS provider_name, g.external_id, g.name, g.description, g.kind, \
    g.source, CASE WHEN g.kind = 'BUILT_IN' \
        THEN (SELECT COUNT(*) FROM directory_users u WHERE u.provider_id = g.provider_id AND u.state <> 'disabled') \
        ELSE (SELECT COUNT(*) FROM directory_memberships m WHERE m.group_id = g.id) END AS member_count, \
    g.first_seen_run, g.last_changed_run, g.synced_at \
    FROM directory_groups g JOIN identity_providers p ON p.id = g.provider_id";

fn like_pattern(search: &Option<String>) -> Option<String> {
    search.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()).map(|s| {
        let escaped = s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    })
}

fn page_limit(limit: u32) -> i64 {
    if limit == 0 {
        50
    } else {
        limit.min(500) as i64
    }
}

impl Store {
    // ---------- settings ----------

    pub async fn sync_settings(&self, provider_id: &str) -> Result<Option<SyncSettingsRow>, StoreError> {
        let sql = format!("SELECT {SETTINGS_COLUMNS} FROM sync_settings WHERE provider_id = $1");
        Ok(sqlx::query_as(&sql).bind(provider_id).fetch_optional(&self.pool).await?)
    }

    /// Saves the editable settings; the watermark and last full run are kept.
    pub async fn save_sync_settings(&self, row: &SyncSettingsRow) -> Result<(), StoreError> {
        sqlx::query(
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
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets the watermark, so the next run is a full one (the scope changed, say).
    pub async fn reset_sync_watermark(&self, provider_id: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE sync_settings SET watermark = NULL, last_full_at = NULL WHERE provider_id = $1")
            .bind(provider_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    // ---------- runs ----------

    pub async fn insert_sync_run(&self, r: &SyncRunRow) -> Result<(), StoreError> {
        sqlx::query(
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
        .await?;
        Ok(())
    }

    pub async fn update_sync_run(&self, r: &SyncRunRow) -> Result<(), StoreError> {
        update_run(&mut *self.pool.acquire().await?, r).await
    }

    pub async fn sync_run(&self, id: &str) -> Result<Option<SyncRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// A provider's runs, newest first.
    pub async fn sync_runs(&self, provider_id: &str, limit: u32) -> Result<Vec<SyncRunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE provider_id = $1 ORDER BY started_at DESC, id DESC LIMIT $2"
        );
        Ok(sqlx::query_as(&sql).bind(provider_id).bind(limit.clamp(1, 1000) as i64).fetch_all(&self.pool).await?)
    }

    /// Runs of a provider in a status, newest first.
    pub async fn sync_runs_with_status(&self, provider_id: &str, status: &str) -> Result<Vec<SyncRunRow>, StoreError> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM sync_runs WHERE provider_id = $1 AND status = $2 ORDER BY started_at DESC, id DESC"
        );
        Ok(sqlx::query_as(&sql).bind(provider_id).bind(status).fetch_all(&self.pool).await?)
    }

    /// Every run still marked running, across providers.
    pub async fn running_sync_runs(&self) -> Result<Vec<SyncRunRow>, StoreError> {
        let sql = format!("SELECT {RUN_COLUMNS} FROM sync_runs WHERE status = 'running'");
        Ok(sqlx::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// Marks a run that died (killed, crashed) as failed, and drops its staging.
    pub async fn fail_interrupted_run(&self, id: &str, error: &str, fix: &str, now: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE sync_runs SET status = 'failed', error = $2, error_fix = $3, finished_at = $4 \
             WHERE id = $1 AND status = 'running'",
        )
        .bind(id)
        .bind(error)
        .bind(fix)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        clear_stage_in(&mut tx, id).await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    // ---------- staging ----------

    /// Writes a batch of fetched pages to the run's staging, in one transaction.
    pub async fn stage(&self, run_id: &str, batch: &StageBatch) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for chunk in batch.users.chunks(INSERT_CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO sync_stage_users (run_id, external_id, id, change, email, login, first_name, last_name, \
                 display_name, okta_status, last_updated, fingerprint) ",
            );
            q.push_values(chunk, |mut b, u| {
                b.push_bind(run_id)
                    .push_bind(&u.external_id)
                    .push_bind(&u.id)
                    .push_bind(&u.change)
                    .push_bind(&u.email)
                    .push_bind(&u.login)
                    .push_bind(&u.first_name)
                    .push_bind(&u.last_name)
                    .push_bind(&u.display_name)
                    .push_bind(&u.okta_status)
                    .push_bind(&u.last_updated)
                    .push_bind(&u.fingerprint);
            });
            q.push(" ON CONFLICT (run_id, external_id) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        for chunk in batch.groups.chunks(INSERT_CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO sync_stage_groups (run_id, external_id, id, change, name, description, kind, last_updated, \
                 last_membership_updated) ",
            );
            q.push_values(chunk, |mut b, g| {
                b.push_bind(run_id)
                    .push_bind(&g.external_id)
                    .push_bind(&g.id)
                    .push_bind(&g.change)
                    .push_bind(&g.name)
                    .push_bind(&g.description)
                    .push_bind(&g.kind)
                    .push_bind(&g.last_updated)
                    .push_bind(&g.last_membership_updated);
            });
            q.push(" ON CONFLICT (run_id, external_id) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        for chunk in batch.memberships.chunks(INSERT_CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "INSERT INTO sync_stage_memberships (run_id, group_external_id, user_external_id, group_id, user_id, change) ",
            );
            q.push_values(chunk, |mut b, m| {
                b.push_bind(run_id)
                    .push_bind(&m.group_external_id)
                    .push_bind(&m.user_external_id)
                    .push_bind(&m.group_id)
                    .push_bind(&m.user_id)
                    .push_bind(m.change);
            });
            q.push(" ON CONFLICT (run_id, group_external_id, user_external_id) DO NOTHING");
            q.build().execute(&mut *tx).await?;
        }
        for g in &batch.vanished_groups {
            // Gone before its members were listed: the directory drops it (if it had it).
            sqlx::query("DELETE FROM sync_stage_memberships WHERE run_id = $1 AND group_external_id = $2")
                .bind(run_id)
                .bind(g)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO sync_stage_groups (run_id, external_id, id, change, name, kind) VALUES ($1, $2, '', 'gone', '', '') \
                 ON CONFLICT (run_id, external_id) DO UPDATE SET change = 'gone'",
            )
            .bind(run_id)
            .bind(g)
            .execute(&mut *tx)
            .await?;
        }
        for chunk in batch.phantom_users.chunks(5000) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new("DELETE FROM sync_stage_memberships WHERE run_id = ");
            q.push_bind(run_id).push(" AND change = 'add' AND user_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            list.push_unseparated(")");
            q.build().execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn clear_stage(&self, run_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        clear_stage_in(&mut tx, run_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Staging left by runs that are neither running nor awaiting approval (a crash, a
    /// deleted provider).
    pub async fn clear_orphaned_stage(&self) -> Result<(), StoreError> {
        for table in ["sync_stage_users", "sync_stage_groups", "sync_stage_memberships"] {
            let sql = format!(
                "DELETE FROM {table} WHERE run_id NOT IN (SELECT id FROM sync_runs WHERE status IN ('running', 'awaiting_approval'))"
            );
            sqlx::query(&sql).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Every stored user of a provider, for a run that lists everyone.
    pub async fn user_marks(&self, provider_id: &str) -> Result<Vec<UserMark>, StoreError> {
        Ok(sqlx::query_as("SELECT external_id, id, fingerprint, state FROM directory_users WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// The stored users among these provider ids (a page of an incremental run).
    pub async fn user_marks_for(
        &self,
        provider_id: &str,
        external_ids: &[String],
    ) -> Result<Vec<UserMark>, StoreError> {
        let mut out = Vec::new();
        for chunk in external_ids.chunks(INSERT_CHUNK) {
            let mut q: QueryBuilder<Sqlite> = QueryBuilder::new(
                "SELECT external_id, id, fingerprint, state FROM directory_users WHERE provider_id = ",
            );
            q.push_bind(provider_id).push(" AND external_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            list.push_unseparated(")");
            out.extend(q.build_query_as::<UserMark>().fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    pub async fn group_marks(&self, provider_id: &str) -> Result<Vec<GroupMark>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT id, external_id, name, description, kind, source, last_updated, last_membership_updated \
             FROM directory_groups WHERE provider_id = $1",
        )
        .bind(provider_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every stored membership of a provider: (group row id, user row id).
    pub async fn provider_membership_ids(&self, provider_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT group_id, user_id FROM directory_memberships WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A stored group's members: (provider id, row id).
    pub async fn group_member_ids(&self, group_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT u.external_id, u.id FROM directory_memberships m JOIN directory_users u ON u.id = m.user_id WHERE m.group_id = $1",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?)
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
        let done = sqlx::query(&sql)
            .bind(run_id)
            .bind(provider_id)
            .bind(action)
            .bind(admin_action)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() as i64)
    }

    /// Records the groups the run would delete and the memberships it would remove, from its
    /// staging and the directory as it is (the first rows of each).
    pub async fn record_group_removals(&self, run_id: &str, provider_id: &str) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT OR IGNORE INTO sync_run_group_removals (run_id, external_id, name, members) \
             SELECT $1, g.external_id, g.name, (SELECT COUNT(*) FROM directory_memberships m WHERE m.group_id = g.id) \
             FROM sync_stage_groups s JOIN directory_groups g ON g.provider_id = $2 AND g.external_id = s.external_id \
             WHERE s.run_id = $1 AND s.change = 'gone' ORDER BY g.name LIMIT $3",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(REMOVALS_KEPT)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT OR IGNORE INTO sync_run_membership_removals \
                (run_id, group_external_id, group_name, user_external_id, email, display_name, group_deleted) \
             SELECT $1, g.external_id, g.name, u.external_id, u.email, u.display_name, FALSE \
             FROM sync_stage_memberships sm JOIN directory_groups g ON g.id = sm.group_id JOIN directory_users u ON u.id = sm.user_id \
             WHERE sm.run_id = $1 AND sm.change = 'remove' ORDER BY g.name, u.email LIMIT $2",
        )
        .bind(run_id)
        .bind(REMOVALS_KEPT)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT OR IGNORE INTO sync_run_membership_removals \
                (run_id, group_external_id, group_name, user_external_id, email, display_name, group_deleted) \
             SELECT $1, g.external_id, g.name, u.external_id, u.email, u.display_name, TRUE \
             FROM sync_stage_groups s JOIN directory_groups g ON g.provider_id = $2 AND g.external_id = s.external_id \
             JOIN directory_memberships m ON m.group_id = g.id JOIN directory_users u ON u.id = m.user_id \
             WHERE s.run_id = $1 AND s.change = 'gone' ORDER BY g.name, u.email LIMIT $3",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(REMOVALS_KEPT)
        .execute(&mut *tx)
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
        let groups = sqlx::query_as(
            "SELECT external_id, name, members FROM sync_run_group_removals WHERE run_id = $1 ORDER BY name, external_id LIMIT $2",
        )
        .bind(run_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let memberships = sqlx::query_as(
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
        let rows = sqlx::query_as(
            "SELECT directory_user_id, external_id, email, display_name, okta_status, action, account_role \
             FROM sync_run_removals WHERE run_id = $1 ORDER BY email LIMIT $2",
        )
        .bind(run_id)
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM sync_run_removals WHERE run_id = $1")
            .bind(run_id)
            .fetch_one(&self.pool)
            .await?;
        Ok((rows, n))
    }

    // ---------- the final transaction ----------

    pub async fn begin_directory(&self) -> Result<DirectoryTx, StoreError> {
        let mut tx = self.begin_write().await?;
        // The switch-over touches every index of a large directory: a 16 MiB page cache
        // instead of SQLite's 2 MiB halves it. Set back before the connection goes back.
        sqlx::query("PRAGMA cache_size = -16384").execute(&mut *tx).await?;
        Ok(DirectoryTx { tx, store: self.clone() })
    }

    // ---------- the Directory pages ----------

    pub async fn directory_users(&self, q: &DirectoryQuery) -> Result<DirectoryPage<DirectoryUserView>, StoreError> {
        let filter = "WHERE ($1 IS NULL OR d.provider_id = $1) AND ($2 IS NULL OR d.state = $2) \
            AND ($3 IS NULL OR lower(d.display_name) LIKE $3 ESCAPE '\\' OR d.email LIKE $3 ESCAPE '\\' \
                 OR lower(d.login) LIKE $3 ESCAPE '\\')";
        let pattern = like_pattern(&q.search);
        let sql = format!("{} {filter} ORDER BY d.display_name, d.email, d.id LIMIT $4 OFFSET $5", *USER_VIEW);
        let items = sqlx::query_as(&sql)
            .bind(&q.provider_id)
            .bind(&q.state)
            .bind(&pattern)
            .bind(page_limit(q.limit))
            .bind(q.offset as i64)
            .fetch_all(&self.pool)
            .await?;
        let count = format!("SELECT COUNT(*) FROM directory_users d {filter}");
        let (total,): (i64,) =
            sqlx::query_as(&count).bind(&q.provider_id).bind(&q.state).bind(&pattern).fetch_one(&self.pool).await?;
        Ok(DirectoryPage { items, total })
    }

    pub async fn directory_user(&self, id: &str) -> Result<Option<DirectoryUserView>, StoreError> {
        let sql = format!("{} WHERE d.id = $1", *USER_VIEW);
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    pub async fn directory_groups(&self, q: &DirectoryQuery) -> Result<DirectoryPage<DirectoryGroupView>, StoreError> {
        let filter = "WHERE ($1 IS NULL OR g.provider_id = $1) AND ($2 IS NULL OR lower(g.name) LIKE $2 ESCAPE '\\')";
        let pattern = like_pattern(&q.search);
        let sql = format!("{GROUP_VIEW} {filter} ORDER BY g.name, g.id LIMIT $3 OFFSET $4");
        let items = sqlx::query_as(&sql)
            .bind(&q.provider_id)
            .bind(&pattern)
            .bind(page_limit(q.limit))
            .bind(q.offset as i64)
            .fetch_all(&self.pool)
            .await?;
        let count = format!("SELECT COUNT(*) FROM directory_groups g {filter}");
        let (total,): (i64,) = sqlx::query_as(&count).bind(&q.provider_id).bind(&pattern).fetch_one(&self.pool).await?;
        Ok(DirectoryPage { items, total })
    }

    pub async fn directory_group(&self, id: &str) -> Result<Option<DirectoryGroupView>, StoreError> {
        let sql = format!("{GROUP_VIEW} WHERE g.id = $1");
        Ok(sqlx::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// A user's groups (Everyone included), by name.
    pub async fn directory_user_groups(&self, user_id: &str) -> Result<Vec<DirectoryGroupView>, StoreError> {
        let sql = format!(
            "{GROUP_VIEW} WHERE g.id IN (SELECT m.group_id FROM directory_memberships m WHERE m.user_id = $1) \
             OR (g.kind = 'BUILT_IN' AND g.provider_id = (SELECT u.provider_id FROM directory_users u WHERE u.id = $1)) \
             ORDER BY g.name, g.id"
        );
        Ok(sqlx::query_as(&sql).bind(user_id).fetch_all(&self.pool).await?)
    }

    /// A group's members, searchable and paged; Everyone lists every user of its provider.
    pub async fn directory_group_members(
        &self,
        group_id: &str,
        q: &DirectoryQuery,
    ) -> Result<DirectoryPage<DirectoryUserView>, StoreError> {
        let filter = "WHERE (d.id IN (SELECT m.user_id FROM directory_memberships m WHERE m.group_id = $1) \
                OR EXISTS (SELECT 1 FROM directory_groups g WHERE g.id = $1 AND g.kind = 'BUILT_IN' \
                    AND g.provider_id = d.provider_id AND d.state <> 'disabled')) \
            AND ($2 IS NULL OR lower(d.display_name) LIKE $2 ESCAPE '\\' OR d.email LIKE $2 ESCAPE '\\' \
                 OR lower(d.login) LIKE $2 ESCAPE '\\')";
        let pattern = like_pattern(&q.search);
        let sql = format!("{} {filter} ORDER BY d.display_name, d.email, d.id LIMIT $3 OFFSET $4", *USER_VIEW);
        let items = sqlx::query_as(&sql)
            .bind(group_id)
            .bind(&pattern)
            .bind(page_limit(q.limit))
            .bind(q.offset as i64)
            .fetch_all(&self.pool)
            .await?;
        let count = format!("SELECT COUNT(*) FROM directory_users d {filter}");
        let (total,): (i64,) = sqlx::query_as(&count).bind(group_id).bind(&pattern).fetch_one(&self.pool).await?;
        Ok(DirectoryPage { items, total })
    }

    /// Users, groups and stored memberships of a provider (for tests, progress and the benchmark).
    pub async fn directory_counts(&self, provider_id: &str) -> Result<(i64, i64, i64), StoreError> {
        let (users, groups, memberships): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 AND state = 'active'), \
                    (SELECT COUNT(*) FROM directory_groups WHERE provider_id = $1), \
                    (SELECT COUNT(*) FROM directory_memberships WHERE provider_id = $1)",
        )
        .bind(provider_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((users, groups, memberships))
    }

    /// (group external id, user external id) of every stored membership of a provider, sorted.
    pub async fn directory_membership_pairs(&self, provider_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT g.external_id, u.external_id FROM directory_memberships m \
             JOIN directory_groups g ON g.id = m.group_id JOIN directory_users u ON u.id = m.user_id \
             WHERE m.provider_id = $1 ORDER BY g.external_id, u.external_id",
        )
        .bind(provider_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

/// Active users the run stages as gone (`d`), their staged row (`s`) and the console
/// account tied to them by identity (`a`, see [`TIED_ACCOUNT`]). Parameters: $1 run, $2 provider.
/// Driven from the (small) staging: CROSS JOIN keeps SQLite from scanning the directory.
static CANDIDATES: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "sync_stage_users s CROSS JOIN directory_users d \
         ON d.provider_id = $2 AND d.external_id = s.external_id {TIED_ACCOUNT} \
         WHERE s.run_id = $1 AND s.change = 'gone' AND d.state = 'active'"
    )
});

async fn clear_stage_in(tx: &mut sqlx::Transaction<'_, Sqlite>, run_id: &str) -> Result<(), StoreError> {
    for table in ["sync_stage_users", "sync_stage_groups", "sync_stage_memberships"] {
        // Usually the table holds this run's rows only: emptying it whole skips the per-row
        // index work (SQLite truncates a DELETE without WHERE).
        let others: Option<(i64,)> = sqlx::query_as(&format!("SELECT 1 FROM {table} WHERE run_id <> $1 LIMIT 1"))
            .bind(run_id)
            .fetch_optional(&mut **tx)
            .await?;
        match others {
            None => sqlx::query(&format!("DELETE FROM {table}")).execute(&mut **tx).await?,
            Some(_) => {
                sqlx::query(&format!("DELETE FROM {table} WHERE run_id = $1")).bind(run_id).execute(&mut **tx).await?
            }
        };
    }
    Ok(())
}

async fn update_run(conn: &mut sqlx::SqliteConnection, r: &SyncRunRow) -> Result<(), StoreError> {
    sqlx::query(
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

const DEFAULT_CACHE: &str = "PRAGMA cache_size = -2000";

impl DirectoryTx {
    pub async fn commit(mut self) -> Result<(), StoreError> {
        sqlx::query(DEFAULT_CACHE).execute(&mut *self.tx).await?;
        self.tx.commit().await?;
        self.store.changed();
        Ok(())
    }

    /// Undoes everything (dry runs, a tripped breaker).
    pub async fn rollback(mut self) -> Result<(), StoreError> {
        sqlx::query(DEFAULT_CACHE).execute(&mut *self.tx).await?;
        self.tx.rollback().await?;
        Ok(())
    }

    pub async fn insert_audit(&mut self, r: &AuditRecord) -> Result<(), StoreError> {
        super::audit::insert_audit_with(&mut *self.tx, r).await
    }

    pub async fn update_run(&mut self, r: &SyncRunRow) -> Result<(), StoreError> {
        update_run(&mut self.tx, r).await
    }

    /// The run's status, read inside the transaction (approval races).
    pub async fn run_status(&mut self, run_id: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT status FROM sync_runs WHERE id = $1")
            .bind(run_id)
            .fetch_optional(&mut *self.tx)
            .await?;
        Ok(row.map(|r| r.0))
    }

    pub async fn set_watermark(
        &mut self,
        provider_id: &str,
        watermark: Option<&str>,
        full_at: Option<i64>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE sync_settings SET watermark = COALESCE($2, watermark), last_full_at = COALESCE($3, last_full_at) \
             WHERE provider_id = $1",
        )
        .bind(provider_id)
        .bind(watermark)
        .bind(full_at)
        .execute(&mut *self.tx)
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
        let (users,): (bool,) = sqlx::query_as(
            "SELECT EXISTS (SELECT 1 FROM sync_stage_users WHERE run_id = $1 AND change = 'gone') \
             OR EXISTS (SELECT 1 FROM sync_stage_groups WHERE run_id = $1 AND change = 'gone') \
             OR EXISTS (SELECT 1 FROM sync_stage_memberships WHERE run_id = $1 AND change = 'remove')",
        )
        .bind(run_id)
        .fetch_one(&mut *self.tx)
        .await?;
        Ok(users)
    }

    pub async fn count_active_users(&mut self, provider_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 AND state = 'active'")
                .bind(provider_id)
                .fetch_one(&mut *self.tx)
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
        Ok(sqlx::query_as(&sql).bind(run_id).bind(provider_id).bind(limit).fetch_all(&mut *self.tx).await?)
    }

    /// The console accounts, tied to people the run removes, that are admins now: read before
    /// the run changes memberships, which may be what makes them admins.
    pub async fn admin_candidate_accounts(
        &mut self,
        run_id: &str,
        provider_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        let sql = format!("SELECT a.id FROM {} AND a.id IS NOT NULL AND {}", *CANDIDATES, admin_account("a"));
        let rows: Vec<(String,)> = sqlx::query_as(&sql).bind(run_id).bind(provider_id).fetch_all(&mut *self.tx).await?;
        Ok(rows.into_iter().map(|r| r.0).collect())
    }

    /// Admins whose console account is not disabled: by their own role or through role mappings.
    pub async fn count_active_admins(&mut self) -> Result<i64, StoreError> {
        let sql = format!("SELECT COUNT(*) FROM users a WHERE a.disabled_at IS NULL AND {}", admin_account("a"));
        let (n,): (i64,) = sqlx::query_as(&sql).fetch_one(&mut *self.tx).await?;
        Ok(n)
    }

    /// Disables a console account and ends its sessions; the number of sessions ended.
    pub async fn disable_account(&mut self, account_id: &str, now: i64) -> Result<u64, StoreError> {
        sqlx::query("UPDATE users SET disabled_at = $2, updated_at = $2 WHERE id = $1 AND disabled_at IS NULL")
            .bind(account_id)
            .bind(now)
            .execute(&mut *self.tx)
            .await?;
        sqlx::query("DELETE FROM access_sessions WHERE user_id = $1").bind(account_id).execute(&mut *self.tx).await?;
        let done =
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(account_id).execute(&mut *self.tx).await?;
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
        let done = sqlx::query(
            "UPDATE users SET disabled_at = NULL, updated_at = $3 WHERE disabled_at IS NOT NULL AND id = \
             (SELECT user_id FROM user_identities WHERE provider_id = $1 AND subject = $2)",
        )
        .bind(provider_id)
        .bind(external_id)
        .bind(now)
        .execute(&mut *self.tx)
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
        sqlx::query(
            "UPDATE directory_users SET state = $2, okta_status = $3, removed_at = $5, last_changed_run = $4, updated_at = $5, \
             account_disabled_by_run = CASE WHEN $6 THEN $4 ELSE account_disabled_by_run END WHERE id = $1",
        )
        .bind(id)
        .bind(state)
        .bind(okta_status)
        .bind(run_id)
        .bind(now)
        .bind(account_disabled)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    /// Deletes a directory user; their memberships go with them. How many memberships went.
    pub async fn delete_user(&mut self, id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM directory_memberships WHERE user_id = $1")
            .bind(id)
            .fetch_one(&mut *self.tx)
            .await?;
        sqlx::query("DELETE FROM directory_users WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
        Ok(n)
    }

    /// The next staged users marked `create`, after `after` (keyset), for the audit log.
    pub async fn created_users(
        &mut self,
        run_id: &str,
        after: &str,
        limit: i64,
    ) -> Result<Vec<CreatedUserRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT external_id, email, display_name FROM sync_stage_users \
             WHERE run_id = $1 AND change = 'create' AND external_id > $2 ORDER BY external_id LIMIT $3",
        )
        .bind(run_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    pub async fn insert_created_users(
        &mut self,
        run_id: &str,
        provider_id: &str,
        source: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let done = sqlx::query(
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
        .execute(&mut *self.tx)
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
        Ok(sqlx::query_as(
            "SELECT d.id, s.external_id, s.email, d.email AS old_email, s.login, d.login AS old_login, \
                s.display_name, d.display_name AS old_display_name, s.first_name, d.first_name AS old_first_name, \
                s.last_name, d.last_name AS old_last_name, s.okta_status, d.okta_status AS old_okta_status, \
                d.state AS old_state, d.account_disabled_by_run \
             FROM sync_stage_users s JOIN directory_users d ON d.provider_id = $2 AND d.external_id = s.external_id \
             WHERE s.run_id = $1 AND s.change = 'update' AND s.external_id > $3 ORDER BY s.external_id LIMIT $4",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Writes staged `update` users over the stored ones; restored users become active again.
    pub async fn apply_updated_users(&mut self, run_id: &str, provider_id: &str, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "UPDATE directory_users SET email = s.email, login = s.login, first_name = s.first_name, last_name = s.last_name, \
             display_name = s.display_name, okta_status = s.okta_status, last_updated = s.last_updated, \
             fingerprint = s.fingerprint, state = 'active', removed_at = NULL, account_disabled_by_run = NULL, \
             last_changed_run = $1, updated_at = $3 \
             FROM sync_stage_users s WHERE s.run_id = $1 AND s.change = 'update' \
             AND directory_users.provider_id = $2 AND directory_users.external_id = s.external_id",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok(done.rows_affected())
    }

    /// Stored groups the provider no longer lists.
    pub async fn deleted_groups(
        &mut self,
        run_id: &str,
        provider_id: &str,
    ) -> Result<Vec<DeletedGroupRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT g.id, g.external_id, g.name, (SELECT COUNT(*) FROM directory_memberships m WHERE m.group_id = g.id) AS members \
             FROM directory_groups g JOIN sync_stage_groups s ON s.run_id = $1 AND s.external_id = g.external_id \
             AND s.change = 'gone' WHERE g.provider_id = $2 ORDER BY g.name",
        )
        .bind(run_id)
        .bind(provider_id)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    pub async fn delete_group(&mut self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM directory_groups WHERE id = $1").bind(id).execute(&mut *self.tx).await?;
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
        Ok(sqlx::query_as(
            "SELECT s.external_id, s.name, g.name AS old_name, s.description, g.description AS old_description \
             FROM sync_stage_groups s LEFT JOIN directory_groups g ON g.provider_id = $2 AND g.external_id = s.external_id \
             WHERE s.run_id = $1 AND s.change = $3 AND s.external_id > $4 ORDER BY s.external_id LIMIT $5",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(change)
        .bind(after)
        .bind(limit)
        .fetch_all(&mut *self.tx)
        .await?)
    }

    /// Writes staged new and changed groups; (created, updated). Groups whose only change is
    /// Okta's timestamps are updated but not counted.
    pub async fn apply_groups(&mut self, run_id: &str, provider_id: &str, now: i64) -> Result<(u64, u64), StoreError> {
        let created = sqlx::query(
            "INSERT INTO directory_groups (id, provider_id, external_id, name, description, kind, source, last_updated, \
             last_membership_updated, synced_at, first_seen_run, last_changed_run) \
             SELECT id, $2, external_id, name, description, kind, 'sync', last_updated, last_membership_updated, $3, $1, $1 \
             FROM sync_stage_groups WHERE run_id = $1 AND change = 'create' ON CONFLICT (provider_id, external_id) DO NOTHING",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        let updated = sqlx::query(
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
        .execute(&mut *self.tx)
        .await?;
        let (changed,): (i64,) =
            sqlx::query_as("SELECT COUNT(*) FROM sync_stage_groups WHERE run_id = $1 AND change = 'update'")
                .bind(run_id)
                .fetch_one(&mut *self.tx)
                .await?;
        Ok((created.rows_affected(), (changed as u64).min(updated.rows_affected())))
    }

    /// A provider's stored groups.
    pub async fn count_groups(&mut self, provider_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM directory_groups WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(n)
    }

    // ---------- memberships ----------

    /// A provider's stored memberships.
    pub async fn count_memberships(&mut self, provider_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM directory_memberships WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_one(&mut *self.tx)
            .await?;
        Ok(n)
    }

    /// Each stored group's provider id and name.
    pub async fn group_names(&mut self, provider_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(sqlx::query_as("SELECT external_id, name FROM directory_groups WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_all(&mut *self.tx)
            .await?)
    }

    /// Staged membership changes after (group, user) (keyset), for the audit log.
    pub async fn membership_changes(
        &mut self,
        run_id: &str,
        after: (&str, &str),
        limit: i64,
    ) -> Result<Vec<MembershipChangeRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT group_external_id, user_external_id, change FROM sync_stage_memberships sm \
             WHERE run_id = $1 AND (group_external_id, user_external_id) > ($2, $3) \
             ORDER BY group_external_id, user_external_id LIMIT $4",
        )
        .bind(run_id)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(&mut *self.tx)
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
        let removed = sqlx::query(
            "DELETE FROM directory_memberships WHERE (group_id, user_id) IN \
             (SELECT group_id, user_id FROM sync_stage_memberships WHERE run_id = $1 AND change = 'remove')",
        )
        .bind(run_id)
        .execute(&mut *self.tx)
        .await?;
        let added = sqlx::query(
            "INSERT INTO directory_memberships (group_id, user_id, provider_id, source, sync_run_id, created_at) \
             SELECT sm.group_id, sm.user_id, $2, 'sync', $1, $3 FROM sync_stage_memberships sm \
             WHERE sm.run_id = $1 AND sm.change = 'add' \
             AND EXISTS (SELECT 1 FROM directory_users u WHERE u.id = sm.user_id) \
             AND EXISTS (SELECT 1 FROM directory_groups g WHERE g.id = sm.group_id) \
             ON CONFLICT (group_id, user_id) DO NOTHING",
        )
        .bind(run_id)
        .bind(provider_id)
        .bind(now)
        .execute(&mut *self.tx)
        .await?;
        Ok((removed.rows_affected(), added.rows_affected()))
    }
}
