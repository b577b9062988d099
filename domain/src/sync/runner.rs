//! One run from start to end: the per-provider lock, progress, fetch and apply.

use super::*;

/// Holds a provider's run lock; dropping it (the run ended or its task was aborted)
/// releases the lock, and marks the run failed if it never finished.
pub(super) struct RunGuard {
    pub(super) inner: Arc<Inner>,
    pub(super) provider_id: String,
    pub(super) run_id: String,
    pub(super) finished: bool,
    /// Writes the run's heartbeat and progress for the other replicas while it runs.
    pub(super) heartbeat: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
        if let Ok(mut m) = self.inner.running.lock() {
            if m.get(&self.provider_id).is_some_and(|p| p.run_id == self.run_id) {
                m.remove(&self.provider_id);
            }
        }
        if !self.finished {
            let store = self.inner.store.clone();
            let run_id = self.run_id.clone();
            if let Ok(handle) = tokio::runtime::Handle::try_current() {
                handle.spawn(async move {
                    if let Err(e) = store.fail_interrupted_run(&run_id, INTERRUPTED, INTERRUPTED_FIX, now_ms()).await {
                        tracing::warn!(run_id, error = %e, "could not mark an interrupted sync run as failed");
                    }
                });
            }
        }
    }
}

pub(super) const INTERRUPTED: &str =
    "The run was interrupted before it finished (the server stopped or the run was cancelled). Nothing was changed.";
pub(super) const INTERRUPTED_FIX: &str = "Run the sync again.";

/// A cheap handle the fetchers use to report progress.
#[derive(Clone)]
pub(crate) struct ProgressHandle {
    inner: Arc<Inner>,
    provider_id: String,
    run_id: String,
}

impl ProgressHandle {
    pub(crate) fn update(&self, f: impl FnOnce(&mut Progress)) {
        if let Ok(mut m) = self.inner.running.lock() {
            if let Some(p) = m.get_mut(&self.provider_id).filter(|p| p.run_id == self.run_id) {
                f(p);
            }
        }
    }
}

impl SyncService {
    /// Every [`RUN_HEARTBEAT`]: the run's progress and this replica's word that it is alive.
    fn spawn_run_heartbeat(&self, run_id: &str, provider_id: &str) -> tokio::task::JoinHandle<()> {
        let this = self.clone();
        let (run_id, provider_id) = (run_id.to_string(), provider_id.to_string());
        tokio::spawn(async move {
            let replica = this.replica();
            let mut every = tokio::time::interval(schedule::RUN_HEARTBEAT);
            loop {
                every.tick().await;
                let Some(p) = this.local_progress(&provider_id).filter(|p| p.run_id == run_id) else { return };
                let progress = serde_json::to_string(&p).unwrap_or_default();
                if let Err(e) = this.inner.store.sync_run_heartbeat(&run_id, replica.id(), now_ms(), &progress).await {
                    tracing::warn!(run_id, error = %e, "cannot write the sync run's heartbeat");
                }
            }
        })
    }

    pub(super) fn lock(&self, provider_id: &str, run_id: &str, kind: RunKind) -> Result<RunGuard, SyncError> {
        let mut m = self.inner.running.lock().map_err(|_| SyncError::AlreadyRunning { run_id: String::new() })?;
        if let Some(p) = m.get(provider_id) {
            return Err(SyncError::AlreadyRunning { run_id: p.run_id.clone() });
        }
        m.insert(
            provider_id.to_string(),
            Progress {
                run_id: run_id.to_string(),
                provider_id: provider_id.to_string(),
                kind,
                phase: Phase::Starting,
                started_at: now_ms(),
                pages_done: 0,
                users_so_far: 0,
                groups_so_far: 0,
                memberships_so_far: 0,
                groups_to_list: 0,
                groups_listed: 0,
                requests: 0,
                rate_limit_waits: 0,
                paced_waits: 0,
                retries: 0,
                waiting_until: None,
            },
        );
        Ok(RunGuard {
            inner: self.inner.clone(),
            provider_id: provider_id.to_string(),
            run_id: run_id.to_string(),
            finished: false,
            heartbeat: None,
        })
    }

