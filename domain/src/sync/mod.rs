//! Directory synchronization: Portcullis' own copy of an Okta org's users, groups and
//! memberships, kept by full and incremental runs.
//!
//! A run reads Okta's pages (users and groups in parallel, group members a few groups at a
//! time), compares each page with the directory as it arrives, and streams only the
//! differences into staging tables, batch by batch. It then switches the directory over in
//! one final transaction: a run that fails or is killed changes nothing. Before removing
//! anyone the run compares the removals with the provider's threshold and stops for an
//! admin's approval when there are too many. Every change is in the audit log with the
//! run's id.

mod apply;
mod error;
mod fetch;
mod overview;
mod runner;
mod schedule;
mod settings;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::{
    accounts::Role,
    audit::{Action, Actor, Audit, Caller, Event},
    crypto::{CryptoError, SecretBox},
    okta::{OktaClient, OktaError, Patience, WaitKind, APPS_READ_SCOPE, DIRECTORY_SCOPES},
    outbound::Outbound,
    providers::service::stored_directory,
    store::{new_id, now_ms, ProviderRow, RemovalRow, Store, StoreError, SyncRunRow, SyncSettingsRow},
};

pub use crate::store::{
    DirectoryGroupView, DirectoryPage, DirectoryQuery, DirectorySort, DirectoryUserView,
    GroupRemovalRow as GroupRemoval, MembershipRemovalRow as MembershipRemoval, RemovalRow as Removal,
    SyncRunRow as RunRow,
};

pub use portcullis_types::sync::{RunKind, RunStatus};

/// Who started a run.
#[derive(Debug, Clone)]
pub enum Trigger {
    Manual { caller: Caller },
    Schedule,
}

pub use error::SyncError;
pub use overview::{last_sync, SyncOverview};
use runner::{ProgressHandle, INTERRUPTED, INTERRUPTED_FIX};
pub use settings::{settings_writes, DeprovisionAction, Scope, SyncSettings};

/// Where a running run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    /// Reading users, groups and members from Okta.
    Fetching,
    /// Comparing with the directory and writing the changes.
    Applying,
}

/// Live progress of a provider's running run (in memory; gone when the run ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Progress {
    pub run_id: String,
    pub provider_id: String,
    pub kind: RunKind,
    pub phase: Phase,
    pub started_at: i64,
    pub pages_done: u64,
    pub users_so_far: u64,
    pub groups_so_far: u64,
    pub memberships_so_far: u64,
    /// Groups whose members this run lists, and how many are done.
    pub groups_to_list: u64,
    pub groups_listed: u64,
    pub requests: u64,
    /// Waits after a 429 (until Okta's reset).
    pub rate_limit_waits: u64,
    /// Waits before the rate limit ran out, leaving a reserve for other callers.
    pub paced_waits: u64,
    pub retries: u64,
    /// Set while the run sleeps (rate limit or retry back-off): until when, epoch ms.
    pub waiting_until: Option<i64>,
}

/// Who a run would remove and what else it would change: for approval and dry runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diff {
    pub run_id: String,
    pub provider_id: String,
    pub mode: String,
    pub status: String,
    /// Why the run stopped, in words (awaiting approval).
    pub reason: Option<String>,
    pub threshold_percent: u32,
    /// Active users in the directory now.
    pub users_now: i64,
    pub created: i64,
    pub updated: i64,
    pub unchanged: i64,
    /// Everyone the run would disable, delete or keep (the first 500), and how many in all.
    pub removals: Vec<RemovalRow>,
    pub removal_count: i64,
    pub groups_created: i64,
    pub groups_updated: i64,
    /// Groups the run would delete (or deleted), and the first 500 of them.
    pub groups_deleted: i64,
    pub group_removals: Vec<GroupRemoval>,
    /// Groups in the directory now.
    pub groups_now: i64,
    pub memberships_added: i64,
    /// Memberships the run would remove (or removed), deleted groups' included, and the first 500.
    pub memberships_removed: i64,
    pub membership_removals: Vec<MembershipRemoval>,
    /// Memberships in the directory now.
    pub memberships_now: i64,
}

