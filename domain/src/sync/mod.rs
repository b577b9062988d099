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
mod fetch;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde::{Deserialize, Serialize};

use crate::{
    accounts::Role,
    audit::{Action, Actor, Audit, Event},
    crypto::{CryptoError, SecretBox},
    okta::{OktaClient, OktaError, Patience, WaitKind, APPS_READ_SCOPE, DIRECTORY_SCOPES},
    outbound::Outbound,
    providers::service::stored_directory,
    store::{new_id, now_ms, ProviderRow, RemovalRow, Store, StoreError, SyncRunRow, SyncSettingsRow},
};

pub use crate::store::{
    DirectoryGroupView, DirectoryPage, DirectoryQuery, DirectoryUserView, GroupRemovalRow as GroupRemoval,
    MembershipRemovalRow as MembershipRemoval, RemovalRow as Removal, SyncRunRow as RunRow,
};

pub use portcullis_types::sync::{RunKind, RunStatus};

/// Who started a run.
#[derive(Debug, Clone)]
pub enum Trigger {
    Manual { actor: Actor },
    Schedule,
}

/// What happens to someone who is gone or deactivated in Okta.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeprovisionAction {
    /// Disabled here; the console account tied to the person (their identity at this provider) is disabled and signed out.
    Disable,
    /// Left as they are (marked as removed in Okta).
    Keep,
    /// The directory user is deleted; the console account tied to the person is disabled and signed out (console accounts are never deleted by sync).
    Delete,
}

impl DeprovisionAction {
    pub fn as_str(self) -> &'static str {
        match self {
            DeprovisionAction::Disable => "disable",
            DeprovisionAction::Keep => "keep",
            DeprovisionAction::Delete => "delete",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [DeprovisionAction::Disable, DeprovisionAction::Keep, DeprovisionAction::Delete]
            .into_iter()
            .find(|a| a.as_str() == s)
    }
}

/// Which users and groups are synchronized.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "app_id", rename_all = "snake_case")]
pub enum Scope {
    /// The whole org.
    Org,
    /// Only the users and groups assigned to this Okta app (needs `okta.apps.read`).
    App(String),
}

/// A provider's sync settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSettings {
    /// Scheduled runs (Sync now works either way).
    pub enabled: bool,
    /// Minutes between scheduled runs, 1 to 1440.
    pub interval_minutes: u32,
    /// A full run at least this often (1 to 168 hours); incremental runs in between.
    pub full_every_hours: u32,
    pub scope: Scope,
    pub deprovision: DeprovisionAction,
    /// For people whose console account is an admin (by its role or a role mapping). The last active admin is never disabled.
    pub admin_deprovision: DeprovisionAction,
    /// A run that would remove more than this share of users, of groups or of memberships (each
    /// weighed on its own) stops for approval; 0 to 100. A run that would empty the directory's
    /// users or groups always stops.
    pub removal_threshold_percent: u32,
}

impl Default for SyncSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_minutes: 10,
            full_every_hours: 24,
            scope: Scope::Org,
            deprovision: DeprovisionAction::Disable,
            admin_deprovision: DeprovisionAction::Disable,
            removal_threshold_percent: 10,
        }
    }
}