    pub(super) fn progress_handle(&self, guard: &RunGuard) -> ProgressHandle {
        ProgressHandle {
            inner: self.inner.clone(),
            provider_id: guard.provider_id.clone(),
            run_id: guard.run_id.clone(),
        }
    }

    pub(super) async fn run(
        &self,
        mut guard: RunGuard,
        provider: ProviderRow,
        kind: RunKind,
        trigger: Trigger,
    ) -> Result<RunSummary, SyncError> {
        let store = &self.inner.store;
        let settings_row = store.sync_settings(&provider.id).await?;
        let settings = settings_row.as_ref().map(SyncSettings::from_row).unwrap_or_default();
        if settings_row.is_none() {
            store.save_sync_settings(&settings.to_row(&provider.id, None)).await?;
        }
        // Incremental needs a previous full run's watermark.
        let watermark = settings_row.as_ref().and_then(|r| r.watermark.clone());
        let kind = match (kind, &watermark) {
            (RunKind::Incremental, None) => RunKind::Full,
            (k, _) => k,
        };
        let progress = self.progress_handle(&guard);
        progress.update(|p| p.kind = kind);
        let (trigger_kind, actor, ip) = match &trigger {
            Trigger::Manual { caller } => ("manual", caller.actor.clone(), caller.ip.clone()),
            Trigger::Schedule => ("schedule", Actor::System, None),
        };
        let mut run = SyncRunRow {
            id: guard.run_id.clone(),
            provider_id: provider.id.clone(),
            mode: kind.as_str().into(),
            scope: match settings.scope {
                Scope::Org => "org".into(),
                Scope::App(_) => "app".into(),
            },
            trigger_kind: trigger_kind.into(),
            triggered_by: actor_email(&actor),
            status: RunStatus::Running.as_str().into(),
            started_at: now_ms(),
            finished_at: None,
            users_seen: 0,
            groups_seen: 0,
            memberships_seen: 0,
            created: 0,
            updated: 0,
            disabled: 0,
            deleted: 0,
            kept: 0,
            unchanged: 0,
            groups_created: 0,
            groups_updated: 0,
            groups_deleted: 0,
            memberships_added: 0,
            memberships_removed: 0,
            requests: 0,
            rate_limit_waits: 0,
            paced_waits: 0,
            retries: 0,
            error: None,
            error_fix: None,
            watermark: None,
            decided_by: None,
            decided_at: None,
        };
        if let Err(e) = store.insert_sync_run(&run).await {
            // Another replica's run holds the provider (one running run per provider is a
            // unique index), or one it left behind when it died: that one is failed first.
            if !matches!(e, crate::StoreError::Conflict(_)) {
                return Err(e.into());
            }
            guard.finished = true;
            self.refuse_if_running_elsewhere(&provider.id).await?;
            store.insert_sync_run(&run).await.map_err(|e| match e {
                crate::StoreError::Conflict(_) => SyncError::AlreadyRunning { run_id: String::new() },
                e => e.into(),
            })?;
            guard.finished = false;
        }
        guard.heartbeat = Some(self.spawn_run_heartbeat(&run.id, &provider.id));
        self.inner
            .audit
            .record_or_log(
                Event::new(actor.clone(), Action::SyncStarted)
                    .ip(ip.as_deref())
                    .target(provider.name.clone())
                    .detail("sync_run_id", run.id.clone())
                    .detail("provider_id", provider.id.clone())
                    .detail("mode", kind.as_str())
                    .detail("scope", run.scope.clone()),
            )
            .await;
        // A manual full or incremental run replaces a diff still waiting for approval.
        if kind != RunKind::DryRun {
            for pending in store.sync_runs_with_status(&provider.id, RunStatus::AwaitingApproval.as_str()).await? {
                let mut pending = pending;
                pending.status = RunStatus::Cancelled.as_str().into();
                pending.error = Some(format!("Replaced by run {} before it was approved.", run.id));
                pending.decided_at = Some(now_ms());
                store.update_sync_run(&pending).await?;
                store.clear_stage(&pending.id).await?;
            }
        }

        let result = self.fetch_and_apply(&provider, &settings, watermark, kind, &mut run, &progress).await;
        guard.finished = true;
        let summary = match result {
            Ok(outcome) => {
                let duration_ms = outcome.run.finished_at.unwrap_or(run.started_at) - run.started_at;
                RunSummary { run: outcome.run, duration_ms, diff: outcome.diff }
            }
            Err(e) => {
                // Failed runs change nothing: staging is dropped, the directory is as it was.
                let _ = store.clear_stage(&run.id).await;
                run.status = RunStatus::Failed.as_str().into();
                run.finished_at = Some(now_ms());
                run.error = Some(e.to_string());
                run.error_fix = Some(e.fix());
                store.update_sync_run(&run).await?;
                self.inner
                    .audit
                    .record_or_log(
                        Event::new(Actor::System, Action::SyncFailed)
                            .target(provider.name.clone())
                            .failed()
                            .detail("sync_run_id", run.id.clone())
                            .detail("provider_id", provider.id.clone())
                            .detail("error", e.to_string()),
                    )
                    .await;
                tracing::warn!(provider = provider.name, run_id = run.id, error = %e, "directory sync failed");
                RunSummary { duration_ms: run.finished_at.unwrap_or(run.started_at) - run.started_at, run, diff: None }
            }
        };
        drop(guard);
        Ok(summary)
    }

