//! `/settings/api-tokens`: tokens for `/api/v1` and the `portcullis config` command line.

use leptos::prelude::*;

use crate::pages::error_text;
use crate::{
    api::tokens::{api_tokens, create_api_token, revoke_api_token, NewTokenShown, TokenRow},
    components::{fields::CopyButton, refresher, InlineConfirm},
    layout::{loading, DataTable, ErrorNote, PageHeader},
    pages::settings::role_mappings::RoleField,
};

#[component]
pub fn ApiTokensPage() -> impl IntoView {
    let tokens = Resource::new(|| (), |_| api_tokens());
    view! {
        <PageHeader
            title="API tokens"
            intro="Tokens let scripts, CI pipelines and the portcullis command line use the REST API at /api/v1 with a role of their own. A token is shown once, when it is made; Portcullis keeps only a hash of it."
        />
        <p class="mb-4 text-sm text-slate-600">
            "Send it as " <code class="font-mono text-xs">"Authorization: Bearer pcat_…"</code> ". The API reference is at "
            <a class="text-indigo-700 underline" href="/api/docs">"/api/docs"</a> "."
        </p>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match tokens.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(rows) => view! { <Tokens rows /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Create a token (shown once) and the tokens made, each revocable in place.
#[cfg_attr(feature = "islands-access", island)]
#[cfg_attr(not(feature = "islands-access"), component)]
fn Tokens(rows: Vec<TokenRow>) -> impl IntoView {
    let rows = RwSignal::new(rows);
    let reload = refresher(rows, api_tokens);
    view! {
        <CreateToken on_change=reload />
        {move || {
            let rows = rows.get();
            if rows.is_empty() {
                view! {
                    <p class="rounded-lg border border-dashed border-slate-300 bg-white p-6 text-sm text-slate-600" data-testid="no-tokens">
                        "No API tokens yet."
                    </p>
                }
                    .into_any()
            } else {
                view! { <TokenTable rows on_change=reload /> }.into_any()
            }
        }}
    }
}

#[component]
fn CreateToken(on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let role = RwSignal::new("viewer".to_string());
    let days = RwSignal::new("90".to_string());
    let cidrs = RwSignal::new(String::new());
    let create = Action::new(move |(n, r, d, c): &(String, String, String, String)| {
        let (n, r, d, c) = (n.clone(), r.clone(), d.clone(), c.clone());
        async move { create_api_token(n, r, d, c).await }
    });
    let shown = RwSignal::new(None::<NewTokenShown>);
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match create.value().get() {
        Some(Ok(made)) => {
            shown.set(Some(made));
            name.set(String::new());
            cidrs.set(String::new());
            on_change();
        }
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });
    view! {
        <section class="mb-6 rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="create-token-heading">
            <h2 id="create-token-heading" class="mb-3 font-medium">"Create a token"</h2>
            <form
                class="grid gap-3 sm:grid-cols-2 lg:grid-cols-[1fr_20rem_9rem]"
                on:submit=move |ev| {
                    ev.prevent_default();
                    error.set(None);
                    shown.set(None);
                    create.dispatch((name.get_untracked(), role.get_untracked(), days.get_untracked(), cidrs.get_untracked()));
                }
            >
                <label class="block text-sm font-medium text-slate-700">
                    "Name"
                    <input
                        class="field-input"
                        required
                        maxlength="100"
                        placeholder="CI pipeline"
                        prop:value=move || name.get()
                        on:input=move |ev| name.set(event_target_value(&ev))
                    />
                </label>
                <RoleField role />
                <label class="block text-sm font-medium text-slate-700">
                    "Expires in (days)"
                    <input
                        class="field-input"
                        type="number"
                        min="1"
                        max="366"
                        required
                        prop:value=move || days.get()
                        on:input=move |ev| days.set(event_target_value(&ev))
                    />
                </label>
                <label class="block text-sm font-medium text-slate-700 sm:col-span-2 lg:col-span-3">
                    "Allowed source addresses (optional)"
                    <input
                        class="field-input font-mono"
                        placeholder="10.0.0.0/8, 192.0.2.7"
                        prop:value=move || cidrs.get()
                        on:input=move |ev| cidrs.set(event_target_value(&ev))
                    />
                    <span class="mt-1 block text-xs font-normal text-slate-600">
                        "Address ranges the token may be used from, separated by commas. Empty: any address."
                    </span>
                </label>
                <div>
                    <button type="submit" class="btn-primary" disabled=move || create.pending().get()>"Create token"</button>
                </div>
            </form>
            {move || error.get().map(|m| view! { <div class="mt-3"><ErrorNote message=m /></div> })}
            {move || shown.get().map(|made| view! {
                <div class="mt-4 rounded-md border border-green-300 bg-green-50 p-3 text-sm text-green-900" role="status" data-testid="new-token">
                    <p class="font-medium">{format!("Token {} created. Copy it now: it is not shown again.", made.name)}</p>
                    <div class="mt-2 flex flex-wrap items-center gap-2">
                        <code class="break-all rounded bg-white px-2 py-1 font-mono text-xs text-slate-900" data-testid="token-value">{made.token.clone()}</code>
                        <CopyButton what="the new API token" text=made.token.clone() />
                    </div>
                </div>
            })}
        </section>
    }
}

#[component]
fn TokenTable(rows: Vec<TokenRow>, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let revoke = Action::new(move |prefix: &String| {
        let prefix = prefix.clone();
        async move { revoke_api_token(prefix).await }
    });
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match revoke.value().get() {
        Some(Ok(())) => on_change(),
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });
    view! {
        {move || error.get().map(|m| view! { <div class="mb-3"><ErrorNote message=m /></div> })}
        <DataTable headers=&["Name", "Prefix", "Role", "Created", "Last used", "Expires", "State", "Actions"] stack=true testid="tokens">
            {rows
                .into_iter()
                .map(|t| {
                    let prefix = t.prefix.clone();
                    let active = t.state == "active";
                    let state_class = if active { "text-green-800" } else { "text-slate-500" };
                    view! {
                        <tr data-testid="token-row" data-prefix=t.prefix.clone()>
                            <td class="px-4 py-2" data-label="Name">
                                <span class="font-medium">{t.name.clone()}</span>
                                <span class="block text-xs text-slate-500">{format!("by {} · {}", t.created_by, t.allowed)}</span>
                            </td>
                            <td class="px-4 py-2 font-mono text-xs" data-label="Prefix">{t.prefix.clone()}</td>
                            <td class="px-4 py-2" data-label="Role">{t.role.clone()}</td>
                            <td class="px-4 py-2 text-xs" data-label="Created">{t.created.clone()}</td>
                            <td class="px-4 py-2 text-xs" data-label="Last used">{t.last_used.clone()}</td>
                            <td class="px-4 py-2 text-xs" data-label="Expires">{t.expires.clone()}</td>
                            <td class=format!("px-4 py-2 capitalize {state_class}") data-label="State">{t.state.clone()}</td>
                            <td class="px-4 py-2 text-right" data-label="Actions">
                                <InlineConfirm
                                    label="Revoke"
                                    aria_label=format!("Revoke {}", t.name)
                                    dialog="Confirm revoking"
                                    question="Scripts using it stop working at once."
                                    confirm="Revoke token"
                                    enabled=active
                                    on_confirm=move || {
                                        revoke.dispatch(prefix.clone());
                                    }
                                />
                            </td>
                        </tr>
                    }
                })
                .collect_view()}
        </DataTable>
    }
}