impl SyncSettings {
    /// The first problem, in words for the settings form.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1440).contains(&self.interval_minutes) {
            return Err("The interval must be between 1 and 1440 minutes.".into());
        }
        if !(1..=168).contains(&self.full_every_hours) {
            return Err("A full run must happen every 1 to 168 hours.".into());
        }
        if self.removal_threshold_percent > 100 {
            return Err("The removal threshold is a percentage: 0 to 100.".into());
        }
        if let Scope::App(id) = &self.scope {
            let id = id.trim();
            if id.is_empty() || id.len() > 64 || !id.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(
                    "Enter the Okta app's ID (0oa…, from its URL in the Admin Console) for the app scope.".into()
                );
            }
        }
        Ok(())
    }

    /// Whether both decide removals alike: the deprovisioning actions, threshold and scope.
    pub fn same_removals(&self, other: &SyncSettings) -> bool {
        self.deprovision == other.deprovision
            && self.admin_deprovision == other.admin_deprovision
            && self.removal_threshold_percent == other.removal_threshold_percent
            && normalized_scope(&self.scope) == normalized_scope(&other.scope)
    }

    fn from_row(r: &SyncSettingsRow) -> Self {
        let d = SyncSettings::default();
        Self {
            enabled: r.enabled,
            interval_minutes: u32::try_from(r.interval_minutes).unwrap_or(d.interval_minutes),
            full_every_hours: u32::try_from(r.full_every_hours).unwrap_or(d.full_every_hours),
            scope: match (r.scope.as_str(), &r.app_id) {
                ("app", Some(id)) => Scope::App(id.clone()),
                _ => Scope::Org,
            },
            deprovision: DeprovisionAction::parse(&r.deprovision_action).unwrap_or(d.deprovision),
            admin_deprovision: DeprovisionAction::parse(&r.admin_deprovision_action).unwrap_or(d.admin_deprovision),
            removal_threshold_percent: u32::try_from(r.removal_threshold_percent)
                .unwrap_or(d.removal_threshold_percent),
        }
    }

    fn to_row(&self, provider_id: &str, existing: Option<&SyncSettingsRow>) -> SyncSettingsRow {
        SyncSettingsRow {
            provider_id: provider_id.to_string(),
            enabled: self.enabled,
            interval_minutes: self.interval_minutes as i64,
            full_every_hours: self.full_every_hours as i64,
            scope: match self.scope {
                Scope::Org => "org".into(),
                Scope::App(_) => "app".into(),
            },
            app_id: match &self.scope {
                Scope::App(id) => Some(id.trim().to_string()),
                Scope::Org => None,
            },
            deprovision_action: self.deprovision.as_str().into(),
            admin_deprovision_action: self.admin_deprovision.as_str().into(),
            removal_threshold_percent: self.removal_threshold_percent as i64,
            watermark: existing.and_then(|e| e.watermark.clone()),
            last_full_at: existing.and_then(|e| e.last_full_at),
            updated_at: now_ms(),
        }
    }
}

fn normalized_scope(s: &Scope) -> Scope {
    match s {
        Scope::App(id) => Scope::App(id.trim().to_string()),
        Scope::Org => Scope::Org,
    }
}

/// Where a running run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Starting,
    /// Reading users, groups and members from Okta.
    Fetching,
    /// Comparing with the directory and writing the changes.
    Applying,
}

/// Live progress of a provider's running run (in memory; gone when the run ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Why a sync request was refused or could not be carried out. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("No such provider: it may have been deleted.")]
    ProviderNotFound,
    #[error("No such sync run.")]
    RunNotFound,
    #[error("Directory synchronization is not set up for this provider: edit it and enter the directory sync credentials (an API service app or an API token).")]
    DirectoryOff,
    #[error("The provider is disabled; enable it to synchronize its directory.")]
    ProviderDisabled,
    #[error("A synchronization of this provider is already running (run {run_id}); wait for it to finish.")]
    AlreadyRunning { run_id: String },
    #[error("This run is not waiting for approval (it is {status}).")]
    NotAwaitingApproval { status: String },
    #[error("{0}")]
    BadSettings(String),
    #[error("Okta lists the group {group} ({group_id}) but answered 404 for its members; the run stopped rather than empty the group, and nothing was changed.")]
    MembersNotFound { group: String, group_id: String },
    #[error("Only an Admin can {0}.")]
    AdminOnly(&'static str),
    #[error("The stored directory credentials cannot be used: {0}")]
    Credentials(String),
    #[error("Okta: {source}")]
    Okta { source: OktaError, fix: String },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error: {0}")]
    Store(#[from] StoreError),
}

// The same statuses the directory server functions answer with today.
impl crate::error::Classify for SyncError {
    fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            SyncError::AdminOnly(_) => Fault::Forbidden,
            SyncError::BadSettings(_) => Fault::Invalid,
            SyncError::ProviderNotFound | SyncError::RunNotFound => Fault::NotFound,
            SyncError::NotAwaitingApproval { .. }
            | SyncError::AlreadyRunning { .. }
            | SyncError::DirectoryOff
            | SyncError::ProviderDisabled => Fault::Conflict,
            // The provider's answer or its stored credentials failed, not this server.
            SyncError::Okta { .. } | SyncError::MembersNotFound { .. } | SyncError::Credentials(_) => Fault::Upstream,
            SyncError::Crypto(_) | SyncError::Internal(_) | SyncError::Store(_) => Fault::Internal,
        }
    }
}

impl From<OktaError> for SyncError {
    fn from(e: OktaError) -> Self {
        let fix = e.fix();
        SyncError::Okta { source: e, fix }
    }
}