    pub(super) async fn fetch_and_apply(
        &self,
        provider: &ProviderRow,
        settings: &SyncSettings,
        watermark: Option<String>,
        kind: RunKind,
        run: &mut SyncRunRow,
        progress: &ProgressHandle,
    ) -> Result<apply::Outcome, SyncError> {
        let auth = stored_directory(provider, &self.inner.secrets)?.ok_or(SyncError::DirectoryOff)?;
        let credentials = auth.credentials().map_err(SyncError::Credentials)?;
        let scopes = match settings.scope {
            Scope::Org => DIRECTORY_SCOPES.to_string(),
            Scope::App(_) => format!("{DIRECTORY_SCOPES} {APPS_READ_SCOPE}"),
        };
        let observer_progress = progress.clone();
        let client =
            OktaClient::new(self.inner.outbound.clone(), &provider.base_url, credentials, self.inner.options.patience)
                .with_scopes(&scopes)
                .with_wait_observer(Arc::new(move |kind, wait| {
                    let until = now_ms() + wait.as_millis() as i64;
                    observer_progress.update(|p| {
                        p.waiting_until = Some(until);
                        match kind {
                            WaitKind::RateLimited => p.rate_limit_waits += 1,
                            WaitKind::Paced => p.paced_waits += 1,
                            WaitKind::Retry => p.retries += 1,
                        }
                    });
                }));
        progress.update(|p| p.phase = Phase::Fetching);
        let incremental = kind == RunKind::Incremental;
        let plan = fetch::Plan {
            run_id: run.id.clone(),
            provider_id: provider.id.clone(),
            scope: settings.scope.clone(),
            // App assignments have no lastUpdated filter: app-scoped runs list every assigned user.
            since: if incremental && settings.scope == Scope::Org { watermark } else { None },
            relist_all: !incremental,
        };
        let fetch_started = std::time::Instant::now();
        let fetched = fetch::fetch(&self.inner.store, &client, &self.inner.options, &plan, progress).await;
        tracing::debug!(run_id = %run.id, ms = fetch_started.elapsed().as_millis() as u64, ok = fetched.is_ok(), "fetch done");
        let stats = client.stats().await;
        run.requests = stats.requests as i64;
        run.rate_limit_waits = stats.rate_limit_waits as i64;
        run.paced_waits = stats.paced_waits as i64;
        run.retries = stats.retries as i64;
        let fetched = fetched?;
        run.users_seen = fetched.users as i64;
        run.unchanged = fetched.unchanged as i64;
        run.groups_seen = fetched.groups as i64;
        run.memberships_seen = fetched.memberships as i64;
        let margin = self.inner.options.watermark_margin.as_secs() as i64;
        run.watermark = Some(iso_time(fetched.server_start.unwrap_or(run.started_at / 1000) - margin));
        progress.update(|p| {
            p.phase = Phase::Applying;
            p.waiting_until = None;
        });
        let mode = if kind == RunKind::DryRun { apply::Mode::DryRun } else { apply::Mode::Normal };
        apply::apply(&self.inner, provider, settings, run.clone(), mode).await
    }
}
