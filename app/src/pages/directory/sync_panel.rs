//! A provider's sync panel on `/directory`: run now, progress, history, held removals, settings.

use leptos::prelude::*;

use crate::pages::error_text;
use crate::{
    api::directory::{
        approve_run, discard_run, save_sync_settings, sync_now, sync_progress, PendingDiff, ProgressItem, ProviderSync,
        RunItem,
    },
    layout::{DataTable, ErrorNote},
};

/// A note from the settings form that outlives the panel's reload ("Settings saved."), with
/// the provider it is about.
pub(crate) type Notice = RwSignal<Option<(String, String)>>;

/// "Full sync, succeeded 2026-12-04 10:00:00 UTC (3.2 s): 2 created, …": a run in words.
pub(crate) fn run_sentence(r: &RunItem) -> String {
    let counts = format!(
        "{} created, {} updated, {} disabled, {} deleted, {} unchanged · {} groups deleted, {} memberships removed",
        r.created, r.updated, r.disabled, r.deleted, r.unchanged, r.groups_deleted, r.memberships_removed,
    );
    match r.status.as_str() {
        "cancelled" => format!(
            "{}, {} {}: held for approval and discarded{}; nothing was applied.",
            r.kind_label,
            r.started_at,
            r.trigger.to_lowercase(),
            r.decided_by.as_ref().map(|b| format!(" by {b}")).unwrap_or_default(),
        ),
        "awaiting_approval" => {
            format!("{}, {}: waiting for approval; nothing applied yet.", r.kind_label, r.started_at)
        }
        "failed" => format!("{}, {}: failed after {}.", r.kind_label, r.started_at, r.duration),
        _ => format!(
            "{}, {}: {} in {} · {counts}",
            r.kind_label,
            r.started_at,
            r.status_label.to_lowercase(),
            r.duration
        ),
    }
}

