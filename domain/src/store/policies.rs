//! Applications, their hosts and access policies; and the directory reads that policy
//! previews, tests and labels need. Each change is written with its audit record in one
//! transaction: a change is never stored without its trace, nor the other way round.

use crate::store::db;
use sqlx::FromRow;

use super::{AuditRecord, Store, StoreError, Tx};

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct ApplicationRow {
    pub id: String,
    pub name: String,
    pub session_duration_minutes: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct HostRow {
    pub application_id: String,
    pub hostname: String,
    pub path_prefix: String,
}

/// A policy; `rules` is JSON.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct PolicyRow {
    pub id: String,
    pub application_id: String,
    pub position: i64,
    pub name: String,
    pub action: String,
    pub rules: String,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A directory user as policies see them.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct PersonRow {
    pub id: String,
    pub provider_id: String,
    pub external_id: String,
    pub email: String,
    pub display_name: String,
    /// `active`, `disabled` or `kept`.
    pub state: String,
    /// The provider's status (ACTIVE, SUSPENDED, DEPROVISIONED, GONE, …).
    pub okta_status: String,
    /// Whether the stored email is vouched for: the provider asserts verified emails, or the
    /// person's identity there carries `email_verified` for this very email.
    pub email_verified: bool,
}

impl PersonRow {
    /// Whether the directory still has this person: not removed, deactivated or suspended.
    /// Application access ends when this turns false.
    pub fn in_good_standing(&self) -> bool {
        self.state == "active" && !matches!(self.okta_status.as_str(), "SUSPENDED" | "DEPROVISIONED" | "GONE")
    }
}

/// A directory group with its provider's name, for pickers and labels.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct GroupLabelRow {
    pub provider_id: String,
    pub provider_name: String,
    pub external_id: String,
    pub name: String,
    pub kind: String,
}

/// Cheap aggregates that change whenever the directory does (users, memberships, built-in
/// groups): a cached copy of the directory is reused while they stay the same.
#[derive(Debug, Clone, Copy, FromRow, PartialEq, Eq)]
pub struct DirectoryStamp {
    pub users: i64,
    pub users_updated: i64,
    pub memberships: i64,
    pub memberships_created: i64,
    pub groups: i64,
    pub groups_synced: i64,
}

/// An application with its hosts, for a transaction that creates it.
#[derive(Debug, Clone)]
pub struct NewApplication<'a> {
    pub row: &'a ApplicationRow,
    pub hosts: &'a [HostRow],
}

const APP_COLUMNS: &str = "id, name, session_duration_minutes, created_at, updated_at";
const POLICY_COLUMNS: &str = "id, application_id, position, name, action, rules, enabled, created_at, updated_at";
const PERSON_COLUMNS: &str = "id, provider_id, external_id, email, display_name, state, okta_status, \
    (COALESCE((SELECT p.asserts_verified_email FROM identity_providers p WHERE p.id = directory_users.provider_id), FALSE) \
     OR EXISTS (SELECT 1 FROM user_identities i WHERE i.provider_id = directory_users.provider_id \
                AND i.subject = directory_users.external_id AND i.email_verified AND i.email = directory_users.email)) \
    AS email_verified";
const GROUP_LABEL: &str = "SELECT g.provider_id, p.name AS provider_name, g.external_id, g.name, g.kind \
    FROM directory_groups g JOIN identity_providers p ON p.id = g.provider_id";

/// Values per `IN (...)` list: well under SQLite's parameter limit.
const IN_CHUNK: usize = 500;

impl Store {
    // ---------- applications ----------

    pub async fn applications(&self) -> Result<Vec<ApplicationRow>, StoreError> {
        let sql = format!("SELECT {APP_COLUMNS} FROM applications ORDER BY name, id");
        Ok(db::query_as(&sql).fetch_all(&self.pool).await?)
    }

