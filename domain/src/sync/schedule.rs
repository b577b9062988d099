//! The scheduler: due runs started in the background, runs a restart interrupted failed.

use super::*;
use crate::store::RunLiveness;

/// A run whose replica has not said it is alive for this long is failed by the others.
pub const RUN_STALE_MS: i64 = 30_000;

/// How often the replica running a sync writes its heartbeat and progress.
pub(super) const RUN_HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

impl SyncService {
    /// Every ~30 s: starts the runs that are due (see [`Self::start_due_runs`]).
    pub fn spawn_scheduler(&self) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        tokio::spawn(async move {
            if let Err(e) = this.inner.store.clear_orphaned_stage().await {
                tracing::warn!(error = %e, "could not clear old sync staging");
            }
            let mut tick = tokio::time::interval(this.inner.options.scheduler_tick);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                // Several replicas: only the one holding the runner's lock schedules.
                if !this.replica().is_runner() {
                    continue;
                }
                if let Err(e) = this.start_due_runs().await {
                    tracing::warn!(error = %e, "directory sync scheduler");
                }
            }
        })
    }

    /// Marks runs left running by a crash as failed, then starts a run for every enabled
    /// provider with directory sync whose interval has passed and that has no run going
    /// or waiting for approval: a full run when the last full one is older than
    /// `full_every_hours` (or there is none), else incremental. Returns the runs started.
    pub async fn start_due_runs(&self) -> Result<Vec<String>, SyncError> {
        self.fail_stale_runs().await?;
        let now = now_ms();
        let mut started = Vec::new();
        for provider in self.inner.store.providers().await? {
            if !provider.enabled || provider.kind != "okta" || provider.directory_mode == "off" {
                continue;
            }
            let row = self.inner.store.sync_settings(&provider.id).await?;
            let settings = row.as_ref().map(SyncSettings::from_row).unwrap_or_default();
            if !settings.enabled || self.local_progress(&provider.id).is_some() {
                continue;
            }
            if !self.inner.store.running_runs(Some(&provider.id)).await?.is_empty() {
                continue; // another replica's manual run
            }
            if !self
                .inner
                .store
                .sync_runs_with_status(&provider.id, RunStatus::AwaitingApproval.as_str())
                .await?
                .is_empty()
            {
                continue;
            }
            let last = self.inner.store.sync_runs(&provider.id, 1).await?.into_iter().next();
            let due = last.is_none_or(|r| now - r.started_at >= settings.interval_minutes as i64 * 60_000);
            if !due {
                continue;
            }
            let full_due = row.as_ref().is_none_or(|r| {
                r.watermark.is_none()
                    || r.last_full_at.is_none_or(|t| now - t >= settings.full_every_hours as i64 * 3_600_000)
            });
            let kind = if full_due { RunKind::Full } else { RunKind::Incremental };
            match self.start_in_background(&provider.id, kind, Trigger::Schedule) {
                Ok(id) => started.push(id),
                Err(SyncError::AlreadyRunning { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(started)
    }

    /// Fails the runs whose process is gone: on SQLite every run this process does not run (it
    /// is the only one); on PostgreSQL the runs whose replica stopped beating for
    /// [`RUN_STALE_MS`]. The final switch-over is one transaction, so a run cut off anywhere
    /// changed nothing.
    pub(super) async fn fail_stale_runs(&self) -> Result<(), SyncError> {
        self.fail_stale_runs_of(None).await.map(drop)
    }

    /// [`Self::fail_stale_runs`], of one provider or all; the running runs that are alive.
    async fn fail_stale_runs_of(&self, provider_id: Option<&str>) -> Result<Vec<RunLiveness>, SyncError> {
        let now = now_ms();
        let mut alive = Vec::new();
        for run in self.inner.store.running_runs(provider_id).await? {
            if self.is_stale(&run, now) {
                tracing::warn!(run_id = run.id, replica = run.replica_id, "failing a sync run whose replica stopped");
                self.inner.store.fail_interrupted_run(&run.id, INTERRUPTED, INTERRUPTED_FIX, now).await?;
            } else {
                alive.push(run);
            }
        }
        Ok(alive)
    }

    fn is_stale(&self, run: &RunLiveness, now: i64) -> bool {
        let ours = self.local_progress(&run.provider_id).is_some_and(|p| p.run_id == run.id);
        let single = self.inner.store.backend() == crate::store::Backend::Sqlite;
        !ours && (single || run.heartbeat_at.unwrap_or(run.started_at) < now - RUN_STALE_MS)
    }

    /// [`SyncError::AlreadyRunning`] when another replica runs a sync of the provider now; a
    /// run it left behind when it died is failed instead.
    pub(super) async fn refuse_if_running_elsewhere(&self, provider_id: &str) -> Result<(), SyncError> {
        let ours = self.local_progress(provider_id).map(|p| p.run_id);
        match self.fail_stale_runs_of(Some(provider_id)).await?.into_iter().find(|r| Some(&r.id) != ours.as_ref()) {
            Some(run) => Err(SyncError::AlreadyRunning { run_id: run.id }),
            None => Ok(()),
        }
    }
}