/// Sync now, Dry run, live progress, the diff awaiting approval, settings and history.
#[component]
pub(crate) fn SyncPanel(
    provider: ProviderSync,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
    notice: Notice,
) -> impl IntoView {
    let id = provider.provider_id.clone();
    let error = RwSignal::new(None::<String>);
    // Polls progress once a second while a run is going, then reloads the page's data.
    let running = RwSignal::new(provider.runs.first().is_some_and(|r| r.status == "running"));
    let tick = RwSignal::new(0u32);
    let progress = Resource::new(
        {
            let id = id.clone();
            move || (id.clone(), running.get(), tick.get())
        },
        |(id, running, _)| async move {
            if running {
                sync_progress(id).await
            } else {
                Ok(None)
            }
        },
    );
    #[cfg(feature = "hydrate")]
    {
        let handle = leptos::prelude::set_interval_with_handle(
            move || {
                if running.get_untracked() {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_millis(700),
        );
        on_cleanup(move || {
            if let Ok(h) = handle {
                h.clear();
            }
        });
    }
    Effect::new(move |_| {
        // Read both first: an effect only re-runs for signals it has read.
        let (polls, latest) = (tick.get(), progress.get());
        // A run that was polled and has no progress any more has finished.
        if running.get_untracked() && polls > 0 && matches!(latest, Some(Ok(None))) {
            running.set(false);
            on_change();
        }
    });

    let start = Action::new({
        let id = id.clone();
        move |kind: &&'static str| {
            let (id, kind) = (id.clone(), kind.to_string());
            async move { sync_now(id, kind).await }
        }
    });
    Effect::new(move |_| match start.value().get() {
        Some(Ok(_)) => {
            error.set(None);
            notice.set(None);
            tick.set(0);
            running.set(true);
        }
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });
    let decide = Action::new(move |(run_id, approve): &(String, bool)| {
        let (run_id, approve) = (run_id.clone(), *approve);
        async move {
            if approve {
                approve_run(run_id).await
            } else {
                discard_run(run_id).await
            }
        }
    });
    Effect::new(move |_| match decide.value().get() {
        Some(Ok(())) => {
            notice.set(None);
            on_change();
        }
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });

    let estimate = provider.estimate;
    let name = provider.name.clone();
    let runs_count = provider.runs.len();
    let my_notice = {
        let id = id.clone();
        Memo::new(move |_| notice.get().filter(|(for_id, _)| *for_id == id).map(|(_, text)| text))
    };
    let newest = provider.runs.first().cloned();
    view! {
        <section class="mb-4 rounded-lg border border-slate-200 bg-white p-4" data-testid="sync-panel" data-provider=name.clone()>
            <div class="flex flex-col gap-3 sm:flex-row sm:items-start sm:justify-between">
                <div>
                    <h2 class="font-semibold">{format!("{name}: directory synchronization")}</h2>
                    <p class="text-sm text-slate-700" data-testid="last-run">
                        {match &provider.last_sync {
                            Some(r) => format!("Last sync: {}", run_sentence(r)),
                            None if provider.settings.enabled => format!(
                                "Not synchronized yet. Runs every {} minutes; or start one now.",
                                provider.settings.interval_minutes,
                            ),
                            None => "Not synchronized yet. Scheduled runs are off; start one now.".to_string(),
                        }}
                    </p>
                    {newest
                        .as_ref()
                        .filter(|r| r.mode == "dry_run" && r.status != "running")
                        .map(|r| view! { <p class="text-sm text-slate-700" data-testid="last-dry-run">{format!("Last dry run: {}", run_sentence(r))}</p> })}
                    {provider
                        .last_sync
                        .as_ref()
                        .filter(|r| r.status == "failed")
                        .and_then(|r| r.error.clone().map(|e| (e, r.error_fix.clone())))
                        .map(|(e, fix)| {
                            view! {
                                <p class="mt-1 text-sm text-red-800" role="alert">
                                    {e}
                                    {fix.map(|f| view! { <span class="block text-slate-800">"How to fix: " {f}</span> })}
                                </p>
                            }
                        })}
                </div>
                <div class="flex gap-2">
                    <button type="button" class="btn-primary" disabled=move || running.get() on:click=move |_| { start.dispatch("full"); }>
                        "Sync now"
                    </button>
                    <button type="button" class="btn" disabled=move || running.get() on:click=move |_| { start.dispatch("dry_run"); }>
                        "Dry run"
                    </button>
                </div>
            </div>
            {move || error.get().map(|m| view! { <div class="mt-3"><ErrorNote message=m /></div> })}
            <Show when=move || running.get()>
                <div class="mt-3" data-testid="sync-progress">
                    {move || {
                        let p = progress.get().and_then(|r| r.ok()).flatten();
                        view! { <ProgressView progress=p estimate /> }
                    }}
                </div>
            </Show>
            {provider
                .pending
                .clone()
                .map(|d| {
                    let run_id = d.run_id.clone();
                    let run_id2 = d.run_id.clone();
                    view! {
                        <div class="mt-3 rounded-md border border-amber-300 bg-amber-50 p-3" data-testid="pending-approval">
                            <p class="text-sm font-semibold text-amber-900">
                                {format!(
                                    "Waiting for approval: this run would remove {} of {} users, {} of {} groups and {} of {} group memberships (threshold {}%).",
                                    d.removal_count,
                                    d.users_now,
                                    d.groups_deleted,
                                    d.groups_now,
                                    d.memberships_removed,
                                    d.memberships_now,
                                    d.threshold_percent,
                                )}
                            </p>
                            {d.reason.clone().map(|r| view! { <p class="text-sm text-amber-900">{r}</p> })}
                            <DiffList diff=d.clone() />
                            <div class="mt-2 flex gap-2">
                                <button type="button" class="btn-primary" on:click=move |_| { decide.dispatch((run_id.clone(), true)); }>
                                    "Approve and apply"
                                </button>
                                <button type="button" class="btn" on:click=move |_| { decide.dispatch((run_id2.clone(), false)); }>
                                    "Discard"
                                </button>
                            </div>
                        </div>
                    }
                })}
            {provider
                .dry_run
                .clone()
                .map(|d| {
                    view! {
                        <div class="mt-3 rounded-md border border-indigo-200 bg-indigo-50 p-3" data-testid="dry-run-result">
                            <p class="text-sm font-semibold text-indigo-900">
                                {format!(
                                    "Dry run: would create {}, update {}, and remove {} users, {} groups and {} group memberships. Nothing was changed.",
                                    d.created,
                                    d.updated,
                                    d.removal_count,
                                    d.groups_deleted,
                                    d.memberships_removed,
                                )}
                            </p>
                            <DiffList diff=d />
                        </div>
                    }
                })}
            <details class="mt-3" open=move || my_notice.get().is_some()>
                <summary class="cursor-pointer text-sm font-medium text-slate-700">"Settings"</summary>
                <SettingsForm provider_id=id.clone() form=provider.settings.clone() on_saved=on_change notice />
            </details>
            <details class="mt-2">
                <summary class="cursor-pointer text-sm font-medium text-slate-700">
                    {if runs_count == 1 { "History (1 run)".to_string() } else { format!("History ({runs_count} runs)") }}
                </summary>
                <div class="mt-2">
                    <DataTable headers=&["Started", "Kind", "Status", "Duration", "Changes", "Requests"] testid="run-history">
                        {provider
                            .runs
                            .iter()
                            .map(|r| {
                                let changes = if r.status == "cancelled" || r.status == "awaiting_approval" || r.mode == "dry_run" {
                                    format!("none applied ({} users, {} groups seen)", r.users_seen, r.groups_seen)
                                } else {
                                    format!(
                                        "{} created, {} updated, {} disabled, {} deleted, {} unchanged, {} groups deleted, {} memberships removed ({} users, {} groups seen)",
                                        r.created, r.updated, r.disabled, r.deleted, r.unchanged, r.groups_deleted,
                                        r.memberships_removed, r.users_seen, r.groups_seen,
                                    )
                                };
                                view! {
                                    <tr data-status=r.status.clone()>
                                        <td class="whitespace-nowrap px-4 py-2 font-mono text-xs">
                                            <a href=format!("/directory/runs/{}", r.id) class="link">{r.started_at.clone()}</a>
                                        </td>
                                        <td class="px-4 py-2 text-xs">{format!("{} · {}", r.kind_label, r.trigger)}</td>
                                        <td class="px-4 py-2 text-xs">{r.status_label.clone()}</td>
                                        <td class="px-4 py-2 text-xs">{r.duration.clone()}</td>
                                        <td class="px-4 py-2 text-xs">{changes}</td>
                                        <td class="px-4 py-2 text-xs">{format!("{} ({} waits)", r.requests, r.rate_limit_waits)}</td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </DataTable>
                </div>
            </details>
        </section>
    }
}

/// A running run: pages and rows always; a percentage when the last full run gives an
/// estimate (Okta lists no totals), else a bar without one.
#[component]
fn ProgressView(progress: Option<ProgressItem>, estimate: Option<u64>) -> impl IntoView {
    let Some(p) = progress else {
        return view! {
            <progress class="h-2 w-full" aria-label="Sync progress"></progress>
            <p class="mt-1 text-xs text-slate-700">"Starting…"</p>
        }
        .into_any();
    };
    let rows = p.users_so_far + p.groups_so_far;
    // Membership listing is measured by groups; before it, by users and groups against the estimate.
    let fraction = if p.groups_to_list > 0 {
        Some(p.groups_listed as f64 / p.groups_to_list as f64)
    } else {
        estimate.filter(|_| p.kind != "incremental").map(|e| rows as f64 / e as f64)
    }
    .map(|f| f.clamp(0.0, 0.99));
    let phase = match p.phase.as_str() {
        "starting" => "starting",
        "fetching" => "reading users, groups and memberships from Okta",
        "applying" => "applying the changes",
        other => other,
    };
    let kind = &p.kind_label;
    let waits = if p.rate_limit_waits > 0 || p.waiting {
        format!(" · {} rate-limit waits{}", p.rate_limit_waits, if p.waiting { " (waiting now)" } else { "" })
    } else {
        String::new()
    };
    let percent = fraction.map(|f| format!("about {}% · ", (f * 100.0).round() as u32)).unwrap_or_default();
    let text = format!(
        "{kind}, {phase}: {percent}{} pages, {} users, {} groups so far{waits}",
        p.pages_done, p.users_so_far, p.groups_so_far
    );
    view! {
        {match fraction {
            Some(f) => view! { <progress class="h-2 w-full" max="100" value=(f * 100.0).round() aria-label="Sync progress"></progress> }.into_any(),
            None => view! { <progress class="h-2 w-full" aria-label="Sync progress"></progress> }.into_any(),
        }}
        <p class="mt-1 text-xs text-slate-700">{text}</p>
    }
    .into_any()
}

/// Why someone is removed, in words: Okta's status, or that Okta no longer lists them.
fn okta_status_words(status: &str) -> String {
    match status {
        "DEPROVISIONED" => "deactivated in Okta".into(),
        "SUSPENDED" => "suspended in Okta".into(),
        "GONE" => "no longer listed by Okta (deleted, or out of the synchronized scope)".into(),
        other => format!("{} in Okta", other.to_lowercase()),
    }
}

#[component]
pub(crate) fn DiffList(diff: PendingDiff) -> impl IntoView {
    let shown = diff.removals.len() as i64;
    view! {
        <ul class="mt-2 max-h-48 list-disc overflow-y-auto pl-5 text-sm" data-testid="diff-list">
            {diff
                .removals
                .into_iter()
                .map(|r| {
                    view! {
                        <li>
                            {format!("{} {} — {}; will be {}", r.name, r.email, okta_status_words(&r.okta_status), match r.action.as_str() {
                                "disable" => "disabled",
                                "delete" => "deleted",
                                _ => "kept",
                            })}
                            {r.account_role.map(|role| view! { <span class="ml-1 rounded bg-amber-200 px-1 text-xs">{format!("console {role}")}</span> })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
        {(diff.removal_count > shown).then(|| view! { <p class="text-xs text-slate-600">{format!("and {} more", diff.removal_count - shown)}</p> })}
        <RemovalList
            title="Groups to be deleted"
            test_id="diff-groups"
            total=diff.groups_deleted
            items=diff
                .group_removals
                .into_iter()
                .map(|g| format!("{} ({}) — deleted with its {} memberships", g.name, g.external_id, g.members))
                .collect()
        />
        <RemovalList
            title="Group memberships to be removed"
            test_id="diff-memberships"
            total=diff.memberships_removed
            items=diff
                .membership_removals
                .into_iter()
                .map(|m| {
                    let deleted = if m.group_deleted { " (the group is deleted)" } else { "" };
                    format!("{} {} leaves {}{deleted}", m.name, m.email, m.group)
                })
                .collect()
        />
    }
}

/// One kind of removal a held run would make: the first rows, and how many more there are.
#[component]
pub(crate) fn RemovalList(title: &'static str, test_id: &'static str, total: i64, items: Vec<String>) -> impl IntoView {
    let more = total - items.len() as i64;
    (!items.is_empty()).then(|| {
        view! {
            <p class="mt-2 text-sm font-medium">{title}</p>
            <ul class="mt-1 max-h-48 list-disc overflow-y-auto pl-5 text-sm" data-testid=test_id>
                {items.into_iter().map(|item| view! { <li>{item}</li> }).collect_view()}
            </ul>
            {(more > 0).then(|| view! { <p class="text-xs text-slate-600">{format!("and {more} more")}</p> })}
        }
    })
}

#[component]
pub(crate) fn SettingsForm(
    provider_id: String,
    form: crate::api::directory::SyncSettingsForm,
    on_saved: impl Fn() + Copy + Send + Sync + 'static,
    notice: Notice,
) -> impl IntoView {
    let for_provider = provider_id.clone();
    let enabled = RwSignal::new(form.enabled);
    let interval = RwSignal::new(form.interval_minutes.to_string());
    let full_every = RwSignal::new(form.full_every_hours.to_string());
    let scope = RwSignal::new(form.scope.clone());
    let app_id = RwSignal::new(form.app_id.clone());
    let deprovision = RwSignal::new(form.deprovision.clone());
    let admin_deprovision = RwSignal::new(form.admin_deprovision.clone());
    let threshold = RwSignal::new(form.removal_threshold_percent.to_string());
    let shown = Memo::new({
        let id = provider_id.clone();
        move |_| notice.get().filter(|(for_id, _)| *for_id == id).map(|(_, text)| text)
    });
    let save = Action::new(move |f: &crate::api::directory::SyncSettingsForm| {
        let (id, f) = (provider_id.clone(), f.clone());
        async move { save_sync_settings(id, f).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(changed)) = save.value().get() {
            let text = if changed { "Settings saved." } else { "No changes to save." };
            notice.set(Some((for_provider.clone(), text.to_string())));
            if changed {
                on_saved();
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(crate::api::directory::SyncSettingsForm {
            enabled: enabled.get_untracked(),
            interval_minutes: interval.get_untracked().trim().parse().unwrap_or(0),
            full_every_hours: full_every.get_untracked().trim().parse().unwrap_or(0),
            scope: scope.get_untracked(),
            app_id: app_id.get_untracked(),
            deprovision: deprovision.get_untracked(),
            admin_deprovision: admin_deprovision.get_untracked(),
            removal_threshold_percent: threshold.get_untracked().trim().parse().unwrap_or(101),
        });
    };
    let input = "mt-1 w-40 rounded-md border border-slate-300 px-2 py-1 text-sm";
    let actions = [("disable", "Disable (revoke sessions)"), ("keep", "Keep"), ("delete", "Delete")];
    view! {
        <form class="mt-2 grid gap-3 text-sm sm:grid-cols-2" on:submit=submit>
            <label class="flex items-center gap-2 sm:col-span-2">
                <input type="checkbox" bind:checked=enabled />
                "Synchronize on a schedule"
            </label>
            <label>"Interval (minutes)" <input class=input type="number" min="1" bind:value=interval /></label>
            <label>"Full run every (hours)" <input class=input type="number" min="1" bind:value=full_every /></label>
            <fieldset class="sm:col-span-2">
                <legend>"Scope"</legend>
                <label class="mr-4">
                    <input type="radio" name="scope" prop:checked=move || scope.get() != "app" on:change=move |_| scope.set("org".into()) />
                    " Whole org"
                </label>
                <label>
                    <input type="radio" name="scope" prop:checked=move || scope.get() == "app" on:change=move |_| scope.set("app".into()) />
                    " Only users and groups assigned to the Okta app"
                </label>
                <Show when=move || scope.get() == "app">
                    <label class="mt-1 block">"Okta app ID" <input class=input bind:value=app_id placeholder="0oa…" /></label>
                </Show>
            </fieldset>
            <label>
                "Users deactivated or removed in Okta"
                <select class=input on:change=move |ev| deprovision.set(event_target_value(&ev)) prop:value=move || deprovision.get()>
                    {actions.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Console admins deactivated or removed in Okta"
                <select class=input on:change=move |ev| admin_deprovision.set(event_target_value(&ev)) prop:value=move || admin_deprovision.get()>
                    {actions.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
            </label>
            <label class="sm:col-span-2">
                "Ask for approval when a run would remove more than (% of users)"
                <input class=input type="number" min="0" max="100" bind:value=threshold />
                <span class="mt-1 block text-xs text-slate-600">
                    "Groups and group memberships are weighed the same way, each on its own. A run that would remove every user or every group always asks. Only an Admin can change this, the scope and the deprovisioning choices."
                </span>
            </label>
            <div class="sm:col-span-2 flex items-center gap-3">
                <button type="submit" class="btn-primary">"Save settings"</button>
                {move || match save.value().get() {
                    Some(Err(e)) => view! { <span class="text-red-800" role="alert">{error_text(&e)}</span> }.into_any(),
                    _ => view! { <span class="text-green-800" role="status" data-testid="settings-notice">{move || shown.get()}</span> }.into_any(),
                }}
            </div>
        </form>
    }
}
