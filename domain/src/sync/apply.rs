//! The final transaction of a run: write the staged differences, each with its audit
//! entry, then commit; or roll back for a dry run, or when the removals exceed the
//! threshold (the run then waits for an admin's approval, its staging kept).

use std::collections::HashMap;

use serde_json::{json, Value};

use super::{DeprovisionAction, Diff, Inner, RunStatus, SyncError, SyncSettings};
use crate::{
    audit::{Action, Actor, Caller, Event},
    store::{now_ms, DirectoryTx, ProviderRow, SyncRunRow},
};

pub(crate) enum Mode {
    Normal,
    DryRun,
    Approve { by: Caller },
}

pub(crate) struct Outcome {
    pub run: SyncRunRow,
    pub diff: Option<Diff>,
}

struct Ctx<'a> {
    run_id: &'a str,
    provider_id: &'a str,
    provider_name: &'a str,
    now: i64,
    chunk: i64,
}

impl Ctx<'_> {
    /// An entry about the provider's directory, attributed to the run.
    fn event(&self, action: Action) -> Event {
        Event::new(Actor::System, action)
            .target(self.provider_name)
            .detail("sync_run_id", self.run_id)
            .detail("provider_id", self.provider_id)
    }
    /// An entry about one person.
    fn user_event(&self, action: Action, email: &str, external_id: &str) -> Event {
        Event::new(Actor::System, action)
            .target(email)
            .detail("sync_run_id", self.run_id)
            .detail("provider_id", self.provider_id)
            .detail("provider", self.provider_name)
            .detail("external_id", external_id)
    }
}

async fn record(tx: &mut DirectoryTx, event: Event) -> Result<(), SyncError> {
    tx.insert_audit(&event.into_record()).await?;
    Ok(())
}

