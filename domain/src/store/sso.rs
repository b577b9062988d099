//! Sign-in through identity providers: identities, login attempts and outcomes,
//! role mappings, console settings, and the provider half of sessions.

use crate::store::db;
use sqlx::FromRow;

use super::{now_ms, Store, StoreError, Tx, UserRow};

#[derive(Debug, Clone, FromRow)]
pub struct LoginAttemptRow {
    pub id: String,
    pub provider_id: String,
    pub purpose: String,
    pub browser_hash: String,
    pub nonce: String,
    pub pkce_verifier_sealed: String,
    pub return_to: String,
    pub started_by: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub struct IdentityRow {
    pub id: String,
    pub user_id: String,
    pub provider_id: String,
    pub subject: String,
    pub email: String,
    pub groups: String,
    pub created_at: i64,
    pub last_login_at: i64,
    /// The provider said `email_verified: true` for `email`.
    pub email_verified: bool,
}

#[derive(Debug, Clone, FromRow)]
pub struct LoginOutcomeRow {
    pub id: String,
    pub provider_id: String,
    pub kind: String,
    pub viewer: Option<String>,
    pub browser_hash: String,
    pub details: String,
    pub created_at: i64,
    pub expires_at: i64,
}

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct RoleMappingRow {
    pub id: String,
    pub provider_id: String,
    pub group_external_id: String,
    pub group_name: String,
    /// The group's name in the directory now, when it is there.
    pub current_name: Option<String>,
    pub role: String,
    pub created_by: Option<String>,
    pub created_at: i64,
}

/// A groups claim resolved against a provider's directory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimGroups {
    /// (claim value, group id, name), for names exactly one group of the provider has.
    pub resolved: Vec<(String, String, String)>,
    /// Names several groups of the provider share: they grant nothing.
    pub ambiguous: Vec<String>,
}

/// The provider half of a session.
#[derive(Debug, Clone, FromRow)]
pub struct SessionTokensRow {
    pub id: String,
    pub user_id: String,
    pub identity_id: Option<String>,
    pub provider_id: Option<String>,
    pub subject: Option<String>,
    pub refresh_token_sealed: Option<String>,
    pub id_token_sealed: Option<String>,
    pub tokens_expire_at: Option<i64>,
    pub role: Option<String>,
}

const ATTEMPT_COLUMNS: &str =
    "id, provider_id, purpose, browser_hash, nonce, pkce_verifier_sealed, return_to, started_by, created_at, expires_at";
const IDENTITY_COLUMNS: &str =
    "id, user_id, provider_id, subject, email, groups, created_at, last_login_at, email_verified";

