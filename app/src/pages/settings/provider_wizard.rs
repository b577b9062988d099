//! `/settings/identity-providers/new` and `/:id/edit`: the Connect wizard and the edit form.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::components::*;
use crate::pages::{error_text, query_value};
use crate::{
    api::providers::{
        check_client_settings, check_directory_settings, create_provider, get_provider, update_provider, wizard_info,
        CheckReport, DirectoryForm, ProviderForm, SaveResult,
    },
    layout::{loading, ErrorNote, PageHeader},
};

/// `/settings/identity-providers/new`
#[component]
pub fn NewProvider() -> impl IntoView {
    let kind = query_value("kind");
    move || {
        let kind = kind.get().filter(|k| k == "oidc").unwrap_or_else(|| "okta".into());
        let okta = kind == "okta";
        let initial = ProviderForm {
            name: if okta { "Okta".into() } else { String::new() },
            kind,
            auth_server: "Org".into(),
            scopes: "openid profile email groups".into(),
            groups_claim: "groups".into(),
            pkce: true,
            // Okta only lets verified addresses sign in; a generic provider may not.
            asserts_verified_email: okta,
            directory: DirectoryForm { mode: "service_app".into(), ..Default::default() },
            ..Default::default()
        };
        let title = if okta { "Connect Okta" } else { "Connect an OpenID Connect provider" };
        view! {
            <PageHeader title=title intro="Nothing is saved until every check has passed and you click Finish." />
            <Wizard initial edit_id=None client_secret_set=false directory_secret_set=false />
        }
    }
}

