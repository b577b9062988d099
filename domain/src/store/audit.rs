use crate::store::db;
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
    E: db::Exec<'e>,
{
    db::query(
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
            insert_audit_with(&mut tx, r).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// How many entries of `action` were written since `since` (epoch ms).
    pub async fn count_audit_since(&self, action: &str, since: i64) -> Result<i64, StoreError> {
        let (n,): (i64,) = db::query_as("SELECT COUNT(*) FROM audit_log WHERE action = $1 AND at >= $2")
            .bind(action)
            .bind(since)
            .fetch_one(&self.pool)
            .await?;
        Ok(n)
    }

    pub async fn audit_page(&self, q: &AuditQuery) -> Result<AuditPage, StoreError> {
        let limit = q.limit.clamp(1, 500) as i64;
        // Only the conditions in use: `$1 IS NULL OR id < $1` would keep SQLite from walking
        // the primary key from `before`, and every older page would scan from the newest row.
        let mut sql = db::Builder::new(
            "SELECT id, at, actor_id, actor, action, target, outcome, ip, details FROM audit_log WHERE 1 = 1",
        );
        if let Some(before) = &q.before {
            sql.push(" AND id < ").push_bind(before);
        }
        if let Some(action) = &q.action {
            sql.push(" AND action = ").push_bind(action);
        }
        if let Some(actor) = &q.actor {
            sql.push(" AND LOWER(actor) LIKE ").push_bind(contains_pattern(actor)).push(" ESCAPE '\\'");
        }
        if let Some(target) = &q.target {
            sql.push(" AND LOWER(COALESCE(target, '')) LIKE ").push_bind(contains_pattern(target)).push(" ESCAPE '\\'");
        }
        if let Some(since) = q.since {
            sql.push(" AND at >= ").push_bind(since);
        }
        if let Some(until) = q.until {
            sql.push(" AND at < ").push_bind(until);
        }
        // One extra row tells whether an older page exists.
        sql.push(" ORDER BY id DESC LIMIT ").push_bind(limit + 1);
        let mut records: Vec<AuditRecord> = sql.build_query_as().fetch_all(&self.pool).await?;
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