pub(crate) async fn apply(
    inner: &Inner,
    provider: &ProviderRow,
    settings: &SyncSettings,
    mut run: SyncRunRow,
    mode: Mode,
) -> Result<Outcome, SyncError> {
    let store = &inner.store;
    let run_id = run.id.clone();
    let ctx = Ctx {
        run_id: &run_id,
        provider_id: &provider.id,
        provider_name: &provider.name,
        now: now_ms(),
        chunk: inner.options.audit_chunk.max(1) as i64,
    };
    let started = std::time::Instant::now();
    let step =
        |what: &str| tracing::debug!(run_id = %run_id, ms = started.elapsed().as_millis() as u64, "apply: {what}");
    let mut tx = store.begin_directory().await?;
    if let Mode::Normal = mode {
        // A replica that stopped beating has its run failed by another; once failed, nothing of
        // it may land. Checked under the write lock, which the failing takes too.
        let status = tx.run_status(&run_id).await?.unwrap_or_default();
        if !RunStatus::Running.is(&status) {
            tx.rollback().await?;
            return Err(crate::StoreError::Gone("sync run").into());
        }
    }
    if let Mode::Approve { .. } = mode {
        let status = tx.run_status(&run_id).await?.unwrap_or_default();
        if !RunStatus::AwaitingApproval.is(&status) {
            tx.rollback().await?;
            return Err(SyncError::NotAwaitingApproval { status });
        }
    }

    // The breaker weighs removals against the directory's size: counted only when there are removals.
    let (users_before, groups_before, memberships_before) = match tx.stages_removals(&run_id).await? {
        true => (
            tx.count_active_users(&provider.id).await?,
            tx.count_groups(&provider.id).await?,
            tx.count_memberships(&provider.id).await?,
        ),
        false => (0, 0, 0),
    };

    // Who is an admin is read before memberships change: a role mapping may make them one.
    let admins = Admins {
        among_removed: tx.admin_candidate_accounts(&run_id, &provider.id).await?.into_iter().collect(),
        active: tx.count_active_admins().await?,
    };

    audit_created_users(&mut tx, &ctx).await?;
    step("users audited");
    let created = tx.insert_created_users(&run_id, &provider.id, "sync", ctx.now).await? as i64;
    step("users created");
    audit_updated_users(&mut tx, &ctx).await?;
    let updated = tx.apply_updated_users(&run_id, &provider.id, ctx.now).await? as i64;
    step("users updated");

    audit_changed_groups(&mut tx, &ctx).await?;
    let (groups_created, groups_updated) = tx.apply_groups(&run_id, &provider.id, ctx.now).await?;
    step("groups written");

    audit_memberships(&mut tx, &ctx).await?;
    step("memberships audited");
    let (memberships_removed, memberships_added) = tx.apply_membership_changes(&run_id, &provider.id, ctx.now).await?;
    let (memberships_removed, memberships_added) = (memberships_removed as i64, memberships_added as i64);
    step("memberships written");

    let removed = remove_users(&mut tx, &ctx, settings, admins).await?;
    step("removals done");

    let deleted_groups = tx.deleted_groups(&run_id, &provider.id).await?;
    // A deleted group's memberships are lost with it: they count as membership removals.
    let memberships_with_groups: i64 = deleted_groups.iter().map(|g| g.members).sum();
    for g in &deleted_groups {
        record(
            &mut tx,
            ctx.event(Action::DirectoryGroupDeleted)
                .target(g.name.clone())
                .detail("provider", ctx.provider_name)
                .detail("group_id", g.external_id.clone())
                .detail("memberships_removed", g.members),
        )
        .await?;
        tx.delete_group(&g.id).await?;
    }

    run.created = created;
    run.updated = updated;
    run.disabled = removed.disabled;
    run.deleted = removed.deleted;
    run.kept = removed.kept;
    run.groups_created = groups_created as i64;
    run.groups_updated = groups_updated as i64;
    run.groups_deleted = deleted_groups.len() as i64;
    run.memberships_added = memberships_added;
    run.memberships_removed = memberships_removed + memberships_with_groups;
    run.finished_at = Some(now_ms());

    let threshold = settings.removal_threshold_percent;
    // Incremental org runs list only changed users: an empty answer there means no change.
    let lists_every_user = run.mode != "incremental" || run.scope == "app";
    let weighed = Weighed {
        // Kept users count too: they lose application access (forward auth refuses them).
        users: (removed.disabled + removed.deleted + removed.kept, users_before),
        groups: (run.groups_deleted, groups_before),
        memberships: (run.memberships_removed, memberships_before),
        no_users_listed: lists_every_user && run.users_seen == 0,
        no_groups_listed: run.groups_seen == 0,
    };
    let tripped = match mode {
        Mode::Normal => breaker(threshold, &weighed),
        _ => None,
    };

    if let Some(reason) = tripped {
        // Nothing is applied; the staged run waits for an admin.
        tx.rollback().await?;
        store
            .record_removals(&run_id, &provider.id, settings.deprovision.as_str(), settings.admin_deprovision.as_str())
            .await?;
        store.record_group_removals(&run_id, &provider.id).await?;
        run.status = RunStatus::AwaitingApproval.as_str().into();
        run.error = Some(reason.clone());
        run.error_fix = Some(
            "Review the users, groups and memberships that would be removed. If it is right, approve the diff; if not, \
             discard it and check the provider (a changed app assignment or group rule, or the API answering without \
             groups or users), or raise the removal threshold."
                .into(),
        );
        store.update_sync_run(&run).await?;
        inner
            .audit
            .record_or_log(
                ctx.event(Action::SyncAwaitingApproval)
                    .detail("reason", reason)
                    .detail("removals", removed.disabled + removed.deleted)
                    .detail("groups_deleted", run.groups_deleted)
                    .detail("memberships_removed", run.memberships_removed),
            )
            .await;
        let diff = diff(inner, &run, settings).await?;
        return Ok(Outcome { run, diff: Some(diff) });
    }

    match mode {
        Mode::DryRun => {
            tx.rollback().await?;
            store
                .record_removals(
                    &run_id,
                    &provider.id,
                    settings.deprovision.as_str(),
                    settings.admin_deprovision.as_str(),
                )
                .await?;
            store.record_group_removals(&run_id, &provider.id).await?;
            store.clear_stage(&run_id).await?;
            run.status = RunStatus::Succeeded.as_str().into();
            store.update_sync_run(&run).await?;
            inner
                .audit
                .record_or_log(ctx.event(Action::SyncSucceeded).detail("mode", "dry_run").detail("changed", "nothing"))
                .await;
            let diff = diff(inner, &run, settings).await?;
            Ok(Outcome { run, diff: Some(diff) })
        }
        Mode::Normal | Mode::Approve { .. } => {
            let (action, approved_by) = match &mode {
                Mode::Approve { by } => (Action::SyncApproved, Some(by.clone())),
                _ => (Action::SyncSucceeded, None),
            };
            run.status = if approved_by.is_some() { RunStatus::Approved } else { RunStatus::Succeeded }.as_str().into();
            if let Some(by) = &approved_by {
                run.decided_by = by.actor.email().map(str::to_string);
                run.decided_at = Some(ctx.now);
            }
            tx.update_run(&run).await?;
            let full_at = (run.mode == "full").then_some(run.started_at);
            tx.set_watermark(&provider.id, run.watermark.as_deref(), full_at).await?;
            tx.clear_stage(&run_id).await?;
            let mut event = ctx
                .event(action)
                .detail("mode", run.mode.clone())
                .detail("created", run.created)
                .detail("updated", run.updated)
                .detail("disabled", run.disabled)
                .detail("deleted", run.deleted)
                .detail("kept", run.kept)
                .detail("unchanged", run.unchanged)
                .detail("groups_created", run.groups_created)
                .detail("groups_updated", run.groups_updated)
                .detail("groups_deleted", run.groups_deleted)
                .detail("memberships_added", run.memberships_added)
                .detail("memberships_removed", run.memberships_removed);
            if let Some(by) = approved_by {
                event.actor = by.actor;
                event.ip = by.ip;
            }
            record(&mut tx, event).await?;
            step("staging cleared");
            tx.commit().await?;
            step("committed");
            Ok(Outcome { run, diff: None })
        }
    }
}

