//! Access sessions for forward auth.

use sqlx::FromRow;

use super::{Store, StoreError};

/// An access session with what a decision needs about its person.
#[derive(Debug, Clone, FromRow)]
pub struct AccessSessionRow {
    pub id: String,
    pub user_id: String,
    pub expires_at: i64,
    pub email: String,
    pub display_name: String,
    pub disabled_at: Option<i64>,
    /// Signed in through a provider: which, and the person's `sub` there.
    pub provider_id: Option<String>,
    pub subject: Option<String>,
}

impl Store {
    pub async fn insert_access_session(
        &self,
        id: &str,
        user_id: &str,
        identity_id: Option<&str>,
        session_id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM access_sessions WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        sqlx::query(
            "INSERT INTO access_sessions (id, user_id, identity_id, session_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(user_id)
        .bind(identity_id)
        .bind(session_id)
        .bind(now)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn access_session(&self, id: &str) -> Result<Option<AccessSessionRow>, StoreError> {
        Ok(sqlx::query_as(
            "SELECT a.id, a.user_id, a.expires_at, u.email, u.display_name, u.disabled_at, i.provider_id, i.subject \
             FROM access_sessions a JOIN users u ON u.id = a.user_id \
             LEFT JOIN user_identities i ON i.id = a.identity_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Signing out of the console signs out of the applications too.
    pub async fn delete_access_sessions_of(&self, session_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM access_sessions WHERE session_id = $1").bind(session_id).execute(&self.pool).await?;
        self.changed();
        Ok(())
    }

    /// Group names of a directory person, for the identity headers.
    pub async fn group_names_of(&self, provider_id: &str, external_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = sqlx::query_as(
            "SELECT g.name FROM directory_users u \
             JOIN directory_memberships m ON m.user_id = u.id JOIN directory_groups g ON g.id = m.group_id \
             WHERE u.provider_id = $1 AND u.external_id = $2 ORDER BY g.name",
        )
        .bind(provider_id)
        .bind(external_id)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(n,)| n).collect())
    }
}
