//! The keys that sign identity assertions for upstreams (see [`crate::assertion`]).
//!
//! Keys are ordered by `(created_at, kid)`: every replica sorts them the same way, so they
//! agree on which key signs and which ones may go.

use crate::store::db;
use sqlx::FromRow;

use super::{Store, StoreError};

#[derive(Clone, FromRow)]
pub struct SigningKeyRow {
    pub kid: String,
    /// Sealed with the console's secret key (context `signing-key:{kid}`): never a usable key
    /// by itself.
    pub private_sealed: String,
    /// The public half as a JWK (`kty`, `crv`, `x`, `y`, `kid`, `use`, `alg`).
    pub public_jwk: String,
    /// Milliseconds since the epoch.
    pub created_at: i64,
}

/// Without the sealed private key.
impl std::fmt::Debug for SigningKeyRow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRow")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

impl Store {
    pub async fn insert_signing_key(&self, key: &SigningKeyRow) -> Result<(), StoreError> {
        db::query("INSERT INTO signing_keys (kid, private_sealed, public_jwk, created_at) VALUES ($1, $2, $3, $4)")
            .bind(&key.kid)
            .bind(&key.private_sealed)
            .bind(&key.public_jwk)
            .bind(key.created_at)
            .execute(&self.pool)
            .await
            .map_err(|e| StoreError::from_insert(e, "this signing key"))?;
        Ok(())
    }

    /// Every key, newest first.
    pub async fn signing_keys(&self) -> Result<Vec<SigningKeyRow>, StoreError> {
        Ok(db::query_as(
            "SELECT kid, private_sealed, public_jwk, created_at FROM signing_keys ORDER BY created_at DESC, kid DESC",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Deletes the keys older than the key `(created_at, kid)`, which stays; returns how many
    /// went. Replicas may run it at once: it is idempotent.
    pub async fn delete_signing_keys_before(&self, created_at: i64, kid: &str) -> Result<u64, StoreError> {
        let done = db::query("DELETE FROM signing_keys WHERE created_at < $1 OR (created_at = $1 AND kid < $2)")
            .bind(created_at)
            .bind(kid)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
