//! Storage. Every SQL statement of Portcullis lives under this module, written
//! portably (numbered `$n` parameters, BIGINT times) so PostgreSQL can follow.

pub mod access;
mod api_tokens;
mod audit;
mod change_set;
pub(crate) mod db;
mod directory;
pub mod policies;
mod providers;
mod replicas;
mod scim;
mod sessions;
pub mod signing_keys;
mod sso;
mod throttle;
mod users;

use std::{path::Path, str::FromStr, time::Duration};

use sqlx::{
    postgres::{PgConnectOptions, PgPoolOptions},
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous},
    Connection,
};

use db::Pool;

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
pub use replicas::{ReplicaRow, RunLiveness, RunnerLock};
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

pub(crate) use db::Tx;

static SQLITE_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/postgres");

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn label(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// The database handle, cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    pool: Pool,
    /// Bumped after every committed change to who is in which group or who may be signed in, so
    /// in-memory caches (forward auth) see it at their next request. On PostgreSQL the number
    /// also lives in the database (`store_changes`) so other replicas follow: see
    /// [`Store::refresh_change_number`].
    changes: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// The shared number as this process last saw it.
    shared_seen: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Store {
    /// Opens and migrates the database: `postgres://…` is PostgreSQL, anything else SQLite
    /// (creating the file and its folder if needed).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        if is_postgres_url(url) {
            return Self::open_postgres(url, 16).await;
        }
        let open_err = open_error(url);
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
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Self { pool: Pool::Sqlite(pool), changes: Default::default(), shared_seen: Default::default() })
    }

    async fn open_postgres(url: &str, max_connections: u32) -> Result<Self, StoreError> {
        let open_err = open_error(url);
        let options = PgConnectOptions::from_str(url).map_err(open_err)?.application_name("portcullis");
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .map_err(open_err)?;
        POSTGRES_MIGRATIONS.run(&pool).await?;
        let store = Self { pool: Pool::Postgres(pool), changes: Default::default(), shared_seen: Default::default() };
        store.refresh_change_number().await?;
        Ok(store)
    }

    /// A fresh, empty database for tests: SQLite in memory (one connection, so every query sees
    /// the same data) or, when `TEST_POSTGRES_URL` names a PostgreSQL server, a new
    /// database of its own there — so every store test runs on both backends.
    pub async fn in_memory() -> Result<Self, StoreError> {
        if let Ok(server) = std::env::var("TEST_POSTGRES_URL") {
            if !server.is_empty() {
                return Self::fresh_postgres(&server).await;
            }
        }
        let options = SqliteConnectOptions::from_str("sqlite::memory:")?.foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .idle_timeout(None)
            .max_lifetime(None)
            .connect_with(options)
            .await?;
        SQLITE_MIGRATIONS.run(&pool).await?;
        Ok(Self { pool: Pool::Sqlite(pool), changes: Default::default(), shared_seen: Default::default() })
    }

    /// A new database on the PostgreSQL server at `server_url`, migrated; for tests.
    pub async fn fresh_postgres(server_url: &str) -> Result<Self, StoreError> {
        let url = fresh_postgres_database(server_url).await?;
        Self::open_postgres(&url, 4).await
    }

    pub fn backend(&self) -> Backend {
        if self.pool.is_sqlite() {
            Backend::Sqlite
        } else {
            Backend::Postgres
        }
    }

    /// A write transaction: writers run one at a time (see [`db::Pool::begin_write`]).
    pub(crate) async fn begin_write(&self) -> Result<Tx, sqlx::Error> {
        self.pool.begin_write().await
    }

    /// The current change number; see [`Store::changes`].
    pub fn change_number(&self) -> u64 {
        self.changes.load(std::sync::atomic::Ordering::Acquire)
    }

    pub(crate) fn changed(&self) {
        self.changes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        if let Pool::Postgres(pool) = &self.pool {
            // Other replicas read the shared number; a lost bump is caught by the next one, and
            // readers also poll, so this does not hold up the change it follows.
            let pool = pool.clone();
            let seen = self.shared_seen.clone();
            let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
            runtime.spawn(async move {
                let bumped: Result<(i64,), _> =
                    sqlx::query_as("UPDATE store_changes SET n = n + 1 WHERE id = 1 RETURNING n")
                        .fetch_one(&pool)
                        .await;
                match bumped {
                    // Our own bump needs no second invalidation here.
                    Ok((n,)) => {
                        let n = n as u64;
                        let _ = seen.compare_exchange(
                            n - 1,
                            n,
                            std::sync::atomic::Ordering::AcqRel,
                            std::sync::atomic::Ordering::Acquire,
                        );
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot publish a change to the other replicas"),
                }
            });
        }
    }

    /// Follows changes other replicas made: reads the shared change number and, when it moved,
    /// moves this process's one too. A no-op on SQLite (one process).
    pub async fn refresh_change_number(&self) -> Result<bool, StoreError> {
        let Pool::Postgres(pool) = &self.pool else { return Ok(false) };
        let (n,): (i64,) = sqlx::query_as("SELECT n FROM store_changes WHERE id = 1").fetch_one(pool).await?;
        let shared = n as u64;
        let seen = self.shared_seen.swap(shared, std::sync::atomic::Ordering::AcqRel);
        if seen != shared {
            self.changes.fetch_add(1, std::sync::atomic::Ordering::AcqRel);
            return Ok(true);
        }
        Ok(false)
    }

    /// Every column of the schema as (table, column, type family, nullable), sorted: the two
    /// backends' migrations must give the same list. Type families: `integer`, `text`, `boolean`.
    pub async fn schema_columns(&self) -> Result<Vec<(String, String, String, bool)>, StoreError> {
        let rows: Vec<(String, String, String, bool)> = match &self.pool {
            Pool::Sqlite(p) => {
                let rows: Vec<(String, String, String, i64)> = sqlx::query_as(
                    "SELECT m.name, c.name, upper(c.type), c.\"notnull\" + c.pk FROM sqlite_master m \
                     JOIN pragma_table_info(m.name) c WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' \
                     AND m.name <> '_sqlx_migrations'",
                )
                .fetch_all(p)
                .await?;
                rows.into_iter().map(|(t, c, ty, not_null)| (t, c, ty, not_null == 0)).collect()
            }
            Pool::Postgres(p) => {
                let rows: Vec<(String, String, String, String)> = sqlx::query_as(
                    "SELECT table_name::text, column_name::text, upper(data_type::text), is_nullable::text \
                     FROM information_schema.columns WHERE table_schema = current_schema() \
                     AND table_name <> '_sqlx_migrations'",
                )
                .fetch_all(p)
                .await?;
                rows.into_iter().map(|(t, c, ty, nullable)| (t, c, ty, nullable == "YES")).collect()
            }
        };
        let family = |ty: String| match ty.as_str() {
            "BIGINT" | "INTEGER" => "integer".to_string(),
            "BOOLEAN" => "boolean".to_string(),
            "TEXT" => "text".to_string(),
            _ => ty,
        };
        let mut out: Vec<_> = rows.into_iter().map(|(t, c, ty, null)| (t, c, family(ty), null)).collect();
        out.sort();
        Ok(out)
    }

    /// For `/readyz`: the database answers a query.
    pub async fn ping(&self) -> Result<(), StoreError> {
        db::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// [`StoreError::Open`] for `url`, its credentials left out.
fn open_error(url: &str) -> impl Fn(sqlx::Error) -> StoreError + Copy + '_ {
    move |source| StoreError::Open { url: crate::credentials::redact_url_credentials(url), source }
}

pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// Creates `portcullis_test_<uuid>` on the server and returns its URL (tests, benchmarks).
pub async fn fresh_postgres_database(server_url: &str) -> Result<String, StoreError> {
    let open_err = open_error(server_url);
    let options = PgConnectOptions::from_str(server_url).map_err(open_err)?;
    let name = format!("portcullis_test_{}", uuid::Uuid::now_v7().simple());
    let mut admin = sqlx::PgConnection::connect_with(&options).await.map_err(open_err)?;
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await?;
    admin.close().await?;
    let mut url = url::Url::parse(server_url).map_err(|e| open_err(sqlx::Error::Configuration(e.into())))?;
    url.set_path(&name);
    Ok(url.to_string())
}

/// Milliseconds since the Unix epoch: the one time format in the database.
pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

/// A new time-ordered id.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}
