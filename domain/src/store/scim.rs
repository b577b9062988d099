//! SCIM provisioning tokens.

use crate::store::db;
use sqlx::FromRow;

use super::{now_ms, policies::insert_audit_in, AuditRecord, Store, StoreError, Tx};

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct ScimTokenRow {
    pub id: String,
    pub provider_id: String,
    pub token_hash: String,
    pub prefix: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub last_used_at: Option<i64>,
}

const COLUMNS: &str = "id, provider_id, token_hash, prefix, created_by, created_at, expires_at, last_used_at";

impl Store {
    /// Stores `row` as the provider's current token; the tokens valid until now stay valid
    /// until `grace_until` (not longer than they already would).
    pub async fn rotate_scim_token(&self, row: &ScimTokenRow, grace_until: i64) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        db::query(
            "UPDATE scim_tokens SET expires_at = $2 WHERE provider_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(&row.provider_id)
        .bind(grace_until)
        .execute(&mut tx)
        .await?;
        db::query(
            "INSERT INTO scim_tokens (id, provider_id, token_hash, prefix, created_by, created_at, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
        )
        .bind(&row.id)
        .bind(&row.provider_id)
        .bind(&row.token_hash)
        .bind(&row.prefix)
        .bind(&row.created_by)
        .bind(row.created_at)
        .execute(&mut tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "a SCIM token with this hash"))?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn scim_token_by_hash(&self, hash: &str) -> Result<Option<ScimTokenRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM scim_tokens WHERE token_hash = $1");
        Ok(db::query_as(&sql).bind(hash).fetch_optional(&self.pool).await?)
    }

    /// A provider's tokens, newest first.
    pub async fn scim_tokens(&self, provider_id: &str) -> Result<Vec<ScimTokenRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM scim_tokens WHERE provider_id = $1 ORDER BY created_at DESC, id DESC");
        Ok(db::query_as(&sql).bind(provider_id).fetch_all(&self.pool).await?)
    }

    pub async fn touch_scim_token(&self, id: &str, now: i64) -> Result<(), StoreError> {
        db::query("UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

// ---------- provisioning ----------

/// A directory person as SCIM serves it.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, Default)]
pub struct ScimUserRow {
    pub id: String,
    pub provider_id: String,
    /// The directory's key: Okta's `00u…` id (the sign-in `sub`), or `scim:<id>` when the
    /// client sent no externalId.
    pub external_id: String,
    /// The externalId as the client sent it.
    pub scim_external_id: Option<String>,
    /// displayName and email as pushed.
    pub scim_display_name: Option<String>,
    pub scim_email: Option<String>,
    pub scim_email_primary: Option<bool>,
    /// NULL: `active` was not pushed.
    pub scim_active: Option<bool>,
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub state: String,
    pub okta_status: String,
    pub scim_created_at: Option<i64>,
    pub updated_at: i64,
}

const USER_COLUMNS: &str = "id, provider_id, external_id, scim_external_id, scim_display_name, scim_email, scim_email_primary, scim_active, login, email, first_name, last_name, \
                            display_name, state, okta_status, scim_created_at, updated_at";

/// A pushed group and the directory group it is.
#[derive(Debug, Clone, FromRow, PartialEq, Eq, Default)]
pub struct ScimGroupRow {
    pub id: String,
    pub provider_id: String,
    pub group_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The directory group is its own (not one synced from the API).
    pub own: bool,
}

const GROUP_SELECT: &str = "SELECT s.id, s.provider_id, s.group_id, s.display_name, s.external_id, s.created_at, \
                            s.updated_at, (g.source = 'scim') AS own \
                            FROM scim_groups s JOIN directory_groups g ON g.id = s.group_id";

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct ScimSettingsRow {
    pub provider_id: String,
    pub enabled: bool,
    pub alert: Option<String>,
    pub alert_at: Option<i64>,
}

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct ScimRequestRow {
    pub id: String,
    pub provider_id: String,
    pub at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub token_prefix: Option<String>,
    pub detail: Option<String>,
}

/// Which resources a list asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScimWhere {
    All,
    /// Case-insensitive.
    UserName(String),
    ExternalId(String),
    /// Case-insensitive.
    DisplayName(String),
    Id(String),
}

/// How a SCIM deletion leaves the person (the provider's deprovisioning choice).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScimRemoval {
    Delete,
    /// The row stays with this state ('disabled' or 'kept'), no longer a SCIM resource.
    Leave(&'static str),
}

impl Store {
    pub async fn scim_settings(&self, provider_id: &str) -> Result<Option<ScimSettingsRow>, StoreError> {
        Ok(db::query_as("SELECT provider_id, enabled, alert, alert_at FROM scim_settings WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Turns provisioning on or off, with its audit entry.
    pub async fn set_scim_enabled(
        &self,
        provider_id: &str,
        enabled: bool,
        audit: &AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        db::query(
            "INSERT INTO scim_settings (provider_id, enabled, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (provider_id) DO UPDATE SET enabled = $2, updated_at = $3",
        )
        .bind(provider_id)
        .bind(enabled)
        .bind(audit.at)
        .execute(&mut tx)
        .await?;
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Raises (Some) or clears (None) the provider's deactivation alert.
    pub async fn set_scim_alert(
        &self,
        provider_id: &str,
        alert: Option<&str>,
        now: i64,
        audit: &AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        db::query(
            "INSERT INTO scim_settings (provider_id, enabled, alert, alert_at, updated_at) VALUES ($1, FALSE, $2, $3, $4) \
             ON CONFLICT (provider_id) DO UPDATE SET alert = $2, alert_at = $3, updated_at = $4",
        )
        .bind(provider_id)
        .bind(alert)
        .bind(alert.map(|_| now))
        .bind(now)
        .execute(&mut tx)
        .await?;
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(())
    }

    // ---------- users ----------

    /// A SCIM resource of the provider by its id.
    pub async fn scim_user(&self, provider_id: &str, id: &str) -> Result<Option<ScimUserRow>, StoreError> {
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM directory_users WHERE provider_id = $1 AND id = $2 AND scim_created_at IS NOT NULL"
        );
        Ok(db::query_as(&sql).bind(provider_id).bind(id).fetch_optional(&self.pool).await?)
    }

    /// A page of the provider's SCIM users, in a stable order (ids are time-ordered), and how
    /// many match in all.
    pub async fn scim_users(
        &self,
        provider_id: &str,
        filter: &ScimWhere,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<ScimUserRow>), StoreError> {
        // The whole list walks the partial index of SCIM people; a lookup must not (its own index
        // finds one row), so it tests the column in a form that index's condition does not match.
        let (clause, value) = match filter {
            ScimWhere::All => (" AND scim_created_at IS NOT NULL", None),
            ScimWhere::UserName(v) => (" AND lower(login) = lower($2) AND COALESCE(scim_created_at, 0) > 0", Some(v)),
            ScimWhere::ExternalId(v) => (" AND scim_external_id = $2 AND COALESCE(scim_created_at, 0) > 0", Some(v)),
            ScimWhere::DisplayName(v) => {
                (" AND lower(display_name) = lower($2) AND COALESCE(scim_created_at, 0) > 0", Some(v))
            }
            ScimWhere::Id(v) => (" AND id = $2 AND COALESCE(scim_created_at, 0) > 0", Some(v)),
        };
        let base = format!("FROM directory_users WHERE provider_id = $1{clause}");
        let (total,): (i64,) = db::query_as(&format!("SELECT COUNT(*) {base}"))
            .bind(provider_id)
            .bind(value)
            .fetch_one(&self.pool)
            .await?;
        let rows = db::query_as(&format!("SELECT {USER_COLUMNS} {base} ORDER BY id LIMIT $3 OFFSET $4"))
            .bind(provider_id)
            .bind(value)
            .bind(limit)
            .bind(offset)
            .fetch_all(&self.pool)
            .await?;
        Ok((total, rows))
    }

    /// The provider's person a new push is: by externalId, else by a case-insensitive login.
    pub async fn scim_user_match(
        &self,
        provider_id: &str,
        external_id: Option<&str>,
        login: &str,
    ) -> Result<Option<ScimUserRow>, StoreError> {
        if let Some(e) = external_id {
            let sql = format!("SELECT {USER_COLUMNS} FROM directory_users WHERE provider_id = $1 AND external_id = $2");
            if let Some(row) = db::query_as(&sql).bind(provider_id).bind(e).fetch_optional(&self.pool).await? {
                return Ok(Some(row));
            }
        }
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM directory_users WHERE provider_id = $1 AND lower(login) = lower($2) ORDER BY id LIMIT 1"
        );
        Ok(db::query_as(&sql).bind(provider_id).bind(login).fetch_optional(&self.pool).await?)
    }

    /// Whether another person of the provider has this login (case-insensitive).
    pub async fn scim_login_taken(&self, provider_id: &str, login: &str, except: &str) -> Result<bool, StoreError> {
        let (n,): (i64,) = db::query_as(
            "SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 AND lower(login) = lower($2) AND id <> $3",
        )
        .bind(provider_id)
        .bind(login)
        .bind(except)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Whether another person of the provider has this directory key.
    pub async fn scim_external_id_taken(
        &self,
        provider_id: &str,
        external_id: &str,
        except: &str,
    ) -> Result<bool, StoreError> {
        let (n,): (i64,) = db::query_as(
            "SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 AND external_id = $2 AND id <> $3",
        )
        .bind(provider_id)
        .bind(external_id)
        .bind(except)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Writes a pushed person (a new row when `insert`), marked as changed by SCIM now.
    pub async fn scim_save_user(&self, row: &ScimUserRow, insert: bool, audit: &AuditRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let now = audit.at;
        let removed_at = (row.state != "active").then_some(now);
        // One set of parameters for both statements: $1 id, $2 provider.
        let sql = if insert {
            "INSERT INTO directory_users (id, provider_id, external_id, email, login, first_name, last_name, display_name, \
             okta_status, state, fingerprint, source, removed_at, created_at, updated_at, scim_created_at, scim_changed_at, \
             scim_external_id, scim_display_name, scim_email, scim_email_primary, scim_active) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, '', 'scim', $11, $12, $12, $13, $12, $14, $15, $16, $17, $18)"
        } else {
            "UPDATE directory_users SET external_id = $3, email = $4, login = $5, first_name = $6, last_name = $7, \
             display_name = $8, okta_status = $9, state = $10, \
             removed_at = CASE WHEN $10 = 'active' THEN NULL ELSE COALESCE(removed_at, $11) END, \
             account_disabled_by_run = CASE WHEN $10 = 'active' THEN NULL ELSE account_disabled_by_run END, \
             updated_at = $12, scim_created_at = COALESCE(scim_created_at, $13), scim_changed_at = $12, \
             scim_external_id = $14, scim_display_name = $15, scim_email = $16, scim_email_primary = $17, \
             scim_active = $18 \
             WHERE id = $1 AND provider_id = $2"
        };
        db::query(sql)
            .bind(&row.id)
            .bind(&row.provider_id)
            .bind(&row.external_id)
            .bind(&row.email)
            .bind(&row.login)
            .bind(&row.first_name)
            .bind(&row.last_name)
            .bind(&row.display_name)
            .bind(&row.okta_status)
            .bind(&row.state)
            .bind(removed_at)
            .bind(now)
            .bind(row.scim_created_at.unwrap_or(now))
            .bind(&row.scim_external_id)
            .bind(&row.scim_display_name)
            .bind(&row.scim_email)
            .bind(row.scim_email_primary)
            .bind(row.scim_active)
            .execute(&mut tx)
            .await
            .map_err(|e| StoreError::from_insert(e, "a person with this externalId"))?;
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// A SCIM DELETE: the person is deleted, or stays with the given state and stops being a
    /// SCIM resource.
    pub async fn scim_remove_user(
        &self,
        provider_id: &str,
        id: &str,
        removal: ScimRemoval,
        audit: &AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        match removal {
            ScimRemoval::Delete => {
                db::query("DELETE FROM directory_users WHERE provider_id = $1 AND id = $2")
                    .bind(provider_id)
                    .bind(id)
                    .execute(&mut tx)
                    .await?;
            }
            ScimRemoval::Leave(state) => {
                db::query(
                    "UPDATE directory_users SET state = $3, okta_status = 'DEPROVISIONED', removed_at = COALESCE(removed_at, $4), \
                     updated_at = $4, scim_created_at = NULL, scim_changed_at = $4 WHERE provider_id = $1 AND id = $2",
                )
                .bind(provider_id)
                .bind(id)
                .bind(state)
                .bind(audit.at)
                .execute(&mut tx)
                .await?;
            }
        }
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// People SCIM deactivated or removed since `since`.
    pub async fn scim_deactivations_since(&self, provider_id: &str, since: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = db::query_as(
            "SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 AND state <> 'active' \
             AND removed_at >= $2 AND scim_changed_at >= $2",
        )
        .bind(provider_id)
        .bind(since)
        .fetch_one(&self.pool)
        .await?;
        Ok(n)
    }

    /// People of the provider active now.
    pub async fn active_people_of(&self, provider_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            db::query_as("SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 AND state = 'active'")
                .bind(provider_id)
                .fetch_one(&self.pool)
                .await?;
        Ok(n)
    }

    // ---------- groups ----------

    pub async fn scim_group(&self, provider_id: &str, id: &str) -> Result<Option<ScimGroupRow>, StoreError> {
        let sql = format!("{GROUP_SELECT} WHERE s.provider_id = $1 AND s.id = $2");
        Ok(db::query_as(&sql).bind(provider_id).bind(id).fetch_optional(&self.pool).await?)
    }

    pub async fn scim_groups(
        &self,
        provider_id: &str,
        filter: &ScimWhere,
        offset: i64,
        limit: i64,
    ) -> Result<(i64, Vec<ScimGroupRow>), StoreError> {
        let (clause, value) = match filter {
            ScimWhere::All => ("", None),
            ScimWhere::DisplayName(v) => (" AND lower(s.display_name) = lower($2)", Some(v)),
            ScimWhere::ExternalId(v) => (" AND s.external_id = $2", Some(v)),
            ScimWhere::Id(v) => (" AND s.id = $2", Some(v)),
            // A group has no userName: nothing matches.
            ScimWhere::UserName(_) => (" AND FALSE", None),
        };
        let (total,): (i64,) =
            db::query_as(&format!("SELECT COUNT(*) FROM scim_groups s WHERE s.provider_id = $1{clause}"))
                .bind(provider_id)
                .bind(value)
                .fetch_one(&self.pool)
                .await?;
        let rows =
            db::query_as(&format!("{GROUP_SELECT} WHERE s.provider_id = $1{clause} ORDER BY s.id LIMIT $3 OFFSET $4"))
                .bind(provider_id)
                .bind(value)
                .bind(limit)
                .bind(offset)
                .fetch_all(&self.pool)
                .await?;
        Ok((total, rows))
    }

    /// The SCIM people in these directory groups: (group id, person id), by person.
    pub async fn scim_group_members(&self, group_ids: &[String]) -> Result<Vec<(String, String)>, StoreError> {
        let mut out = Vec::new();
        for chunk in group_ids.chunks(500) {
            let mut q = db::Builder::new(
                "SELECT m.group_id, m.user_id FROM directory_memberships m JOIN directory_users u ON u.id = m.user_id \
                 WHERE u.scim_created_at IS NOT NULL AND m.group_id IN (",
            );
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            list.push_unseparated(") ORDER BY m.group_id, m.user_id");
            out.extend(q.build_query_as::<(String, String)>().fetch_all(&self.pool).await?);
        }
        Ok(out)
    }

    /// Of these ids, those that are SCIM people of the provider.
    pub async fn scim_known_users(&self, provider_id: &str, ids: &[String]) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let mut q =
                db::Builder::new("SELECT id FROM directory_users WHERE scim_created_at IS NOT NULL AND provider_id = ");
            q.push_bind(provider_id).push(" AND id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id);
            }
            list.push_unseparated(")");
            out.extend(q.build_query_as::<(String,)>().fetch_all(&self.pool).await?.into_iter().map(|(id,)| id));
        }
        Ok(out)
    }

    /// Whether another pushed group of the provider has this name (case-insensitive).
    pub async fn scim_group_name_taken(&self, provider_id: &str, name: &str, except: &str) -> Result<bool, StoreError> {
        let (n,): (i64,) = db::query_as(
            "SELECT COUNT(*) FROM scim_groups WHERE provider_id = $1 AND lower(display_name) = lower($2) AND id <> $3",
        )
        .bind(provider_id)
        .bind(name)
        .bind(except)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The group synced from the API that a pushed group of this name is: only when exactly
    /// one such group has the name and no pushed group is it already.
    pub async fn scim_group_link(&self, provider_id: &str, name: &str) -> Result<Option<String>, StoreError> {
        let rows: Vec<(String,)> = db::query_as(
            "SELECT g.id FROM directory_groups g WHERE g.provider_id = $1 AND lower(g.name) = lower($2) \
             AND g.source <> 'scim' AND g.kind <> 'BUILT_IN' LIMIT 2",
        )
        .bind(provider_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await?;
        let [(id,)] = rows.as_slice() else { return Ok(None) };
        let (taken,): (i64,) =
            db::query_as("SELECT COUNT(*) FROM scim_groups WHERE group_id = $1").bind(id).fetch_one(&self.pool).await?;
        Ok((taken == 0).then(|| id.clone()))
    }

    /// Stores a new pushed group: with `own`, a directory group of its own is created first.
    pub async fn scim_create_group(
        &self,
        row: &ScimGroupRow,
        own: bool,
        members: &[String],
        audit: &AuditRecord,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        if own {
            db::query(
                "INSERT INTO directory_groups (id, provider_id, external_id, name, description, kind, source, synced_at) \
                 VALUES ($1, $2, $3, $4, NULL, 'SCIM_GROUP', 'scim', $5)",
            )
            .bind(&row.group_id)
            .bind(&row.provider_id)
            .bind(format!("scim:{}", row.id))
            .bind(&row.display_name)
            .bind(audit.at)
            .execute(&mut tx)
            .await?;
        } else {
            rename_group_in(&mut tx, &row.group_id, &row.display_name, audit.at).await?;
        }
        db::query(
            "INSERT INTO scim_groups (id, provider_id, group_id, display_name, external_id, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(&row.id)
        .bind(&row.provider_id)
        .bind(&row.group_id)
        .bind(&row.display_name)
        .bind(&row.external_id)
        .bind(audit.at)
        .execute(&mut tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "a pushed group for this directory group"))?;
        add_members_in(&mut tx, &row.group_id, &row.provider_id, members, audit.at).await?;
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// Renames a pushed group and changes its members (set operations): `add` are the members
    /// the push asserts (present ones are made SCIM's as of now), `remove` those it removes
    /// (remembered, so an older sync does not add them back). The audit entry, when something
    /// changed.
    pub async fn scim_update_group(
        &self,
        row: &ScimGroupRow,
        add: &[String],
        remove: &[String],
        audit: Option<AuditRecord>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let now = now_ms();
        db::query(
            "UPDATE scim_groups SET display_name = $2, external_id = $3, updated_at = $4 WHERE id = $1 \
             AND (display_name <> $2 OR external_id IS DISTINCT FROM $3)",
        )
        .bind(&row.id)
        .bind(&row.display_name)
        .bind(&row.external_id)
        .bind(now)
        .execute(&mut tx)
        .await?;
        rename_group_in(&mut tx, &row.group_id, &row.display_name, now).await?;
        add_members_in(&mut tx, &row.group_id, &row.provider_id, add, now).await?;
        for user in remove {
            db::query("DELETE FROM directory_memberships WHERE group_id = $1 AND user_id = $2")
                .bind(&row.group_id)
                .bind(user)
                .execute(&mut tx)
                .await?;
            db::query(
                "INSERT INTO scim_membership_removals (group_id, user_id, removed_at) \
                 SELECT $1, id, $3 FROM directory_users WHERE id = $2 \
                 ON CONFLICT (group_id, user_id) DO UPDATE SET removed_at = $3",
            )
            .bind(&row.group_id)
            .bind(user)
            .bind(now)
            .execute(&mut tx)
            .await?;
        }
        if let Some(record) = &audit {
            db::query("UPDATE scim_groups SET updated_at = $2 WHERE id = $1")
                .bind(&row.id)
                .bind(now)
                .execute(&mut tx)
                .await?;
            insert_audit_in(&mut tx, record).await?;
        }
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// A SCIM DELETE of a group: its own directory group goes with it. A linked group synced
    /// from the API stays whole: it still exists at the provider, whose sync keeps it, and
    /// unlinking must not make the directory forget its members.
    pub async fn scim_delete_group(&self, row: &ScimGroupRow, audit: &AuditRecord) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        db::query("DELETE FROM scim_groups WHERE id = $1").bind(&row.id).execute(&mut tx).await?;
        if row.own {
            db::query("DELETE FROM directory_groups WHERE id = $1").bind(&row.group_id).execute(&mut tx).await?;
        }
        insert_audit_in(&mut tx, audit).await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    // ---------- the request log ----------

    /// Records a request; the provider's log keeps its newest 200.
    pub async fn log_scim_request(&self, row: &ScimRequestRow) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO scim_requests (id, provider_id, at, method, path, status, token_prefix, detail) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&row.id)
        .bind(&row.provider_id)
        .bind(row.at)
        .bind(&row.method)
        .bind(&row.path)
        .bind(row.status)
        .bind(&row.token_prefix)
        .bind(&row.detail)
        .execute(&self.pool)
        .await?;
        db::query(
            "DELETE FROM scim_requests WHERE provider_id = $1 AND at < \
             (SELECT at FROM scim_requests WHERE provider_id = $1 ORDER BY at DESC LIMIT 1 OFFSET 199)",
        )
        .bind(&row.provider_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The provider's newest requests first.
    pub async fn scim_requests(&self, provider_id: &str, limit: i64) -> Result<Vec<ScimRequestRow>, StoreError> {
        Ok(db::query_as(
            "SELECT id, provider_id, at, method, path, status, token_prefix, detail FROM scim_requests \
             WHERE provider_id = $1 ORDER BY at DESC, id DESC LIMIT $2",
        )
        .bind(provider_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}

async fn rename_group_in(tx: &mut Tx, group_id: &str, name: &str, now: i64) -> Result<(), StoreError> {
    db::query("UPDATE directory_groups SET name = $2, synced_at = $3 WHERE id = $1 AND name <> $2")
        .bind(group_id)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    Ok(())
}

/// Stores SCIM memberships, present ones included: each becomes SCIM's as of now, so a sync
/// whose diff is older (listed earlier, or awaiting approval) does not remove it. How many rows
/// were written.
async fn add_members_in(
    tx: &mut Tx,
    group_id: &str,
    provider_id: &str,
    users: &[String],
    now: i64,
) -> Result<u64, StoreError> {
    let mut added = 0;
    for user in users {
        let done = db::query(
            "INSERT INTO directory_memberships (group_id, user_id, provider_id, source, created_at) \
             VALUES ($1, $2, $3, 'scim', $4) \
             ON CONFLICT (group_id, user_id) DO UPDATE SET source = 'scim', created_at = $4",
        )
        .bind(group_id)
        .bind(user)
        .bind(provider_id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        added += done.rows_affected();
        db::query("DELETE FROM scim_membership_removals WHERE group_id = $1 AND user_id = $2")
            .bind(group_id)
            .bind(user)
            .execute(&mut *tx)
            .await?;
    }
    Ok(added)
}
