use crate::store::db;
use sqlx::FromRow;

use super::{new_id, now_ms, Store, StoreError, Tx};

/// The scopes a new provider asks for until an admin changes them.
pub const DEFAULT_SCOPES: &str = "openid profile email groups";

/// A provider row. The `*_sealed` fields are ciphertext; see `crypto`.
#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct ProviderRow {
    pub id: String,
    pub kind: String,
    pub name: String,
    pub base_url: String,
    pub issuer: String,
    pub auth_server: Option<String>,
    pub client_id: String,
    pub client_secret_sealed: String,
    pub scopes: String,
    pub groups_claim: String,
    pub pkce: bool,
    pub directory_mode: String,
    pub directory_client_id: Option<String>,
    pub directory_secret_sealed: Option<String>,
    pub enabled: bool,
    pub discovery: Option<String>,
    pub last_test_at: Option<i64>,
    pub last_test_ok: Option<bool>,
    pub last_test_summary: Option<String>,
    pub last_test_report: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Email rules trust this provider's emails without an `email_verified` claim. Set when
    /// the provider is created (on for Okta, off for generic OIDC); saving the provider again
    /// keeps the stored value: [`Store::set_provider_asserts_verified_email`] changes it.
    pub asserts_verified_email: bool,
}

impl ProviderRow {
    /// An enabled Okta provider with directory sync off and nothing tested yet; callers set
    /// what they need on top (fixtures, benchmarks, imports).
    pub fn new_okta(id: &str, name: &str, base_url: &str, client_id: &str, client_secret_sealed: String) -> Self {
        let now = super::now_ms();
        Self {
            id: id.to_string(),
            kind: "okta".into(),
            name: name.to_string(),
            base_url: base_url.to_string(),
            issuer: base_url.to_string(),
            auth_server: None,
            client_id: client_id.to_string(),
            client_secret_sealed,
            scopes: DEFAULT_SCOPES.into(),
            groups_claim: "groups".into(),
            pkce: true,
            directory_mode: "off".into(),
            directory_client_id: None,
            directory_secret_sealed: None,
            enabled: true,
            discovery: None,
            last_test_at: None,
            last_test_ok: None,
            last_test_summary: None,
            last_test_report: None,
            created_at: now,
            updated_at: now,
            asserts_verified_email: true,
        }
    }
}

const PROVIDER_COLUMNS: &str = "id, kind, name, base_url, issuer, auth_server, client_id, client_secret_sealed, scopes, \
    groups_claim, pkce, directory_mode, directory_client_id, directory_secret_sealed, enabled, discovery, last_test_at, \
    last_test_ok, last_test_summary, last_test_report, created_at, updated_at, asserts_verified_email";

/// A group to store, as fetched.
#[derive(Debug, Clone)]
pub struct GroupInput {
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub last_updated: Option<String>,
}

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct GroupRow {
    pub id: String,
    pub provider_id: String,
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub source: String,
    pub synced_at: i64,
}

impl Store {
    /// Inserts or replaces a provider, and stores its groups, in one transaction.
    pub async fn save_provider(
        &self,
        row: &ProviderRow,
        groups: &[GroupInput],
        source: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        save_provider_in(&mut tx, row, groups, source).await?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn provider(&self, id: &str) -> Result<Option<ProviderRow>, StoreError> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM identity_providers WHERE id = $1");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    pub async fn providers(&self) -> Result<Vec<ProviderRow>, StoreError> {
        let sql = format!("SELECT {PROVIDER_COLUMNS} FROM identity_providers ORDER BY created_at");
        Ok(db::query_as(&sql).fetch_all(&self.pool).await?)
    }

    /// Whether email rules trust this provider's emails without an `email_verified` claim.
    pub async fn set_provider_asserts_verified_email(&self, id: &str, asserts: bool) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = set_asserts_verified_email_in(&mut tx, id, asserts).await?;
        tx.commit().await?;
        // Decisions cache people with their email's standing.
        self.changed();
        Ok(done > 0)
    }

    pub async fn set_provider_enabled(&self, id: &str, enabled: bool) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = set_enabled_in(&mut tx, id, enabled).await?;
        tx.commit().await?;
        Ok(done == 1)
    }

    pub async fn record_provider_test(
        &self,
        id: &str,
        ok: bool,
        summary: &str,
        report_json: &str,
        discovery_json: Option<&str>,
    ) -> Result<(), StoreError> {
        db::query(
            "UPDATE identity_providers SET last_test_at = $2, last_test_ok = $3, last_test_summary = $4, \
             last_test_report = $5, discovery = COALESCE($6, discovery) WHERE id = $1",
        )
        .bind(id)
        .bind(now_ms())
        .bind(ok)
        .bind(summary)
        .bind(report_json)
        .bind(discovery_json)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Deletes the provider; its groups go with it.
    pub async fn delete_provider(&self, id: &str) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let done = delete_provider_in(&mut tx, id).await?;
        tx.commit().await?;
        self.changed();
        Ok(done == 1)
    }

    pub async fn provider_groups(&self, provider_id: &str) -> Result<Vec<GroupRow>, StoreError> {
        Ok(db::query_as(
            "SELECT id, provider_id, external_id, name, description, kind, source, synced_at FROM directory_groups \
             WHERE provider_id = $1 ORDER BY name",
        )
        .bind(provider_id)
        .fetch_all(&self.pool)
        .await?)
    }

    pub async fn count_provider_groups(&self, provider_id: &str) -> Result<i64, StoreError> {
        let (n,): (i64,) = db::query_as("SELECT COUNT(*) FROM directory_groups WHERE provider_id = $1")
            .bind(provider_id)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }
}

