//! `/directory`: the synced people and groups, and each provider's sync panel.

pub mod group;
pub mod run;
pub mod sync_panel;
pub mod user;

pub use sync_panel::*;

use leptos::prelude::*;

use crate::components::*;
use crate::pages::{error_text, query_value};
use crate::{
    api::directory::{
        list_directory_groups, list_directory_users, sync_overview, GroupItem, Paged, ProviderSync, UserItem,
    },
    layout::{loading, DataTable, EmptyState, ErrorNote, PageHeader},
};

/// What the lists' links keep: tab, search, state filter and sort. The URL is the state, so
/// every view can be shared and works without JavaScript.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct ListQuery {
    groups: bool,
    search: Option<String>,
    state: Option<String>,
    sort: Option<String>,
}

impl ListQuery {
    /// `/directory?…&` with `sort` in place of the current one, ready for `offset=`.
    fn base(&self, sort: Option<&str>) -> String {
        use portcullis_types::url::encode;
        let mut href = String::from("/directory?");
        if self.groups {
            href.push_str("tab=groups&");
        }
        let pairs = [("q", self.search.as_deref()), ("state", self.state.as_deref()), ("sort", sort)];
        for (name, value) in pairs {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                href.push_str(&format!("{name}={}&", encode(v)));
            }
        }
        href
    }

    fn href(&self) -> String {
        self.base(self.sort.as_deref()).trim_end_matches(['&', '?']).to_string()
    }
}

const STATES: [(&str, &str); 4] =
    [("", "All states"), ("active", "Active"), ("disabled", "Disabled"), ("kept", "Kept")];

#[component]
pub fn Directory() -> impl IntoView {
    let tab = query_value("tab");
    let search = query_value("q");
    let state = query_value("state");
    let sort = query_value("sort");
    let offset = query_value("offset");
    let is_groups = move || tab.get().as_deref() == Some("groups");
    let list_query = Memo::new(move |_| ListQuery {
        groups: is_groups(),
        search: search.get(),
        state: state.get(),
        sort: sort.get(),
    });
    let overview = Resource::new(|| (), |_| sync_overview());
    let offset_n = move || offset.get().and_then(|o| o.parse::<u32>().ok()).unwrap_or(0);
    let users = Resource::new(
        move || (search.get(), state.get(), sort.get(), offset_n()),
        |(q, st, so, o)| list_directory_users(q, st, so, o),
    );
    let groups =
        Resource::new(move || (search.get(), sort.get(), offset_n()), |(q, so, o)| list_directory_groups(q, so, o));

    view! {
        <PageHeader
            title="Directory"
            intro="The users, groups and memberships synchronized from your identity providers."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match overview.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(list) => view! { <SyncPanels list /> }.into_any(),
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
        <ListFilters query=list_query.get_untracked() />
        // Searches and finished syncs replace this region with the server's (`swap_region`).
        <div id="directory-results">
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    let query = list_query.get_untracked();
                    if is_groups() {
                        match groups.await {
                            Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                            Ok(page) => view! { <GroupTable page query /> }.into_any(),
                        }
                    } else {
                        match users.await {
                            Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                            Ok(page) => {
                                let base = query.base(query.sort.as_deref());
                                view! { <UserTable page base sorting=query /> }.into_any()
                            }
                        }
                    }
                })}
            </Suspense>
        </div>
    }
}

/// The sync panels: Sync now and Dry run with live progress, approvals and settings. A run
/// that ends or a decision fetches the panels again and the lists below from the server.
#[cfg_attr(feature = "islands-directory", island)]
#[cfg_attr(not(feature = "islands-directory"), component)]
fn SyncPanels(list: Vec<ProviderSync>) -> impl IntoView {
    let list = RwSignal::new(list);
    let reload = refresher(list, sync_overview);
    let on_change = move || {
        reload();
        swap_region(current_href(), "directory-results");
    };
    // Outlives the panels, which are built again when the overview reloads.
    let notice: sync_panel::Notice = RwSignal::new(None);
    move || {
        let list = list.get();
        if list.is_empty() {
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
        } else {
            list.into_iter().map(|p| view! { <SyncPanel provider=p on_change notice /> }).collect_view().into_any()
        }
    }
}