/// A finished run: its row (status, counts, error in words) and, when it stopped for
/// approval or was a dry run, its diff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunSummary {
    pub run: RunRow,
    pub duration_ms: i64,
    pub diff: Option<Diff>,
}

/// Tuning; the defaults suit Okta. Tests shrink pages to exercise paging.
#[derive(Debug, Clone)]
pub struct SyncOptions {
    /// `GET /api/v1/users` page size (Okta's maximum is 200).
    pub user_page: u32,
    /// `GET /api/v1/groups` page size (up to 10,000; falls back to 200 if Okta refuses).
    pub group_page: u32,
    /// `GET /api/v1/groups/{id}/users` page size (Okta's default is 1,000).
    pub member_page: u32,
    pub app_user_page: u32,
    pub app_group_page: u32,
    /// Groups whose members are fetched at once (Okta allows 75 concurrent requests per org).
    pub member_concurrency: usize,
    pub patience: Patience,
    /// Incremental runs ask for changes since the last run's start minus this, for Okta's eventual consistency.
    pub watermark_margin: Duration,
    /// How often the scheduler looks for due providers.
    pub scheduler_tick: Duration,
    /// Users, groups or memberships per audit entry for bulk changes.
    pub audit_chunk: usize,
}

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            user_page: 200,
            group_page: 1000,
            member_page: 1000,
            app_user_page: 500,
            app_group_page: 200,
            member_concurrency: 4,
            patience: Patience::SYNC,
            watermark_margin: Duration::from_secs(120),
            scheduler_tick: Duration::from_secs(30),
            audit_chunk: 500,
        }
    }
}

/// Runs directory synchronization. Cheap to clone.
#[derive(Clone)]
pub struct SyncService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    secrets: SecretBox,
    outbound: Outbound,
    audit: Audit,
    options: SyncOptions,
    /// provider id → progress of its running run; an entry is the provider's run lock.
    running: Mutex<HashMap<String, Progress>>,
    /// The replica this process is: runs carry its id, and only the runner schedules.
    replica: std::sync::RwLock<crate::replica::Replica>,
}

impl std::fmt::Debug for SyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncService")
    }
}

impl SyncService {
    pub fn new(store: Store, secrets: SecretBox, outbound: Outbound) -> Self {
        Self::with_options(store, secrets, outbound, SyncOptions::default())
    }

