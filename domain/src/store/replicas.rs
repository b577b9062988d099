//! Replicas on one database: who is up, which one holds the background runner's lock, and the
//! liveness of the sync runs each one runs.

use sqlx::FromRow;

use super::{db, db::Pool, Store, StoreError};

/// The advisory lock the background runner holds on PostgreSQL (any constant the database
/// does not use otherwise; "port" "cull" in ASCII).
const RUNNER_LOCK: i64 = 0x706f_7274_6375_6c6c;

#[derive(Debug, Clone, FromRow, PartialEq, Eq)]
pub struct ReplicaRow {
    pub id: String,
    pub host: String,
    pub started_at: i64,
    pub seen_at: i64,
    pub runner: bool,
    pub version: String,
}

/// A running run's liveness, as its replica last wrote it.
#[derive(Debug, Clone, FromRow)]
pub struct RunLiveness {
    pub id: String,
    pub provider_id: String,
    pub started_at: i64,
    pub replica_id: Option<String>,
    pub heartbeat_at: Option<i64>,
    /// JSON of the run's live progress.
    pub progress: Option<String>,
}

/// The background runner's lock. On PostgreSQL a session advisory lock on a connection of its
/// own: it goes with the connection, so a replica that dies (even by SIGKILL) lets it go at once.
/// On SQLite the process is the only one on the database and always holds it.
pub struct RunnerLock {
    conn: Option<sqlx::PgConnection>,
}

impl RunnerLock {
    /// Whether the lock is still held: its connection still answers.
    pub async fn alive(&mut self) -> bool {
        match &mut self.conn {
            None => true,
            Some(c) => sqlx::query("SELECT 1").execute(&mut *c).await.is_ok(),
        }
    }
}

impl Store {
    /// Takes the runner's lock if no other replica holds it.
    pub async fn try_runner_lock(&self) -> Result<Option<RunnerLock>, StoreError> {
        let Pool::Postgres(pool) = &self.pool else { return Ok(Some(RunnerLock { conn: None })) };
        // Outside the pool: the lock lives as long as this connection, never lent to a query.
        let mut conn = pool.acquire().await?.detach();
        let (got,): (bool,) =
            sqlx::query_as("SELECT pg_try_advisory_lock($1)").bind(RUNNER_LOCK).fetch_one(&mut conn).await?;
        Ok(got.then_some(RunnerLock { conn: Some(conn) }))
    }

    pub async fn upsert_replica(&self, r: &ReplicaRow) -> Result<(), StoreError> {
        db::query(
            "INSERT INTO replicas (id, host, started_at, seen_at, runner, version) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (id) DO UPDATE SET host = excluded.host, started_at = excluded.started_at, \
             seen_at = excluded.seen_at, runner = excluded.runner, version = excluded.version",
        )
        .bind(&r.id)
        .bind(&r.host)
        .bind(r.started_at)
        .bind(r.seen_at)
        .bind(r.runner)
        .bind(&r.version)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Replicas seen since `since`, the runner first.
    pub async fn replicas_seen_since(&self, since: i64) -> Result<Vec<ReplicaRow>, StoreError> {
        Ok(db::query_as(
            "SELECT id, host, started_at, seen_at, runner, version FROM replicas WHERE seen_at >= $1 \
             ORDER BY runner DESC, id",
        )
        .bind(since)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Forgets replicas not seen since `before`; a stopped one says it holds nothing.
    pub async fn forget_replicas(&self, before: i64) -> Result<(), StoreError> {
        db::query("DELETE FROM replicas WHERE seen_at < $1").bind(before).execute(&self.pool).await?;
        Ok(())
    }

    /// The running run's replica says it is alive, with its progress.
    pub async fn sync_run_heartbeat(
        &self,
        run_id: &str,
        replica_id: &str,
        now: i64,
        progress: &str,
    ) -> Result<(), StoreError> {
        db::query(
            "UPDATE sync_runs SET replica_id = $2, heartbeat_at = $3, progress = $4 WHERE id = $1 AND status = 'running'",
        )
        .bind(run_id)
        .bind(replica_id)
        .bind(now)
        .bind(progress)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Runs marked running, with their liveness; of one provider when given.
    pub async fn running_runs(&self, provider_id: Option<&str>) -> Result<Vec<RunLiveness>, StoreError> {
        Ok(db::query_as(
            "SELECT id, provider_id, started_at, replica_id, heartbeat_at, progress FROM sync_runs \
             WHERE status = 'running' AND ($1 IS NULL OR provider_id = $1)",
        )
        .bind(provider_id)
        .fetch_all(&self.pool)
        .await?)
    }
}
