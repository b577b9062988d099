//! A provider's sync panel on `/directory`: run now, progress, history, held removals, settings.

use leptos::prelude::*;

use crate::pages::error_text;
use crate::{
    api::directory::{
        approve_run, discard_run, save_sync_settings, sync_now, sync_progress, PendingDiff, ProviderSync,
    },
    layout::{DataTable, ErrorNote},
};

/// Sync now, Dry run, live progress, the diff awaiting approval, settings and history.
#[component]
pub(crate) fn SyncPanel(provider: ProviderSync, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
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
        Some(Ok(())) => on_change(),
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });

    let last = provider.runs.first().cloned();
    let name = provider.name.clone();
    view! {
        <section class="mb-4 rounded-lg border border-slate-200 bg-white p-4" data-testid="sync-panel" data-provider=name.clone()>
            <div class="flex flex-col gap-3 sm:flex-row sm:items-start sm:justify-between">
                <div>
                    <h2 class="font-semibold">{format!("{name}: directory synchronization")}</h2>
                    <p class="text-sm text-slate-600" data-testid="last-run">
                        {match &last {
                            Some(r) => format!(
                                "Last run: {} {}, {} ({}) · {} created, {} updated, {} disabled, {} deleted, {} unchanged · {} groups deleted, {} memberships removed",
                                r.mode, r.status, r.started_at, r.duration, r.created, r.updated, r.disabled, r.deleted, r.unchanged,
                                r.groups_deleted, r.memberships_removed,
                            ),
                            None => format!(
                                "Not synchronized yet. Runs every {} minutes once enabled; or start one now.",
                                provider.settings.interval_minutes,
                            ),
                        }}
                    </p>
                    {last
                        .as_ref()
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
                        let (value, max) = match &p {
                            Some(p) if p.groups_to_list > 0 => (p.groups_listed as f64, p.groups_to_list as f64),
                            _ => (0.0, 0.0),
                        };
                        let text = match &p {
                            Some(p) => format!(
                                "{} run, {}: {} pages, {} users, {} groups so far{}",
                                p.kind,
                                p.phase,
                                p.pages_done,
                                p.users_so_far,
                                p.groups_so_far,
                                if p.rate_limit_waits > 0 || p.waiting {
                                    format!(", {} rate-limit waits{}", p.rate_limit_waits, if p.waiting { " (waiting now)" } else { "" })
                                } else {
                                    String::new()
                                },
                            ),
                            None => "Starting…".to_string(),
                        };
                        view! {
                            {if max > 0.0 {
                                view! { <progress class="h-2 w-full" max=max value=value aria-label="Sync progress"></progress> }.into_any()
                            } else {
                                view! { <progress class="h-2 w-full" aria-label="Sync progress"></progress> }.into_any()
                            }}
                            <p class="mt-1 text-xs text-slate-600">{text}</p>
                        }
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
            <details class="mt-3">
                <summary class="cursor-pointer text-sm font-medium text-slate-700">"Settings"</summary>
                <SettingsForm provider_id=id.clone() form=provider.settings.clone() on_saved=on_change />
            </details>
            <details class="mt-2">
                <summary class="cursor-pointer text-sm font-medium text-slate-700">
                    {format!("History ({} runs)", provider.runs.len())}
                </summary>
                <div class="mt-2">
                    <DataTable headers=&["Started", "Kind", "Status", "Duration", "Changes", "Requests"] testid="run-history">
                        {provider
                            .runs
                            .iter()
                            .map(|r| {
                                view! {
                                    <tr data-status=r.status.clone()>
                                        <td class="whitespace-nowrap px-4 py-2 font-mono text-xs">{r.started_at.clone()}</td>
                                        <td class="px-4 py-2 text-xs">{format!("{} · {}", r.mode, r.trigger)}</td>
                                        <td class="px-4 py-2 text-xs">{r.status.replace('_', " ")}</td>
                                        <td class="px-4 py-2 text-xs">{r.duration.clone()}</td>
                                        <td class="px-4 py-2 text-xs">
                                            {format!(
                                                "{} created, {} updated, {} disabled, {} deleted, {} unchanged, {} groups deleted, {} memberships removed ({} users, {} groups seen)",
                                                r.created, r.updated, r.disabled, r.deleted, r.unchanged, r.groups_deleted,
                                                r.memberships_removed, r.users_seen, r.groups_seen,
                                            )}
                                        </td>
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
                            {format!("{} {} — {} in Okta; will be {}", r.name, r.email, r.okta_status.to_lowercase(), match r.action.as_str() {
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
) -> impl IntoView {
    let enabled = RwSignal::new(form.enabled);
    let interval = RwSignal::new(form.interval_minutes.to_string());
    let full_every = RwSignal::new(form.full_every_hours.to_string());
    let scope = RwSignal::new(form.scope.clone());
    let app_id = RwSignal::new(form.app_id.clone());
    let deprovision = RwSignal::new(form.deprovision.clone());
    let admin_deprovision = RwSignal::new(form.admin_deprovision.clone());
    let threshold = RwSignal::new(form.removal_threshold_percent.to_string());
    let save = Action::new(move |f: &crate::api::directory::SyncSettingsForm| {
        let (id, f) = (provider_id.clone(), f.clone());
        async move { save_sync_settings(id, f).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            on_saved();
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
                "Users gone or deactivated in Okta"
                <select class=input on:change=move |ev| deprovision.set(event_target_value(&ev)) prop:value=move || deprovision.get()>
                    {actions.iter().map(|(v, l)| view! { <option value=*v>{*l}</option> }).collect_view()}
                </select>
            </label>
            <label>
                "Console admins gone in Okta"
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
                    Some(Ok(())) => view! { <span class="text-green-800" role="status">"Saved."</span> }.into_any(),
                    Some(Err(e)) => view! { <span class="text-red-800" role="alert">{error_text(&e)}</span> }.into_any(),
                    None => ().into_any(),
                }}
            </div>
        </form>
    }
}
