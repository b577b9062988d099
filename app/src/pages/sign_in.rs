//! Signing in with identity providers: the refusal page, the test sign-in result,
//! role mappings, and the account's sign-in methods.

use leptos::prelude::*;
use leptos_meta::Title;

use super::{error_text, login::AuthCard, query_value};
use crate::{
    api::sso::{
        add_role_mapping, my_account, remove_role_mapping, role_mappings, set_break_glass, set_mapping_role,
        sign_in_refusal, test_sign_in_result, RoleMappingsData, SignInOutcome,
    },
    layout::{loading, DataTable, ErrorNote, PageHeader},
    messages::sso_error,
};

const ROLES: [(&str, &str, &str); 3] = [
    ("admin", "Admin", "everything, including role mappings"),
    ("editor", "Editor", "configure providers and policies"),
    ("viewer", "Viewer", "read only"),
];

const BUTTON: &str = "rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium hover:bg-slate-100 disabled:opacity-50";
const PRIMARY: &str =
    "rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white hover:bg-indigo-500 disabled:opacity-50";
const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200";

/// `/auth/error?code=…[&ref=…]`: a sign-in with a provider ended here, with no session.
#[component]
pub fn SignInErrorPage() -> impl IntoView {
    let code = query_value("code");
    let reference = query_value("ref");
    let refusal = Resource::new(
        move || reference.get(),
        |r| async move {
            match r {
                Some(r) => sign_in_refusal(r).await.ok().flatten(),
                None => None,
            }
        },
    );
    let text = move || {
        code.get()
            .and_then(|c| sso_error(&c))
            .unwrap_or(("The sign-in did not complete", "Start again from the sign-in page."))
    };
    view! {
        <Title text="Sign-in refused" />
        <AuthCard title="Sign-in refused">
            <div role="alert" data-testid="sign-in-error" data-code=move || code.get().unwrap_or_default()>
                <p class="font-medium text-red-800">{move || text().0}</p>
                <p class="mt-1 text-sm text-slate-700">{move || text().1}</p>
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    refusal.await.map(|o| view! { <RefusalDetails outcome=o /> })
                })}
            </Suspense>
            <a href="/login" class="mt-6 inline-block text-sm font-medium text-indigo-700 underline">"Back to sign-in"</a>
        </AuthCard>
    }
}

#[component]
fn RefusalDetails(outcome: SignInOutcome) -> impl IntoView {
    let groups = if outcome.groups.is_empty() {
        format!("{} sent no groups for you.", outcome.provider_name)
    } else {
        outcome.groups.join(", ")
    };
    view! {
        <div class="mt-4 space-y-3 text-sm" data-testid="refusal-details">
            <p>
                "Signed in at " {outcome.provider_name.clone()} " as " <span class="font-medium">{outcome.email.clone()}</span> "."
            </p>
            <div>
                <p class="font-medium">"Your groups"</p>
                <p class="text-slate-700" data-testid="your-groups">{groups}</p>
            </div>
        </div>
    }
}

