//! The console frame: header with the signed-in admin and Sign out, navigation, content.

use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

use crate::api::console::whoami;

/// (label, path, exact match)
const NAV: [(&str, &str, bool); 7] = [
    ("Identity providers", "/settings/identity-providers", false),
    ("Role mappings", "/settings/role-mappings", false),
    ("Directory", "/directory", false),
    ("Policies", "/policies", false),
    ("Audit log", "/audit", false),
    ("API tokens", "/settings/api-tokens", false),
    ("Settings", "/settings", true),
];

#[component]
pub fn ConsoleLayout() -> impl IntoView {
    let me = Resource::new(|| (), |_| whoami());

    view! {
        <div class="min-h-full">
            <a
                href="#main"
                class="sr-only focus:not-sr-only focus:absolute focus:left-2 focus:top-2 focus:z-50 focus:rounded-md focus:bg-white focus:px-3 focus:py-2 focus:text-sm focus:font-medium focus:text-indigo-800 focus:ring-2 focus:ring-indigo-500"
            >
                "Skip to content"
            </a>
            <header class="border-b border-slate-200 bg-chrome-900 text-on-chrome">
                <div class="mx-auto flex max-w-7xl items-center justify-between gap-4 px-4 py-3 sm:px-6">
                    <a href="/" class="flex items-center gap-2 font-semibold tracking-tight">
                        <span aria-hidden="true" class="grid h-7 w-7 place-items-center rounded bg-brand text-sm">
                            "P"
                        </span>
                        "Portcullis"
                    </a>
                    <div class="flex items-center gap-3 text-sm">
                        <Suspense fallback=|| ()>
                            {move || Suspend::new(async move {
                                me.await
                                    .ok()
                                    .flatten()
                                    .map(|me| {
                                        view! {
                                            <span class="hidden text-chrome-300 sm:inline" data-testid="signed-in-as">
                                                {me.email}
                                                <span class="ml-2 rounded bg-chrome-700 px-1.5 py-0.5 text-xs">
                                                    {me.role}
                                                </span>
                                            </span>
                                        }
                                    })
                            })}
                        </Suspense>
                        <crate::components::ThemeMenu />
                        // A plain form: signing out works without JavaScript.
                        <form method="post" action="/logout">
                            <button
                                type="submit"
                                class="rounded-md bg-chrome-700 px-3 py-1.5 font-medium hover:bg-chrome-600 focus:outline-none focus:ring-2 focus:ring-indigo-400"
                            >
                                "Sign out"
                            </button>
                        </form>
                    </div>
                </div>
            </header>
            <div class="mx-auto flex max-w-7xl flex-col gap-6 px-4 py-6 sm:px-6 md:flex-row">
                <nav aria-label="Main" class="md:w-56 md:shrink-0">
                    <NavMenu>
                        // Without JavaScript the list is always shown.
                        <noscript>
                            <style>"#main-nav-list{display:flex}"</style>
                        </noscript>
                        <ul id="main-nav-list" class="mt-2 hidden flex-col gap-1 group-data-[open=true]:flex md:mt-0 md:flex">
                            {NAV
                                .into_iter()
                                .map(|(label, href, exact)| {
                                    view! {
                                        <li>
                                            <A
                                                href=href
                                                exact=exact
                                                attr:class="block whitespace-nowrap rounded-md px-3 py-2 text-sm font-medium text-slate-700 hover:bg-slate-200 aria-[current=page]:bg-indigo-50 aria-[current=page]:text-indigo-700"
                                            >
                                                {label}
                                            </A>
                                        </li>
                                    }
                                })
                                .collect_view()}
                        </ul>
                    </NavMenu>
                </nav>
                <main id="main" tabindex="-1" class="min-w-0 flex-1 focus:outline-none">
                    <Outlet />
                </main>
            </div>
        </div>
    }
}

/// Phones: the navigation opens from a Menu button instead of a strip cut at the edge. The
/// list is the server's (its links know the current page); the island only opens and closes it.
#[island]
fn NavMenu(children: Children) -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <button
            type="button"
            class="btn w-full justify-between md:hidden"
            aria-expanded=move || open.get().to_string()
            aria-controls="main-nav-list"
            on:click=move |_| open.update(|o| *o = !*o)
        >
            <span aria-hidden="true">"☰ "</span>
            "Menu"
        </button>
        <div class="group" data-open=move || open.get().to_string()>{children()}</div>
    }
}

/// A page's title row.
#[component]
pub fn PageHeader(title: &'static str, #[prop(optional)] intro: Option<&'static str>) -> impl IntoView {
    view! {
        <leptos_meta::Title text=title />
        <div class="mb-6">
            <h1 class="text-2xl font-semibold tracking-tight">{title}</h1>
            {intro.map(|intro| view! { <p class="mt-1 max-w-3xl text-sm text-slate-600">{intro}</p> })}
        </div>
    }
}

/// What an empty page will hold and what to do first.
#[component]
pub fn EmptyState(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <section class="rounded-lg border border-dashed border-slate-300 bg-white p-8" data-testid="empty-state">
            <h2 class="text-base font-semibold">{title}</h2>
            <div class="mt-2 max-w-2xl space-y-2 text-sm text-slate-600">{children()}</div>
        </section>
    }
}

/// An error from a server function, shown in place of the content.
#[component]
pub fn ErrorNote(message: String) -> impl IntoView {
    view! {
        <p role="alert" class="rounded-md border border-red-200 bg-red-50 p-3 text-sm text-red-800">
            {message}
        </p>
    }
}

/// What a page shows while its data loads.
pub fn loading() -> impl IntoView {
    view! { <p class="text-sm text-slate-500">"Loading…"</p> }
}

/// A bordered table with a header row; the rows are the children.
#[component]
pub fn DataTable(
    headers: &'static [&'static str],
    #[prop(optional)] testid: Option<&'static str>,
    /// One card per row on phones; cells name their column with `data-label`.
    #[prop(optional)]
    stack: bool,
    children: Children,
) -> impl IntoView {
    let class = if stack {
        "table-stack min-w-full divide-y divide-slate-200 text-sm"
    } else {
        "min-w-full divide-y divide-slate-200 text-sm"
    };
    view! {
        <div class="overflow-x-auto rounded-lg border border-slate-200 bg-white">
            <table class=class data-testid=testid>
                <thead class="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
                    <tr>
                        {headers.iter().map(|h| view! { <th scope="col" class="px-4 py-2">{*h}</th> }).collect_view()}
                    </tr>
                </thead>
                <tbody class="divide-y divide-slate-100">{children()}</tbody>
            </table>
        </div>
    }
}