/// Removals against the directory's size: (removed, before) for users, groups and memberships.
struct Weighed {
    users: (i64, i64),
    groups: (i64, i64),
    memberships: (i64, i64),
    /// The run lists every user and the provider listed none.
    no_users_listed: bool,
    no_groups_listed: bool,
}

/// Why the run must stop for approval, if it must: every reason, in one text. Users, groups
/// and memberships are each weighed against the threshold; emptying the directory's users or
/// groups (an empty answer, a broken filter) always stops, whatever the threshold.
fn breaker(threshold: u32, w: &Weighed) -> Option<String> {
    let over = |(n, total): (i64, i64)| n > 0 && n * 100 > threshold as i64 * total;
    let pct = |(n, total): (i64, i64)| if total > 0 { n * 100 / total } else { 100 };
    let emptied = |(n, total): (i64, i64), none_listed: bool| total > 0 && (n >= total || none_listed && n > 0);
    let mut reasons = Vec::new();
    if emptied(w.users, w.no_users_listed) {
        reasons.push(format!(
            "The provider's answer would remove every user ({} of {}): an emptied directory is always held for approval.",
            w.users.0, w.users.1
        ));
    } else if over(w.users) {
        reasons.push(format!(
            "The run would remove {} of {} users ({} %), more than the {threshold} % threshold.",
            w.users.0,
            w.users.1,
            pct(w.users)
        ));
    }
    if emptied(w.groups, w.no_groups_listed) {
        reasons.push(format!(
            "The provider listed no groups where the directory has {}: the run would delete every group and its memberships. \
             An empty group list is always held for approval.",
            w.groups.1
        ));
    } else if over(w.groups) {
        reasons.push(format!(
            "The run would delete {} of {} groups ({} %), more than the {threshold} % threshold.",
            w.groups.0,
            w.groups.1,
            pct(w.groups)
        ));
    }
    if over(w.memberships) {
        reasons.push(format!(
            "The run would remove {} of {} group memberships ({} %), more than the {threshold} % threshold.",
            w.memberships.0,
            w.memberships.1,
            pct(w.memberships)
        ));
    }
    if reasons.is_empty() {
        return None;
    }
    reasons.push("Nothing was changed.".into());
    Some(reasons.join(" "))
}

