use crate::store::db;
use sqlx::FromRow;

use super::{Store, StoreError, UserRow};

#[derive(Debug, Clone, FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_id: String,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    /// Signed in through a provider: the role its groups mapped to; else the account's role counts.
    pub role: Option<String>,
    pub tokens_expire_at: Option<i64>,
    pub identity_id: Option<String>,
}

/// What a session signed in through a provider stores besides the session itself.
#[derive(Debug, Clone)]
pub struct ProviderSessionInput<'a> {
    pub identity_id: &'a str,
    pub refresh_token_sealed: Option<&'a str>,
    pub id_token_sealed: Option<&'a str>,
    pub tokens_expire_at: Option<i64>,
    pub role: &'a str,
}

impl Store {
    #[allow(clippy::too_many_arguments)]
    pub async fn insert_session(
        &self,
        id: &str,
        user_id: &str,
        now: i64,
        expires_at: i64,
        ip: Option<&str>,
        user_agent: Option<&str>,
        provider: Option<&ProviderSessionInput<'_>>,
    ) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO sessions (id, user_id, created_at, last_seen_at, expires_at, ip, user_agent, \
                                   identity_id, refresh_token_sealed, id_token_sealed, tokens_expire_at, role) \
             VALUES ($1, $2, $3, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(user_id)
        .bind(now)
        .bind(expires_at)
        .bind(ip)
        .bind(user_agent)
        .bind(provider.map(|p| p.identity_id))
        .bind(provider.and_then(|p| p.refresh_token_sealed))
        .bind(provider.and_then(|p| p.id_token_sealed))
        .bind(provider.and_then(|p| p.tokens_expire_at))
        .bind(provider.map(|p| p.role))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session and its user, in one query: this runs on every request.
    pub async fn session_with_user(&self, id: &str) -> Result<Option<(SessionRow, UserRow)>, StoreError> {
        let row: Option<SessionJoin> = db::query_as(
            "SELECT s.id AS s_id, s.user_id AS s_user_id, s.created_at AS s_created_at, \
                    s.last_seen_at AS s_last_seen_at, s.expires_at AS s_expires_at, s.role AS s_role, \
                    s.tokens_expire_at AS s_tokens_expire_at, s.identity_id AS s_identity_id, \
                    u.id, u.email, u.display_name, u.password_hash, u.role, u.disabled_at, u.created_at, u.updated_at, \
                    u.email_verified \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|j| {
            (
                SessionRow {
                    id: j.s_id,
                    user_id: j.s_user_id,
                    created_at: j.s_created_at,
                    last_seen_at: j.s_last_seen_at,
                    expires_at: j.s_expires_at,
                    role: j.s_role,
                    tokens_expire_at: j.s_tokens_expire_at,
                    identity_id: j.s_identity_id,
                },
                j.user,
            )
        }))
    }

    pub async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        db::query("UPDATE sessions SET last_seen_at = $2 WHERE id = $1").bind(id).bind(now).execute(&self.pool).await?;
        Ok(())
    }

    pub async fn delete_session(&self, id: &str) -> Result<(), StoreError> {
        db::query("DELETE FROM sessions WHERE id = $1").bind(id).execute(&self.pool).await?;
        Ok(())
    }

    /// Every session of a person: console, single sign-on, applications, pending hand-offs.
    pub async fn delete_user_sessions(&self, user_id: &str) -> Result<u64, StoreError> {
        self.delete_access_sessions_of_user(user_id).await?;
        let done = db::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
        Ok(done.rows_affected())
    }

    /// Removes sessions past their absolute expiry or idle longer than `idle_ms`.
    pub async fn delete_expired_sessions(&self, now: i64, idle_ms: i64) -> Result<u64, StoreError> {
        let done = db::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
            .bind(now)
            .bind(now - idle_ms)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}

#[derive(FromRow)]
struct SessionJoin {
    s_id: String,
    s_user_id: String,
    s_created_at: i64,
    s_last_seen_at: i64,
    s_expires_at: i64,
    s_role: Option<String>,
    s_tokens_expire_at: Option<i64>,
    s_identity_id: Option<String>,
    #[sqlx(flatten)]
    user: UserRow,
}
