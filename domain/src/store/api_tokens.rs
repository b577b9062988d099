use crate::store::db;
use sqlx::FromRow;

use super::{Store, StoreError};

#[derive(Debug, Clone, FromRow)]
pub struct ApiTokenRow {
    pub id: String,
    pub name: String,
    pub prefix: String,
    pub hash: String,
    pub role: String,
    pub allowed_cidrs: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<i64>,
}

const COLUMNS: &str = "id, name, prefix, hash, role, allowed_cidrs, created_by, created_at, expires_at, \
                       last_used_at, last_used_ip, revoked_at";

impl Store {
    pub async fn insert_api_token(&self, row: &ApiTokenRow) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO api_tokens (id, name, prefix, hash, role, allowed_cidrs, created_by, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&row.id)
        .bind(&row.name)
        .bind(&row.prefix)
        .bind(&row.hash)
        .bind(&row.role)
        .bind(&row.allowed_cidrs)
        .bind(&row.created_by)
        .bind(row.created_at)
        .bind(row.expires_at)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "an API token with this prefix"))?;
        Ok(())
    }

    /// Newest first, revoked ones included (the list shows when they were revoked).
    pub async fn api_tokens(&self) -> Result<Vec<ApiTokenRow>, StoreError> {
        Ok(db::query_as(&format!("SELECT {COLUMNS} FROM api_tokens ORDER BY created_at DESC, id DESC"))
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn api_token_by_hash(&self, hash: &str) -> Result<Option<ApiTokenRow>, StoreError> {
        Ok(db::query_as(&format!("SELECT {COLUMNS} FROM api_tokens WHERE hash = $1"))
            .bind(hash)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn api_token_by_prefix(&self, prefix: &str) -> Result<Option<ApiTokenRow>, StoreError> {
        Ok(db::query_as(&format!("SELECT {COLUMNS} FROM api_tokens WHERE prefix = $1 OR id = $1"))
            .bind(prefix)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// Once a minute at most per token: a busy pipeline must not write on every call.
    pub async fn touch_api_token(&self, id: &str, now: i64, ip: Option<&str>) -> Result<(), StoreError> {
        db::query(
            "UPDATE api_tokens SET last_used_at = $2, last_used_ip = $3 \
             WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < $2 - 60000)",
        )
        .bind(id)
        .bind(now)
        .bind(ip)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// `false` when it was revoked already (or never existed).
    pub async fn revoke_api_token(&self, id: &str, now: i64) -> Result<bool, StoreError> {
        let done = db::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a token's expiry: the tests' way to an expired token without waiting a day.
    pub async fn set_api_token_expiry(&self, id: &str, expires_at: i64) -> Result<(), StoreError> {
        db::query("UPDATE api_tokens SET expires_at = $2 WHERE id = $1")
            .bind(id)
            .bind(expires_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}