/// What a run would change (or changed), as the approval panel and dry runs show it.
pub(super) async fn diff(inner: &Inner, run: &SyncRunRow, settings: &SyncSettings) -> Result<Diff, SyncError> {
    let (removals, removal_count) = inner.store.run_removals(&run.id, 500).await?;
    let (group_removals, membership_removals) = inner.store.run_group_removals(&run.id, 500).await?;
    let (users_now, groups_now, memberships_now) = inner.store.directory_counts(&run.provider_id).await?;
    Ok(Diff {
        run_id: run.id.clone(),
        provider_id: run.provider_id.clone(),
        mode: run.mode.clone(),
        status: run.status.clone(),
        reason: RunStatus::AwaitingApproval.is(&run.status).then(|| run.error.clone()).flatten(),
        threshold_percent: settings.removal_threshold_percent,
        users_now,
        created: run.created,
        updated: run.updated,
        unchanged: run.unchanged,
        removals,
        removal_count,
        groups_created: run.groups_created,
        groups_updated: run.groups_updated,
        groups_deleted: run.groups_deleted,
        group_removals,
        groups_now,
        memberships_added: run.memberships_added,
        memberships_removed: run.memberships_removed,
        membership_removals,
        memberships_now,
    })
}

async fn audit_created_users(tx: &mut DirectoryTx, ctx: &Ctx<'_>) -> Result<(), SyncError> {
    let mut after = String::new();
    loop {
        let rows = tx.created_users(ctx.run_id, &after, ctx.chunk).await?;
        let Some(last) = rows.last() else { break };
        after = last.external_id.clone();
        let users: Vec<Value> =
            rows.iter().map(|r| json!({"id": r.external_id, "email": r.email, "name": r.display_name})).collect();
        record(tx, ctx.event(Action::DirectoryUsersCreated).detail("count", users.len()).detail("users", users))
            .await?;
    }
    Ok(())
}

/// Updates in bulk entries; people coming back after a removal get their own entry,
/// and their console account back if a run disabled it.
async fn audit_updated_users(tx: &mut DirectoryTx, ctx: &Ctx<'_>) -> Result<(), SyncError> {
    let mut after = String::new();
    loop {
        let rows = tx.updated_users(ctx.run_id, ctx.provider_id, &after, ctx.chunk).await?;
        let Some(last) = rows.last() else { break };
        after = last.external_id.clone();
        let mut users = Vec::new();
        for r in &rows {
            let mut changed = Vec::new();
            if r.email != r.old_email {
                changed.push(json!({"field": "email", "from": r.old_email, "to": r.email}));
            }
            if r.login != r.old_login {
                changed.push(json!({"field": "login", "from": r.old_login, "to": r.login}));
            }
            if r.display_name != r.old_display_name
                || r.first_name != r.old_first_name
                || r.last_name != r.old_last_name
            {
                changed.push(json!({"field": "name", "from": r.old_display_name, "to": r.display_name}));
            }
            if r.okta_status != r.old_okta_status {
                changed.push(json!({"field": "status", "from": r.old_okta_status, "to": r.okta_status}));
            }
            if r.old_state != "active" {
                let account_enabled = match &r.account_disabled_by_run {
                    Some(_) => tx.enable_tied_account(ctx.provider_id, &r.external_id, ctx.now).await?,
                    None => false,
                };
                record(
                    tx,
                    ctx.user_event(Action::DirectoryUserRestored, &r.email, &r.external_id)
                        .detail("was", r.old_state.clone())
                        .detail("okta_status", r.okta_status.clone())
                        .detail("console_account_enabled", account_enabled)
                        .detail("changes", changed),
                )
                .await?;
            } else {
                users.push(json!({"id": r.external_id, "email": r.email, "changes": changed}));
            }
        }
        if !users.is_empty() {
            record(tx, ctx.event(Action::DirectoryUsersUpdated).detail("count", users.len()).detail("users", users))
                .await?;
        }
    }
    Ok(())
}

async fn audit_changed_groups(tx: &mut DirectoryTx, ctx: &Ctx<'_>) -> Result<(), SyncError> {
    for (change, action) in [("create", Action::DirectoryGroupsCreated), ("update", Action::DirectoryGroupsUpdated)] {
        let mut after = String::new();
        loop {
            let rows = tx.changed_groups(ctx.run_id, ctx.provider_id, change, &after, ctx.chunk).await?;
            let Some(last) = rows.last() else { break };
            after = last.external_id.clone();
            let groups: Vec<Value> = rows
                .iter()
                .map(|g| match &g.old_name {
                    Some(old) if change == "update" => json!({
                        "id": g.external_id, "name": g.name, "old_name": old,
                        "description": g.description, "old_description": g.old_description,
                    }),
                    _ => json!({"id": g.external_id, "name": g.name}),
                })
                .collect();
            record(tx, ctx.event(action).detail("count", groups.len()).detail("groups", groups)).await?;
        }
    }
    Ok(())
}

