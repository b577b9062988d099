//! What the Directory page shows of each provider's synchronization: its settings, recent
//! runs, the last real sync (a dry run never hides it), a diff held for approval, the newest
//! dry run's diff, and an estimate of a full run's size for the progress bar.

use super::*;

/// One provider's synchronization at a glance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncOverview {
    pub provider_id: String,
    pub provider_name: String,
    pub settings: SyncSettings,
    /// Newest first.
    pub runs: Vec<RunRow>,
    /// The newest finished run that was not a dry run.
    pub last_sync: Option<RunRow>,
    pub pending: Option<Diff>,
    /// The newest dry run's diff, when it is newer than the last real sync.
    pub dry_run: Option<Diff>,
    /// Users and groups the last complete full run listed: Okta gives no totals, so this is
    /// what a running full run's progress is measured against.
    pub estimate: Option<u64>,
}

const RECENT_RUNS: u32 = 10;

/// Of runs newest first, the newest finished one that was not a dry run: what "last sync"
/// means wherever the console says it.
pub fn last_sync(runs: &[RunRow]) -> Option<&RunRow> {
    runs.iter().find(|r| !RunStatus::Running.is(&r.status) && r.mode != RunKind::DryRun.as_str())
}

impl SyncService {
    /// Every provider with directory synchronization on.
    pub async fn overview(&self) -> Result<Vec<SyncOverview>, SyncError> {
        let mut out = Vec::new();
        for provider in self.inner.store.providers().await? {
            if provider.directory_mode == "off" {
                continue;
            }
            let settings = self.settings(&provider.id).await?;
            let runs = self.runs(&provider.id, RECENT_RUNS).await?;
            let last_sync = last_sync(&runs).cloned();
            let pending = match runs.iter().find(|r| RunStatus::AwaitingApproval.is(&r.status)) {
                Some(r) => self.pending_diff(&r.id).await?,
                None => None,
            };
            let newest_dry =
                runs.iter().find(|r| r.mode == RunKind::DryRun.as_str() && RunStatus::Succeeded.is(&r.status));
            let dry_run = match newest_dry {
                Some(d) if last_sync.as_ref().is_none_or(|l| d.started_at > l.started_at) => {
                    self.pending_diff(&d.id).await?
                }
                _ => None,
            };
            let estimate = runs
                .iter()
                .find(|r| {
                    r.mode != RunKind::Incremental.as_str()
                        && (RunStatus::Succeeded.is(&r.status) || RunStatus::Approved.is(&r.status))
                })
                .map(|r| (r.users_seen + r.groups_seen).max(0) as u64)
                .filter(|n| *n > 0);
            out.push(SyncOverview {
                provider_id: provider.id,
                provider_name: provider.name,
                settings,
                runs,
                last_sync,
                pending,
                dry_run,
                estimate,
            });
        }
        Ok(out)
    }
}
