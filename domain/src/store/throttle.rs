use crate::store::db;
use sqlx::FromRow;

use super::{Store, StoreError};

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct ThrottleRow {
    pub key: String,
    pub failures: i64,
    pub window_started_at: i64,
    pub blocked_until: i64,
}

impl Store {
    pub async fn throttle_get(&self, key: &str) -> Result<Option<ThrottleRow>, StoreError> {
        Ok(db::query_as("SELECT key, failures, window_started_at, blocked_until FROM login_throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await?)
    }

    pub async fn throttle_put(&self, row: &ThrottleRow) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO login_throttle (key, failures, window_started_at, blocked_until) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, \
             window_started_at = excluded.window_started_at, blocked_until = excluded.blocked_until",
        )
        .bind(&row.key)
        .bind(row.failures)
        .bind(row.window_started_at)
        .bind(row.blocked_until)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Forgets rows whose window started before `window_before` and whose block is over at
    /// `now`: such a row counts the same as no row. Returns how many went.
    pub async fn throttle_purge(&self, window_before: i64, now: i64) -> Result<u64, StoreError> {
        let done = db::query("DELETE FROM login_throttle WHERE window_started_at < $1 AND blocked_until <= $2")
            .bind(window_before)
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    pub async fn throttle_clear(&self, key: &str) -> Result<(), StoreError> {
        db::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(&self.pool).await?;
        Ok(())
    }
}
