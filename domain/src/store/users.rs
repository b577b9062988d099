use crate::store::db;
use sqlx::FromRow;

use super::{now_ms, Store, StoreError};

#[derive(Debug, Clone, FromRow)]
pub struct UserRow {
    pub id: String,
    pub email: String,
    pub display_name: String,
    pub password_hash: Option<String>,
    pub role: Option<String>,
    pub disabled_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Someone proved they own the email (local accounts: an admin made them). A sign-in may
    /// link to an existing account by email only when this is true.
    pub email_verified: bool,
}

const USER_COLUMNS: &str =
    "id, email, display_name, password_hash, role, disabled_at, created_at, updated_at, email_verified";

impl Store {
    pub async fn insert_user(
        &self,
        id: &str,
        email: &str,
        display_name: &str,
        password_hash: Option<&str>,
        role: Option<&str>,
    ) -> Result<UserRow, StoreError> {
        let now = now_ms();
        db::query(
            "INSERT INTO users (id, email, display_name, password_hash, role, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(id)
        .bind(email)
        .bind(display_name)
        .bind(password_hash)
        .bind(role)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "an account with this email"))?;
        Ok(UserRow {
            id: id.to_string(),
            email: email.to_string(),
            display_name: display_name.to_string(),
            password_hash: password_hash.map(str::to_string),
            role: role.map(str::to_string),
            disabled_at: None,
            created_at: now,
            updated_at: now,
            email_verified: true,
        })
    }

    /// Inserts the first admin only if there is no admin yet, atomically, so two
    /// concurrent setups cannot both succeed.
    pub async fn insert_first_admin(
        &self,
        id: &str,
        email: &str,
        display_name: &str,
        password_hash: &str,
    ) -> Result<bool, StoreError> {
        let now = now_ms();
        let done = db::query(
            "INSERT INTO users (id, email, display_name, password_hash, role, created_at, updated_at) \
             SELECT $1, $2, $3, $4, 'admin', $5, $5 \
             WHERE NOT EXISTS (SELECT 1 FROM users WHERE role = 'admin')",
        )
        .bind(id)
        .bind(email)
        .bind(display_name)
        .bind(password_hash)
        .bind(now)
        .execute(&self.pool)
        .await
        .map_err(|e| StoreError::from_insert(e, "an account with this email"))?;
        Ok(done.rows_affected() == 1)
    }

    pub async fn user_by_email(&self, email: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE email = $1");
        Ok(db::query_as(&sql).bind(email).fetch_optional(&self.pool).await?)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRow>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users WHERE id = $1");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// Disabled admins count too: disabling the last admin must not reopen `/setup`.
    pub async fn count_admins(&self) -> Result<i64, StoreError> {
        let (n,): (i64,) =
            db::query_as("SELECT COUNT(*) FROM users WHERE role = 'admin'").fetch_one(&self.pool).await?;
        Ok(n)
    }

    pub async fn set_user_disabled(&self, id: &str, disabled: bool) -> Result<(), StoreError> {
        let now = now_ms();
        db::query("UPDATE users SET disabled_at = $2, updated_at = $3 WHERE id = $1")
            .bind(id)
            .bind(disabled.then_some(now))
            .bind(now)
            .execute(&self.pool)
            .await?;
        // Forward auth caches people: a disabled account must lose access at its next request.
        self.changed();
        Ok(())
    }
}
