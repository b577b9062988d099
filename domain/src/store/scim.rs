//! SCIM provisioning tokens.

use sqlx::FromRow;

use super::{Store, StoreError};

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
        sqlx::query(
            "UPDATE scim_tokens SET expires_at = $2 WHERE provider_id = $1 AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(&row.provider_id)
        .bind(grace_until)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO scim_tokens (id, provider_id, token_hash, prefix, created_by, created_at, expires_at, last_used_at) \
             VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL)",
        )
        .bind(&row.id)
        .bind(&row.provider_id)
        .bind(&row.token_hash)
        .bind(&row.prefix)
        .bind(&row.created_by)
        .bind(row.created_at)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::from_insert(e, "a SCIM token with this hash"))?;
        tx.commit().await?;
        Ok(())
    }

    pub async fn scim_token_by_hash(&self, hash: &str) -> Result<Option<ScimTokenRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM scim_tokens WHERE token_hash = $1");
        Ok(sqlx::query_as(&sql).bind(hash).fetch_optional(&self.pool).await?)
    }

    /// A provider's tokens, newest first.
    pub async fn scim_tokens(&self, provider_id: &str) -> Result<Vec<ScimTokenRow>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM scim_tokens WHERE provider_id = $1 ORDER BY created_at DESC, id DESC");
        Ok(sqlx::query_as(&sql).bind(provider_id).fetch_all(&self.pool).await?)
    }

    pub async fn touch_scim_token(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE scim_tokens SET last_used_at = $2 WHERE id = $1")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
