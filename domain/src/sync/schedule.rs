//! The scheduler: due runs started in the background, runs a restart interrupted failed.

use super::*;

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
            if !settings.enabled || self.progress(&provider.id).is_some() {
                continue;
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

    pub(super) async fn fail_stale_runs(&self) -> Result<(), SyncError> {
        for run in self.inner.store.running_sync_runs().await? {
            let ours = self.progress(&run.provider_id).is_some_and(|p| p.run_id == run.id);
            if !ours {
                self.inner.store.fail_interrupted_run(&run.id, INTERRUPTED, INTERRUPTED_FIX, now_ms()).await?;
            }
        }
        Ok(())
    }
}
