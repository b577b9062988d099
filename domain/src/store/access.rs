//! Access sessions for forward auth: single sign-on sessions on the console's host, the
//! per-application sessions handed out from them, and the one-time codes in between.

use crate::store::db;
use sqlx::FromRow;

use super::{Store, StoreError};

/// An access session with what a decision needs about its person.
#[derive(Debug, Clone, FromRow)]
pub struct AccessSessionRow {
    pub id: String,
    pub user_id: String,
    pub identity_id: Option<String>,
    /// `None`: the single sign-on session on the console's host, valid for no application.
    pub application_id: Option<String>,
    pub expires_at: i64,
    pub email: String,
    pub display_name: String,
    pub disabled_at: Option<i64>,
    /// Signed in through a provider: which, and the person's `sub` there.
    pub provider_id: Option<String>,
    pub subject: Option<String>,
    /// Whether `email` is vouched for: a local account's (an admin made it), or the identity's
    /// verified email, or any email of a provider that asserts verified emails.
    pub email_verified: bool,
}

/// What a one-time code hands to the application's host.
#[derive(Debug, Clone, FromRow)]
pub struct HandoffRow {
    pub user_id: String,
    pub identity_id: Option<String>,
    pub session_id: String,
    pub application_id: String,
    pub return_to: String,
    pub session_expires_at: i64,
}

/// A new access session.
#[derive(Debug, Clone)]
pub struct NewAccessSession<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub identity_id: Option<&'a str>,
    /// The console or single sign-on session it was handed out from.
    pub session_id: &'a str,
    pub application_id: Option<&'a str>,
    pub expires_at: i64,
}

impl Store {
    pub async fn insert_access_session(&self, s: &NewAccessSession<'_>, now: i64) -> Result<(), StoreError> {
        db::query("DELETE FROM access_sessions WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        db::query(
            "INSERT INTO access_sessions (id, user_id, identity_id, session_id, application_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(s.id)
        .bind(s.user_id)
        .bind(s.identity_id)
        .bind(s.session_id)
        .bind(s.application_id)
        .bind(now)
        .bind(s.expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub async fn access_session(&self, id: &str) -> Result<Option<AccessSessionRow>, StoreError> {
        Ok(db::query_as(
            "SELECT a.id, a.user_id, a.identity_id, a.application_id, a.expires_at, u.email, u.display_name, \
             u.disabled_at, i.provider_id, i.subject, \
             CASE WHEN i.id IS NULL THEN u.email_verified \
                  ELSE (COALESCE(p.asserts_verified_email, FALSE) OR (i.email_verified AND i.email = u.email)) END \
                 AS email_verified \
             FROM access_sessions a JOIN users u ON u.id = a.user_id \
             LEFT JOIN user_identities i ON i.id = a.identity_id \
             LEFT JOIN identity_providers p ON p.id = i.provider_id WHERE a.id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Signing out anywhere ends every application session of the person, and the single
    /// sign-on sessions they were handed out from.
    pub async fn delete_access_sessions_of_user(&self, user_id: &str) -> Result<u64, StoreError> {
        let done =
            db::query("DELETE FROM access_sessions WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
        db::query("DELETE FROM access_handoffs WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
        self.changed();
        Ok(done.rows_affected())
    }

    pub async fn insert_handoff(&self, id: &str, h: &HandoffRow, now: i64, expires_at: i64) -> Result<(), StoreError> {
        db::query("DELETE FROM access_handoffs WHERE expires_at < $1").bind(now).execute(&self.pool).await?;
        db::query(
            "INSERT INTO access_handoffs (id, user_id, identity_id, session_id, application_id, return_to, \
             session_expires_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(&h.user_id)
        .bind(&h.identity_id)
        .bind(&h.session_id)
        .bind(&h.application_id)
        .bind(&h.return_to)
        .bind(h.session_expires_at)
        .bind(expires_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Single use: the row is gone whether or not it was still valid.
    pub async fn take_handoff(&self, id: &str, now: i64) -> Result<Option<HandoffRow>, StoreError> {
        let row: Option<(HandoffRow, i64)> = db::query_as::<HandoffWithExpiry>(
            "DELETE FROM access_handoffs WHERE id = $1 RETURNING user_id, identity_id, session_id, application_id, \
             return_to, session_expires_at, expires_at",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?
        .map(|h| (h.row, h.expires_at));
        Ok(row.filter(|(_, expires_at)| *expires_at > now).map(|(h, _)| h))
    }

    /// Whether the console or single sign-on session a handoff came from still exists.
    pub async fn parent_session_alive(&self, session_id: &str, now: i64) -> Result<bool, StoreError> {
        let console: Option<(i64,)> = db::query_as("SELECT expires_at FROM sessions WHERE id = $1")
            .bind(session_id)
            .fetch_optional(&self.pool)
            .await?;
        if console.is_some_and(|(e,)| e > now) {
            return Ok(true);
        }
        let sso: Option<(i64,)> =
            db::query_as("SELECT expires_at FROM access_sessions WHERE id = $1 AND application_id IS NULL")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await?;
        Ok(sso.is_some_and(|(e,)| e > now))
    }

    /// Group names of a directory person, for the identity headers.
    pub async fn group_names_of(&self, provider_id: &str, external_id: &str) -> Result<Vec<String>, StoreError> {
        let rows: Vec<(String,)> = db::query_as(
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

#[derive(FromRow)]
struct HandoffWithExpiry {
    #[sqlx(flatten)]
    row: HandoffRow,
    expires_at: i64,
}
