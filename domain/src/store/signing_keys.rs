//! Assertion signing keys.

use sqlx::FromRow;

use super::{Store, StoreError};

#[derive(Clone, FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    /// Sealed with the console's secret key: never a usable key by itself.
    pub private_sealed: String,
    pub public_jwk: String,
    pub created_at: i64,
}

impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow").field("kid", &self.kid).field("created_at", &self.created_at).finish_non_exhaustive()
    }
}

impl Store {
    pub async fn insert_signing_key(&self, key: &SigningKeyRow) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO signing_keys (kid, private_sealed, public_jwk, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.kid)
            .bind(&key.private_sealed)
            .bind(&key.public_jwk)
            .bind(key.created_at)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Oldest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        Ok(sqlx::query_as("SELECT kid, private_sealed, public_jwk, created_at FROM signing_keys ORDER BY created_at, kid")
            .fetch_all(&self.pool)
            .await?)
    }

    pub async fn delete_signing_key(&self, kid: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM signing_keys WHERE kid = $1").bind(kid).execute(&self.pool).await?;
        Ok(())
    }
}
