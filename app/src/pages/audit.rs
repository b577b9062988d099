use leptos::prelude::*;

use super::{error_text, query_value};
use crate::{
    api::console::audit_events,
    layout::{loading, DataTable, ErrorNote, PageHeader},
};

/// `/audit`: newest first, filtered by action, paged with plain links (works without JavaScript).
#[component]
pub fn AuditLog() -> impl IntoView {
    let before = query_value("before");
    let action = query_value("action");
    let page = Resource::new(move || (before.get(), action.get()), |(before, action)| audit_events(before, action));

    view! {
        <PageHeader
            title="Audit log"
            intro="Who did what, when and from where. Secrets are never recorded."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(data) => {
                        let selected = action.get_untracked().unwrap_or_default();
                        let filter_query = action
                            .get_untracked()
                            .map(|a| format!("&action={a}"))
                            .unwrap_or_default();
                        view! {
                            <form method="get" action="/audit" class="mb-4 flex flex-wrap items-end gap-2">
                                <div>
                                    <label for="audit-action" class="block text-xs font-medium text-slate-600">
                                        "Action"
                                    </label>
                                    <select
                                        id="audit-action"
                                        name="action"
                                        class="mt-1 rounded-md border border-slate-300 px-2 py-1.5 text-sm"
                                    >
                                        <option value="">"All actions"</option>
                                        {data
                                            .actions
                                            .into_iter()
                                            .map(|(value, label)| {
                                                let is_selected = value == selected;
                                                view! {
                                                    <option value=value selected=is_selected>
                                                        {label}
                                                    </option>
                                                }
                                            })
                                            .collect_view()}
                                    </select>
                                </div>
                                <button
                                    type="submit"
                                    class="rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-100"
                                >
                                    "Filter"
                                </button>
                            </form>
                            {if data.entries.is_empty() {
                                view! {
                                    <p class="rounded-lg border border-dashed border-slate-300 bg-white p-6 text-sm text-slate-600">
                                        "No entries match. Sign-ins, sign-outs and setup are recorded here, and later every change to providers, the directory and policies."
                                    </p>
                                }
                                    .into_any()
                            } else {
                                view! {
                                    <DataTable headers=&["When", "Who", "What", "Target", "From", "Details"] testid="audit-table">
                                                {data
                                                    .entries
                                                    .into_iter()
                                                    .map(|e| {
                                                        view! {
                                                            <tr data-action=e.action.clone()>
                                                                <td class="whitespace-nowrap px-4 py-2 font-mono text-xs">{e.at}</td>
                                                                <td class="px-4 py-2">{e.actor}</td>
                                                                <td class="px-4 py-2">
                                                                    <span class=if e.success {
                                                                        "text-slate-900"
                                                                    } else {
                                                                        "font-medium text-red-700"
                                                                    }>{e.action_label}</span>
                                                                </td>
                                                                <td class="px-4 py-2">{e.target.unwrap_or_default()}</td>
                                                                <td class="px-4 py-2 font-mono text-xs">{e.ip.unwrap_or_default()}</td>
                                                                <td class="px-4 py-2 font-mono text-xs text-slate-500 break-all">
                                                                    {e.details}
                                                                </td>
                                                            </tr>
                                                        }
                                                    })
                                                    .collect_view()}
                                            </DataTable>
                                }
                                    .into_any()
                            }}
                            <div class="mt-4 flex gap-4 text-sm">
                                {before
                                    .get_untracked()
                                    .map(|_| {
                                        let href = format!("/audit?{}", filter_query.trim_start_matches('&'));
                                        view! {
                                            <a href=href class="font-medium text-indigo-700 underline">
                                                "Newest"
                                            </a>
                                        }
                                    })}
                                {data
                                    .older
                                    .map(|older| {
                                        let href = format!("/audit?before={older}{filter_query}");
                                        view! {
                                            <a href=href class="font-medium text-indigo-700 underline">
                                                "Older"
                                            </a>
                                        }
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