impl Store {
    pub async fn insert_login_attempt(&self, a: &LoginAttemptRow) -> Result<(), StoreError> {
        // Housekeeping on the way in: attempts are short-lived and never read after expiry.
        db::query("DELETE FROM login_attempts WHERE expires_at < $1").bind(now_ms()).execute(&self.pool).await?;
        db::query("DELETE FROM login_outcomes WHERE expires_at < $1").bind(now_ms()).execute(&self.pool).await?;
        let sql =
            format!("INSERT INTO login_attempts ({ATTEMPT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)");
        db::query(&sql)
            .bind(&a.id)
            .bind(&a.provider_id)
            .bind(&a.purpose)
            .bind(&a.browser_hash)
            .bind(&a.nonce)
            .bind(&a.pkce_verifier_sealed)
            .bind(&a.return_to)
            .bind(&a.started_by)
            .bind(a.created_at)
            .bind(a.expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Takes an attempt out: whoever deletes it first owns it, so a replayed `state` finds nothing.
    pub async fn take_login_attempt(&self, id: &str) -> Result<Option<LoginAttemptRow>, StoreError> {
        let sql = format!("DELETE FROM login_attempts WHERE id = $1 RETURNING {ATTEMPT_COLUMNS}");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    pub async fn insert_login_outcome(&self, o: &LoginOutcomeRow) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO login_outcomes (id, provider_id, kind, viewer, browser_hash, details, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&o.id)
        .bind(&o.provider_id)
        .bind(&o.kind)
        .bind(&o.viewer)
        .bind(&o.browser_hash)
        .bind(&o.details)
        .bind(o.created_at)
        .bind(o.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn login_outcome(&self, id: &str) -> Result<Option<LoginOutcomeRow>, StoreError> {
        Ok(db::query_as(
            "SELECT id, provider_id, kind, viewer, browser_hash, details, created_at, expires_at \
             FROM login_outcomes WHERE id = $1 AND expires_at > $2",
        )
        .bind(id)
        .bind(now_ms())
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Unlinks everyone who signed in through a provider (its endpoint changed): their
    /// sessions, application sessions and hand-offs go with the identities (foreign keys), and
    /// sign-ins in flight are dropped. The people are matched afresh at their next sign-in.
    pub async fn detach_identities(&self, provider_id: &str) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let detached = detach_identities_in(&mut tx, provider_id).await?;
        tx.commit().await?;
        self.changed();
        Ok(detached)
    }

    /// Ends the sessions a provider granted. `role_only`: just the console sessions whose role
    /// came from role mappings (a mapping was removed or lowered; they sign in again and get
    /// what the mappings now say); otherwise every console, application and hand-off session.
    pub async fn end_provider_sessions(&self, provider_id: &str, role_only: bool) -> Result<u64, StoreError> {
        let mut tx = self.begin_write().await?;
        let ended = end_provider_sessions_in(&mut tx, provider_id, role_only).await?;
        tx.commit().await?;
        self.changed();
        Ok(ended)
    }

    pub async fn identity_by_subject(
        &self,
        provider_id: &str,
        subject: &str,
    ) -> Result<Option<IdentityRow>, StoreError> {
        let sql = format!("SELECT {IDENTITY_COLUMNS} FROM user_identities WHERE provider_id = $1 AND subject = $2");
        Ok(db::query_as(&sql).bind(provider_id).bind(subject).fetch_optional(&self.pool).await?)
    }

    pub async fn identity(&self, id: &str) -> Result<Option<IdentityRow>, StoreError> {
        let sql = format!("SELECT {IDENTITY_COLUMNS} FROM user_identities WHERE id = $1");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    pub async fn identities_of_user(&self, user_id: &str) -> Result<Vec<IdentityRow>, StoreError> {
        let sql = format!("SELECT {IDENTITY_COLUMNS} FROM user_identities WHERE user_id = $1 ORDER BY created_at");
        Ok(db::query_as(&sql).bind(user_id).fetch_all(&self.pool).await?)
    }

    /// A new console account with its first identity, in one transaction.
    pub async fn insert_user_with_identity(&self, user: &UserRow, identity: &IdentityRow) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        db::query(
            "INSERT INTO users (id, email, display_name, password_hash, role, created_at, updated_at, email_verified) \
             VALUES ($1, $2, $3, NULL, NULL, $4, $4, $5)",
        )
        .bind(&user.id)
        .bind(&user.email)
        .bind(&user.display_name)
        .bind(user.created_at)
        .bind(user.email_verified)
        .execute(&mut tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "an account with this email"))?;
        insert_identity(&mut tx, identity).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Links an identity to an account that exists already.
    pub async fn insert_identity(&self, identity: &IdentityRow) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_identity(&mut tx, identity).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Email, name and groups as the provider stated them at this sign-in or refresh.
    /// `email_verified`: the `email_verified` claim; `vouched`: that, or a provider that
    /// asserts verified emails.
    #[allow(clippy::too_many_arguments)]
    pub async fn update_identity_claims(
        &self,
        identity_id: &str,
        user_id: &str,
        email: &str,
        email_verified: bool,
        vouched: bool,
        display_name: &str,
        groups_json: &str,
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        db::query(
            "UPDATE user_identities SET email = $2, groups = $3, last_login_at = $4, email_verified = $5 WHERE id = $1",
        )
        .bind(identity_id)
        .bind(email)
        .bind(groups_json)
        .bind(now)
        .bind(email_verified)
        .execute(&mut tx)
        .await?;
        // The account follows the provider for a verified email only, and unless another
        // account holds that email: an unproven address must not become the account's.
        db::query(
            "UPDATE users SET display_name = $2, updated_at = $4, \
                email_verified = CASE WHEN $5 AND NOT EXISTS (SELECT 1 FROM users o WHERE o.email = $3 AND o.id <> $1) \
                    THEN TRUE ELSE email_verified END, \
                email = CASE WHEN $5 AND NOT EXISTS (SELECT 1 FROM users o WHERE o.email = $3 AND o.id <> $1) \
                    THEN $3 ELSE email END \
             WHERE id = $1",
        )
        .bind(user_id)
        .bind(display_name)
        .bind(email)
        .bind(now)
        .bind(vouched)
        .execute(&mut tx)
        .await?;
        // After the commit: a reader woken by the change number must see the new data.
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    pub async fn session_tokens(&self, session_id: &str) -> Result<Option<SessionTokensRow>, StoreError> {
        Ok(db::query_as(
            "SELECT s.id, s.user_id, s.identity_id, i.provider_id, i.subject, s.refresh_token_sealed, s.id_token_sealed, \
                    s.tokens_expire_at, s.role \
             FROM sessions s LEFT JOIN user_identities i ON i.id = s.identity_id WHERE s.id = $1",
        )
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// After a refresh: new tokens (a provider may rotate the refresh token) and the role the groups map to now.
    pub async fn update_session_tokens(
        &self,
        session_id: &str,
        refresh_token_sealed: Option<&str>,
        id_token_sealed: Option<&str>,
        tokens_expire_at: Option<i64>,
        role: &str,
    ) -> Result<(), StoreError> {
        db::query(
            "UPDATE sessions SET refresh_token_sealed = COALESCE($2, refresh_token_sealed), \
                id_token_sealed = COALESCE($3, id_token_sealed), tokens_expire_at = $4, role = $5 WHERE id = $1",
        )
        .bind(session_id)
        .bind(refresh_token_sealed)
        .bind(id_token_sealed)
        .bind(tokens_expire_at)
        .bind(role)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn role_mappings(&self) -> Result<Vec<RoleMappingRow>, StoreError> {
        Ok(db::query_as(
            "SELECT m.id, m.provider_id, m.group_external_id, m.group_name, g.name AS current_name, m.role, \
                    m.created_by, m.created_at \
             FROM role_mappings m \
             LEFT JOIN directory_groups g ON g.provider_id = m.provider_id AND g.external_id = m.group_external_id \
             ORDER BY m.created_at",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn insert_role_mapping(&self, m: &RoleMappingRow) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        insert_role_mapping_in(&mut tx, m).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn update_role_mapping(&self, id: &str, role: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = update_role_mapping_in(&mut tx, id, role).await?;
        tx.commit().await?;
        Ok(done > 0)
    }

    pub async fn delete_role_mapping(&self, id: &str) -> Result<Option<RoleMappingRow>, StoreError> {
        let found = self.role_mappings().await?.into_iter().find(|m| m.id == id);
        if found.is_some() {
            let mut tx = self.begin_write().await?;
            delete_role_mapping_in(&mut tx, id).await?;
            tx.commit().await?;
        }
        Ok(found)
    }

    /// A provider's group as an admin typed or picked it for a role mapping: by its id, else
    /// every group of that provider with this name (more than one: the caller must refuse).
    pub async fn directory_group_by_name(
        &self,
        provider_id: &str,
        name: &str,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let by_id: Option<(String, String)> =
            db::query_as("SELECT external_id, name FROM directory_groups WHERE provider_id = $1 AND external_id = $2")
                .bind(provider_id)
                .bind(name)
                .fetch_optional(&self.pool)
                .await?;
        if let Some(found) = by_id {
            return Ok(vec![found]);
        }
        Ok(db::query_as(
            "SELECT external_id, name FROM directory_groups WHERE provider_id = $1 AND name = $2 ORDER BY external_id",
        )
        .bind(provider_id)
        .bind(name)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The groups a groups claim names, at the provider that signed the person in only, by
    /// name only: a claim value is never taken for a group's id (a group may be named like
    /// another's id). A name several groups of the provider share is ambiguous: it resolves
    /// to none of them.
    pub async fn directory_groups_by_names(
        &self,
        provider_id: &str,
        values: &[String],
    ) -> Result<ClaimGroups, StoreError> {
        let mut out = ClaimGroups::default();
        for chunk in values.chunks(500) {
            let mut q = db::Builder::new("SELECT external_id, name FROM directory_groups WHERE provider_id = ");
            q.push_bind(provider_id).push(" AND name IN (");
            let mut names = q.separated(", ");
            for v in chunk {
                names.push_bind(v);
            }
            q.push(")");
            let rows: Vec<(String, String)> = q.build_query_as().fetch_all(&self.pool).await?;
            for v in chunk {
                let mut hits = rows.iter().filter(|(_, name)| name == v);
                match (hits.next(), hits.next()) {
                    (Some((id, name)), None) => out.resolved.push((v.clone(), id.clone(), name.clone())),
                    (Some(_), Some(_)) if !out.ambiguous.contains(v) => out.ambiguous.push(v.clone()),
                    _ => {}
                }
            }
        }
        Ok(out)
    }

    pub async fn console_setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        let row: Option<(String,)> = db::query_as("SELECT value FROM console_settings WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(|(v,)| v))
    }

    /// Stores `value` under `key` unless a value is there already; returns the stored one
    /// (several replicas starting at once agree on the first).
    pub async fn console_setting_or_insert(&self, key: &str, value: &str) -> Result<String, StoreError> {
        db::query(
            "INSERT INTO console_settings (key, value, updated_at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .bind(value)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(self.console_setting(key).await?.unwrap_or_else(|| value.to_string()))
    }

    pub async fn delete_console_setting(&self, key: &str) -> Result<(), StoreError> {
        db::query("DELETE FROM console_settings WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn set_console_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO console_settings (key, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(key)
        .bind(value)
        .bind(now_ms())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Sign-in keeps the directory current too: the person, and the groups the claim named.
    /// `groups` are (id, name); an empty id is a name the directory does not know.
    /// Claim groups are added; only memberships that sign-in itself added are taken away,
    /// because a filtered claim does not list every group sync knows.
    pub async fn record_sign_in_directory(
        &self,
        provider_id: &str,
        subject: &str,
        email: &str,
        display_name: &str,
        groups: &[(String, String)],
    ) -> Result<(), StoreError> {
        let now = now_ms();
        let mut tx = self.begin_write().await?;
        let existing: Option<(String,)> =
            db::query_as("SELECT id FROM directory_users WHERE provider_id = $1 AND external_id = $2")
                .bind(provider_id)
                .bind(subject)
                .fetch_optional(&mut tx)
                .await?;
        let user_id = match existing {
            Some((id,)) => id,
            None => {
                let id = super::new_id();
                db::query(
                    "INSERT INTO directory_users (id, provider_id, external_id, email, login, first_name, last_name, \
                        display_name, okta_status, state, fingerprint, source, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $4, '', '', $5, 'ACTIVE', 'active', '', 'sign_in', $6, $6)",
                )
                .bind(&id)
                .bind(provider_id)
                .bind(subject)
                .bind(email)
                .bind(display_name)
                .bind(now)
                .execute(&mut tx)
                .await?;
                id
            }
        };
        let mut group_ids = Vec::with_capacity(groups.len());
        for (external_id, name) in groups {
            // A name no group of the directory has (an empty id): it becomes a group whose id is
            // the name, unless some group already has that id under another name.
            let by_name_only = external_id.is_empty();
            let external_id = if by_name_only { name } else { external_id };
            let found: Option<(String, String)> =
                db::query_as("SELECT id, name FROM directory_groups WHERE provider_id = $1 AND external_id = $2")
                    .bind(provider_id)
                    .bind(external_id)
                    .fetch_optional(&mut tx)
                    .await?;
            let group_id = match found {
                Some((_, stored)) if by_name_only && stored != *name => continue,
                Some((id, _)) => id,
                None => {
                    let id = super::new_id();
                    db::query(
                        "INSERT INTO directory_groups (id, provider_id, external_id, name, kind, source, synced_at) \
                         VALUES ($1, $2, $3, $4, 'OKTA_GROUP', 'sign_in', $5)",
                    )
                    .bind(&id)
                    .bind(provider_id)
                    .bind(external_id)
                    .bind(name)
                    .bind(now)
                    .execute(&mut tx)
                    .await?;
                    id
                }
            };
            db::query(
                "INSERT INTO directory_memberships (group_id, user_id, provider_id, source, created_at) \
                 VALUES ($1, $2, $3, 'sign_in', $4) ON CONFLICT (group_id, user_id) DO NOTHING",
            )
            .bind(&group_id)
            .bind(&user_id)
            .bind(provider_id)
            .bind(now)
            .execute(&mut tx)
            .await?;
            group_ids.push(group_id);
        }
        let stale: Vec<(String,)> =
            db::query_as("SELECT group_id FROM directory_memberships WHERE user_id = $1 AND source = 'sign_in'")
                .bind(&user_id)
                .fetch_all(&mut tx)
                .await?;
        for (group_id,) in stale.into_iter().filter(|(g,)| !group_ids.contains(g)) {
            db::query("DELETE FROM directory_memberships WHERE group_id = $1 AND user_id = $2")
                .bind(&group_id)
                .bind(&user_id)
                .execute(&mut tx)
                .await?;
        }
        tx.commit().await?;
        self.changed();
        Ok(())
    }
}

async fn insert_identity(tx: &mut super::Tx, i: &IdentityRow) -> Result<(), StoreError> {
    let sql = format!("INSERT INTO user_identities ({IDENTITY_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)");
    db::query(&sql)
        .bind(&i.id)
        .bind(&i.user_id)
        .bind(&i.provider_id)
        .bind(&i.subject)
        .bind(&i.email)
        .bind(&i.groups)
        .bind(i.created_at)
        .bind(i.last_login_at)
        .bind(i.email_verified)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "this identity"))?;
    Ok(())
}

/// See [`Store::detach_identities`].
pub(super) async fn detach_identities_in(tx: &mut Tx, provider_id: &str) -> Result<u64, StoreError> {
    db::query("DELETE FROM login_attempts WHERE provider_id = $1").bind(provider_id).execute(&mut *tx).await?;
    let done =
        db::query("DELETE FROM user_identities WHERE provider_id = $1").bind(provider_id).execute(&mut *tx).await?;
    Ok(done.rows_affected())
}

/// See [`Store::end_provider_sessions`].
pub(super) async fn end_provider_sessions_in(
    tx: &mut Tx,
    provider_id: &str,
    role_only: bool,
) -> Result<u64, StoreError> {
    const OF_PROVIDER: &str = "identity_id IN (SELECT id FROM user_identities WHERE provider_id = $1)";
    let sql = if role_only {
        format!("DELETE FROM sessions WHERE role IS NOT NULL AND {OF_PROVIDER}")
    } else {
        format!("DELETE FROM sessions WHERE {OF_PROVIDER}")
    };
    let mut ended = db::query(&sql).bind(provider_id).execute(&mut *tx).await?.rows_affected();
    if !role_only {
        // Sign-ins in flight would otherwise finish after the provider was switched off.
        db::query("DELETE FROM login_attempts WHERE provider_id = $1 AND purpose <> 'dry_run'")
            .bind(provider_id)
            .execute(&mut *tx)
            .await?;
        for table in ["access_sessions", "access_handoffs"] {
            let sql = format!("DELETE FROM {table} WHERE {OF_PROVIDER}");
            ended += db::query(&sql).bind(provider_id).execute(&mut *tx).await?.rows_affected();
        }
    }
    Ok(ended)
}

pub(super) async fn insert_role_mapping_in(tx: &mut Tx, m: &RoleMappingRow) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO role_mappings (id, provider_id, group_external_id, group_name, role, created_by, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&m.id)
    .bind(&m.provider_id)
    .bind(&m.group_external_id)
    .bind(&m.group_name)
    .bind(&m.role)
    .bind(&m.created_by)
    .bind(m.created_at)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from_insert(e, "a mapping for this group"))?;
    Ok(())
}

pub(super) async fn update_role_mapping_in(tx: &mut Tx, id: &str, role: &str) -> Result<u64, StoreError> {
    let done =
        db::query("UPDATE role_mappings SET role = $2 WHERE id = $1").bind(id).bind(role).execute(&mut *tx).await?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_role_mapping_in(tx: &mut Tx, id: &str) -> Result<u64, StoreError> {
    Ok(db::query("DELETE FROM role_mappings WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected())
}

impl Store {
    /// Records a Universal Logout request's `jti`; `false` when it was used already (a replay).
    pub async fn use_logout_jti(&self, provider_id: &str, jti: &str, expires_at: i64) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        db::query("DELETE FROM universal_logout_jtis WHERE expires_at < $1").bind(now_ms()).execute(&mut tx).await?;
        let done = db::query(
            "INSERT INTO universal_logout_jtis (provider_id, jti, expires_at) VALUES ($1, $2, $3) \
             ON CONFLICT (provider_id, jti) DO NOTHING",
        )
        .bind(provider_id)
        .bind(jti)
        .bind(expires_at)
        .execute(&mut tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// The identities at `provider_id` of the person with this subject, or with this email (at
    /// sign-in, or in the provider's directory): whom a Universal Logout names.
    pub async fn identities_for_logout(
        &self,
        provider_id: &str,
        subject: Option<&str>,
        email: Option<&str>,
    ) -> Result<Vec<String>, StoreError> {
        // By subject alone, one probe of the unique index; the email terms would scan the directory.
        let Some(email) = email else {
            let rows: Vec<(String,)> =
                db::query_as("SELECT id FROM user_identities WHERE provider_id = $1 AND subject = $2")
                    .bind(provider_id)
                    .bind(subject)
                    .fetch_all(&self.pool)
                    .await?;
            return Ok(rows.into_iter().map(|(id,)| id).collect());
        };
        let rows: Vec<(String,)> = db::query_as(
            "SELECT i.id FROM user_identities i WHERE i.provider_id = $1 AND ( \
                 i.subject = $2 OR lower(i.email) = lower($3) OR i.subject IN ( \
                     SELECT d.external_id FROM directory_users d \
                     WHERE d.provider_id = $1 AND (d.email = lower($3) OR lower(d.login) = lower($3))))",
        )
        .bind(provider_id)
        .bind(subject)
        .bind(email)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }

    /// Whether the provider's directory has this person (by id or email), signed in or not.
    pub async fn directory_has_person(
        &self,
        provider_id: &str,
        subject: Option<&str>,
        email: Option<&str>,
    ) -> Result<bool, StoreError> {
        let (n,): (i64,) = db::query_as(
            "SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 \
             AND (external_id = $2 OR email = lower($3) OR lower(login) = lower($3))",
        )
        .bind(provider_id)
        .bind(subject)
        .bind(email)
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// Ends every console session, application session and hand-off of these identities; the
    /// provider tokens (refresh tokens included) are stored with the sessions and go with them.
    pub async fn end_identity_sessions(&self, identity_ids: &[String]) -> Result<u64, StoreError> {
        if identity_ids.is_empty() {
            return Ok(0);
        }
        let mut tx = self.begin_write().await?;
        let mut ended = 0;
        for id in identity_ids {
            for table in ["sessions", "access_sessions", "access_handoffs"] {
                let sql = format!("DELETE FROM {table} WHERE identity_id = $1");
                ended += db::query(&sql).bind(id).execute(&mut tx).await?.rows_affected();
            }
        }
        tx.commit().await?;
        self.changed();
        Ok(ended)
    }
}