impl SyncError {
    /// What the admin should do about it.
    pub fn fix(&self) -> String {
        match self {
            SyncError::Okta { fix, .. } => fix.clone(),
            SyncError::Credentials(_) => "Edit the provider and enter the directory sync credentials again.".into(),
            SyncError::Crypto(_) => "The key that encrypts secrets changed: restore PORTCULLIS_SECRET_KEY (or the key file), or enter the directory credentials again.".into(),
            SyncError::Store(_) => "Check the server's log and its disk, then run the sync again.".into(),
            SyncError::MembersNotFound { .. } => "Check the service app's admin role in Okta: a role limited to some groups cannot read the members of others. Then sync again.".into(),
            SyncError::AdminOnly(_) => "Ask an Admin to make this change.".into(),
            SyncError::AlreadyRunning { .. } => "Wait for the running sync to finish; its progress is shown on the provider.".into(),
            other => other.to_string(),
        }
    }
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
}

impl std::fmt::Debug for SyncService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncService")
    }
}

/// Holds a provider's run lock; dropping it (the run ended or its task was aborted)
/// releases the lock, and marks the run failed if it never finished.
struct RunGuard {
    inner: Arc<Inner>,
    provider_id: String,
    run_id: String,
    finished: bool,
}

impl Drop for RunGuard {
    fn drop(&mut self) {
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

const INTERRUPTED: &str =
    "The run was interrupted before it finished (the server stopped or the run was cancelled). Nothing was changed.";
const INTERRUPTED_FIX: &str = "Run the sync again.";

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
    pub fn new(store: Store, secrets: SecretBox, outbound: Outbound) -> Self {
        Self::with_options(store, secrets, outbound, SyncOptions::default())
    }

    pub fn with_options(store: Store, secrets: SecretBox, outbound: Outbound, options: SyncOptions) -> Self {
        let audit = Audit::new(store.clone());
        Self {
            inner: Arc::new(Inner { store, secrets, outbound, audit, options, running: Mutex::new(HashMap::new()) }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Runs now and waits for the end. Refuses with [`SyncError::AlreadyRunning`] when the
    /// provider has a run going. A run that starts and fails is `Ok` with status `failed`
    /// and the reason in `run.error` / `run.error_fix`.
    pub async fn sync_now(&self, provider_id: &str, kind: RunKind, trigger: Trigger) -> Result<RunSummary, SyncError> {
        let provider = self.runnable_provider(provider_id).await?;
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

    /// The running run's progress, if the provider has one.
    pub fn progress(&self, provider_id: &str) -> Option<Progress> {
        self.inner.running.lock().ok().and_then(|m| m.get(provider_id).cloned())
    }

    /// A provider's runs, newest first.
    pub async fn runs(&self, provider_id: &str, limit: u32) -> Result<Vec<RunRow>, SyncError> {
        Ok(self.inner.store.sync_runs(provider_id, limit).await?)
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
    pub async fn approve(&self, run_id: &str, actor: Actor, role: Role) -> Result<RunSummary, SyncError> {
        if role < Role::Admin {
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
            apply::apply(&self.inner, &provider, &settings, run, apply::Mode::Approve { by: actor.clone() }).await?;
        drop(guard);
        Ok(RunSummary {
            duration_ms: outcome.run.finished_at.unwrap_or(started) - started,
            run: outcome.run,
            diff: None,
        })
    }

    /// Drops a run's pending diff: nothing is applied; the next run computes a fresh one.
    pub async fn discard(&self, run_id: &str, actor: Actor) -> Result<(), SyncError> {
        let mut run = self.run_row(run_id).await?;
        if !RunStatus::AwaitingApproval.is(&run.status) {
            return Err(SyncError::NotAwaitingApproval { status: run.status });
        }
        let email = actor_email(&actor);
        run.status = RunStatus::Cancelled.as_str().into();
        run.decided_by = email;
        run.decided_at = Some(now_ms());
        self.inner.store.update_sync_run(&run).await?;
        self.inner.store.clear_stage(run_id).await?;
        self.inner
            .audit
            .record_or_log(
                Event::new(actor, Action::SyncDiscarded)
                    .target(self.provider_name(&run.provider_id).await)
                    .detail("sync_run_id", run.id.clone())
                    .detail("provider_id", run.provider_id.clone()),
            )
            .await;
        Ok(())
    }

    /// The provider's settings (the defaults until saved).
    pub async fn settings(&self, provider_id: &str) -> Result<SyncSettings, SyncError> {
        Ok(self.inner.store.sync_settings(provider_id).await?.map(|r| SyncSettings::from_row(&r)).unwrap_or_default())
    }

    /// Saves a provider's settings. What decides who is removed (the deprovisioning actions,
    /// the removal threshold, the scope) only an Admin may change; Editors may change the schedule.
    pub async fn save_settings(
        &self,
        provider_id: &str,
        settings: SyncSettings,
        actor: Actor,
        role: Role,
    ) -> Result<(), SyncError> {
        settings.validate().map_err(SyncError::BadSettings)?;
        let provider = self.inner.store.provider(provider_id).await?.ok_or(SyncError::ProviderNotFound)?;
        let existing = self.inner.store.sync_settings(provider_id).await?;
        let before = existing.as_ref().map(SyncSettings::from_row).unwrap_or_default();
        if role < Role::Admin && !before.same_removals(&settings) {
            return Err(SyncError::AdminOnly(
                "change who a sync removes (the deprovisioning actions, the removal threshold or the scope)",
            ));
        }
        if role < Role::Admin && before.enabled && !settings.enabled {
            return Err(SyncError::AdminOnly(
                "switch directory synchronization off (people removed at the provider would keep their access)",
            ));
        }
        self.inner.store.save_sync_settings(&settings.to_row(provider_id, existing.as_ref())).await?;
        if before.scope != settings.scope {
            // Another scope is another set of people: the next run lists everyone.
            self.inner.store.reset_sync_watermark(provider_id).await?;
        }
        let mut event =
            Event::new(actor, Action::SyncSettingsChanged).target(provider.name).detail("provider_id", provider_id);
        if let (Ok(b), Ok(a)) = (serde_json::to_value(&before), serde_json::to_value(&settings)) {
            event = event.detail("before", b).detail("after", a);
        }
        self.inner.audit.record_or_log(event).await;
        Ok(())
    }

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

    async fn fail_stale_runs(&self) -> Result<(), SyncError> {
        for run in self.inner.store.running_sync_runs().await? {
            let ours = self.progress(&run.provider_id).is_some_and(|p| p.run_id == run.id);
            if !ours {
                self.inner.store.fail_interrupted_run(&run.id, INTERRUPTED, INTERRUPTED_FIX, now_ms()).await?;
            }
        }
        Ok(())
    }

    // ---------- internals ----------

    async fn runnable_provider(&self, provider_id: &str) -> Result<ProviderRow, SyncError> {
        let provider = self.inner.store.provider(provider_id).await?.ok_or(SyncError::ProviderNotFound)?;
        if provider.kind != "okta" || provider.directory_mode == "off" {
            return Err(SyncError::DirectoryOff);
        }
        if !provider.enabled {
            return Err(SyncError::ProviderDisabled);
        }
        Ok(provider)
    }

    async fn provider_name(&self, provider_id: &str) -> String {
        self.inner
            .store
            .provider(provider_id)
            .await
            .ok()
            .flatten()
            .map(|p| p.name)
            .unwrap_or_else(|| provider_id.to_string())
    }

    fn lock(&self, provider_id: &str, run_id: &str, kind: RunKind) -> Result<RunGuard, SyncError> {
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
        })
    }

    fn progress_handle(&self, guard: &RunGuard) -> ProgressHandle {
        ProgressHandle {
            inner: self.inner.clone(),
            provider_id: guard.provider_id.clone(),
            run_id: guard.run_id.clone(),
        }
    }

    async fn run(
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
        let (trigger_kind, actor) = match &trigger {
            Trigger::Manual { actor } => ("manual", actor.clone()),
            Trigger::Schedule => ("schedule", Actor::System),
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
        store.insert_sync_run(&run).await?;
        self.inner
            .audit
            .record_or_log(
                Event::new(actor.clone(), Action::SyncStarted)
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

    async fn fetch_and_apply(
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

fn actor_email(actor: &Actor) -> Option<String> {
    match actor {
        Actor::User { email, .. } => Some(email.clone()),
        _ => None,
    }
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

    #[test]
    fn settings_are_checked_before_saving() {
        assert!(SyncSettings::default().validate().is_ok());
        let bad = |f: fn(&mut SyncSettings)| {
            let mut s = SyncSettings::default();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert!(bad(|s| s.interval_minutes = 0).contains("1 and 1440"));
        assert!(bad(|s| s.removal_threshold_percent = 101).contains("0 to 100"));
        assert!(bad(|s| s.scope = Scope::App(" ".into())).contains("app's ID"));
        assert!(bad(|s| s.full_every_hours = 0).contains("1 to 168"));
    }

    #[test]
    fn settings_survive_the_round_trip_through_their_row() {
        let s = SyncSettings {
            enabled: false,
            interval_minutes: 3,
            full_every_hours: 6,
            scope: Scope::App("0oa123".into()),
            deprovision: DeprovisionAction::Delete,
            admin_deprovision: DeprovisionAction::Keep,
            removal_threshold_percent: 25,
        };
        assert_eq!(SyncSettings::from_row(&s.to_row("p", None)), s);
    }
}
