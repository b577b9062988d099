//! Server functions of the Directory pages and the sync panels.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserItem {
    pub id: String,
    pub provider: String,
    pub external_id: String,
    pub email: String,
    pub name: String,
    pub okta_status: String,
    pub state: String,
    pub account_role: Option<String>,
    pub source: String,
    pub last_changed_run: Option<String>,
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupItem {
    pub id: String,
    pub provider: String,
    pub external_id: String,
    pub name: String,
    pub description: Option<String>,
    pub kind: String,
    pub member_count: i64,
    pub source: String,
    pub last_changed_run: Option<String>,
    pub synced_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paged<T> {
    pub items: Vec<T>,
    pub total: i64,
    pub offset: u32,
    pub limit: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetail {
    pub user: UserItem,
    pub groups: Vec<GroupItem>,
    /// Each application's decision for this person, explained as Test a user does.
    pub access: Vec<crate::api::policies::DecisionView>,
}

/// A policy that names a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupUseItem {
    pub application_id: String,
    pub application_name: String,
    pub policy_id: String,
    pub policy_name: String,
    /// "Allow", "Block", "Bypass".
    pub action: String,
    /// "include", "require", "exclude".
    pub part: String,
    pub enabled: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupDetail {
    pub group: GroupItem,
    pub members: Paged<UserItem>,
    pub policies: Vec<GroupUseItem>,
    /// The console roles this group gives.
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunDetail {
    pub provider_id: String,
    pub provider: String,
    pub run: RunItem,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunItem {
    pub id: String,
    /// `full`, `incremental`, `dry_run`.
    pub mode: String,
    /// "Full sync", "Dry run", …
    pub kind_label: String,
    /// "Started by ada@example.com", "Scheduled".
    pub trigger: String,
    /// As stored (`awaiting_approval`, …): for `data-status`.
    pub status: String,
    /// "Waiting for approval", …
    pub status_label: String,
    /// Who approved or discarded it.
    pub decided_by: Option<String>,
    pub started_at: String,
    pub duration: String,
    pub created: i64,
    pub updated: i64,
    pub disabled: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub users_seen: i64,
    pub groups_seen: i64,
    pub groups_deleted: i64,
    pub memberships_removed: i64,
    pub requests: i64,
    pub rate_limit_waits: i64,
    pub error: Option<String>,
    pub error_fix: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgressItem {
    pub run_id: String,
    /// `full`, `incremental`, `dry_run`.
    pub kind: String,
    /// "Full sync", "Dry run", …
    pub kind_label: String,
    pub phase: String,
    pub pages_done: u64,
    pub users_so_far: u64,
    pub groups_so_far: u64,
    pub groups_to_list: u64,
    pub groups_listed: u64,
    pub rate_limit_waits: u64,
    pub waiting: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovalItem {
    pub email: String,
    pub name: String,
    pub okta_status: String,
    pub action: String,
    pub account_role: Option<String>,
}

/// A group a run would delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupRemovalItem {
    pub name: String,
    pub external_id: String,
    pub members: i64,
}

/// A group membership a run would remove.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipRemovalItem {
    pub group: String,
    pub email: String,
    pub name: String,
    /// Removed because the whole group goes.
    pub group_deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDiff {
    pub run_id: String,
    pub reason: Option<String>,
    pub threshold_percent: u32,
    pub users_now: i64,
    pub removal_count: i64,
    pub removals: Vec<RemovalItem>,
    pub created: i64,
    pub updated: i64,
    pub groups_now: i64,
    pub groups_deleted: i64,
    pub group_removals: Vec<GroupRemovalItem>,
    pub memberships_now: i64,
    pub memberships_removed: i64,
    pub membership_removals: Vec<MembershipRemovalItem>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncSettingsForm {
    pub enabled: bool,
    pub interval_minutes: u32,
    pub full_every_hours: u32,
    /// `org` or `app`.
    pub scope: String,
    pub app_id: String,
    pub deprovision: String,
    pub admin_deprovision: String,
    pub removal_threshold_percent: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderSync {
    pub provider_id: String,
    pub name: String,
    pub settings: SyncSettingsForm,
    pub runs: Vec<RunItem>,
    /// The newest finished run that was not a dry run.
    pub last_sync: Option<RunItem>,
    pub pending: Option<PendingDiff>,
    pub dry_run: Option<PendingDiff>,
    /// Users and groups the last full run listed: what a running full run is measured against.
    pub estimate: Option<u64>,
}

/// Users, newest search first; `offset` pages.
#[server(endpoint = "directory/users")]
pub async fn list_directory_users(
    search: Option<String>,
    state: Option<String>,
    sort: Option<String>,
    offset: u32,
) -> Result<Paged<UserItem>, ServerFnError> {
    use portcullis_domain::{
        sync::{DirectoryQuery, DirectorySort},
        Role,
    };
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    let state = state.filter(|st| ["active", "disabled", "kept"].contains(&st.as_str()));
    let sort = DirectorySort::parse(sort.as_deref().unwrap_or_default());
    let q = DirectoryQuery { search, state, sort, offset, limit: server::PAGE, ..Default::default() };
    let page = s.directory.users(&q).await.map_err(crate::api::ssr::internal)?;
    Ok(Paged {
        items: page.items.into_iter().map(server::user).collect(),
        total: page.total,
        offset,
        limit: server::PAGE,
    })
}

#[server(endpoint = "directory/groups")]
pub async fn list_directory_groups(
    search: Option<String>,
    sort: Option<String>,
    offset: u32,
) -> Result<Paged<GroupItem>, ServerFnError> {
    use portcullis_domain::{
        sync::{DirectoryQuery, DirectorySort},
        Role,
    };
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    let sort = DirectorySort::parse(sort.as_deref().unwrap_or_default());
    let q = DirectoryQuery { search, sort, offset, limit: server::PAGE, ..Default::default() };
    let page = s.directory.groups(&q).await.map_err(crate::api::ssr::internal)?;
    Ok(Paged {
        items: page.items.into_iter().map(server::group).collect(),
        total: page.total,
        offset,
        limit: server::PAGE,
    })
}

/// One sync run, for its own page (a user's "last changed by" links here).
#[server(endpoint = "directory/run")]
pub async fn directory_run(id: String) -> Result<RunDetail, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let (run, provider) =
        crate::api::ssr::services()?.sync.run_with_provider(&id).await.map_err(crate::api::ssr::fail)?;
    Ok(RunDetail { provider_id: run.provider_id.clone(), provider, run: server::run(run) })
}

#[server(endpoint = "directory/user")]
pub async fn directory_user(id: String) -> Result<UserDetail, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    let found = s.directory.user(&id).await.map_err(crate::api::ssr::internal)?;
    let (user, groups) = found.ok_or_else(|| crate::api::ssr::not_found("No such user in the directory."))?;
    let access = s.policies.access_of(&user.id).await.map_err(crate::api::ssr::fail)?;
    Ok(UserDetail {
        user: server::user(user),
        groups: groups.into_iter().map(server::group).collect(),
        access: access.into_iter().map(crate::api::policies::convert::decision).collect(),
    })
}

#[server(endpoint = "directory/group")]
pub async fn directory_group(id: String, offset: u32) -> Result<GroupDetail, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    let q = portcullis_domain::sync::DirectoryQuery { offset, limit: server::PAGE, ..Default::default() };
    let found = s.directory.group(&id, &q).await.map_err(crate::api::ssr::internal)?;
    let (group, page) = found.ok_or_else(|| crate::api::ssr::not_found("No such group in the directory."))?;
    let uses = s.policies.uses_of_group(&group.provider_id, &group.external_id).await.map_err(crate::api::ssr::fail)?;
    let roles = s.roles.for_group(&group.provider_id, &group.external_id).await.map_err(crate::api::ssr::internal)?;
    Ok(GroupDetail {
        policies: uses
            .into_iter()
            .map(|u| GroupUseItem {
                application_id: u.application_id,
                application_name: u.application_name,
                policy_id: u.policy_id,
                policy_name: u.policy_name,
                action: u.action.label().to_string(),
                part: u.part.to_string(),
                enabled: u.enabled,
            })
            .collect(),
        roles: roles.into_iter().map(|m| m.role).collect(),
        group: server::group(group),
        members: Paged {
            items: page.items.into_iter().map(server::user).collect(),
            total: page.total,
            offset,
            limit: server::PAGE,
        },
    })
}

/// Every provider with directory synchronization: settings, recent runs, the last real sync,
/// a diff awaiting approval, the newest dry run.
#[server(endpoint = "directory/sync_overview")]
pub async fn sync_overview() -> Result<Vec<ProviderSync>, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    let overview = s.sync.overview().await.map_err(crate::api::ssr::fail)?;
    Ok(overview
        .into_iter()
        .map(|o| ProviderSync {
            provider_id: o.provider_id,
            name: o.provider_name,
            settings: server::settings_form(&o.settings),
            runs: o.runs.into_iter().map(server::run).collect(),
            last_sync: o.last_sync.map(server::run),
            pending: o.pending.map(server::diff),
            dry_run: o.dry_run.map(server::diff),
            estimate: o.estimate,
        })
        .collect())
}

/// Starts a run in the background: `full`, `incremental` or `dry_run`.
#[server(endpoint = "directory/sync_now")]
pub async fn sync_now(provider_id: String, kind: String) -> Result<String, ServerFnError> {
    use portcullis_domain::{
        sync::{RunKind, Trigger},
        Role,
    };
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    let kind = RunKind::parse(&kind).ok_or_else(|| crate::api::ssr::bad_input("Unknown kind of run."))?;
    s.sync.start_in_background(&provider_id, kind, Trigger::Manual { caller }).map_err(crate::api::ssr::fail)
}

#[server(endpoint = "directory/progress")]
pub async fn sync_progress(provider_id: String) -> Result<Option<ProgressItem>, ServerFnError> {
    use portcullis_domain::Role;
    crate::api::ssr::require(Role::Viewer)?;
    let s = crate::api::ssr::services()?;
    Ok(s.sync.progress(&provider_id).await.map(server::progress))
}

#[server(endpoint = "directory/approve")]
pub async fn approve_run(run_id: String) -> Result<(), ServerFnError> {
    use portcullis_domain::Role;
    // Approving applies removals held for review: Admins only.
    let caller = crate::api::ssr::caller(Role::Admin)?;
    let s = crate::api::ssr::services()?;
    s.sync.approve(&run_id, &caller).await.map_err(crate::api::ssr::fail)?;
    Ok(())
}

#[server(endpoint = "directory/discard")]
pub async fn discard_run(run_id: String) -> Result<(), ServerFnError> {
    use portcullis_domain::Role;
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    s.sync.discard(&run_id, &caller).await.map_err(crate::api::ssr::fail)
}

/// Whether anything changed.
#[server(endpoint = "directory/save_settings", input = leptos::server_fn::codec::Json)]
pub async fn save_sync_settings(provider_id: String, form: SyncSettingsForm) -> Result<bool, ServerFnError> {
    use portcullis_domain::{
        sync::{DeprovisionAction, Scope, SyncSettings},
        Role,
    };
    let caller = crate::api::ssr::caller(Role::Editor)?;
    let s = crate::api::ssr::services()?;
    let action = |a: &str| {
        DeprovisionAction::parse(a).ok_or_else(|| crate::api::ssr::bad_input("Choose disable, keep or delete."))
    };
    let settings = SyncSettings {
        enabled: form.enabled,
        interval_minutes: form.interval_minutes,
        full_every_hours: form.full_every_hours,
        scope: if form.scope == "app" { Scope::App(form.app_id.trim().to_string()) } else { Scope::Org },
        deprovision: action(&form.deprovision)?,
        admin_deprovision: action(&form.admin_deprovision)?,
        removal_threshold_percent: form.removal_threshold_percent,
    };
    // Editors may change the schedule; the domain refuses them what decides removals.
    s.sync.save_settings(&provider_id, settings, &caller).await.map_err(crate::api::ssr::fail)
}

#[cfg(feature = "ssr")]
mod server {
    use portcullis_domain::sync::{
        Diff, DirectoryGroupView, DirectoryUserView, Progress, RunKind, RunRow, RunStatus, Scope, SyncSettings,
    };

    use super::{
        GroupItem, GroupRemovalItem, MembershipRemovalItem, PendingDiff, ProgressItem, RemovalItem, RunItem,
        SyncSettingsForm, UserItem,
    };
    use crate::api::ssr::format_time;

    pub const PAGE: u32 = 50;

    pub fn user(u: DirectoryUserView) -> UserItem {
        let name = if u.display_name.is_empty() {
            format!("{} {}", u.first_name, u.last_name).trim().to_string()
        } else {
            u.display_name
        };
        UserItem {
            id: u.id,
            provider: u.provider_name,
            external_id: u.external_id,
            email: u.email,
            name,
            okta_status: u.okta_status,
            state: u.state,
            account_role: u.account_role,
            source: u.source,
            last_changed_run: u.last_changed_run,
            updated_at: format_time(u.updated_at),
        }
    }

    pub fn group(g: DirectoryGroupView) -> GroupItem {
        GroupItem {
            id: g.id,
            provider: g.provider_name,
            external_id: g.external_id,
            name: g.name,
            description: g.description,
            kind: g.kind,
            member_count: g.member_count,
            source: g.source,
            last_changed_run: g.last_changed_run,
            synced_at: format_time(g.synced_at),
        }
    }

    pub fn run(r: RunRow) -> RunItem {
        let duration = match r.finished_at {
            Some(end) => format!("{:.1} s", (end - r.started_at) as f64 / 1000.0),
            None => "running".into(),
        };
        RunItem {
            id: r.id,
            kind_label: RunKind::parse(&r.mode).map_or_else(|| r.mode.clone(), |k| k.label().to_string()),
            mode: r.mode,
            trigger: match (r.trigger_kind.as_str(), r.triggered_by) {
                ("schedule", _) => "Scheduled".to_string(),
                (_, Some(by)) => format!("Started by {by}"),
                (kind, None) => kind.to_string(),
            },
            status_label: RunStatus::parse(&r.status).map_or_else(|| r.status.clone(), |s| s.label().to_string()),
            status: r.status,
            decided_by: r.decided_by,
            started_at: format_time(r.started_at),
            duration,
            created: r.created,
            updated: r.updated,
            disabled: r.disabled,
            deleted: r.deleted,
            unchanged: r.unchanged,
            users_seen: r.users_seen,
            groups_seen: r.groups_seen,
            groups_deleted: r.groups_deleted,
            memberships_removed: r.memberships_removed,
            requests: r.requests,
            rate_limit_waits: r.rate_limit_waits,
            error: r.error,
            error_fix: r.error_fix,
        }
    }

    pub fn progress(p: Progress) -> ProgressItem {
        ProgressItem {
            run_id: p.run_id,
            kind: p.kind.as_str().into(),
            kind_label: p.kind.label().into(),
            phase: format!("{:?}", p.phase).to_lowercase(),
            pages_done: p.pages_done,
            users_so_far: p.users_so_far,
            groups_so_far: p.groups_so_far,
            groups_to_list: p.groups_to_list,
            groups_listed: p.groups_listed,
            rate_limit_waits: p.rate_limit_waits,
            waiting: p.waiting_until.is_some(),
        }
    }

    pub fn diff(d: Diff) -> PendingDiff {
        PendingDiff {
            run_id: d.run_id,
            reason: d.reason,
            threshold_percent: d.threshold_percent,
            users_now: d.users_now,
            removal_count: d.removal_count,
            removals: d
                .removals
                .into_iter()
                .map(|r| RemovalItem {
                    email: r.email,
                    name: r.display_name,
                    okta_status: r.okta_status,
                    action: r.action,
                    account_role: r.account_role,
                })
                .collect(),
            created: d.created,
            updated: d.updated,
            groups_now: d.groups_now,
            groups_deleted: d.groups_deleted,
            group_removals: d
                .group_removals
                .into_iter()
                .map(|g| GroupRemovalItem { name: g.name, external_id: g.external_id, members: g.members })
                .collect(),
            memberships_now: d.memberships_now,
            memberships_removed: d.memberships_removed,
            membership_removals: d
                .membership_removals
                .into_iter()
                .map(|m| MembershipRemovalItem {
                    group: m.group_name,
                    email: m.email,
                    name: m.display_name,
                    group_deleted: m.group_deleted,
                })
                .collect(),
        }
    }

    pub fn settings_form(s: &SyncSettings) -> SyncSettingsForm {
        SyncSettingsForm {
            enabled: s.enabled,
            interval_minutes: s.interval_minutes,
            full_every_hours: s.full_every_hours,
            scope: match s.scope {
                Scope::Org => "org".into(),
                Scope::App(_) => "app".into(),
            },
            app_id: match &s.scope {
                Scope::App(id) => id.clone(),
                Scope::Org => String::new(),
            },
            deprovision: s.deprovision.as_str().into(),
            admin_deprovision: s.admin_deprovision.as_str().into(),
            removal_threshold_percent: s.removal_threshold_percent,
        }
    }
}
