//! This process among the replicas on one database: its heartbeat, and the background
//! runner's lock that makes exactly one replica run scheduled syncs, key rotation and
//! housekeeping.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use crate::store::{now_ms, Backend, ReplicaRow, RunnerLock, Store};

/// How often a replica says it is alive and tries for the runner's lock. A replica that dies
/// lets the lock go with its connection; another takes it within this period.
pub const HEARTBEAT: Duration = Duration::from_secs(5);

/// A replica not heard from for this long is not listed as up.
pub const REPLICA_GONE_MS: i64 = 30_000;

/// Cheap to clone; clones are the same replica.
#[derive(Clone, Debug)]
pub struct Replica(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    id: String,
    host: String,
    started_at: i64,
    runner: AtomicBool,
}

impl Replica {
    pub fn new(id: impl Into<String>) -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_default();
        Self(Arc::new(Inner { id: id.into(), host, started_at: now_ms(), runner: AtomicBool::new(false) }))
    }

    /// One process alone on its database (tests, tools): always the runner.
    pub fn single() -> Self {
        let r = Self::new("local");
        r.0.runner.store(true, Ordering::Release);
        r
    }

    pub fn id(&self) -> &str {
        &self.0.id
    }

    /// Whether this replica runs the background work now.
    pub fn is_runner(&self) -> bool {
        self.0.runner.load(Ordering::Acquire)
    }

    async fn beat(&self, store: &Store, lock: &mut Option<RunnerLock>) {
        if let Some(held) = lock {
            if !held.alive().await {
                tracing::warn!(replica = self.id(), "lost the background runner's lock (database connection)");
                *lock = None;
            }
        }
        if lock.is_none() {
            match store.try_runner_lock().await {
                Ok(Some(l)) => {
                    if store.backend() == Backend::Postgres {
                        tracing::info!(replica = self.id(), "this replica runs the background work");
                    }
                    *lock = Some(l);
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, "cannot try the background runner's lock"),
            }
        }
        self.0.runner.store(lock.is_some(), Ordering::Release);
        let now = now_ms();
        let row = ReplicaRow {
            id: self.0.id.clone(),
            host: self.0.host.clone(),
            started_at: self.0.started_at,
            seen_at: now,
            runner: lock.is_some(),
            version: env!("CARGO_PKG_VERSION").into(),
        };
        if let Err(e) = store.upsert_replica(&row).await {
            tracing::warn!(error = %e, "cannot record this replica's heartbeat");
        }
        if lock.is_some() {
            if let Err(e) = store.forget_replicas(now - 24 * 3_600_000).await {
                tracing::debug!(error = %e, "cannot forget old replicas");
            }
        }
    }

    /// Starts the heartbeat and waits for its first beat, so a single replica is the runner
    /// before it serves.
    pub async fn start(&self, store: Store) -> tokio::task::JoinHandle<()> {
        let mut lock = None;
        self.beat(&store, &mut lock).await;
        let this = self.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(HEARTBEAT);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            every.tick().await;
            loop {
                every.tick().await;
                this.beat(&store, &mut lock).await;
            }
        })
    }
}

/// The replicas up now, the runner first (the Settings page and `/readyz`).
pub async fn replicas_up(store: &Store) -> Result<Vec<ReplicaRow>, crate::StoreError> {
    store.replicas_seen_since(now_ms() - REPLICA_GONE_MS).await
}
