//! The queries behind the Directory pages: search, paging, a person and a group.

use crate::store::db;
use serde::{Deserialize, Serialize};
use sqlx::FromRow;

use super::*;
use crate::store::{Store, StoreError};

// ---------- the Directory pages ----------

/// Search and paging for the Directory pages.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DirectoryQuery {
    pub provider_id: Option<String>,
    /// Part of a name, email or login (users), or of a name (groups); case-insensitive.
    pub search: Option<String>,
    /// Users only: `active`, `disabled` or `kept`.
    pub state: Option<String>,
    pub sort: DirectorySort,
    pub offset: u32,
    /// 1 to 500; 50 when 0.
    pub limit: u32,
}

/// A column the Directory lists sort by. Each maps to a fixed SQL expression: the order is
/// never built from what the URL says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SortColumn {
    #[default]
    Name,
    Email,
    /// The provider's own status (Okta's ACTIVE, SUSPENDED, …).
    Status,
    /// Portcullis' state: active, disabled, kept.
    State,
    Provider,
    /// Groups: Okta group, app group, built-in.
    Kind,
    /// Groups: how many members.
    Members,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DirectorySort {
    pub column: SortColumn,
    pub descending: bool,
}

impl DirectorySort {
    const NAMES: [(&'static str, SortColumn); 7] = [
        ("name", SortColumn::Name),
        ("email", SortColumn::Email),
        ("status", SortColumn::Status),
        ("state", SortColumn::State),
        ("provider", SortColumn::Provider),
        ("kind", SortColumn::Kind),
        ("members", SortColumn::Members),
    ];

    /// `email` sorts by email, `-email` the other way; anything else is the default order.
    pub fn parse(s: &str) -> Self {
        let (descending, name) = match s.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, s),
        };
        match Self::NAMES.iter().find(|(n, _)| *n == name) {
            Some((_, column)) => Self { column: *column, descending },
            None => Self::default(),
        }
    }

    /// The URL form [`DirectorySort::parse`] reads.
    pub fn param(self) -> String {
        let name = Self::NAMES.iter().find(|(_, c)| *c == self.column).map_or("name", |(n, _)| n);
        if self.descending {
            format!("-{name}")
        } else {
            name.to_string()
        }
    }

    fn direction(self) -> &'static str {
        if self.descending {
            "DESC"
        } else {
            "ASC"
        }
    }

    fn users_order(self) -> String {
        let d = self.direction();
        let column = match self.column {
            SortColumn::Email => "d.email",
            SortColumn::Status => "d.okta_status",
            SortColumn::State => "d.state",
            SortColumn::Provider => "p.name",
            SortColumn::Name | SortColumn::Kind | SortColumn::Members => "lower(d.display_name)",
        };
        format!("{column} {d}, lower(d.display_name) {d}, d.email {d}, d.id")
    }

    fn groups_order(self) -> String {
        let d = self.direction();
        let column = match self.column {
            SortColumn::Kind => "g.kind",
            SortColumn::Members => "member_count",
            SortColumn::Provider => "p.name",
            SortColumn::Name | SortColumn::Email | SortColumn::Status | SortColumn::State => "lower(g.name)",
        };
        format!("{column} {d}, lower(g.name) {d}, g.id")
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DirectoryPage<T> {
    pub items: Vec<T>,
    /// How many match, across all pages.
    pub total: i64,
}

/// A directory user with where it came from.
#[derive(Debug, Clone, FromRow, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DirectoryUserView {
    pub id: String,
    pub provider_id: String,
    pub provider_name: String,
    pub external_id: String,
    pub email: String,
    pub login: String,
    pub first_name: String,
    pub last_name: String,
    pub display_name: String,
    pub okta_status: String,
    /// `active`, `disabled` or `kept`.
    pub state: String,
    pub source: String,
    pub first_seen_run: Option<String>,
    /// The sync run that last created or changed it.
    pub last_changed_run: Option<String>,
    pub removed_at: Option<i64>,
    pub updated_at: i64,
    /// The console account whose identity at the provider is this person: its role, if any.
    pub account_role: Option<String>,
}