/// Where the page is now, with its query: what the lists show.
fn current_href() -> String {
    #[cfg(feature = "hydrate")]
    {
        let location = window().location();
        format!("{}{}", location.pathname().unwrap_or_default(), location.search().unwrap_or_default())
    }
    #[cfg(not(feature = "hydrate"))]
    String::from("/directory")
}

/// Search (filters as one types, 300 ms after the last key) and the state filter. A plain GET
/// form underneath: without JavaScript, Search submits it.
#[cfg_attr(feature = "islands-directory", island)]
#[cfg_attr(not(feature = "islands-directory"), component)]
fn ListFilters(query: ListQuery) -> impl IntoView {
    let list_query = RwSignal::new(query);
    let go = move |next: ListQuery| {
        swap_region(next.href(), "directory-results");
        list_query.set(next);
    };
    #[cfg(feature = "hydrate")]
    let pending = StoredValue::new(None::<leptos::prelude::TimeoutHandle>);
    let on_search = move |ev: leptos::ev::Event| {
        let text = event_target_value(&ev);
        let next = ListQuery { search: Some(text).filter(|t| !t.trim().is_empty()), ..list_query.get_untracked() };
        #[cfg(feature = "hydrate")]
        {
            if let Some(h) = pending.get_value() {
                h.clear();
            }
            let handle = set_timeout_with_handle(move || go(next), std::time::Duration::from_millis(300)).ok();
            pending.set_value(handle);
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (next, &go);
    };
    let on_state = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        go(ListQuery { state: Some(value).filter(|v| !v.is_empty()), ..list_query.get_untracked() });
    };
    let is_groups = move || list_query.with(|q| q.groups);
    view! {
        <form method="get" action="/directory" class="mb-3 flex flex-wrap items-end gap-2" role="search">
            <input type="hidden" name="tab" value=move || if is_groups() { "groups" } else { "" } />
            <input type="hidden" name="sort" value=move || list_query.with(|q| q.sort.clone().unwrap_or_default()) />
            <div class="min-w-0 flex-1 basis-60">
                <label for="directory-search" class="field-label">
                    {move || if is_groups() { "Search groups" } else { "Search users" }}
                </label>
                <input
                    id="directory-search"
                    name="q"
                    type="search"
                    class="field-input max-w-md"
                    value=move || list_query.with(|q| q.search.clone().unwrap_or_default())
                    placeholder=move || if is_groups() { "Group name" } else { "Name, email or login" }
                    on:input=on_search
                    aria-controls="directory-list"
                />
            </div>
            <Show when=move || !is_groups()>
                <div>
                    <label for="directory-state" class="field-label">"State"</label>
                    <select id="directory-state" name="state" class="field-input" on:change=on_state>
                        {STATES
                            .iter()
                            .map(|(value, label)| {
                                let selected = move || list_query.with(|q| q.state.as_deref().unwrap_or("") == *value);
                                view! { <option value=*value selected=selected>{*label}</option> }
                            })
                            .collect_view()}
                    </select>
                </div>
            </Show>
            <button type="submit" class="btn">"Search"</button>
        </form>
    }
}

/// A header cell that sorts by its column: a link (works without JavaScript), `aria-sort` on
/// the sorted one. `None` for columns that do not sort.
fn sort_header(label: &'static str, column: Option<&'static str>, query: &ListQuery) -> impl IntoView {
    let Some(column) = column else {
        return view! { <th scope="col" class="px-4 py-2">{label}</th> }.into_any();
    };
    let current = query.sort.as_deref().unwrap_or("name");
    let (sorted, next) = match current.strip_prefix('-') {
        Some(c) if c == column => (Some("descending"), column.to_string()),
        _ if current == column => (Some("ascending"), format!("-{column}")),
        _ => (None, column.to_string()),
    };
    let arrow = match sorted {
        Some("ascending") => " ↑",
        Some(_) => " ↓",
        None => "",
    };
    view! {
        <th scope="col" class="px-4 py-2" aria-sort=sorted>
            <a href=format!("{}", query.base(Some(&next)).trim_end_matches('&')) class="hover:underline">
                {label}
                <span aria-hidden="true">{arrow}</span>
            </a>
        </th>
    }
    .into_any()
}