/// `/settings/identity-providers/{id}/edit`
#[component]
pub fn EditProvider() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let provider = Resource::new(id, get_provider);
    view! {
        <PageHeader title="Edit identity provider" intro="Secrets are write-only: leave them as they are to keep them. Save checks everything again. Only an Admin may change the Base URL, authorization server, client ID, scopes, groups claim or directory synchronization; a new Base URL, authorization server or client ID also needs every secret typed again and signs out everyone who signed in through this provider." />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match provider.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(p) => {
                        view! {
                            <Wizard
                                initial=p.form
                                edit_id=Some(p.id)
                                client_secret_set=p.client_secret_set
                                directory_secret_set=p.directory_secret_set
                            />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

#[derive(Clone, Copy)]
pub(crate) struct Fields {
    kind: RwSignal<String>,
    name: RwSignal<String>,
    base_url: RwSignal<String>,
    client_id: RwSignal<String>,
    client_secret: RwSignal<String>,
    auth_server: RwSignal<String>,
    scopes: RwSignal<String>,
    groups_claim: RwSignal<String>,
    pkce: RwSignal<bool>,
    asserts_verified_email: RwSignal<bool>,
    dir_enabled: RwSignal<bool>,
    dir_mode: RwSignal<String>,
    dir_client_id: RwSignal<String>,
    dir_private_key: RwSignal<String>,
    dir_api_token: RwSignal<String>,
}

impl Fields {
    fn new(f: ProviderForm) -> Self {
        Self {
            kind: RwSignal::new(f.kind),
            name: RwSignal::new(f.name),
            base_url: RwSignal::new(f.base_url),
            client_id: RwSignal::new(f.client_id),
            client_secret: RwSignal::new(f.client_secret),
            auth_server: RwSignal::new(f.auth_server),
            scopes: RwSignal::new(f.scopes),
            groups_claim: RwSignal::new(f.groups_claim),
            pkce: RwSignal::new(f.pkce),
            asserts_verified_email: RwSignal::new(f.asserts_verified_email),
            dir_enabled: RwSignal::new(f.directory.enabled),
            dir_mode: RwSignal::new(f.directory.mode),
            dir_client_id: RwSignal::new(f.directory.client_id),
            dir_private_key: RwSignal::new(f.directory.private_key),
            dir_api_token: RwSignal::new(f.directory.api_token),
        }
    }

    fn form(&self) -> ProviderForm {
        ProviderForm {
            kind: self.kind.get_untracked(),
            name: self.name.get_untracked(),
            base_url: self.base_url.get_untracked(),
            client_id: self.client_id.get_untracked(),
            client_secret: self.client_secret.get_untracked(),
            auth_server: self.auth_server.get_untracked(),
            scopes: self.scopes.get_untracked(),
            groups_claim: self.groups_claim.get_untracked(),
            pkce: self.pkce.get_untracked(),
            asserts_verified_email: self.asserts_verified_email.get_untracked(),
            directory: DirectoryForm {
                enabled: self.dir_enabled.get_untracked() && self.kind.get_untracked() == "okta",
                mode: self.dir_mode.get_untracked(),
                client_id: self.dir_client_id.get_untracked(),
                private_key: self.dir_private_key.get_untracked(),
                api_token: self.dir_api_token.get_untracked(),
            },
        }
    }
}

pub(crate) const STEP_CLIENT: u8 = 1;
pub(crate) const STEP_DIRECTORY: u8 = 2;
pub(crate) const STEP_FINISH: u8 = 3;
pub(crate) const STEP_DONE: u8 = 4;

#[component]
pub(crate) fn Wizard(
    initial: ProviderForm,
    edit_id: Option<String>,
    client_secret_set: bool,
    directory_secret_set: bool,
) -> impl IntoView {
    let f = Fields::new(initial);
    let editing = edit_id.is_some();
    let okta = move || f.kind.get() == "okta";
    let step = RwSignal::new(STEP_CLIENT);
    let info = Resource::new(|| (), |_| wizard_info());

    let client_check = Action::new(move |form: &ProviderForm| check_client_settings(form.clone()));
    let directory_check = Action::new(move |form: &ProviderForm| check_directory_settings(form.clone()));
    let save = Action::new({
        let edit_id = edit_id.clone();
        move |form: &ProviderForm| {
            let (form, edit_id) = (form.clone(), edit_id.clone());
            async move {
                match edit_id {
                    Some(id) => update_provider(id, form).await,
                    None => create_provider(form).await,
                }
            }
        }
    });

    // Step 1 passed: take the normalised Base URL, move on.
    Effect::new(move |_| {
        if let Some(Ok(report)) = client_check.value().get() {
            if report.ok {
                if let Some(base) = report.base_url.clone() {
                    f.base_url.set(base);
                }
                if let Some(server) = report.auth_server.clone() {
                    f.auth_server.set(server);
                }
                step.set(if f.kind.get_untracked() == "okta" { STEP_DIRECTORY } else { STEP_FINISH });
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(report)) = directory_check.value().get() {
            if report.ok {
                step.set(STEP_FINISH);
            }
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(SaveResult { saved: true, .. })) = save.value().get() {
            step.set(STEP_DONE);
        }
    });

    let continue_client = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        client_check.dispatch(f.form());
    };
    let continue_directory = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if f.dir_enabled.get_untracked() {
            directory_check.dispatch(f.form());
        } else {
            step.set(STEP_FINISH);
        }
    };
    let finish = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        save.dispatch(f.form());
    };

    let show_report = move |value: Option<Result<CheckReport, ServerFnError>>| {
        value.map(|r| match r {
            Ok(report) => view! { <div class="mt-4"><ReportView report /></div> }.into_any(),
            Err(e) => view! { <div class="mt-4"><ErrorNote message=error_text(&e) /></div> }.into_any(),
        })
    };

    view! {
        <noscript>
            <p class="mb-4 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
                "The Connect wizard runs its checks step by step and needs JavaScript."
            </p>
        </noscript>
        <Show when=move || !editing>
            <ol class="mb-6 flex flex-wrap gap-2 text-sm" aria-label="Steps">
                <StepLabel number=1 label="Client settings" step />
                <Show when=okta>
                    <StepLabel number=2 label="Directory synchronization" step />
                </Show>
                <StepLabel number=3 label="Finish" step />
            </ol>
        </Show>

        // Step 1 (and, when editing, the whole form).
        <Show when=move || editing || step.get() == STEP_CLIENT>
            <form class="space-y-5 rounded-lg border border-slate-200 bg-white p-5" on:submit=move |ev| {
                if editing { finish(ev) } else { continue_client(ev) }
            }>
                <h2 class="text-lg font-semibold">"Client settings"</h2>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        info.await.ok().map(|i| view! { <RedirectUris redirect=i.redirect_uri sign_out=i.sign_out_redirect_uri okta=okta() /> })
                    })}
                </Suspense>
                <TextField label="Name" id="name" value=f.name help="How admins and people signing in see this provider." />
                <TextField
                    label="Base URL"
                    id="base-url"
                    value=f.base_url
                    placeholder="https://dev-123456.okta.com"
                    help="Your Okta org's URL. Spaces, a trailing slash, a pasted discovery URL or the -admin address are corrected."
                />
                <TextField label="Client ID" id="client-id" value=f.client_id help="From the app's General tab in Okta." />
                <SecretField label="Client secret" id="client-secret" value=f.client_secret set=client_secret_set />
                <Show when=okta>
                    <TextField
                        label="Authorization server"
                        id="auth-server"
                        value=f.auth_server
                        help="Org (issuer = the org URL), or a custom authorization server ID such as default."
                    />
                </Show>
                <TextField label="Scopes" id="scopes" value=f.scopes help="Space-separated. groups puts the user's Okta groups in the ID token." />
                <TextField label="Groups claim" id="groups-claim" value=f.groups_claim help="The ID token claim that carries the groups." />
                <label class="flex items-center gap-2 text-sm font-medium text-slate-700">
                    <input type="checkbox" bind:checked=f.pkce class="h-4 w-4 rounded border-slate-300" />
                    "PKCE"
                    <span class="font-normal text-slate-500">"(S256; recommended)"</span>
                </label>
                <label class="flex items-start gap-2 text-sm font-medium text-slate-700">
                    <input type="checkbox" bind:checked=f.asserts_verified_email class="mt-0.5 h-4 w-4 rounded border-slate-300" />
                    <span>
                        "Emails from this provider are verified"
                        <span class="block font-normal text-slate-500">
                            "Email rules and account linking trust its addresses even without an email_verified claim. Leave off for providers where people choose their own address. Admin only."
                        </span>
                    </span>
                </label>

                <Show when=move || editing && okta()>
                    <DirectoryFields f directory_secret_set />
                </Show>

                <div class="flex gap-2">
                    {if editing {
                        view! {
                            <a href="/settings/identity-providers" class="btn-secondary">"Cancel"</a>
                            <button type="submit" class="btn-primary" disabled=move || save.pending().get()>
                                {move || if save.pending().get() { "Checking…" } else { "Save" }}
                            </button>
                        }
                            .into_any()
                    } else {
                        view! {
                            <a href="/settings/identity-providers" class="btn-secondary">"Cancel"</a>
                            <button type="submit" class="btn-primary" disabled=move || client_check.pending().get()>
                                {move || if client_check.pending().get() { "Checking…" } else { "Continue" }}
                            </button>
                        }
                            .into_any()
                    }}
                </div>
            </form>
        </Show>
        // Each step's report stays in view through Finish: the admin sees what passed.
        <Show when=move || !editing && step.get() < STEP_DONE>
            <div data-testid="client-report">{move || show_report(client_check.value().get())}</div>
        </Show>

        // Step 2: directory synchronization (Okta).
        <Show when=move || !editing && step.get() == STEP_DIRECTORY>
            <form class="space-y-5 rounded-lg border border-slate-200 bg-white p-5" on:submit=continue_directory>
                <h2 class="text-lg font-semibold">"Directory synchronization"</h2>
                <p class="text-sm text-slate-600">
                    "Keeps a current copy of your Okta users, groups and memberships, so policies can use groups before anyone signs in. Needs an API service app (recommended: Public key / Private key, scopes okta.users.read and okta.groups.read, an admin role such as Read-only Administrator) or an API token."
                </p>
                <DirectoryFields f directory_secret_set=false />
                <div class="flex gap-2">
                    <button type="button" class="btn-secondary" on:click=move |_| step.set(STEP_CLIENT)>"Back"</button>
                    <button type="submit" class="btn-primary" disabled=move || directory_check.pending().get()>
                        {move || if directory_check.pending().get() { "Checking…" } else { "Continue" }}
                    </button>
                </div>
            </form>
        </Show>
        <Show when=move || !editing && (step.get() == STEP_DIRECTORY || step.get() == STEP_FINISH)>
            <div data-testid="directory-report">{move || show_report(directory_check.value().get())}</div>
        </Show>

        // Step 3: finish.
        <Show when=move || !editing && step.get() == STEP_FINISH>
            <form class="space-y-4 rounded-lg border border-slate-200 bg-white p-5" on:submit=finish>
                <h2 class="text-lg font-semibold">"Finish"</h2>
                <dl class="grid grid-cols-1 gap-x-6 gap-y-2 text-sm sm:grid-cols-[max-content_1fr]">
                    <dt class="font-medium text-slate-600">"Name"</dt>
                    <dd>{move || f.name.get()}</dd>
                    <dt class="font-medium text-slate-600">"Base URL"</dt>
                    <dd class="break-all">{move || f.base_url.get()}</dd>
                    <dt class="font-medium text-slate-600">"Client ID"</dt>
                    <dd class="break-all">{move || f.client_id.get()}</dd>
                    <dt class="font-medium text-slate-600">"Directory synchronization"</dt>
                    <dd>
                        {move || {
                            if okta() && f.dir_enabled.get() {
                                if f.dir_mode.get() == "api_token" { "On (API token)" } else { "On (API service app)" }
                            } else {
                                "Off"
                            }
                        }}
                    </dd>
                </dl>
                <p class="text-sm text-slate-600">"Finish runs every check once more, then saves the provider and the groups it found."</p>
                <div class="flex gap-2">
                    <button
                        type="button"
                        class="btn-secondary"
                        on:click=move |_| step.set(if okta() { STEP_DIRECTORY } else { STEP_CLIENT })
                    >
                        "Back"
                    </button>
                    <button type="submit" class="btn-primary" disabled=move || save.pending().get()>
                        {move || if save.pending().get() { "Checking and saving…" } else { "Finish" }}
                    </button>
                </div>
            </form>
        </Show>

        // Save results: failures stay on the form; success ends the wizard.
        {move || {
            save.value()
                .get()
                .map(|result| match result {
                    Ok(r) if r.saved && !editing => {
                        let label = if f.kind.get_untracked() == "okta" { "Okta connected" } else { "Provider connected" };
                        view! {
                            <section class="mt-4 rounded-lg border border-green-200 bg-green-50 p-5" data-testid="connected">
                                <h2 class="text-lg font-semibold text-green-900">{label}</h2>
                                <p class="mt-1 text-sm text-green-900">{r.message.clone()}</p>
                                <p class="mt-3 text-sm font-medium">"Next steps"</p>
                                <ul class="mt-1 list-disc pl-5 text-sm text-slate-700">
                                    <li>
                                        <a href="/settings/identity-providers" class="text-indigo-700 underline">"Back to identity providers"</a>
                                        ": the provider is listed with Test connection."
                                    </li>
                                    <li>
                                        <a href="/directory" class="text-indigo-700 underline">"Directory"</a>
                                        ": the groups found are stored."
                                    </li>
                                    <li>
                                        <a href="/policies" class="text-indigo-700 underline">"Policies"</a>
                                        ": decide who may reach which application."
                                    </li>
                                </ul>
                                <div class="mt-4"><ReportView report=r.report /></div>
                            </section>
                        }
                            .into_any()
                    }
                    Ok(r) => {
                        let (class, role) = if r.saved {
                            ("border-green-200 bg-green-50 text-green-900", "status")
                        } else {
                            ("border-red-200 bg-red-50 text-red-900", "alert")
                        };
                        view! {
                            <section class="mt-4 space-y-3" data-testid="save-result" data-saved=r.saved.to_string()>
                                <p class=format!("rounded-md border p-3 text-sm font-medium {class}") role=role>{r.message.clone()}</p>
                                <ReportView report=r.report />
                            </section>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <div class="mt-4"><ErrorNote message=error_text(&e) /></div> }.into_any(),
                })
        }}
    }
}