/// A directory group with its member count and where it came from.
#[derive(Debug, Clone, FromRow, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct DirectoryGroupView {
    pub id: String,
    pub provider_id: String,
    pub provider_name: String,
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub source: String,
    pub member_count: i64,
    pub first_seen_run: Option<String>,
    pub last_changed_run: Option<String>,
    pub synced_at: i64,
}

static USER_VIEW: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    format!(
        "SELECT d.id, d.provider_id, p.name AS provider_name, d.external_id, d.email, d.login, d.first_name, \
         d.last_name, d.display_name, d.okta_status, d.state, d.source, d.first_seen_run, d.last_changed_run, d.removed_at, \
         d.updated_at, CASE WHEN a.id IS NULL THEN NULL WHEN {} THEN 'admin' ELSE a.role END AS account_role \
         FROM directory_users d JOIN identity_providers p ON p.id = d.provider_id {TIED_ACCOUNT}",
        admin_account("a")
    )
});

/// Everyone (BUILT_IN) holds every user of its provider: its members are not stored.
const GROUP_VIEW: &str =
    "SELECT g.id, g.provider_id, p.name AS provider_name, g.external_id, g.name, g.description, g.kind, \
    g.source, CASE WHEN g.kind = 'BUILT_IN' \
        THEN (SELECT COUNT(*) FROM directory_users u WHERE u.provider_id = g.provider_id AND u.state <> 'disabled') \
        ELSE (SELECT COUNT(*) FROM directory_memberships m WHERE m.group_id = g.id) END AS member_count, \
    g.first_seen_run, g.last_changed_run, g.synced_at \
    FROM directory_groups g JOIN identity_providers p ON p.id = g.provider_id";

fn like_pattern(search: &Option<String>) -> Option<String> {
    search.as_ref().map(|s| s.trim()).filter(|s| !s.is_empty()).map(|s| {
        let escaped = s.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        format!("%{escaped}%")
    })
}

fn page_limit(limit: u32) -> i64 {
    if limit == 0 {
        50
    } else {
        limit.min(500) as i64
    }
}

impl Store {
    pub async fn directory_users(&self, q: &DirectoryQuery) -> Result<DirectoryPage<DirectoryUserView>, StoreError> {
        let filter = "WHERE ($1 IS NULL OR d.provider_id = $1) AND ($2 IS NULL OR d.state = $2) \
            AND ($3 IS NULL OR lower(d.display_name) LIKE $3 ESCAPE '\\' OR d.email LIKE $3 ESCAPE '\\' \
                 OR lower(d.login) LIKE $3 ESCAPE '\\')";
        let pattern = like_pattern(&q.search);
        let sql = format!("{} {filter} ORDER BY {} LIMIT $4 OFFSET $5", *USER_VIEW, q.sort.users_order());
        let items = db::query_as(&sql)
            .bind(&q.provider_id)
            .bind(&q.state)
            .bind(&pattern)
            .bind(page_limit(q.limit))
            .bind(q.offset as i64)
            .fetch_all(&self.pool)
            .await?;
        let count = format!("SELECT COUNT(*) FROM directory_users d {filter}");
        let (total,): (i64,) =
            db::query_as(&count).bind(&q.provider_id).bind(&q.state).bind(&pattern).fetch_one(&self.pool).await?;
        Ok(DirectoryPage { items, total })
    }