/// A sortable list's table: like `DataTable`, with header links.
#[component]
fn SortTable(
    headers: &'static [(&'static str, Option<&'static str>)],
    query: ListQuery,
    testid: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white" id="directory-list">
            <table class="min-w-full divide-y divide-slate-200 text-sm" data-testid=testid>
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    <tr>{headers.iter().map(|(label, column)| sort_header(label, *column, &query)).collect_view()}</tr>
                </thead>
                <tbody class="divide-y divide-slate-100">{children()}</tbody>
            </table>
        </div>
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

const USER_HEADERS: [(&str, Option<&str>); 5] = [
    ("User", Some("name")),
    ("Okta status", Some("status")),
    ("State", Some("state")),
    ("Provider", Some("provider")),
    ("Console role", None),
];

/// Users with their state; `sorting` makes the headers sort links (the Directory list).
#[component]
pub(crate) fn UserTable(
    page: Paged<UserItem>,
    base: String,
    #[prop(optional)] sorting: Option<ListQuery>,
) -> impl IntoView {
    if page.items.is_empty() {
        return view! { <p class="text-sm text-slate-600" data-testid="user-list-empty">"No users match."</p> }
            .into_any();
    }
    let Paged { items, total, offset, limit } = page;
    let rows = move || {
        items
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
                        <td data-label="Okta status" class="px-4 py-2 text-xs">{u.okta_status}</td>
                        <td data-label="State" class="px-4 py-2">
                            <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {class}") data-testid="user-state">{label}</span>
                        </td>
                        <td data-label="Provider" class="px-4 py-2">{u.provider}</td>
                        <td data-label="Console role" class="px-4 py-2 text-xs">{u.account_role.unwrap_or_default()}</td>
                    </tr>
                }
            })
            .collect_view()
    };
    let table = match sorting {
        Some(query) => view! { <SortTable headers=&USER_HEADERS query testid="user-list">{rows()}</SortTable> }.into_any(),
        None => view! {
            <DataTable headers=&["User", "Okta status", "State", "Provider", "Console role"] testid="user-list">{rows()}</DataTable>
        }
        .into_any(),
    };
    view! {
        {table}
        <Pager total offset limit base />
    }
    .into_any()
}

const GROUP_HEADERS: [(&str, Option<&str>); 5] = [
    ("Group", Some("name")),
    ("Type", Some("kind")),
    ("Members", Some("members")),
    ("Provider", Some("provider")),
    ("Provider ID", None),
];

#[component]
pub(crate) fn GroupTable(page: Paged<GroupItem>, query: ListQuery) -> impl IntoView {
    if page.items.is_empty() {
        return view! { <p class="text-sm text-slate-600">"No groups match."</p> }.into_any();
    }
    let Paged { items, total, offset, limit } = page;
    view! {
        <SortTable headers=&GROUP_HEADERS query=query.clone() testid="group-list">
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
                            <td data-label="Type" class="px-4 py-2 text-xs">{g.kind}</td>
                            <td data-label="Members" class="px-4 py-2" data-testid="member-count">{g.member_count}</td>
                            <td data-label="Provider" class="px-4 py-2">{g.provider}</td>
                            <td data-label="Provider ID" class="px-4 py-2 font-mono text-xs">{g.external_id}</td>
                        </tr>
                    }
                })
                .collect_view()}
        </SortTable>
        <Pager total offset limit base=query.base(query.sort.as_deref()) />
        <p class="mt-3 text-xs text-slate-500">"Groups are kept by their provider ID, so a renamed group keeps its policies."</p>
    }
    .into_any()
}
