//! `/directory`: the synced people and groups, and each provider's sync panel.

pub mod group;
pub mod sync_panel;
pub mod user;

pub use sync_panel::*;

use leptos::prelude::*;

use crate::components::*;
use crate::pages::{error_text, query_value};
use crate::{
    api::directory::{list_directory_groups, list_directory_users, sync_overview, GroupItem, Paged, UserItem},
    layout::{loading, DataTable, EmptyState, ErrorNote, PageHeader},
};

#[component]
pub fn Directory() -> impl IntoView {
    let tab = query_value("tab");
    let search = query_value("q");
    let offset = query_value("offset");
    let is_groups = move || tab.get().as_deref() == Some("groups");
    let version = RwSignal::new(0u32);
    let overview = Resource::new(move || version.get(), |_| sync_overview());
    // Outlives the panels, which are built again when the overview reloads.
    let notice: sync_panel::Notice = RwSignal::new(None);
    let offset_n = move || offset.get().and_then(|o| o.parse::<u32>().ok()).unwrap_or(0);
    let users =
        Resource::new(move || (search.get(), offset_n(), version.get()), |(q, o, _)| list_directory_users(q, o));
    let groups =
        Resource::new(move || (search.get(), offset_n(), version.get()), |(q, o, _)| list_directory_groups(q, o));

    view! {
        <PageHeader
            title="Directory"
            intro="The users, groups and memberships synchronized from your identity providers."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(list) if list.is_empty() => {
                        view! {
                            <EmptyState title="No provider synchronizes its directory yet">
                                <p>
                                    "Users and groups appear here once an identity provider with directory synchronization (an API service app or an API token) is connected: they are then kept current, on a schedule and with Sync now."
                                </p>
                                <p>
                                    "First: "
                                    <a href="/settings/identity-providers" class="link">"connect an identity provider"</a>
                                    "."
                                </p>
                            </EmptyState>
                        }
                            .into_any()
                    }
                    Ok(list) => {
                        list.into_iter()
                            .map(|p| view! { <SyncPanel provider=p on_change=move || version.update(|v| *v += 1) notice /> })
                            .collect_view()
                            .into_any()
                    }
                }
            })}
        </Suspense>

        <nav class="mt-8 mb-3 flex gap-2 border-b border-slate-200 text-sm" aria-label="Directory">
            <a
                href="/directory"
                class="-mb-px border-b-2 px-3 py-2 aria-[current=page]:border-indigo-600 aria-[current=page]:font-semibold border-transparent"
                aria-current=move || (!is_groups()).then_some("page")
            >
                "Users"
            </a>
            <a
                href="/directory?tab=groups"
                class="-mb-px border-b-2 px-3 py-2 aria-[current=page]:border-indigo-600 aria-[current=page]:font-semibold border-transparent"
                aria-current=move || is_groups().then_some("page")
            >
                "Groups"
            </a>
        </nav>
        <form method="get" action="/directory" class="mb-3 flex gap-2">
            <input type="hidden" name="tab" value=move || tab.get().unwrap_or_default() />
            <label for="directory-search" class="sr-only">"Search"</label>
            <input
                id="directory-search"
                name="q"
                type="search"
                value=move || search.get().unwrap_or_default()
                placeholder=move || if is_groups() { "Search groups by name" } else { "Search users by name or email" }
                class="w-full max-w-md rounded-md border border-slate-300 px-3 py-1.5 text-sm"
            />
            <button type="submit" class="btn">"Search"</button>
        </form>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                if is_groups() {
                    match groups.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                        Ok(page) => view! { <GroupTable page search=search.get_untracked() /> }.into_any(),
                    }
                } else {
                    match users.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                        Ok(page) => view! { <UserTable page base="/directory?".to_string() search=search.get_untracked() /> }.into_any(),
                    }
                }
            })}
        </Suspense>
    }
}

pub(crate) fn state_badge(state: &str) -> (&'static str, &'static str) {
    match state {
        "active" => ("Active", "bg-green-100 text-green-800"),
        "disabled" => ("Disabled", "bg-slate-200 text-slate-700"),
        "kept" => ("Kept (gone in Okta)", "bg-amber-100 text-amber-800"),
        _ => ("Unknown", "bg-slate-100 text-slate-600"),
    }
}

#[component]
pub(crate) fn UserTable(page: Paged<UserItem>, base: String, search: Option<String>) -> impl IntoView {
    if page.items.is_empty() {
        return view! { <p class="text-sm text-slate-600" data-testid="user-list-empty">"No users match."</p> }
            .into_any();
    }
    let Paged { items, total, offset, limit } = page;
    view! {
        <DataTable headers=&["User", "Okta status", "State", "Provider", "Console role"] testid="user-list">
            {items
                .into_iter()
                .map(|u| {
                    let (label, class) = state_badge(&u.state);
                    view! {
                        <tr data-email=u.email.clone()>
                            <td class="px-4 py-2">
                                <a href=format!("/directory/users/{}", u.id) class="font-medium text-indigo-700 hover:underline">
                                    {if u.name.is_empty() { u.email.clone() } else { u.name.clone() }}
                                </a>
                                <p class="text-xs text-slate-500">{u.email.clone()}</p>
                            </td>
                            <td class="px-4 py-2 text-xs">{u.okta_status}</td>
                            <td class="px-4 py-2">
                                <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {class}") data-testid="user-state">{label}</span>
                            </td>
                            <td class="px-4 py-2">{u.provider}</td>
                            <td class="px-4 py-2 text-xs">{u.account_role.unwrap_or_default()}</td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
        <Pager total offset limit base search />
    }
    .into_any()
}

#[component]
pub(crate) fn GroupTable(page: Paged<GroupItem>, search: Option<String>) -> impl IntoView {
    if page.items.is_empty() {
        return view! { <p class="text-sm text-slate-600">"No groups match."</p> }.into_any();
    }
    let Paged { items, total, offset, limit } = page;
    view! {
        <DataTable headers=&["Group", "Type", "Members", "Provider", "Provider ID"] testid="group-list">
            {items
                .into_iter()
                .map(|g| {
                    let row_name = g.name.clone();
                    view! {
                        <tr data-group=row_name>
                            <td class="px-4 py-2">
                                <a href=format!("/directory/groups/{}", g.id) class="font-medium text-indigo-700 hover:underline">{g.name}</a>
                                <p class="text-xs text-slate-500">{g.description.unwrap_or_default()}</p>
                            </td>
                            <td class="px-4 py-2 text-xs">{g.kind}</td>
                            <td class="px-4 py-2" data-testid="member-count">{g.member_count}</td>
                            <td class="px-4 py-2">{g.provider}</td>
                            <td class="px-4 py-2 font-mono text-xs">{g.external_id}</td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
        <Pager total offset limit base="/directory?tab=groups&".to_string() search />
        <p class="mt-3 text-xs text-slate-500">"Groups are kept by their provider ID, so a renamed group keeps its policies."</p>
    }
    .into_any()
}
