use sqlx::FromRow;

use super::{Store, StoreError};

#[derive(Debug, Clone, FromRow, PartialEq)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub actor_id: Option<String>,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub outcome: String,
    pub ip: Option<String>,
    pub details: String,
}

/// Newest first, keyset-paged by id (UUIDv7 ids sort by time).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only entries older than this id.
    pub before: Option<String>,
    /// Only this action, e.g. `auth.sign_in_failed`.
    pub action: Option<String>,
    /// Only actors whose name contains this, ignoring case.
    pub actor: Option<String>,
    /// Only targets that contain this, ignoring case.
    pub target: Option<String>,
    /// Only entries at or after this time (epoch ms).
    pub since: Option<i64>,
    /// Only entries before this time (epoch ms).
    pub until: Option<i64>,
    pub limit: u32,
}

/// `LOWER(column) LIKE` pattern matching `text` anywhere, `%`, `_` and `\` taken literally.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    // ASCII only, as SQLite's LOWER: "É" finds "É", not "é".
    for c in text.to_ascii_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[derive(Debug, Clone)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    /// Pass as `before` to get the next (older) page.
    pub next_before: Option<String>,
}

/// The one audit insert: on the pool, or inside the transaction of the change it records.
pub(super) async fn insert_audit_with<'e, E>(executor: E, r: &AuditRecord) -> Result<(), StoreError>
where
    E: sqlx::Executor<'e, Database = sqlx::Sqlite>,
{
    sqlx::query(
        "INSERT INTO audit_log (id, at, actor_id, actor, action, target, outcome, ip, details) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&r.id)
    .bind(r.at)
    .bind(&r.actor_id)
    .bind(&r.actor)
    .bind(&r.action)
    .bind(&r.target)
    .bind(&r.outcome)
    .bind(&r.ip)
    .bind(&r.details)
    .execute(executor)
    .await?;
    Ok(())
}

impl Store {
    pub async fn insert_audit(&self, r: &AuditRecord) -> Result<(), StoreError> {
        insert_audit_with(&self.pool, r).await
    }

    /// Several rows in one transaction (the audit benchmark's fill).
    pub async fn insert_audit_batch(&self, rows: &[AuditRecord]) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        for r in rows {
            insert_audit_with(&mut *tx, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many entries of `action` were written since `since` (epoch ms).
    pub async fn count_audit_since(&self, action: &str, since: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND at >= $2")
            .bind(action)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    pub async fn audit_page(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        let limit = q.limit.clamp(1, 500) as i64;
        // One extra row tells whether an older page exists.
        let mut records: Vec<AuditRecord> = sqlx::query_as(
            "SELECT id, at, actor_id, actor, action, target, outcome, ip, details FROM audit_log \
             WHERE ($1 IS NULL OR id < $1) AND ($2 IS NULL OR action = $2) \
             AND ($3 IS NULL OR LOWER(actor) LIKE $3 ESCAPE '\\') \
             AND ($4 IS NULL OR LOWER(COALESCE(target, '')) LIKE $4 ESCAPE '\\') \
             AND ($5 IS NULL OR at >= $5) AND ($6 IS NULL OR at < $6) \
             ORDER BY id DESC LIMIT $7",
        )
        .bind(&q.before)
        .bind(&q.action)
        .bind(q.actor.as_deref().map(contains_pattern))
        .bind(q.target.as_deref().map(contains_pattern))
        .bind(q.since)
        .bind(q.until)
        .bind(limit + 1)
        .fetch_all(&self.pool)
        .await?;
        let next_before = if records.len() as i64 > limit {
            records.truncate(limit as usize);
            records.last().map(|r| r.id.clone())
        } else {
            None
        };
        Ok(AuditPage { records, next_before })
    }
}

#[cfg(test)]
mod tests {
    use super::contains_pattern;

    #[test]
    fn a_contains_filter_takes_like_wildcards_literally() {
        assert_eq!(contains_pattern("Ada"), "%ada%");
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
    }
}