    pub fn with_options(store: Store, secrets: SecretBox, outbound: Outbound, options: SyncOptions) -> Self {
        let audit = Audit::new(store.clone());
        Self {
            inner: Arc::new(Inner {
                store,
                secrets,
                outbound,
                audit,
                options,
                running: Mutex::new(HashMap::new()),
                replica: std::sync::RwLock::new(crate::replica::Replica::single()),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Runs as this replica among several (the default is a single process, always the runner).
    pub fn set_replica(&self, replica: crate::replica::Replica) {
        *self.inner.replica.write().unwrap_or_else(std::sync::PoisonError::into_inner) = replica;
    }

    pub(crate) fn replica(&self) -> crate::replica::Replica {
        self.inner.replica.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Runs now and waits for the end. Refuses with [`SyncError::AlreadyRunning`] when the
    /// provider has a run going. A run that starts and fails is `Ok` with status `failed`
    /// and the reason in `run.error` / `run.error_fix`.
    pub async fn sync_now(&self, provider_id: &str, kind: RunKind, trigger: Trigger) -> Result<RunSummary, SyncError> {
        let provider = self.runnable_provider(provider_id).await?;
        self.refuse_if_running_elsewhere(provider_id).await?;
        let guard = self.lock(provider_id, &new_id(), kind)?;
        self.run(guard, provider, kind, trigger).await
    }

    /// Starts a run in the background and returns its id at once; poll [`Self::progress`]
    /// and [`Self::runs`]. Refuses like [`Self::sync_now`]; later failures are in the run.
    pub fn start_in_background(&self, provider_id: &str, kind: RunKind, trigger: Trigger) -> Result<String, SyncError> {
        let run_id = new_id();
        let guard = self.lock(provider_id, &run_id, kind)?;
        let this = self.clone();
        let provider_id = provider_id.to_string();
        tokio::spawn(async move {
            let provider = match this.runnable_provider(&provider_id).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(provider_id, error = %e, "directory sync not started");
                    // Nothing began: no run row to fail.
                    let mut guard = guard;
                    guard.finished = true;
                    return;
                }
            };
            if let Err(e) = this.run(guard, provider, kind, trigger).await {
                tracing::error!(provider_id, error = %e, "directory sync failed");
            }
        });
        Ok(run_id)
    }

    /// Starts a run in the background, refusing at once what would not start (no such provider,
    /// no directory credentials, disabled, a run already going), and answers once the run is
    /// stored: a caller that reads the run next finds it.
    pub async fn start(&self, provider_id: &str, kind: RunKind, trigger: Trigger) -> Result<String, SyncError> {
        self.runnable_provider(provider_id).await?;
        self.refuse_if_running_elsewhere(provider_id).await?;
        let run_id = self.start_in_background(provider_id, kind, trigger)?;
        for _ in 0..250 {
            match self.inner.store.sync_run(&run_id).await {
                Ok(Some(_)) => break,
                Ok(None) => {
                    // The task ended without storing its run: another replica's run won the
                    // provider between the check above and the insert.
                    if self.local_progress(provider_id).is_none_or(|p| p.run_id != run_id) {
                        self.refuse_if_running_elsewhere(provider_id).await?;
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(run_id)
    }

    /// The running run's progress, if the provider has one: from this process when it runs
    /// it, else as the replica running it last wrote it.
    pub async fn progress(&self, provider_id: &str) -> Option<Progress> {
        if let Some(p) = self.local_progress(provider_id) {
            return Some(p);
        }
        let runs = self.inner.store.running_runs(Some(provider_id)).await.ok()?;
        runs.into_iter().find_map(|r| serde_json::from_str(r.progress.as_deref()?).ok())
    }

    /// The progress of a run this process runs.
    pub(crate) fn local_progress(&self, provider_id: &str) -> Option<Progress> {
        self.inner.running.lock().ok().and_then(|m| m.get(provider_id).cloned())
    }

    /// A provider's runs, newest first.
    pub async fn runs(&self, provider_id: &str, limit: u32) -> Result<Vec<RunRow>, SyncError> {
        Ok(self.inner.store.sync_runs(provider_id, limit).await?)
    }

    /// A run and the name of the provider it synchronized, for the run's own page.
    pub async fn run_with_provider(&self, run_id: &str) -> Result<(RunRow, String), SyncError> {
        let run = self.run_row(run_id).await?;
        let provider = self.inner.store.provider(&run.provider_id).await?.map(|p| p.name).unwrap_or_default();
        Ok((run, provider))
    }

    pub async fn run_row(&self, run_id: &str) -> Result<RunRow, SyncError> {
        self.inner.store.sync_run(run_id).await?.ok_or(SyncError::RunNotFound)
    }

    /// The diff of a run awaiting approval or of a dry run; `None` for other runs.
    pub async fn pending_diff(&self, run_id: &str) -> Result<Option<Diff>, SyncError> {
        let run = self.run_row(run_id).await?;
        if !(RunStatus::AwaitingApproval.is(&run.status)
            || run.mode == RunKind::DryRun.as_str() && RunStatus::Succeeded.is(&run.status))
        {
            return Ok(None);
        }
        let settings = self.settings(&run.provider_id).await?;
        Ok(Some(apply::diff(&self.inner, &run, &settings).await?))
    }

    /// Applies a run that stopped for approval: its whole diff, removals included. Admins only:
    /// it decides who and what is removed.
    pub async fn approve(&self, run_id: &str, caller: &Caller) -> Result<RunSummary, SyncError> {
        if caller.role < Role::Admin {
            return Err(SyncError::AdminOnly("approve a run held for approval"));
        }
        let run = self.run_row(run_id).await?;
        if !RunStatus::AwaitingApproval.is(&run.status) {
            return Err(SyncError::NotAwaitingApproval { status: run.status });
        }
        let provider = self.inner.store.provider(&run.provider_id).await?.ok_or(SyncError::ProviderNotFound)?;
        let kind = RunKind::parse(&run.mode).unwrap_or(RunKind::Full);
        let mut guard = self.lock(&run.provider_id, run_id, kind)?;
        // Not ours to fail if the approval errs: the run stays awaiting approval.
        guard.finished = true;
        let progress = self.progress_handle(&guard);
        progress.update(|p| p.phase = Phase::Applying);
        let settings = self.settings(&run.provider_id).await?;
        let started = run.started_at;
        let outcome =
            apply::apply(&self.inner, &provider, &settings, run, apply::Mode::Approve { by: caller.clone() }).await?;
        drop(guard);
        Ok(RunSummary {
            duration_ms: outcome.run.finished_at.unwrap_or(started) - started,
            run: outcome.run,
            diff: None,
        })
    }

    /// Drops a run's pending diff: nothing is applied; the next run computes a fresh one.
    pub async fn discard(&self, run_id: &str, caller: &Caller) -> Result<(), SyncError> {
        let mut run = self.run_row(run_id).await?;
        if !RunStatus::AwaitingApproval.is(&run.status) {
            return Err(SyncError::NotAwaitingApproval { status: run.status });
        }
        run.status = RunStatus::Cancelled.as_str().into();
        run.decided_by = actor_email(&caller.actor);
        // The hold's reason and fix asked for a decision that is now made.
        run.error = None;
        run.error_fix = None;
        run.decided_at = Some(now_ms());
        self.inner.store.update_sync_run(&run).await?;
        self.inner.store.clear_stage(run_id).await?;
        self.inner
            .audit
            .record_or_log(
                Event::new(caller.actor.clone(), Action::SyncDiscarded)
                    .ip(caller.ip())
                    .target(self.provider_name(&run.provider_id).await)
                    .detail("sync_run_id", run.id.clone())
                    .detail("provider_id", run.provider_id.clone()),
            )
            .await;
        Ok(())
    }

    // ---------- internals ----------

    pub(super) async fn runnable_provider(&self, provider_id: &str) -> Result<ProviderRow, SyncError> {
        let provider = self.inner.store.provider(provider_id).await?.ok_or(SyncError::ProviderNotFound)?;
        if provider.kind != "okta" || provider.directory_mode == "off" {
            return Err(SyncError::DirectoryOff);
        }
        if !provider.enabled {
            return Err(SyncError::ProviderDisabled);
        }
        Ok(provider)
    }

    pub(super) async fn provider_name(&self, provider_id: &str) -> String {
        self.inner
            .store
            .provider(provider_id)
            .await
            .ok()
            .flatten()
            .map(|p| p.name)
            .unwrap_or_else(|| provider_id.to_string())
    }
}

fn actor_email(actor: &Actor) -> Option<String> {
    actor.email().map(str::to_string)
}

/// Okta's timestamp format, `2026-01-02T03:04:05.000Z`, from epoch seconds.
pub(crate) fn iso_time(epoch_secs: i64) -> String {
    let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].000Z");
    time::OffsetDateTime::from_unix_timestamp(epoch_secs.max(0))
        .ok()
        .and_then(|t| t.format(&fmt).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn okta_times_are_formatted_as_okta_writes_them() {
        assert_eq!(iso_time(1_136_214_245), "2006-01-02T15:04:05.000Z");
    }
}