#[component]
pub(crate) fn StepLabel(number: u8, label: &'static str, step: RwSignal<u8>) -> impl IntoView {
    let class = move || {
        let s = step.get();
        if s == number {
            "rounded-full bg-indigo-600 px-3 py-1 font-medium text-white"
        } else if s > number {
            "rounded-full bg-indigo-100 px-3 py-1 text-indigo-800"
        } else {
            "rounded-full bg-slate-100 px-3 py-1 text-slate-500"
        }
    };
    view! {
        <li class=class aria-current=move || (step.get() == number).then_some("step")>
            {format!("{number}. {label}")}
        </li>
    }
}

#[component]
pub(crate) fn DirectoryFields(f: Fields, directory_secret_set: bool) -> impl IntoView {
    let service_app = move || f.dir_mode.get() != "api_token";
    view! {
        <fieldset class="space-y-4">
            <legend class="sr-only">"Directory synchronization"</legend>
            <label class="flex items-center gap-2 text-sm font-medium text-slate-700">
                <input type="checkbox" bind:checked=f.dir_enabled class="h-4 w-4 rounded border-slate-300" />
                "Enable directory synchronization"
            </label>
            <Show when=move || f.dir_enabled.get()>
                <div class="flex flex-wrap gap-4 text-sm" role="radiogroup" aria-label="Authentication">
                    <label class="flex items-center gap-2">
                        <input
                            type="radio"
                            name="directory-mode"
                            value="service_app"
                            prop:checked=service_app
                            on:change=move |_| f.dir_mode.set("service_app".into())
                        />
                        "API service app (private key)"
                    </label>
                    <label class="flex items-center gap-2">
                        <input
                            type="radio"
                            name="directory-mode"
                            value="api_token"
                            prop:checked=move || !service_app()
                            on:change=move |_| f.dir_mode.set("api_token".into())
                        />
                        "API token"
                    </label>
                </div>
                <Show
                    when=service_app
                    fallback=move || view! { <SecretField label="API token" id="api-token" value=f.dir_api_token set=directory_secret_set /> }
                >
                    <TextField
                        label="Directory Sync Client ID"
                        id="dir-client-id"
                        value=f.dir_client_id
                        help="The Client ID of the API service app."
                    />
                    <SecretField
                        label="Directory Sync Private Key"
                        id="dir-private-key"
                        value=f.dir_private_key
                        set=directory_secret_set
                        multiline=true
                        help="The private key as the JWK JSON Okta shows after Generate new key, or a PEM. RSA or EC P-256. DPoP is handled for you."
                    />
                </Show>
            </Show>
        </fieldset>
    }
}

/// What to register in Okta, with copy buttons.
#[component]
pub(crate) fn RedirectUris(redirect: String, sign_out: String, okta: bool) -> impl IntoView {
    let where_ = if okta {
        "In Okta: Applications → Create App Integration → OIDC, Web Application. Register these URIs:"
    } else {
        "Register these URIs with your provider:"
    };
    view! {
        <div class="rounded-md border border-indigo-100 bg-indigo-50 p-3 text-sm">
            <p class="text-indigo-900">{where_}</p>
            <dl class="mt-2 space-y-2">
                <CopyRow label="Sign-in redirect URI" value=redirect />
                <CopyRow label="Sign-out redirect URI" value=sign_out />
            </dl>
        </div>
    }
}