/// `/settings/identity-providers/:id/test-sign-in?ref=…`: what a test sign-in received.
#[component]
pub fn TestSignInPage() -> impl IntoView {
    let reference = query_value("ref");
    let result = Resource::new(
        move || reference.get(),
        |r| async move {
            match r {
                Some(r) => test_sign_in_result(r).await,
                None => Ok(None),
            }
        },
    );
    view! {
        <PageHeader
            title="Test sign-in"
            intro="What the identity provider sent for this sign-in, and the console role it maps to. No session was created."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match result.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(None) => {
                        view! {
                            <ErrorNote message="This test sign-in result has expired or belongs to another admin. Run Test sign-in again from Identity providers."
                                .to_string() />
                        }
                            .into_any()
                    }
                    Ok(Some(o)) => view! { <TestSignInResult outcome=o /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn TestSignInResult(outcome: SignInOutcome) -> impl IntoView {
    let role = outcome.role.clone();
    let verdict = match &role {
        Some(r) => format!("{} would sign in as {r}.", outcome.email),
        None => format!("{} would be refused: no group maps to a console role.", outcome.email),
    };
    let groups = if outcome.groups.is_empty() { "none".to_string() } else { outcome.groups.join(", ") };
    let source = match outcome.groups_source.as_str() {
        "claim" => "from the ID token's groups claim (or userinfo)",
        "directory" => "from the directory API (the token carried no groups claim)",
        _ => "nowhere: the token had no groups claim and no directory credentials are set",
    };
    view! {
        <div class="space-y-4" data-testid="test-sign-in-result">
            <p
                class=if role.is_some() {
                    "rounded-md bg-green-50 p-3 text-sm font-medium text-green-800"
                } else {
                    "rounded-md bg-amber-50 p-3 text-sm font-medium text-amber-900"
                }
                data-testid="test-sign-in-verdict"
            >
                {verdict}
            </p>
            <dl class="grid grid-cols-1 gap-x-6 gap-y-2 rounded-lg border border-slate-200 bg-white p-4 text-sm sm:grid-cols-[12rem_1fr]">
                <dt class="text-slate-500">"Provider"</dt>
                <dd>{outcome.provider_name.clone()}</dd>
                <dt class="text-slate-500">"Subject (sub)"</dt>
                <dd class="font-mono text-xs">{outcome.subject.clone()}</dd>
                <dt class="text-slate-500">"Email"</dt>
                <dd>
                    {outcome.email.clone()}
                    {match outcome.email_verified {
                        Some(true) => " (verified)",
                        Some(false) => " (not verified)",
                        None => "",
                    }}
                </dd>
                <dt class="text-slate-500">"Name"</dt>
                <dd>{outcome.name.clone()}</dd>
                <dt class="text-slate-500">"Groups"</dt>
                <dd data-testid="test-sign-in-groups">{groups} <span class="text-xs text-slate-500">{format!(" — {source}")}</span></dd>
            </dl>
            {outcome
                .claims
                .map(|claims| {
                    view! {
                        <details class="rounded-lg border border-slate-200 bg-white p-4" open>
                            <summary class="cursor-pointer text-sm font-medium">"Claims received (ID token and userinfo)"</summary>
                            <pre class="mt-2 overflow-x-auto text-xs" data-testid="test-sign-in-claims">{claims}</pre>
                        </details>
                    }
                })}
            <a href="/settings/identity-providers" class="text-sm font-medium text-indigo-700 underline">"Back to identity providers"</a>
        </div>
    }
}

/// `/settings/role-mappings`: which groups grant which console role.
#[component]
pub fn RoleMappingsPage() -> impl IntoView {
    let version = RwSignal::new(0u32);
    let data = Resource::new(move || version.get(), |_| role_mappings());
    let reload = move || version.update(|v| *v += 1);
    view! {
        <PageHeader
            title="Role mappings"
            intro="People who sign in with an identity provider get the highest role their groups map to, at every sign-in and session refresh. A person whose groups map to no role is refused."
        />
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(d) => view! { <RoleMappingsView data=d on_change=reload /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn RoleMappingsView(data: RoleMappingsData, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let can_edit = data.can_edit;
    let error = RwSignal::new(None::<String>);
    let remove = Action::new(move |id: &String| {
        let id = id.clone();
        async move { remove_role_mapping(id).await }
    });
    let change = Action::new(move |(id, role): &(String, String)| {
        let (id, role) = (id.clone(), role.clone());
        async move { set_mapping_role(id, role).await }
    });
    Effect::new(move |_| {
        for result in [remove.value().get(), change.value().get()].into_iter().flatten() {
            match result {
                Ok(()) => on_change(),
                Err(e) => error.set(Some(error_text(&e))),
            }
        }
    });
    let rows = data.mappings.clone();
    let empty = rows.is_empty();
    view! {
        {move || error.get().map(|m| view! { <div class="mb-3"><ErrorNote message=m /></div> })}
        <Show when=move || !can_edit>
            <p class="mb-3 text-sm text-slate-600">"Only admins change role mappings."</p>
        </Show>
        {if empty {
            view! {
                <p class="mb-6 rounded-lg border border-dashed border-slate-300 bg-white p-6 text-sm text-slate-600" data-testid="no-mappings">
                    "No role mappings yet: nobody can sign in with an identity provider until a group is mapped to a role."
                </p>
            }
                .into_any()
        } else {
            view! {
                <div class="mb-6">
                    <DataTable headers=&["Provider", "Group", "Role", ""]>
                        {rows
                            .into_iter()
                            .map(|m| {
                                let (id_change, id_remove) = (m.id.clone(), m.id.clone());
                                let current = m.role.clone();
                                let group = m.group_name.clone();
                                let remove_label = format!("Remove mapping for {}", m.group_name);
                                view! {
                                    <tr data-testid="mapping-row" data-group=m.group_name.clone()>
                                        <td class="px-4 py-2">{m.provider_name.clone()}</td>
                                        <td class="px-4 py-2">
                                            {m.group_name.clone()}
                                            {(!m.in_directory)
                                                .then(|| view! { <span class="ml-2 text-xs text-slate-500">"(matched by name)"</span> })}
                                        </td>
                                        <td class="px-4 py-2">
                                            <select
                                                aria-label=format!("Role for {group}")
                                                class="rounded-md border border-slate-300 px-2 py-1 text-sm"
                                                disabled=!can_edit
                                                on:change=move |ev| {
                                                    change.dispatch((id_change.clone(), event_target_value(&ev)));
                                                }
                                            >
                                                {ROLES
                                                    .into_iter()
                                                    .map(|(value, label, _)| {
                                                        view! { <option value=value selected=current == value>{label}</option> }
                                                    })
                                                    .collect_view()}
                                            </select>
                                        </td>
                                        <td class="px-4 py-2 text-right">
                                            <Show when=move || can_edit>
                                                <button
                                                    type="button"
                                                    class=BUTTON
                                                    aria-label=remove_label.clone()
                                                    on:click={
                                                        let id = id_remove.clone();
                                                        move |_| {
                                                            remove.dispatch(id.clone());
                                                        }
                                                    }
                                                >
                                                    "Remove"
                                                </button>
                                            </Show>
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </DataTable>
                </div>
            }
                .into_any()
        }}
        <Show when=move || can_edit>
            <AddMapping data=data.clone() on_change=on_change />
            <BreakGlass current=data.break_glass.clone() on_change=on_change />
        </Show>
    }
}

#[component]
fn AddMapping(data: RoleMappingsData, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let provider = RwSignal::new(data.providers.first().map(|(id, _)| id.clone()).unwrap_or_default());
    let group = RwSignal::new(String::new());
    let role = RwSignal::new("viewer".to_string());
    let add = Action::new(move |(p, g, r): &(String, String, String)| {
        let (p, g, r) = (p.clone(), g.clone(), r.clone());
        async move { add_role_mapping(p, g, r).await }
    });
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match add.value().get() {
        Some(Ok(())) => {
            group.set(String::new());
            on_change();
        }
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });
    let groups = data.groups.clone();
    let has_providers = !data.providers.is_empty();
    view! {
        <section class="mb-8 rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="add-mapping-heading">
            <h2 id="add-mapping-heading" class="mb-3 font-medium">"Add a mapping"</h2>
            {(!has_providers)
                .then(|| view! { <p class="text-sm text-slate-600">"Connect an identity provider first."</p> })}
            <form
                class="grid gap-3 sm:grid-cols-[1fr_1fr_18rem_auto] sm:items-end"
                on:submit=move |ev| {
                    ev.prevent_default();
                    error.set(None);
                    add.dispatch((provider.get(), group.get(), role.get()));
                }
            >
                <label class="block text-sm font-medium text-slate-700">
                    "Identity provider"
                    <select class=INPUT on:change=move |ev| provider.set(event_target_value(&ev))>
                        {data
                            .providers
                            .iter()
                            .map(|(id, name)| view! { <option value=id.clone()>{name.clone()}</option> })
                            .collect_view()}
                    </select>
                </label>
                <label class="block text-sm font-medium text-slate-700">
                    "Group"
                    <input
                        class=INPUT
                        list="known-groups"
                        placeholder="Pick or type a group name"
                        prop:value=move || group.get()
                        on:input=move |ev| group.set(event_target_value(&ev))
                    />
                    <datalist id="known-groups">
                        {move || {
                            let p = provider.get();
                            groups
                                .iter()
                                .filter(|(pid, _, _)| *pid == p)
                                .map(|(_, _, name)| view! { <option value=name.clone()></option> })
                                .collect_view()
                        }}
                    </datalist>
                </label>
                <label class="block text-sm font-medium text-slate-700">
                    "Role"
                    <select class=INPUT on:change=move |ev| role.set(event_target_value(&ev))>
                        {ROLES
                            .into_iter()
                            .map(|(value, label, help)| {
                                view! { <option value=value selected=value == "viewer">{format!("{label} — {help}")}</option> }
                            })
                            .collect_view()}
                    </select>
                </label>
                <button type="submit" class=PRIMARY disabled=move || add.pending().get() || !has_providers>
                    "Add mapping"
                </button>
            </form>
            <p class="mt-2 text-xs text-slate-500">
                "Groups come from directory synchronization and earlier sign-ins, and are matched by their provider id, so renaming a group in Okta keeps its mapping. A name typed here that Portcullis has not seen is matched by name."
            </p>
            {move || error.get().map(|m| view! { <div class="mt-3"><ErrorNote message=m /></div> })}
        </section>
    }
}

#[component]
fn BreakGlass(current: Option<String>, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let restricted = RwSignal::new(current.is_some());
    let email = RwSignal::new(current.clone().unwrap_or_default());
    let save = Action::new(move |value: &Option<String>| {
        let value = value.clone();
        async move { set_break_glass(value).await }
    });
    let message = RwSignal::new(None::<Result<String, String>>);
    Effect::new(move |_| match save.value().get() {
        Some(Ok(())) => {
            message.set(Some(Ok("Saved.".into())));
            on_change();
        }
        Some(Err(e)) => message.set(Some(Err(error_text(&e)))),
        None => {}
    });
    view! {
        <section class="rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="local-sign-in-heading">
            <h2 id="local-sign-in-heading" class="font-medium">"Password sign-in"</h2>
            <p class="mb-3 text-sm text-slate-600">
                "Once sign-in with your identity provider works, keep password sign-in for one break-glass admin account, for the day the provider is down."
            </p>
            <form
                class="space-y-3"
                on:submit=move |ev| {
                    ev.prevent_default();
                    message.set(None);
                    save.dispatch(restricted.get().then(|| email.get()));
                }
            >
                <label class="flex items-center gap-2 text-sm">
                    <input type="radio" name="local" prop:checked=move || !restricted.get() on:change=move |_| restricted.set(false) />
                    "Every local account may sign in with its password"
                </label>
                <label class="flex items-center gap-2 text-sm">
                    <input type="radio" name="local" prop:checked=move || restricted.get() on:change=move |_| restricted.set(true) />
                    "Only the break-glass account"
                </label>
                <label class="block text-sm font-medium text-slate-700">
                    "Break-glass account email"
                    <input
                        class=INPUT
                        type="email"
                        disabled=move || !restricted.get()
                        prop:value=move || email.get()
                        on:input=move |ev| email.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit" class=PRIMARY disabled=move || save.pending().get()>"Save password sign-in"</button>
            </form>
            {move || {
                message
                    .get()
                    .map(|m| match m {
                        Ok(text) => view! { <p role="status" class="mt-3 text-sm text-green-800">{text}</p> }.into_any(),
                        Err(text) => view! { <div class="mt-3"><ErrorNote message=text /></div> }.into_any(),
                    })
            }}
        </section>
    }
}

/// The signed-in person's sign-in methods, with a button to link an identity provider.
#[component]
pub fn MyAccountPanel() -> impl IntoView {
    let account = Resource::new(|| (), |_| my_account());
    let linked_now = query_value("linked");
    view! {
        <section class="mb-8 rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="account-heading">
            <h2 id="account-heading" class="font-medium">"Your account"</h2>
            <Show when=move || linked_now.get().is_some()>
                <p role="status" class="mt-2 rounded-md bg-green-50 p-2 text-sm text-green-800">"The identity provider is linked."</p>
            </Show>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match account.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                        Ok(a) => {
                            view! {
                                <p class="mt-1 text-sm text-slate-600">
                                    {a.email.clone()}
                                    {if a.has_password { " · password sign-in" } else { "" }}
                                </p>
                                <ul class="mt-2 text-sm" data-testid="linked-providers">
                                    {a
                                        .linked
                                        .into_iter()
                                        .map(|(provider, email)| view! { <li>{format!("Linked: {provider} ({email})")}</li> })
                                        .collect_view()}
                                </ul>
                                <div class="mt-3 flex flex-wrap gap-2">
                                    {a
                                        .linkable
                                        .into_iter()
                                        .map(|(id, name)| {
                                            view! {
                                                <form method="post" action="/auth/start">
                                                    <input type="hidden" name="provider" value=id />
                                                    <input type="hidden" name="purpose" value="link" />
                                                    <button type="submit" class=BUTTON>{format!("Link {name}")}</button>
                                                </form>
                                            }
                                        })
                                        .collect_view()}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
