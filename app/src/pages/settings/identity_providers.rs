//! `/settings/identity-providers`: the connected providers and the catalogue to connect one.

use leptos::prelude::*;

use crate::components::*;
use crate::pages::error_text;
use crate::{
    api::providers::{delete_provider, list_providers, set_provider_enabled, test_provider, ProviderListItem},
    layout::{loading, ErrorNote, PageHeader},
};

/// The kinds of provider one can connect. (kind, name, what it is)
pub(crate) const CATALOGUE: [(&str, &str, &str); 2] = [
    (
        "okta",
        "Okta",
        "Sign-in with Okta (org or custom authorization server), groups from the ID token, and directory synchronization through an API service app or an API token.",
    ),
    (
        "oidc",
        "Generic OpenID Connect",
        "Any provider that publishes an OpenID Connect discovery document: Microsoft Entra ID, Google, Keycloak, Auth0, Authentik and others.",
    ),
];

/// `/settings/identity-providers`
#[component]
pub fn IdentityProviders() -> impl IntoView {
    let providers = Resource::new(|| (), |_| list_providers());

    view! {
        <PageHeader
            title="External identity providers"
            intro="Identity providers sign people in to the console and to your applications, and supply the users and groups that policies use."
        />
        <section aria-labelledby="catalogue-heading" class="mb-8">
            <h2 id="catalogue-heading" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">
                "Connect a provider"
            </h2>
            <ul class="divide-y divide-slate-200 rounded-lg border border-slate-200 bg-white">
                {CATALOGUE
                    .into_iter()
                    .map(|(kind, name, text)| {
                        view! {
                            <li class="flex flex-col gap-3 p-4 sm:flex-row sm:items-center sm:justify-between" data-kind=kind>
                                <div>
                                    <p class="font-medium">{name}</p>
                                    <p class="text-sm text-slate-600">{text}</p>
                                </div>
                                <a
                                    href=format!("/settings/identity-providers/new?kind={kind}")
                                    aria-label=format!("Connect {name}")
                                    class="shrink-0 rounded-md bg-indigo-600 px-4 py-2 text-center text-sm font-semibold text-white hover:bg-indigo-500"
                                >
                                    "Connect"
                                </a>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
        <section aria-labelledby="configured-heading">
            <h2 id="configured-heading" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">
                "Connected providers"
            </h2>
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match providers.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                        Ok(list) => view! { <ProviderList list /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// The connected providers: Test connection, enable, disable and delete work in place.
#[cfg_attr(feature = "islands-providers", island)]
#[cfg_attr(not(feature = "islands-providers"), component)]
fn ProviderList(list: Vec<ProviderListItem>) -> impl IntoView {
    let list = RwSignal::new(list);
    let reload = refresher(list, list_providers);
    move || {
        let list = list.get();
        if list.is_empty() {
            view! {
                <p
                    class="rounded-lg border border-dashed border-slate-300 bg-white p-6 text-sm text-slate-600"
                    data-testid="no-providers"
                >
                    "No identity provider is connected yet. Choose Connect above: Portcullis checks the Base URL, Client ID and Client secret before saving anything. Until then, admins sign in with the local account created at setup."
                </p>
            }
                .into_any()
        } else {
            view! {
                <ul class="space-y-3">
                    {list.into_iter().map(|p| view! { <ProviderRow provider=p on_change=reload /> }).collect_view()}
                </ul>
            }
            .into_any()
        }
    }
}

#[component]
pub(crate) fn ProviderRow(
    provider: ProviderListItem,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
    let id = provider.id.clone();
    let name = provider.name.clone();
    let confirming = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);

    let test = Action::new({
        let id = id.clone();
        move |_: &()| {
            let id = id.clone();
            async move { test_provider(id).await }
        }
    });
    let toggle = Action::new({
        let id = id.clone();
        move |enabled: &bool| {
            let (id, enabled) = (id.clone(), *enabled);
            async move { set_provider_enabled(id, enabled).await }
        }
    });
    let delete = Action::new({
        let id = id.clone();
        move |_: &()| {
            let id = id.clone();
            async move { delete_provider(id).await }
        }
    });
    Effect::new(move |_| {
        for result in [toggle.value().get(), delete.value().get()].into_iter().flatten() {
            match result {
                Ok(()) => on_change(),
                Err(e) => error.set(Some(error_text(&e))),
            }
        }
    });

    let enabled = provider.enabled;
    // A test updates this row in place; reloading the list would drop the report.
    let last_ok = RwSignal::new(provider.last_test_ok);
    let last_test = RwSignal::new(match (&provider.last_test_at, &provider.last_test_summary) {
        (Some(at), Some(summary)) => format!("Last test: {summary}, {at}"),
        _ => "Not tested yet".to_string(),
    });
    Effect::new(move |_| {
        if let Some(Ok(report)) = test.value().get() {
            last_ok.set(Some(report.ok));
            last_test.set(format!("Last test: {}, just now", report.summary));
        }
    });
    let status = move || match (enabled, last_ok.get()) {
        (false, _) => ("Disabled", "bg-slate-100 text-slate-700"),
        (true, Some(false)) => ("Failing", "bg-red-100 text-red-800"),
        (true, _) => ("Enabled", "bg-green-100 text-green-800"),
    };
    let directory = match provider.directory_mode.as_str() {
        "service_app" => format!("Directory: API service app, {} groups", provider.group_count),
        "api_token" => format!("Directory: API token, {} groups", provider.group_count),
        _ => "Directory synchronization off".to_string(),
    };
    let confirm_text = format!(
        "Delete {name}? Its stored groups go with it, and people can no longer sign in with it. This cannot be undone."
    );
    let button = "rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-100 disabled:opacity-50";

    view! {
        <li class="rounded-lg border border-slate-200 bg-white p-4" data-testid="provider-row" data-provider=name.clone()>
            <div class="flex flex-col gap-3 lg:flex-row lg:items-start lg:justify-between">
                <div class="min-w-0">
                    <p class="flex items-center gap-2 font-medium">
                        {provider.name.clone()}
                        <span class=move || format!("rounded px-1.5 py-0.5 text-xs font-medium {}", status().1) data-testid="provider-status">
                            {move || status().0}
                        </span>
                    </p>
                    <p class="text-sm text-slate-600">{provider.kind.label()} " · " <span class="break-all">{provider.base_url.clone()}</span></p>
                    <p class="text-xs text-slate-500">{directory}</p>
                    <p class="text-xs text-slate-500" data-testid="last-test">{move || last_test.get()}</p>
                    {provider.universal_logout_url.clone().map(|url| view! {
                        <p class="mt-1 flex flex-wrap items-center gap-2 text-xs text-slate-600" data-testid="universal-logout-url">
                            "Universal Logout endpoint:"
                            <code class="break-all rounded bg-slate-50 px-1.5 py-0.5">{url.clone()}</code>
                            <CopyButton what="Universal Logout endpoint" text=url />
                        </p>
                    })}
                </div>
                <div class="flex flex-wrap gap-2">
                    <button type="button" class=button on:click=move |_| { test.dispatch(()); } disabled=move || test.pending().get()>
                        {move || if test.pending().get() { "Testing…" } else { "Test connection" }}
                    </button>
                    // A test sign-in opens in a new tab: the admin signs in at the provider and sees the
                    // claims and the role, and no session is created.
                    <form method="post" action="/auth/start" target="_blank">
                        <input type="hidden" name="provider" value=id.clone() />
                        <input type="hidden" name="purpose" value="test" />
                        <button type="submit" class=button>"Test sign-in"</button>
                    </form>
                    <a href=format!("/settings/identity-providers/{id}/edit") class=button>"Edit"</a>
                    <a href=format!("/settings/identity-providers/{id}/provisioning") class=button>"Provisioning (SCIM)"</a>
                    <button type="button" class=button on:click=move |_| { toggle.dispatch(!enabled); }>
                        {if enabled { "Disable" } else { "Enable" }}
                    </button>
                    <button
                        type="button"
                        class="rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50"
                        on:click=move |_| confirming.set(true)
                    >
                        "Delete"
                    </button>
                </div>
            </div>
            <Show when=move || confirming.get()>
                <div role="alertdialog" aria-label="Confirm deletion" class="mt-3 rounded-md border border-red-200 bg-red-50 p-3 text-sm">
                    <p class="text-red-900">{confirm_text.clone()}</p>
                    <div class="mt-2 flex gap-2">
                        <button
                            type="button"
                            class="rounded-md bg-red-600 px-3 py-1.5 font-semibold text-white hover:bg-red-500"
                            on:click=move |_| { delete.dispatch(()); }
                        >
                            "Delete provider"
                        </button>
                        <button type="button" class=button on:click=move |_| confirming.set(false)>"Cancel"</button>
                    </div>
                </div>
            </Show>
            {move || error.get().map(|m| view! { <div class="mt-3"><ErrorNote message=m /></div> })}
            {move || {
                test.value()
                    .get()
                    .map(|result| match result {
                        Ok(report) => view! { <div class="mt-3"><ReportView report focus_problem=true /></div> }.into_any(),
                        Err(e) => view! { <div class="mt-3"><ErrorNote message=error_text(&e) /></div> }.into_any(),
                    })
            }}
        </li>
    }
}