/// Membership changes, grouped by group: `{group, group_id, added: [user ids], removed: [user ids]}`
/// (Okta's user ids, as the Directory pages show them: the emails are in the users' entries).
/// Run after users and groups are written.
async fn audit_memberships(tx: &mut DirectoryTx, ctx: &Ctx<'_>) -> Result<(), SyncError> {
    let names: HashMap<String, String> = tx.group_names(ctx.provider_id).await?.into_iter().collect();
    let mut after = (String::new(), String::new());
    loop {
        // Memberships are many and small: four times the entries of the other bulk entries.
        let rows = tx.membership_changes(ctx.run_id, (&after.0, &after.1), ctx.chunk * 4).await?;
        let Some(last) = rows.last() else { break };
        after = (last.group_external_id.clone(), last.user_external_id.clone());
        let mut groups: Vec<Value> = Vec::new();
        let mut current: Option<(String, Value)> = None;
        let count = rows.len();
        for r in &rows {
            if current.as_ref().is_none_or(|(id, _)| *id != r.group_external_id) {
                if let Some((_, g)) = current.take() {
                    groups.push(g);
                }
                let name = names.get(&r.group_external_id).cloned().unwrap_or_default();
                current = Some((
                    r.group_external_id.clone(),
                    json!({"group": name, "group_id": r.group_external_id, "added": [], "removed": []}),
                ));
            }
            if let Some((_, g)) = current.as_mut() {
                let key = if r.change == "add" { "added" } else { "removed" };
                if let Some(list) = g.get_mut(key).and_then(Value::as_array_mut) {
                    list.push(Value::from(r.user_external_id.clone()));
                }
            }
        }
        if let Some((_, g)) = current {
            groups.push(g);
        }
        record(tx, ctx.event(Action::DirectoryMembershipsChanged).detail("count", count).detail("groups", groups))
            .await?;
    }
    Ok(())
}

#[derive(Default)]
struct Removed {
    disabled: i64,
    deleted: i64,
    kept: i64,
}

/// Everyone gone from Okta: disabled, deleted or kept per the settings (the admin setting
/// for people whose console account is an admin), never the last active admin.
/// Admins as the run found them, before it changed anything.
struct Admins {
    /// Console accounts of people the run removes that are admins (by role or role mapping).
    among_removed: std::collections::HashSet<String>,
    /// Active admins in all.
    active: i64,
}