    pub async fn application(&self, id: &str) -> Result<Option<ApplicationRow>, StoreError> {
        let sql = format!("SELECT {APP_COLUMNS} FROM applications WHERE id = $1");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    pub async fn application_by_name(&self, name: &str) -> Result<Option<ApplicationRow>, StoreError> {
        let sql = format!("SELECT {APP_COLUMNS} FROM applications WHERE name = $1");
        Ok(db::query_as(&sql).bind(name).fetch_optional(&self.pool).await?)
    }

    /// Every host rule of every application.
    pub async fn application_hosts(&self) -> Result<Vec<HostRow>, StoreError> {
        Ok(db::query_as(
            "SELECT application_id, hostname, path_prefix FROM application_hosts ORDER BY application_id, hostname, path_prefix",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn hosts_of(&self, application_id: &str) -> Result<Vec<HostRow>, StoreError> {
        Ok(db::query_as(
            "SELECT application_id, hostname, path_prefix FROM application_hosts WHERE application_id = $1 \
             ORDER BY hostname, path_prefix",
        )
        .bind(application_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Inserts an application and its hosts.
    pub async fn insert_application(&self, app: NewApplication<'_>, audit: &AuditRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_application_in(&mut tx, app).await?;
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Updates an application and replaces its hosts. `false`: no such application.
    pub async fn update_application(
        &self,
        row: &ApplicationRow,
        hosts: &[HostRow],
        audit: &AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if update_application_in(&mut tx, row, hosts).await? != 1 {
            return Ok(false);
        }
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes an application; its hosts and policies go with it.
    pub async fn delete_application(&self, id: &str, audit: &AuditRecord) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        if delete_application_in(&mut tx, id).await? != 1 {
            return Ok(false);
        }
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    // ---------- policies ----------

    /// Every policy, by application and position.
    pub async fn all_policies(&self) -> Result<Vec<PolicyRow>, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM policies ORDER BY application_id, position, created_at");
        Ok(db::query_as(&sql).fetch_all(&self.pool).await?)
    }

    pub async fn application_policies(&self, application_id: &str) -> Result<Vec<PolicyRow>, StoreError> {
        let sql =
            format!("SELECT {POLICY_COLUMNS} FROM policies WHERE application_id = $1 ORDER BY position, created_at");
        Ok(db::query_as(&sql).bind(application_id).fetch_all(&self.pool).await?)
    }

    pub async fn policy(&self, id: &str) -> Result<Option<PolicyRow>, StoreError> {
        let sql = format!("SELECT {POLICY_COLUMNS} FROM policies WHERE id = $1");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// Inserts a policy after the application's last one; returns its position.
    pub async fn insert_policy(&self, row: &PolicyRow, audit: &AuditRecord) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let position = next_position_in(&mut tx, &row.application_id).await?;
        insert_policy_in(&mut tx, &PolicyRow { position, ..row.clone() }).await?;
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(position)
    }

    /// Updates name, action, rules and enabled. `false`: no such policy.
    pub async fn update_policy(&self, row: &PolicyRow, audit: &AuditRecord) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = db::query(
            "UPDATE policies SET name = $2, action = $3, rules = $4, enabled = $5, updated_at = $6 WHERE id = $1",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.action)
        .bind(&row.rules)
        .bind(row.enabled)
        .bind(row.updated_at)
        .execute(&mut tx)
        .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes a policy and closes the gap in its application's positions.
    pub async fn delete_policy(&self, id: &str, audit: &AuditRecord) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let app: Option<(String,)> =
            db::query_as("SELECT application_id FROM policies WHERE id = $1").bind(id).fetch_optional(&mut tx).await?;
        let Some((application_id,)) = app else {
            return Ok(false);
        };
        db::query("DELETE FROM policies WHERE id = $1").bind(id).execute(&mut tx).await?;
        let rest: Vec<(String,)> =
            db::query_as("SELECT id FROM policies WHERE application_id = $1 ORDER BY position, created_at")
                .bind(&application_id)
                .fetch_all(&mut tx)
                .await?;
        let ids: Vec<String> = rest.into_iter().map(|(id,)| id).collect();
        set_positions_in(&mut tx, &application_id, &ids).await?;
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Sets the order of an application's policies: `ids` must be all of them (the caller
    /// checks). `false`: one of them is not, or no longer, the application's.
    pub async fn set_policy_order(
        &self,
        application_id: &str,
        ids: &[String],
        audit: &AuditRecord,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let (count,): (i64,) = db::query_as("SELECT COUNT(*) FROM policies WHERE application_id = $1")
            .bind(application_id)
            .fetch_one(&mut tx)
            .await?;
        if count != ids.len() as i64 || !set_positions_in(&mut tx, application_id, ids).await? {
            return Ok(false);
        }
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An import in one transaction: creates the application if `new_application` is given,
    /// deletes its policies when `replace`, then appends `rows` in their order (positions
    /// are assigned here). Returns how many policies were replaced.
    pub async fn import_policies(
        &self,
        new_application: Option<NewApplication<'_>>,
        application_id: &str,
        replace: bool,
        rows: &[PolicyRow],
        audit: &AuditRecord,
    ) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        if let Some(app) = new_application {
            insert_application_in(&mut tx, app).await?;
        }
        let replaced = if replace { delete_policies_in(&mut tx, application_id).await? } else { 0 };
        append_policies_in(&mut tx, application_id, rows).await?;
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(replaced)
    }

    // ---------- directory reads ----------

    pub async fn directory_stamp(&self) -> Result<DirectoryStamp, StoreError> {
        Ok(db::query_as(
            "SELECT (SELECT COUNT(*) FROM directory_users) AS users, \
                    (SELECT COALESCE(MAX(updated_at), 0) FROM directory_users) AS users_updated, \
                    (SELECT COUNT(*) FROM directory_memberships) AS memberships, \
                    (SELECT COALESCE(MAX(created_at), 0) FROM directory_memberships) AS memberships_created, \
                    (SELECT COUNT(*) FROM directory_groups) AS groups, \
                    (SELECT COALESCE(MAX(synced_at), 0) FROM directory_groups) AS groups_synced",
        )
        .fetch_one(&self.pool)
        .await?)
    }

    /// Every active directory user, by display name.
    pub async fn active_people(&self) -> Result<Vec<PersonRow>, StoreError> {
        let sql = format!(
            "SELECT {PERSON_COLUMNS} FROM directory_users WHERE state = 'active' ORDER BY display_name, email, id"
        );
        Ok(db::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// Calls `f(user row id, group's provider id, group's external id)` for every stored
    /// membership of an active user, streaming: a large directory is not held twice in memory.
    /// Built-in groups (Okta's Everyone) have no stored members: see [`Store::builtin_groups`].
    pub async fn for_each_active_membership(
        &self,
        mut f: impl FnMut(String, String, String),
    ) -> Result<(), StoreError> {
        db::query_as::<(String, String, String)>(
            "SELECT m.user_id, g.provider_id, g.external_id FROM directory_memberships m \
             JOIN directory_groups g ON g.id = m.group_id JOIN directory_users u ON u.id = m.user_id \
             WHERE u.state = 'active'",
        )
        .for_each(&self.pool, |(user_id, provider_id, external_id)| f(user_id, provider_id, external_id))
        .await?;
        Ok(())
    }

    /// (provider id, external id) of the groups that hold every user of their provider.
    pub async fn builtin_groups(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(db::query_as("SELECT provider_id, external_id FROM directory_groups WHERE kind = 'BUILT_IN'")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn person(&self, id: &str) -> Result<Option<PersonRow>, StoreError> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM directory_users WHERE id = $1");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    pub async fn person_by_external(
        &self,
        provider_id: &str,
        external_id: &str,
    ) -> Result<Option<PersonRow>, StoreError> {
        let sql = format!("SELECT {PERSON_COLUMNS} FROM directory_users WHERE provider_id = $1 AND external_id = $2");
        Ok(db::query_as(&sql).bind(provider_id).bind(external_id).fetch_optional(&self.pool).await?)
    }

    /// Directory users with these provider ids (any provider: the caller matches the pair).
    pub async fn people_by_external_ids(&self, external_ids: &[String]) -> Result<Vec<PersonRow>, StoreError> {
        self.fetch_in(&format!("SELECT {PERSON_COLUMNS} FROM directory_users WHERE external_id IN ("), external_ids)
            .await
    }

    /// `head` followed by the bound `ids` and `)`, in chunks: SQLite caps bound parameters.
    async fn fetch_in<T>(&self, head: &str, ids: &[String]) -> Result<Vec<T>, StoreError>
    where
        T: db::Record,
    {
        let mut out = Vec::new();
        for chunk in ids.chunks(IN_CHUNK) {
            let mut q = db::Builder::new(head);
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            list.push_unseparated(")");
            out.extend(q.build_query_as::<T>().fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    /// A user's groups as (provider id, external id), the built-in ones of their provider included.
    pub async fn person_group_keys(&self, user_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(db::query_as(
            "SELECT g.provider_id, g.external_id FROM directory_groups g \
             WHERE g.id IN (SELECT m.group_id FROM directory_memberships m WHERE m.user_id = $1) \
                OR (g.kind = 'BUILT_IN' AND g.provider_id = (SELECT u.provider_id FROM directory_users u WHERE u.id = $1))",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Groups with these provider ids (any provider: the caller matches the pair).
    pub async fn groups_by_external_ids(&self, external_ids: &[String]) -> Result<Vec<GroupLabelRow>, StoreError> {
        self.fetch_in(&format!("{GROUP_LABEL} WHERE g.external_id IN ("), external_ids).await
    }

    /// Groups whose name contains `search` (case-insensitive), by name; all when empty.
    pub async fn search_group_labels(&self, search: &str, limit: u32) -> Result<Vec<GroupLabelRow>, StoreError> {
        let s = search.trim().to_lowercase();
        let pattern = format!("%{}%", s.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_"));
        let sql = format!(
            "{GROUP_LABEL} WHERE lower(g.name) LIKE $1 ESCAPE '\\' OR g.external_id = $2 ORDER BY g.name, g.external_id LIMIT $3"
        );
        Ok(db::query_as(&sql)
            .bind(pattern)
            .bind(search.trim())
            .bind(i64::from(limit.clamp(1, 500)))
            .fetch_all(&self.pool)
            .await?)
    }

    /// (id, name) of every identity provider.
    pub async fn provider_names(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(db::query_as("SELECT id, name FROM identity_providers ORDER BY name").fetch_all(&self.pool).await?)
    }

    // ---------- fixtures ----------

    /// Stores a directory user directly, as sync would. For tests and demos only.
    #[doc(hidden)]
    pub async fn insert_directory_person_fixture(&self, row: &PersonRow, now: i64) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO directory_users (id, provider_id, external_id, email, login, first_name, last_name, display_name, \
             okta_status, state, fingerprint, source, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $4, '', '', $5, $8, $6, '', 'sync', $7, $7)",
        )
        .bind(&row.id)
        .bind(&row.provider_id)
        .bind(&row.external_id)
        .bind(&row.email)
        .bind(&row.display_name)
        .bind(&row.state)
        .bind(now)
        .bind(&row.okta_status)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Stores a membership by row ids, as sync would. For tests and demos only.
    #[doc(hidden)]
    pub async fn insert_membership_fixture(&self, group_id: &str, user_id: &str, now: i64) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO directory_memberships (group_id, user_id, provider_id, source, created_at) \
             SELECT $1, $2, provider_id, 'sync', $3 FROM directory_groups WHERE id = $1",
        )
        .bind(group_id)
        .bind(user_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Renames a group, as sync would. For tests and demos only.
    #[doc(hidden)]
    pub async fn rename_group_fixture(&self, group_id: &str, name: &str) -> Result<(), StoreError> {
        db::query("UPDATE directory_groups SET name = $2 WHERE id = $1")
            .bind(group_id)
            .bind(name)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// Renames an application and replaces its hosts; the rows affected (0: no such application).
pub(super) async fn update_application_in(
    tx: &mut Tx,
    row: &ApplicationRow,
    hosts: &[HostRow],
) -> Result<u64, StoreError> {
    let done =
        db::query("UPDATE applications SET name = $2, session_duration_minutes = $3, updated_at = $4 WHERE id = $1")
            .bind(&row.id)
            .bind(&row.name)
            .bind(row.session_duration_minutes)
            .bind(row.updated_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_insert(e, "an application with this name"))?;
    if done.rows_affected() == 1 {
        clear_hosts_in(tx, &row.id).await?;
        insert_hosts_in(tx, hosts).await?;
    }
    Ok(done.rows_affected())
}

/// Frees an application's hosts, so another application of the same change set may take them.
pub(super) async fn clear_hosts_in(tx: &mut Tx, application_id: &str) -> Result<u64, StoreError> {
    let done = db::query("DELETE FROM application_hosts WHERE application_id = $1")
        .bind(application_id)
        .execute(&mut *tx)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_application_in(tx: &mut Tx, id: &str) -> Result<u64, StoreError> {
    Ok(db::query("DELETE FROM applications WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected())
}

pub(super) async fn delete_policies_in(tx: &mut Tx, application_id: &str) -> Result<u64, StoreError> {
    let done =
        db::query("DELETE FROM policies WHERE application_id = $1").bind(application_id).execute(&mut *tx).await?;
    Ok(done.rows_affected())
}

/// Appends `rows` after the application's last policy, in their order (positions are assigned here).
pub(super) async fn append_policies_in(
    tx: &mut Tx,
    application_id: &str,
    rows: &[PolicyRow],
) -> Result<(), StoreError> {
    let first = next_position_in(tx, application_id).await?;
    for (i, row) in rows.iter().enumerate() {
        let row = PolicyRow { application_id: application_id.to_string(), position: first + i as i64, ..row.clone() };
        insert_policy_in(tx, &row).await?;
    }
    Ok(())
}

pub(super) async fn insert_audit_in(tx: &mut Tx, r: &AuditRecord) -> Result<(), StoreError> {
    super::audit::insert_audit_with(&mut *tx, r).await
}

pub(super) async fn insert_application_in(tx: &mut Tx, app: NewApplication<'_>) -> Result<(), StoreError> {
    let row = app.row;
    db::query(
        "INSERT INTO applications (id, name, session_duration_minutes, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(&row.id)
    .bind(&row.name)
    .bind(row.session_duration_minutes)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from_insert(e, "an application with this name"))?;
    insert_hosts_in(tx, app.hosts).await
}

async fn insert_hosts_in(tx: &mut Tx, hosts: &[HostRow]) -> Result<(), StoreError> {
    for h in hosts {
        db::query("INSERT INTO application_hosts (application_id, hostname, path_prefix) VALUES ($1, $2, $3)")
            .bind(&h.application_id)
            .bind(&h.hostname)
            .bind(&h.path_prefix)
            .execute(&mut *tx)
            .await
            .map_err(|e| StoreError::from_insert(e, "an application with this hostname and path prefix"))?;
    }
    Ok(())
}

async fn next_position_in(tx: &mut Tx, application_id: &str) -> Result<i64, StoreError> {
    let (next,): (i64,) = db::query_as("SELECT COALESCE(MAX(position) + 1, 0) FROM policies WHERE application_id = $1")
        .bind(application_id)
        .fetch_one(&mut *tx)
        .await?;
    Ok(next)
}

async fn insert_policy_in(tx: &mut Tx, row: &PolicyRow) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO policies (id, application_id, position, name, action, rules, enabled, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&row.id)
    .bind(&row.application_id)
    .bind(row.position)
    .bind(&row.name)
    .bind(&row.action)
    .bind(&row.rules)
    .bind(row.enabled)
    .bind(row.created_at)
    .bind(row.updated_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from_insert(e, "a policy with this id"))?;
    Ok(())
}

/// Positions 0, 1, 2… in the order given. `false` if one id is not the application's.
async fn set_positions_in(tx: &mut Tx, application_id: &str, ids: &[String]) -> Result<bool, StoreError> {
    for (i, id) in ids.iter().enumerate() {
        let done = db::query("UPDATE policies SET position = $3 WHERE id = $1 AND application_id = $2")
            .bind(id)
            .bind(application_id)
            .bind(i as i64)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}
