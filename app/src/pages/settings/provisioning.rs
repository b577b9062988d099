//! `/settings/identity-providers/:id/provisioning`: the provider's Provisioning (SCIM) page.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::pages::error_text;
use crate::{
    api::scim::{dismiss_scim_alert, generate_scim_token, scim_settings, set_scim_enabled, ScimPage},
    components::{fields::CopyButton, refresher},
    layout::{loading, DataTable, ErrorNote, PageHeader},
};

#[component]
pub fn ProvisioningPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let page = Resource::new(id, scim_settings);
    view! {
        <PageHeader
            title="Provisioning (SCIM)"
            intro="Okta pushes people and groups here as they change, in seconds: new people, profile changes, deactivations and pushed groups. The scheduled directory sync keeps reconciling; neither undoes the other's newer change."
        />
        <p class="mb-4 text-sm">
            <a class="text-indigo-700 underline" href="/settings/identity-providers">"← External identity providers"</a>
        </p>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(page) => view! { <ProvisioningIsland provider_id=id() page /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Turning provisioning on and off, tokens and the alert: each change is saved at once.
#[cfg_attr(feature = "islands-providers", island)]
#[cfg_attr(not(feature = "islands-providers"), component)]
fn ProvisioningIsland(provider_id: String, page: ScimPage) -> impl IntoView {
    let page = RwSignal::new(page);
    let reload = refresher(page, {
        let id = provider_id.clone();
        move || scim_settings(id.clone())
    });
    let reload = Callback::new(move |()| reload());
    // A new token outlives the reload that lists it.
    let shown = RwSignal::new(None::<String>);
    move || view! { <Provisioning provider_id=provider_id.clone() page=page.get() reload shown /> }
}

#[component]
fn Provisioning(
    provider_id: String,
    page: ScimPage,
    reload: Callback<()>,
    shown: RwSignal<Option<String>>,
) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let toggle = Action::new({
        let id = provider_id.clone();
        move |enabled: &bool| {
            let (id, enabled) = (id.clone(), *enabled);
            async move { set_scim_enabled(id, enabled).await }
        }
    });
    let dismiss = Action::new({
        let id = provider_id.clone();
        move |_: &()| {
            let id = id.clone();
            async move { dismiss_scim_alert(id).await }
        }
    });
    Effect::new(move |_| {
        for result in [toggle.value().get(), dismiss.value().get()].into_iter().flatten() {
            match result {
                Ok(()) => reload.run(()),
                Err(e) => error.set(Some(error_text(&e))),
            }
        }
    });
    let enabled = page.enabled;
    let base_url = page.base_url.clone();
    view! {
        <div class="space-y-6" data-testid="provisioning" data-enabled=enabled.to_string()>
            {page.alert.clone().map(|(text, at)| view! {
                <div role="alert" class="rounded-lg border border-amber-300 bg-amber-50 p-4 text-sm text-amber-900" data-testid="scim-alert">
                    <p class="font-medium">{format!("Deactivation burst, {at}")}</p>
                    <p class="mt-1">{text}</p>
                    <button type="button" class="btn-secondary mt-2" on:click=move |_| { dismiss.dispatch(()); }>"Dismiss"</button>
                </div>
            })}
            {move || error.get().map(|m| view! { <ErrorNote message=m /> })}
            <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="scim-heading">
                <h2 id="scim-heading" class="font-medium">{format!("{} · SCIM 2.0", page.provider_name)}</h2>
                <label class="mt-3 flex items-center gap-2 text-sm font-medium text-slate-800">
                    <input
                        type="checkbox"
                        class="h-4 w-4"
                        prop:checked=enabled
                        on:change=move |ev| { toggle.dispatch(event_target_checked(&ev)); }
                    />
                    "Enable SCIM provisioning"
                </label>
                <p class="mt-1 text-xs text-slate-600">
                    "Off: every request is refused (403), whatever its token."
                </p>
                <div class="mt-4 text-sm">
                    <p class="font-medium text-slate-700">"SCIM base URL"</p>
                    <p class="mt-1 flex flex-wrap items-center gap-2">
                        <code class="break-all rounded bg-slate-50 px-2 py-1 font-mono text-xs" data-testid="scim-base-url">{base_url.clone()}</code>
                        <CopyButton what="SCIM base URL" text=base_url.clone() />
                    </p>
                    <p class="mt-1 text-xs text-slate-600">
                        "In Okta: the app's Provisioning tab → Integration → SCIM connector base URL. Unique identifier field for users: userName. Authentication Mode: HTTP Header, with the token below."
                    </p>
                </div>
            </section>
            <Tokens provider_id=provider_id.clone() page=page.clone() reload shown />
            <Requests page />
        </div>
    }
}

#[component]
fn Tokens(provider_id: String, page: ScimPage, reload: Callback<()>, shown: RwSignal<Option<String>>) -> impl IntoView {
    let grace = RwSignal::new("60".to_string());
    let error = RwSignal::new(None::<String>);
    let generate = Action::new(move |(id, g): &(String, String)| {
        let (id, g) = (id.clone(), g.clone());
        async move { generate_scim_token(id, g).await }
    });
    Effect::new(move |_| match generate.value().get() {
        Some(Ok(token)) => {
            error.set(None);
            shown.set(Some(token));
            reload.run(());
        }
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });
    let has_token = page.tokens.iter().any(|t| t.valid);
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="scim-tokens-heading">
            <h2 id="scim-tokens-heading" class="font-medium">"Tokens"</h2>
            <p class="mt-1 text-sm text-slate-600">
                "Okta sends the token as " <code class="font-mono text-xs">"Authorization: Bearer pcst_…"</code>
                " (it is also accepted as the Basic password). It is shown once; Portcullis keeps only a hash."
            </p>
            <form
                class="mt-3 flex flex-wrap items-end gap-3"
                on:submit={
                    let id = provider_id.clone();
                    move |ev| {
                        ev.prevent_default();
                        shown.set(None);
                        generate.dispatch((id.clone(), grace.get_untracked()));
                    }
                }
            >
                <Show when=move || has_token>
                    <label class="block text-sm font-medium text-slate-700">
                        "Keep the previous token valid for (minutes)"
                        <input
                            class="field-input w-40"
                            type="number"
                            min="0"
                            max="10080"
                            required
                            prop:value=move || grace.get()
                            on:input=move |ev| grace.set(event_target_value(&ev))
                        />
                    </label>
                </Show>
                <button type="submit" class="btn-primary" disabled=move || generate.pending().get()>"Generate token"</button>
            </form>
            <p class="mt-1 text-xs text-slate-600">
                "A new token does not cut Okta off: the previous one keeps working for the time you choose (default an hour), until Okta's app is saved with the new one."
            </p>
            {move || error.get().map(|m| view! { <div class="mt-3"><ErrorNote message=m /></div> })}
            {move || shown.get().map(|token| view! {
                <div class="mt-4 rounded-md border border-green-300 bg-green-50 p-3 text-sm text-green-900" role="status" data-testid="new-scim-token">
                    <p class="font-medium">"Token generated. Copy it into Okta now: it is not shown again."</p>
                    <div class="mt-2 flex flex-wrap items-center gap-2">
                        <code class="break-all rounded bg-white px-2 py-1 font-mono text-xs text-slate-900" data-testid="scim-token-value">{token.clone()}</code>
                        <CopyButton what="the new SCIM token" text=token />
                    </div>
                </div>
            })}
            {(!page.tokens.is_empty()).then(|| view! {
                <div class="mt-4">
                    <DataTable headers=&["Token", "Created", "Last used", "State"] stack=true testid="scim-tokens">
                        {page.tokens.iter().map(|t| {
                            let class = if t.valid { "px-4 py-2 text-green-800" } else { "px-4 py-2 text-slate-500" };
                            view! {
                                <tr data-testid="scim-token-row">
                                    <td class="px-4 py-2" data-label="Token">
                                        <span class="font-mono text-xs">{format!("{}…", t.prefix)}</span>
                                        <span class="block text-xs text-slate-500">{format!("by {}", t.created_by)}</span>
                                    </td>
                                    <td class="px-4 py-2 text-xs" data-label="Created">{t.created.clone()}</td>
                                    <td class="px-4 py-2 text-xs" data-label="Last used">{t.last_used.clone()}</td>
                                    <td class=class data-label="State">{t.state.clone()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </DataTable>
                </div>
            })}
        </section>
    }
}

#[component]
fn Requests(page: ScimPage) -> impl IntoView {
    view! {
        <section aria-labelledby="scim-requests-heading">
            <h2 id="scim-requests-heading" class="mb-3 text-sm font-semibold uppercase tracking-wide text-slate-500">
                "Last requests"
            </h2>
            {if page.requests.is_empty() {
                view! {
                    <p class="rounded-lg border border-dashed border-slate-300 bg-white p-6 text-sm text-slate-600" data-testid="no-scim-requests">
                        "No request received yet. In Okta, Test Connector Configuration sends the first one."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <DataTable headers=&["When", "Request", "Outcome", "Token"] stack=true testid="scim-requests">
                        {page.requests.iter().map(|r| {
                            let ok = r.status < 400;
                            let class = if ok { "px-4 py-2 text-xs text-green-800" } else { "px-4 py-2 text-xs text-red-800" };
                            view! {
                                <tr data-testid="scim-request">
                                    <td class="px-4 py-2 text-xs" data-label="When">{r.at.clone()}</td>
                                    <td class="px-4 py-2 font-mono text-xs break-all" data-label="Request">{format!("{} {}", r.method, r.path)}</td>
                                    <td class=class data-label="Outcome">{format!("{} · {}", r.status, r.detail)}</td>
                                    <td class="px-4 py-2 font-mono text-xs" data-label="Token">{r.token.clone()}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </DataTable>
                }
                    .into_any()
            }}
        </section>
    }
}
