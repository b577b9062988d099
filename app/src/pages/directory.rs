use leptos::prelude::*;

use super::error_text;
use crate::{
    api::directory_groups,
    layout::{loading, DataTable, EmptyState, ErrorNote, PageHeader},
};

/// `/directory`
#[component]
pub fn Directory() -> impl IntoView {
    let groups = Resource::new(|| (), |_| directory_groups());
    view! {
        <PageHeader
            title="Directory"
            intro="The users, groups and memberships synchronized from your identity providers."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match groups.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(list) if list.is_empty() => {
                        view! {
                            <EmptyState title="The directory is empty">
                                <p>
                                    "Users and groups appear here once an identity provider with directory synchronization is connected, with search, each user's groups, each group's members and the history of sync runs."
                                </p>
                                <p>
                                    "First: "
                                    <a href="/settings/identity-providers" class="font-medium text-indigo-700 underline">
                                        "connect an identity provider"
                                    </a> "."
                                </p>
                            </EmptyState>
                        }
                            .into_any()
                    }
                    Ok(list) => {
                        let count = list.len();
                        view! {
                            <h2 class="mb-2 text-sm font-semibold uppercase tracking-wide text-slate-500">
                                {format!("Groups ({count})")}
                            </h2>
                            <DataTable headers=&["Group", "Type", "Provider", "Provider ID", "Fetched"] testid="group-list">
                                        {list
                                            .into_iter()
                                            .map(|g| {
                                                view! {
                                                    <tr>
                                                        <td class="px-4 py-2">
                                                            <p class="font-medium">{g.name}</p>
                                                            <p class="text-xs text-slate-500">{g.description.unwrap_or_default()}</p>
                                                        </td>
                                                        <td class="px-4 py-2 text-xs">{g.kind}</td>
                                                        <td class="px-4 py-2">{g.provider}</td>
                                                        <td class="px-4 py-2 font-mono text-xs">{g.external_id}</td>
                                                        <td class="whitespace-nowrap px-4 py-2 font-mono text-xs">{g.synced_at}</td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </DataTable>
                            <p class="mt-3 text-xs text-slate-500">
                                "Groups are stored by their provider ID, so a renamed group keeps its policies. Users, memberships and scheduled synchronization come with directory sync runs."
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