pub(super) async fn save_provider_in(
    tx: &mut Tx,
    row: &ProviderRow,
    groups: &[GroupInput],
    source: &str,
) -> Result<(), StoreError> {
    db::query(
        "INSERT INTO identity_providers (id, kind, name, base_url, issuer, auth_server, client_id, client_secret_sealed, \
         scopes, groups_claim, pkce, directory_mode, directory_client_id, directory_secret_sealed, enabled, discovery, \
         last_test_at, last_test_ok, last_test_summary, last_test_report, created_at, updated_at, asserts_verified_email) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23) \
         ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, name = excluded.name, base_url = excluded.base_url, \
         issuer = excluded.issuer, auth_server = excluded.auth_server, client_id = excluded.client_id, \
         client_secret_sealed = excluded.client_secret_sealed, scopes = excluded.scopes, \
         groups_claim = excluded.groups_claim, pkce = excluded.pkce, directory_mode = excluded.directory_mode, \
         directory_client_id = excluded.directory_client_id, directory_secret_sealed = excluded.directory_secret_sealed, \
         enabled = excluded.enabled, discovery = excluded.discovery, last_test_at = excluded.last_test_at, \
         last_test_ok = excluded.last_test_ok, last_test_summary = excluded.last_test_summary, \
         last_test_report = excluded.last_test_report, updated_at = excluded.updated_at",
    )
    .bind(&row.id)
    .bind(&row.kind)
    .bind(&row.name)
    .bind(&row.base_url)
    .bind(&row.issuer)
    .bind(&row.auth_server)
    .bind(&row.client_id)
    .bind(&row.client_secret_sealed)
    .bind(&row.scopes)
    .bind(&row.groups_claim)
    .bind(row.pkce)
    .bind(&row.directory_mode)
    .bind(&row.directory_client_id)
    .bind(&row.directory_secret_sealed)
    .bind(row.enabled)
    .bind(&row.discovery)
    .bind(row.last_test_at)
    .bind(row.last_test_ok)
    .bind(&row.last_test_summary)
    .bind(&row.last_test_report)
    .bind(row.created_at)
    .bind(row.updated_at)
    .bind(row.asserts_verified_email)
    .execute(&mut *tx)
    .await
    .map_err(|e| StoreError::from_insert(e, "a provider with this name"))?;
    upsert_groups(tx, &row.id, groups, source).await
}

pub(super) async fn set_asserts_verified_email_in(tx: &mut Tx, id: &str, asserts: bool) -> Result<u64, StoreError> {
    let done = db::query("UPDATE identity_providers SET asserts_verified_email = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(asserts)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn set_enabled_in(tx: &mut Tx, id: &str, enabled: bool) -> Result<u64, StoreError> {
    let done = db::query("UPDATE identity_providers SET enabled = $2, updated_at = $3 WHERE id = $1")
        .bind(id)
        .bind(enabled)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    Ok(done.rows_affected())
}

pub(super) async fn delete_provider_in(tx: &mut Tx, id: &str) -> Result<u64, StoreError> {
    Ok(db::query("DELETE FROM identity_providers WHERE id = $1").bind(id).execute(&mut *tx).await?.rows_affected())
}

/// Groups are keyed by the provider's id, so a renamed group keeps its row (and the policies on it).
async fn upsert_groups(tx: &mut Tx, provider_id: &str, groups: &[GroupInput], source: &str) -> Result<(), StoreError> {
    let now = now_ms();
    for g in groups {
        db::query(
            "INSERT INTO directory_groups (id, provider_id, external_id, name, description, kind, source, last_updated, synced_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (provider_id, external_id) DO UPDATE SET name = excluded.name, \
             description = excluded.description, kind = excluded.kind, source = excluded.source, \
             last_updated = excluded.last_updated, synced_at = excluded.synced_at",
        )
        .bind(new_id())
        .bind(provider_id)
        .bind(&g.external_id)
        .bind(&g.name)
        .bind(&g.description)
        .bind(&g.kind)
        .bind(source)
        .bind(&g.last_updated)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}
