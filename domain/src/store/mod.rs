//! Storage. Every SQL statement of Portcullis lives under this module, written
//! portably (numbered `$n` parameters, BIGINT times) so PostgreSQL can follow.

pub mod access;
mod api_tokens;
mod audit;
mod change_set;
mod directory;
pub mod policies;
mod providers;
mod scim;
mod sessions;
pub mod signing_keys;
mod sso;
mod throttle;
mod users;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    SqlitePool,
};

pub use access::{AccessSessionRow, HandoffRow, NewAccessSession};
pub use api_tokens::ApiTokenRow;
pub use audit::{AuditPage, AuditQuery, AuditRecord};
pub use change_set::Write;
pub use directory::{
    CandidateRow, CreatedUserRow, DeletedGroupRow, DirectoryGroupView, DirectoryPage, DirectoryQuery, DirectorySort,
    DirectoryTx, DirectoryUserView, GroupChangeRow, GroupMark, GroupRemovalRow, MembershipChangeRow,
    MembershipRemovalRow, RemovalRow, StageBatch, StageGroup, StageMembership, StageUser, SyncRunRow, SyncSettingsRow,
    UpdatedUserRow, UserMark,
};
pub use providers::{GroupInput, GroupRow, ProviderRow, DEFAULT_SCOPES};
pub use scim::{ScimGroupRow, ScimRemoval, ScimRequestRow, ScimSettingsRow, ScimTokenRow, ScimUserRow, ScimWhere};
pub use sessions::{ProviderSessionInput, SessionRow};
pub use sso::{ClaimGroups, IdentityRow, LoginAttemptRow, LoginOutcomeRow, RoleMappingRow, SessionTokensRow};
pub use throttle::ThrottleRow;
pub use users::UserRow;

/// A storage failure. The message is for logs; administrators see a generic one.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot open the database {url}: {source}")]
    Open { url: String, source: sqlx::Error },
    #[error("cannot prepare the database (migrations): {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("{0} already exists")]
    Conflict(&'static str),
    /// A change set's write found its row changed or gone: the plan it was made from is stale.
    #[error("the {0} changed while the change was being applied")]
    Gone(&'static str),
}

impl StoreError {
    fn from_insert(e: sqlx::Error, what: &'static str) -> Self {
        match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::Conflict(what),
            _ => StoreError::Sql(e),
        }
    }
}

/// A write transaction, as [`Store::begin_write`] opens it.
pub(crate) type Tx = sqlx::Transaction<'static, sqlx::Sqlite>;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("../migrations");

/// The database handle, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: SqlitePool,
    /// Bumped after every committed change to who is in which group or who may be signed in, so
    /// in-memory caches (forward auth) see it at their next request. Per process: replicas will
    /// share it through the database (the PostgreSQL issue).
    changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    /// Opens (creating the file and its folder if needed) and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let open_err = |source| StoreError::Open { url: crate::credentials::redact_url_credentials(url), source };
        let options = SqliteConnectOptions::from_str(url)
            .map_err(open_err)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        if let Some(dir) = Path::new(options.get_filename()).parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| open_err(sqlx::Error::Io(e)))?;
            }
        }
        let pool = SqlitePoolOptions::new().max_connections(8).connect_with(options).await.map_err(open_err)?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, changes: Default::default() })
    }

    /// An in-memory database for tests: one connection, so every query sees the same data.
    pub async fn in_memory() -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        MIGRATOR.run(&pool).await?;
        Ok(Self { pool, changes: Default::default() })
    }

    /// A write transaction. `BEGIN IMMEDIATE` takes SQLite's write lock up front: a deferred
    /// transaction that reads and then writes fails at once with "database is locked" when
    /// another connection wrote in between, instead of waiting out the busy timeout.
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin_with("BEGIN IMMEDIATE").await
    }

    /// The current change number; see [`Store::changes`].
    pub fn change_number(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn changed(&self) {
        self.changes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
    }

    /// For `/readyz`: the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Milliseconds since the Unix epoch: the one time format in the database.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