async fn remove_users(
    tx: &mut DirectoryTx,
    ctx: &Ctx<'_>,
    settings: &SyncSettings,
    admins: Admins,
) -> Result<Removed, SyncError> {
    let mut removed = Removed::default();
    let mut active_admins = admins.active;
    loop {
        let batch = tx.removal_candidates(ctx.run_id, ctx.provider_id, ctx.chunk).await?;
        if batch.is_empty() {
            break;
        }
        for c in batch {
            let account_active = c.account_id.is_some() && c.account_disabled_at.is_none();
            // Admins by role mapping (SSO accounts, users.role NULL) count as admins too.
            let is_admin = account_active
                && (c.account_admin || c.account_id.as_ref().is_some_and(|a| admins.among_removed.contains(a)));
            let configured = if is_admin { settings.admin_deprovision } else { settings.deprovision };
            let last_admin = is_admin && configured != DeprovisionAction::Keep && active_admins <= 1;
            let action = if last_admin { DeprovisionAction::Keep } else { configured };
            let mut sessions_revoked = None;
            if action != DeprovisionAction::Keep && account_active {
                if let Some(account) = &c.account_id {
                    sessions_revoked = Some(tx.disable_account(account, ctx.now).await?);
                    if is_admin {
                        active_admins -= 1;
                    }
                }
            }
            let base = |a: Action| {
                ctx.user_event(a, &c.email, &c.external_id)
                    .detail("name", c.display_name.clone())
                    .detail("okta_status", c.okta_status.clone())
                    .detail("console_account", c.account_id.is_some())
                    .detail("console_role", if is_admin { Some("admin".to_string()) } else { c.account_role.clone() })
            };
            match action {
                DeprovisionAction::Disable => {
                    tx.mark_user_removed(
                        &c.id,
                        "disabled",
                        &c.okta_status,
                        ctx.run_id,
                        sessions_revoked.is_some(),
                        ctx.now,
                    )
                    .await?;
                    removed.disabled += 1;
                    record(
                        tx,
                        base(Action::DirectoryUserDisabled)
                            .detail("console_account_disabled", sessions_revoked.is_some())
                            .detail("sessions_revoked", sessions_revoked.unwrap_or(0)),
                    )
                    .await?;
                }
                DeprovisionAction::Delete => {
                    let memberships = tx.delete_user(&c.id).await?;
                    removed.deleted += 1;
                    record(
                        tx,
                        base(Action::DirectoryUserDeleted)
                            .detail("memberships_removed", memberships)
                            .detail("console_account_disabled", sessions_revoked.is_some())
                            .detail("sessions_revoked", sessions_revoked.unwrap_or(0)),
                    )
                    .await?;
                }
                DeprovisionAction::Keep => {
                    tx.mark_user_removed(&c.id, "kept", &c.okta_status, ctx.run_id, false, ctx.now).await?;
                    removed.kept += 1;
                    let reason = if last_admin {
                        "This is the last active admin's console account: disabling it would lock everyone out, so it was kept. Add another admin, then disable this account by hand."
                    } else {
                        "The deprovisioning setting for these people is Keep."
                    };
                    let mut event = base(Action::DirectoryUserKept).detail("reason", reason);
                    if last_admin {
                        event = event.failed();
                    }
                    record(tx, event).await?;
                }
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_trips_only_above_the_threshold() {
        let w = |users: (i64, i64), groups: (i64, i64), memberships: (i64, i64)| Weighed {
            users,
            groups,
            memberships,
            no_users_listed: false,
            no_groups_listed: false,
        };
        assert!(breaker(10, &w((10, 100), (0, 0), (0, 0))).is_none(), "exactly 10 % is allowed");
        let r = breaker(10, &w((11, 100), (0, 0), (0, 0))).unwrap();
        assert!(r.contains("11 of 100 users (11 %)") && r.contains("10 % threshold"), "{r}");
        assert!(breaker(10, &w((0, 0), (0, 0), (0, 0))).is_none());
        assert!(breaker(0, &w((1, 1000), (0, 0), (0, 0))).is_some(), "0 % stops every removal");
        assert!(breaker(100, &w((999, 1000), (0, 0), (0, 0))).is_none(), "100 % never stops");
        assert!(breaker(10, &w((0, 100), (0, 0), (200, 1000))).unwrap().contains("memberships"));
    }

    #[test]
    fn group_deletions_are_weighed_on_their_own() {
        let w = Weighed {
            users: (0, 100),
            groups: (3, 20),
            memberships: (5, 1000),
            no_users_listed: false,
            no_groups_listed: false,
        };
        let r = breaker(10, &w).unwrap();
        assert!(r.contains("3 of 20 groups (15 %)"), "{r}");
        assert!(breaker(20, &w).is_none());
    }

    #[test]
    fn an_emptied_directory_is_held_whatever_the_threshold() {
        let groups = Weighed {
            users: (0, 50),
            groups: (12, 12),
            memberships: (90, 90),
            no_users_listed: false,
            no_groups_listed: true,
        };
        let r = breaker(100, &groups).expect("held at 100 %");
        assert!(r.contains("no groups") && r.contains("always held"), "{r}");
        let users = Weighed {
            users: (50, 50),
            groups: (0, 12),
            memberships: (0, 90),
            no_users_listed: true,
            no_groups_listed: false,
        };
        assert!(breaker(100, &users).unwrap().contains("every user"));
        // A first run, into an empty directory, has nothing to hold.
        let first = Weighed {
            users: (0, 0),
            groups: (0, 0),
            memberships: (0, 0),
            no_users_listed: true,
            no_groups_listed: true,
        };
        assert!(breaker(100, &first).is_none());
    }
}
