//! The console's front page: the state of each provider (its last check and last sync, with
//! problems first), what is protected, what was blocked lately, and the next thing to do.

use serde::{Deserialize, Serialize};

use crate::{
    audit::Action,
    store::{now_ms, Store, StoreError, SyncRunRow},
    sync::RunStatus,
};

/// One provider as the overview shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderState {
    pub id: String,
    pub name: String,
    pub enabled: bool,
    pub last_test_at: Option<i64>,
    pub last_test_ok: Option<bool>,
    pub last_test_summary: Option<String>,
    pub directory: bool,
    /// The newest finished sync that was not a dry run.
    pub last_sync: Option<SyncRunRow>,
    /// A sync held for an administrator's approval.
    pub awaiting_approval: bool,
    /// What needs attention, in words; `None` when all is well.
    pub problem: Option<String>,
}

/// What to do next, the first that applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NextStep {
    ConnectProvider,
    FixProvider { id: String, name: String },
    ReviewSync { name: String },
    MapRoles,
    CreateApplication,
    AddPolicy { application_id: String, application_name: String },
    ConnectProxy { application_id: String },
    AllSet,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsoleOverview {
    /// Problems first, then by name.
    pub providers: Vec<ProviderState>,
    pub applications: usize,
    pub policies: usize,
    pub role_mappings: usize,
    pub allowed_24h: i64,
    pub blocked_24h: i64,
    pub next: NextStep,
}

const DAY_MS: i64 = 24 * 3600 * 1000;

/// The front page's data.
#[derive(Clone, Debug)]
pub struct OverviewService {
    store: Store,
}

impl OverviewService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn get(&self) -> Result<ConsoleOverview, StoreError> {
        overview(&self.store).await
    }
}

/// Builds the overview from the store: a handful of small queries.
async fn overview(store: &Store) -> Result<ConsoleOverview, StoreError> {
    let mut providers = Vec::new();
    for p in store.providers().await? {
        let directory = p.directory_mode != "off";
        let runs = if directory { store.sync_runs(&p.id, 10).await? } else { Vec::new() };
        let last_sync = crate::sync::last_sync(&runs).cloned();
        let awaiting_approval = runs.iter().any(|r| RunStatus::AwaitingApproval.is(&r.status));
        let problem = if !p.enabled {
            Some("Disabled: nobody can sign in with it.".to_string())
        } else if p.last_test_ok == Some(false) {
            Some(format!("The last check failed: {}", p.last_test_summary.clone().unwrap_or_default()))
        } else if awaiting_approval {
            Some("A sync is waiting for approval.".to_string())
        } else if let Some(r) = last_sync.as_ref().filter(|r| RunStatus::Failed.is(&r.status)) {
            Some(format!("The last sync failed: {}", r.error.clone().unwrap_or_default()))
        } else if directory && last_sync.is_none() {
            Some("Not synchronized yet.".to_string())
        } else {
            None
        };
        providers.push(ProviderState {
            id: p.id,
            name: p.name,
            enabled: p.enabled,
            last_test_at: p.last_test_at,
            last_test_ok: p.last_test_ok,
            last_test_summary: p.last_test_summary,
            directory,
            last_sync,
            awaiting_approval,
            problem,
        });
    }
    providers.sort_by(|a, b| a.problem.is_none().cmp(&b.problem.is_none()).then_with(|| a.name.cmp(&b.name)));
    let applications = store.applications().await?;
    let policies = store.all_policies().await?;
    let role_mappings = store.role_mappings().await?.len();
    let since = now_ms() - DAY_MS;
    let allowed_24h = store.count_audit_since(Action::AccessAllowed.as_str(), since).await?;
    let blocked_24h = store.count_audit_since(Action::AccessBlocked.as_str(), since).await?;

    let next = if providers.is_empty() {
        NextStep::ConnectProvider
    } else if let Some(p) = providers.iter().find(|p| p.problem.is_some() && !p.awaiting_approval) {
        NextStep::FixProvider { id: p.id.clone(), name: p.name.clone() }
    } else if let Some(p) = providers.iter().find(|p| p.awaiting_approval) {
        NextStep::ReviewSync { name: p.name.clone() }
    } else if role_mappings == 0 {
        NextStep::MapRoles
    } else if applications.is_empty() {
        NextStep::CreateApplication
    } else if let Some(app) = applications.iter().find(|a| policies.iter().all(|p| p.application_id != a.id)) {
        NextStep::AddPolicy { application_id: app.id.clone(), application_name: app.name.clone() }
    } else if allowed_24h + blocked_24h == 0 {
        NextStep::ConnectProxy { application_id: applications[0].id.clone() }
    } else {
        NextStep::AllSet
    };
    Ok(ConsoleOverview {
        providers,
        applications: applications.len(),
        policies: policies.len(),
        role_mappings,
        allowed_24h,
        blocked_24h,
        next,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ProviderRow;

    #[tokio::test]
    async fn the_next_step_follows_the_setup_and_a_failing_provider_comes_first() {
        let store = Store::in_memory().await.unwrap();
        assert_eq!(overview(&store).await.unwrap().next, NextStep::ConnectProvider);

        let ok = ProviderRow {
            last_test_ok: Some(true),
            ..ProviderRow::new_okta("a", "Alpha", "https://a.test", "c", "x".into())
        };
        let mut broken = ProviderRow::new_okta("b", "Beta", "https://b.test", "c", "x".into());
        broken.last_test_ok = Some(false);
        broken.last_test_summary = Some("2 of 7 checks failed".into());
        for mut p in [ok, broken] {
            p.directory_mode = "off".into();
            store.save_provider(&p, &[], "wizard").await.unwrap();
        }
        let o = overview(&store).await.unwrap();
        assert_eq!(o.providers[0].name, "Beta", "problems first");
        assert!(o.providers[0].problem.as_deref().unwrap_or_default().contains("2 of 7 checks failed"));
        assert_eq!(o.next, NextStep::FixProvider { id: "b".into(), name: "Beta".into() });
        assert_eq!((o.applications, o.policies, o.blocked_24h), (0, 0, 0));
    }
}
