//! The staging tables a run writes while it fetches, and what it compares them with.

use crate::store::db;
use sqlx::FromRow;

use crate::store::{Store, StoreError};

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

impl Store {
    // ---------- staging ----------

    /// Writes a batch of fetched pages to the run's staging, in one transaction.
    pub async fn stage(&self, run_id: &str, batch: &StageBatch) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for chunk in batch.users.chunks(INSERT_CHUNK) {
            let mut q = db::Builder::new(
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
            q.build().execute(&mut tx).await?;
        }
        for chunk in batch.groups.chunks(INSERT_CHUNK) {
            let mut q = db::Builder::new(
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
            q.build().execute(&mut tx).await?;
        }
        for chunk in batch.memberships.chunks(INSERT_CHUNK) {
            let mut q = db::Builder::new(
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
            q.build().execute(&mut tx).await?;
        }
        for g in &batch.vanished_groups {
            // Gone before its members were listed: the directory drops it (if it had it).
            db::query("DELETE FROM sync_stage_memberships WHERE run_id = $1 AND group_external_id = $2")
                .bind(run_id)
                .bind(g)
                .execute(&mut tx)
                .await?;
            db::query(
                "INSERT INTO sync_stage_groups (run_id, external_id, id, change, name, kind) VALUES ($1, $2, '', 'gone', '', '') \
                 ON CONFLICT (run_id, external_id) DO UPDATE SET change = 'gone'",
            )
            .bind(run_id)
            .bind(g)
            .execute(&mut tx)
            .await?;
        }
        for chunk in batch.phantom_users.chunks(5000) {
            let mut q = db::Builder::new("DELETE FROM sync_stage_memberships WHERE run_id = ");
            q.push_bind(run_id).push(" AND change = 'add' AND user_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            list.push_unseparated(")");
            q.build().execute(&mut tx).await?;
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
            db::query(&sql).execute(&self.pool).await?;
        }
        Ok(())
    }

    /// Every stored user of a provider, for a run that lists everyone.
    pub async fn user_marks(&self, provider_id: &str) -> Result<Vec<UserMark>, StoreError> {
        Ok(db::query_as("SELECT external_id, id, fingerprint, state FROM directory_users WHERE provider_id = $1")
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
            let mut q = db::Builder::new(
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
        Ok(db::query_as(
            "SELECT id, external_id, name, description, kind, source, last_updated, last_membership_updated \
             FROM directory_groups WHERE provider_id = $1",
        )
        .bind(provider_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Every stored membership of a provider: (group row id, user row id).
    pub async fn provider_membership_ids(&self, provider_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(db::query_as("SELECT group_id, user_id FROM directory_memberships WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_all(&self.pool)
            .await?)
    }

    /// A stored group's members: (provider id, row id).
    pub async fn group_member_ids(&self, group_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(db::query_as(
            "SELECT u.external_id, u.id FROM directory_memberships m JOIN directory_users u ON u.id = m.user_id WHERE m.group_id = $1",
        )
        .bind(group_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

pub(super) async fn clear_stage_in(tx: &mut crate::store::Tx, run_id: &str) -> Result<(), StoreError> {
    for table in ["sync_stage_users", "sync_stage_groups", "sync_stage_memberships"] {
        // Usually the table holds this run's rows only: emptying it whole skips the per-row
        // index work (SQLite truncates a DELETE without WHERE).
        let others: Option<(String,)> = db::query_as(&format!("SELECT run_id FROM {table} WHERE run_id <> $1 LIMIT 1"))
            .bind(run_id)
            .fetch_optional(&mut *tx)
            .await?;
        match others {
            None => db::query(&format!("DELETE FROM {table}")).execute(&mut *tx).await?,
            Some(_) => {
                db::query(&format!("DELETE FROM {table} WHERE run_id = $1")).bind(run_id).execute(&mut *tx).await?
            }
        };
    }
    Ok(())
}