    pub async fn directory_user(&self, id: &str) -> Result<Option<DirectoryUserView>, StoreError> {
        let sql = format!("{} WHERE d.id = $1", *USER_VIEW);
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    pub async fn directory_groups(&self, q: &DirectoryQuery) -> Result<DirectoryPage<DirectoryGroupView>, StoreError> {
        let filter = "WHERE ($1 IS NULL OR g.provider_id = $1) AND ($2 IS NULL OR lower(g.name) LIKE $2 ESCAPE '\\')";
        let pattern = like_pattern(&q.search);
        let sql = format!("{GROUP_VIEW} {filter} ORDER BY {} LIMIT $3 OFFSET $4", q.sort.groups_order());
        let items = db::query_as(&sql)
            .bind(&q.provider_id)
            .bind(&pattern)
            .bind(page_limit(q.limit))
            .bind(q.offset as i64)
            .fetch_all(&self.pool)
            .await?;
        let count = format!("SELECT COUNT(*) FROM directory_groups g {filter}");
        let (total,): (i64,) = db::query_as(&count).bind(&q.provider_id).bind(&pattern).fetch_one(&self.pool).await?;
        Ok(DirectoryPage { items, total })
    }

    pub async fn directory_group(&self, id: &str) -> Result<Option<DirectoryGroupView>, StoreError> {
        let sql = format!("{GROUP_VIEW} WHERE g.id = $1");
        Ok(db::query_as(&sql).bind(id).fetch_optional(&self.pool).await?)
    }

    /// A user's groups (Everyone included), by name.
    pub async fn directory_user_groups(&self, user_id: &str) -> Result<Vec<DirectoryGroupView>, StoreError> {
        let sql = format!(
            "{GROUP_VIEW} WHERE g.id IN (SELECT m.group_id FROM directory_memberships m WHERE m.user_id = $1) \
             OR (g.kind = 'BUILT_IN' AND g.provider_id = (SELECT u.provider_id FROM directory_users u WHERE u.id = $1)) \
             ORDER BY g.name, g.id"
        );
        Ok(db::query_as(&sql).bind(user_id).fetch_all(&self.pool).await?)
    }

    /// A group's members, searchable and paged; Everyone lists every user of its provider.
    pub async fn directory_group_members(
        &self,
        group_id: &str,
        q: &DirectoryQuery,
    ) -> Result<DirectoryPage<DirectoryUserView>, StoreError> {
        let filter = "WHERE (d.id IN (SELECT m.user_id FROM directory_memberships m WHERE m.group_id = $1) \
                OR EXISTS (SELECT 1 FROM directory_groups g WHERE g.id = $1 AND g.kind = 'BUILT_IN' \
                    AND g.provider_id = d.provider_id AND d.state <> 'disabled')) \
            AND ($2 IS NULL OR lower(d.display_name) LIKE $2 ESCAPE '\\' OR d.email LIKE $2 ESCAPE '\\' \
                 OR lower(d.login) LIKE $2 ESCAPE '\\')";
        let pattern = like_pattern(&q.search);
        let sql = format!("{} {filter} ORDER BY {} LIMIT $3 OFFSET $4", *USER_VIEW, q.sort.users_order());
        let items = db::query_as(&sql)
            .bind(group_id)
            .bind(&pattern)
            .bind(page_limit(q.limit))
            .bind(q.offset as i64)
            .fetch_all(&self.pool)
            .await?;
        let count = format!("SELECT COUNT(*) FROM directory_users d {filter}");
        let (total,): (i64,) = db::query_as(&count).bind(group_id).bind(&pattern).fetch_one(&self.pool).await?;
        Ok(DirectoryPage { items, total })
    }

    /// Users, groups and stored memberships of a provider (for tests, progress and the benchmark).
    pub async fn directory_counts(&self, provider_id: &str) -> Result<(i64, i64, i64), StoreError> {
        let (users, groups, memberships): (i64, i64, i64) = db::query_as(
            "SELECT (SELECT COUNT(*) FROM directory_users WHERE provider_id = $1 AND state = 'active'), \
                    (SELECT COUNT(*) FROM directory_groups WHERE provider_id = $1), \
                    (SELECT COUNT(*) FROM directory_memberships WHERE provider_id = $1)",
        )
        .bind(provider_id)
        .fetch_one(&self.pool)
        .await?;
        Ok((users, groups, memberships))
    }

    /// (group external id, user external id) of every stored membership of a provider, sorted.
    pub async fn directory_membership_pairs(&self, provider_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(db::query_as(
            "SELECT g.external_id, u.external_id FROM directory_memberships m \
             JOIN directory_groups g ON g.id = m.group_id JOIN directory_users u ON u.id = m.user_id \
             WHERE m.provider_id = $1 ORDER BY g.external_id, u.external_id",
        )
        .bind(provider_id)
        .fetch_all(&self.pool)
        .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sort_reads_back_what_it_writes_and_ignores_anything_else() {
        for name in ["name", "-email", "status", "-state", "provider", "kind", "-members"] {
            assert_eq!(DirectorySort::parse(name).param(), name);
        }
        assert_eq!(DirectorySort::parse("d.id; DROP TABLE users"), DirectorySort::default());
        assert_eq!(DirectorySort::parse("--name"), DirectorySort::default());
    }
}
