use leptos::prelude::*;
use portcullis_types::url::encode;

use super::{error_text, query_value};
use crate::{
    api::console::{audit_actions, audit_events, AuditEntry},
    layout::{loading, DataTable, ErrorNote, PageHeader},
};

/// The filters, as the query string carries them (paging and export links keep them).
const FILTERS: [&str; 5] = ["action", "actor", "target", "from", "to"];

/// `/audit`: newest first, filtered and paged with plain forms and links (works without
/// JavaScript); the filtered rows download as CSV or JSON.
#[component]
pub fn AuditLog() -> impl IntoView {
    let before = query_value("before");
    let values = FILTERS.map(query_value);
    let filters = move || values.map(|v| v.get());
    let page = Resource::new(
        move || (before.get(), filters()),
        |(before, [action, actor, target, from, to])| audit_events(before, action, actor, target, from, to),
    );
    // Apart from the rows: a filter the server refuses keeps the form as it was typed.
    let actions = Resource::new(|| (), |_| audit_actions());

    view! {
        <PageHeader
            title="Audit log"
            intro="Who did what, when and from where. Secrets are never recorded."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                let current = values.map(|v| v.get_untracked());
                let query: String = FILTERS
                    .iter()
                    .zip(&current)
                    .filter_map(|(name, value)| value.as_ref().map(|v| format!("&{name}={}", encode(v))))
                    .collect();
                let active = !query.is_empty();
                let actions = actions.await.unwrap_or_default();
                match page.await {
                    Err(e) => {
                        view! {
                            <FilterForm actions current=current.clone() active />
                            <ErrorNote message=error_text(&e) />
                        }
                            .into_any()
                    }
                    Ok(data) => {
                        let export_query = query.trim_start_matches('&').to_string();
                        view! {
                            <FilterForm actions current=current.clone() active />
                            <div class="mb-3 flex flex-wrap items-center gap-3 text-sm">
                                <span class="text-slate-600">
                                    {if active { "Download the rows these filters match:" } else { "Download the whole log:" }}
                                </span>
                                <a class="link" href=format!("/audit/export.csv?{export_query}") download>
                                    "Export CSV"
                                </a>
                                <a class="link" href=format!("/audit/export.json?{export_query}") download>
                                    "Export JSON"
                                </a>
                            </div>
                            {if data.entries.is_empty() {
                                view! {
                                    <p class="rounded-lg border border-dashed border-slate-300 bg-white p-6 text-sm text-slate-600">
                                        {if active {
                                            "No entries match these filters."
                                        } else {
                                            "No entries yet. Sign-ins, sign-outs and setup are recorded here, and every change to providers, the directory and policies."
                                        }}
                                    </p>
                                }
                                    .into_any()
                            } else {
                                view! {
                                    <DataTable headers=&["When, from", "Who", "What", "Target", "Details"] testid="audit-table" stack=true>
                                        {data.entries.into_iter().map(|e| view! { <AuditRow entry=e /> }).collect_view()}
                                    </DataTable>
                                }
                                    .into_any()
                            }}
                            <div class="mt-4 flex gap-4 text-sm">
                                {before
                                    .get_untracked()
                                    .map(|_| {
                                        let href = format!("/audit?{}", query.trim_start_matches('&'));
                                        view! { <a href=href class="link">"Newest"</a> }
                                    })}
                                {data
                                    .older
                                    .map(|older| {
                                        let href = format!("/audit?before={}{query}", encode(&older));
                                        view! { <a href=href class="link">"Older"</a> }
                                    })}
                            </div>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// The filters as a GET form: the URL is the state, so a filtered view can be shared.
#[component]
fn FilterForm(actions: Vec<(String, String)>, current: [Option<String>; 5], active: bool) -> impl IntoView {
    let [action, actor, target, from, to] = current;
    let selected = action.unwrap_or_default();
    let input = "field-input mt-1 w-full";
    view! {
        <form
            method="get"
            action="/audit"
            class="mb-4 grid grid-cols-2 items-end gap-3 sm:grid-cols-3 lg:grid-cols-6"
            aria-label="Filter the audit log"
        >
            <div class="col-span-2 sm:col-span-1">
                <label for="audit-action" class="field-label">"Action"</label>
                <select id="audit-action" name="action" class=input>
                    <option value="">"All actions"</option>
                    {actions
                        .into_iter()
                        .map(|(value, label)| {
                            let is_selected = value == selected;
                            view! { <option value=value selected=is_selected>{label}</option> }
                        })
                        .collect_view()}
                </select>
            </div>
            <div>
                <label for="audit-actor" class="field-label">"Who"</label>
                <input id="audit-actor" name="actor" type="search" class=input value=actor placeholder="email or system" />
            </div>
            <div>
                <label for="audit-target" class="field-label">"Target"</label>
                <input id="audit-target" name="target" type="search" class=input value=target />
            </div>
            <div>
                <label for="audit-from" class="field-label">"From (UTC)"</label>
                <input id="audit-from" name="from" type="date" class=input value=from />
            </div>
            <div>
                <label for="audit-to" class="field-label">"To (UTC)"</label>
                <input id="audit-to" name="to" type="date" class=input value=to />
            </div>
            <div class="col-span-2 flex items-center gap-3 sm:col-span-1">
                <button type="submit" class="btn btn-secondary">"Filter"</button>
                {active.then(|| view! { <a href="/audit" class="link text-sm">"Clear"</a> })}
            </div>
        </form>
    }
}

/// One entry: a readable line, every detail one click away (a `<details>`, no JavaScript).
#[component]
fn AuditRow(entry: AuditEntry) -> impl IntoView {
    let e = entry;
    let details = (!e.details.is_empty()).then(|| {
        view! {
            <details class="mt-1">
                <summary class="cursor-pointer text-xs font-medium text-indigo-700">
                    "All details"
                </summary>
                <dl class="mt-1 grid grid-cols-[auto_1fr] gap-x-3 gap-y-0.5 text-xs">
                    {e
                        .details
                        .into_iter()
                        .map(|(k, v)| {
                            view! {
                                <dt class="font-medium text-slate-600">{k}</dt>
                                <dd class="text-slate-800 [overflow-wrap:anywhere]">{v}</dd>
                            }
                        })
                        .collect_view()}
                </dl>
            </details>
        }
    });
    view! {
        <tr data-action=e.action.clone()>
            // One column for when and where from: the details keep the room they need.
            <td data-label="When, from" class="whitespace-nowrap px-4 py-2 font-mono text-xs">
                {e.at}
                <span class="block text-slate-500">{e.ip.unwrap_or_default()}</span>
            </td>
            <td data-label="Who" class="px-4 py-2 break-words">{e.actor}</td>
            <td data-label="What" class="px-4 py-2">
                <span class=if e.success {
                    "text-slate-900"
                } else {
                    "font-medium text-red-700"
                }>{e.action_label}</span>
                {(!e.success).then(|| view! { <span class="sr-only">" (failed)"</span> })}
            </td>
            <td data-label="Target" class="px-4 py-2 break-words">{e.target.unwrap_or_default()}</td>
            <td data-label="Details" class="px-4 py-2 text-xs text-slate-600 sm:min-w-56">
                <span class="[overflow-wrap:anywhere]">{e.summary}</span>
                {details}
            </td>
        </tr>
    }
}
