//! `/settings/identity-providers/new` and `/:id/edit`: the Connect wizard and the edit form.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::presets::{preset, Preset, PRESETS};
use crate::components::*;
use crate::pages::{error_text, query_value};
use crate::{
    api::providers::{
        check_client_settings, check_directory_settings, create_provider, get_provider, update_provider, wizard_info,
        CheckReport, DirectoryForm, ProviderForm, RedirectInfo, SaveResult,
    },
    layout::{loading, ErrorNote, PageHeader},
};

/// `/settings/identity-providers/new`
#[component]
pub fn NewProvider() -> impl IntoView {
    let kind = query_value("kind");
    let preset_key = query_value("preset");
    let info = Resource::new(|| (), |_| wizard_info());
    move || {
        let kind = kind.get().filter(|k| k == "oidc").unwrap_or_else(|| "okta".into());
        let okta = kind == "okta";
        let p = preset(&preset_key.get().unwrap_or_default());
        let initial = ProviderForm {
            name: if okta { "Okta".into() } else { String::new() },
            kind,
            auth_server: "Org".into(),
            scopes: if okta { "openid profile email groups".into() } else { p.scopes.into() },
            groups_claim: if okta { "groups".into() } else { p.groups_claim.into() },
            pkce: true,
            // Okta only lets verified addresses sign in; a generic provider may not.
            asserts_verified_email: okta,
            directory: DirectoryForm { mode: "service_app".into(), ..Default::default() },
            ..Default::default()
        };
        let title = if okta { "Connect Okta" } else { "Connect an OpenID Connect provider" };
        let preset = Some(p.key.to_string());
        view! {
            <PageHeader title=title intro="Nothing is saved until every check has passed and you click Finish." />
            <Suspense fallback=loading>
                {move || {
                    let (initial, preset) = (initial.clone(), preset.clone());
                    Suspend::new(async move {
                        let info = info.await.ok();
                        view! {
                            <Wizard initial edit_id=None client_secret_set=false directory_secret_set=false preset info />
                        }
                    })
                }}
            </Suspense>
        }
    }
}

/// `/settings/identity-providers/{id}/edit`
#[component]
pub fn EditProvider() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let provider = Resource::new(id, get_provider);
    let info = Resource::new(|| (), |_| wizard_info());
    view! {
        <PageHeader title="Edit identity provider" intro="Secrets are write-only: leave them as they are to keep them. Save checks everything again. Only an Admin may change the Base URL, authorization server, client ID, scopes, groups claim or directory synchronization; a new Base URL, authorization server or client ID also needs every secret typed again and signs out everyone who signed in through this provider." />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                let info = info.await.ok();
                match provider.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(p) => {
                        view! {
                            <Wizard
                                initial=p.form
                                edit_id=Some(p.id)
                                client_secret_set=p.client_secret_set
                                directory_secret_set=p.directory_secret_set
                                preset=None
                                info
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
    connect_again: RwSignal<bool>,
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
            connect_again: RwSignal::new(f.connect_again),
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
            connect_again: self.connect_again.get_untracked(),
        }
    }
}

pub(crate) const STEP_CLIENT: u8 = 1;
pub(crate) const STEP_DIRECTORY: u8 = 2;
pub(crate) const STEP_FINISH: u8 = 3;
pub(crate) const STEP_DONE: u8 = 4;

/// The field a failed check is about, so it can be marked: the check ids are the domain's.
fn field_of(check_id: &str, directory_mode: &str) -> Option<&'static str> {
    Some(match check_id {
        "base_url" | "discovery" | "issuer" | "metadata" | "jwks" => "base-url",
        "client_credentials" => "client-secret",
        "scopes" => "scopes",
        "groups_source" => "groups-claim",
        "directory_credentials" | "directory_token" | "directory_groups" | "directory_users" => {
            if directory_mode == "api_token" {
                "api-token"
            } else {
                "dir-private-key"
            }
        }
        _ => return None,
    })
}

/// The first failed check of a report, as (field id, what to do).
fn fault_of(report: &CheckReport, directory_mode: &str) -> Option<(&'static str, String)> {
    let failed = report.rows.iter().find(|c| c.status == crate::api::providers::Status::Failed)?;
    let field = field_of(&failed.id, directory_mode)?;
    Some((field, failed.fix.clone().unwrap_or_else(|| failed.detail.clone())))
}

/// The whole wizard is one island: its steps, checks and fields live in the browser until Finish.
#[cfg_attr(feature = "islands-providers", island)]
#[cfg_attr(not(feature = "islands-providers"), component)]
pub(crate) fn Wizard(
    initial: ProviderForm,
    edit_id: Option<String>,
    client_secret_set: bool,
    directory_secret_set: bool,
    /// For a generic provider: whose words and defaults to show (see `presets`).
    preset: Option<String>,
    /// The URIs to register at the provider.
    info: Option<RedirectInfo>,
) -> impl IntoView {
    let f = Fields::new(initial);
    let editing = edit_id.is_some();
    let okta = move || f.kind.get() == "okta";
    let step = RwSignal::new(STEP_CLIENT);
    let chosen = RwSignal::new(super::presets::preset(preset.as_deref().unwrap_or("other")));
    let words = Signal::derive(move || chosen.get());

    let client_check = Action::new(move |form: &ProviderForm| check_client_settings(form.clone(), None));
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

    // The field the newest failed report is about, with its fix.
    let fault = Memo::new(move |_| {
        let mode = f.dir_mode.get();
        let latest = match step.get() {
            STEP_CLIENT if !editing => client_check.value().get().and_then(Result::ok),
            STEP_DIRECTORY => directory_check.value().get().and_then(Result::ok),
            _ => save.value().get().and_then(Result::ok).map(|r| r.report),
        };
        latest.and_then(|r| fault_of(&r, &mode))
    });
    let error_for = move |field: &'static str| {
        Signal::derive(move || fault.get().filter(|(id, _)| *id == field).map(|(_, fix)| fix))
    };
    // The same app connected already: Finish needs a confirmation.
    let duplicate = Memo::new(move |_| {
        client_check
            .value()
            .get()
            .and_then(Result::ok)
            .and_then(|r| r.rows.into_iter().find(|c| c.id == "duplicate"))
            .map(|c| c.detail)
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
    // Focus follows the wizard: each new step's heading, so keyboard and screen reader users
    // start where the page now asks something.
    let headings = [NodeRef::<leptos::html::H2>::new(); 3];
    Effect::new(move |previous: Option<u8>| {
        let now = step.get();
        if previous.is_some_and(|p| p != now) {
            let index = match now {
                STEP_CLIENT => Some(0),
                STEP_DIRECTORY => Some(1),
                STEP_FINISH => Some(2),
                _ => None,
            };
            if let Some(h) = index.and_then(|i| headings[i].get()) {
                let _ = h.focus();
            }
        }
        now
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
            Ok(report) => view! { <div class="mt-4"><ReportView report focus_problem=true /></div> }.into_any(),
            Err(e) => view! { <div class="mt-4"><ErrorNote message=error_text(&e) /></div> }.into_any(),
        })
    };
    let heading = "text-lg font-semibold focus:outline-none";

    view! {
        <noscript>
            <p class="mb-4 rounded-md border border-amber-200 bg-amber-50 p-3 text-sm text-amber-900">
                "The Connect wizard runs its checks step by step and needs JavaScript."
            </p>
        </noscript>
        <Show when=move || !editing>
            <ol class="mb-6 flex flex-wrap gap-2 text-sm" aria-label="Steps">
                <StepLabel number=1 of=STEP_CLIENT label="Client settings" step />
                <Show when=okta>
                    <StepLabel number=2 of=STEP_DIRECTORY label="Directory synchronization" step />
                </Show>
                {move || {
                    let number = if okta() { 3 } else { 2 };
                    view! { <StepLabel number of=STEP_FINISH label="Finish" step /> }
                }}
            </ol>
        </Show>

        // Step 1 (and, when editing, the whole form).
        <Show when=move || editing || step.get() == STEP_CLIENT>
            <form class="space-y-5 rounded-lg border border-slate-200 bg-white p-5" on:submit=move |ev| {
                if editing { finish(ev) } else { continue_client(ev) }
            }>
                <h2 class=heading tabindex="-1" node_ref=headings[0]>"Client settings"</h2>
                <Show when=move || !okta() && !editing>
                    <PresetPicker chosen f />
                </Show>
                {
                    let info = info.clone();
                    move || {
                        info.clone().map(|i| {
                            let intro = if okta() {
                                "In Okta: Applications → Create App Integration → OIDC, Web Application. Register these URIs:"
                            } else {
                                words.get().register
                            };
                            view! { <RedirectUris redirect=i.redirect_uri sign_out=i.sign_out_redirect_uri intro /> }
                        })
                    }
                }
                <TextField label="Name" id="name" value=f.name help="How admins and people signing in see this provider." />
                {move || {
                    let w = words.get();
                    let (placeholder, base_help, id_help) = if okta() {
                        (
                            "https://dev-123456.okta.com",
                            "Your Okta org's URL. Spaces, a trailing slash, a pasted discovery URL or the -admin address are corrected.",
                            "From the app's General tab in Okta.",
                        )
                    } else {
                        (w.base_url_placeholder, w.base_url_help, w.client_id_help)
                    };
                    view! {
                        <TextField label="Base URL" id="base-url" value=f.base_url placeholder=placeholder help=base_help error=error_for("base-url") />
                        <TextField label="Client ID" id="client-id" value=f.client_id help=id_help />
                    }
                }}
                {move || {
                    let help = if okta() { "From the app's General tab in Okta: Client Credentials." } else { words.get().client_secret_help };
                    view! { <SecretField label="Client secret" id="client-secret" value=f.client_secret set=client_secret_set help error=error_for("client-secret") /> }
                }}
                <Show when=okta>
                    <TextField
                        label="Authorization server"
                        id="auth-server"
                        value=f.auth_server
                        help="Org (issuer = the org URL), or a custom authorization server ID such as default."
                    />
                </Show>
                {move || {
                    let (scopes_help, groups_help) = if okta() {
                        ("Space-separated. groups puts the user's Okta groups in the ID token.", "The ID token claim that carries the groups.")
                    } else {
                        ("Space-separated. openid is required; profile and email give the name and address.", words.get().groups_help)
                    };
                    view! {
                        <TextField label="Scopes" id="scopes" value=f.scopes help=scopes_help error=error_for("scopes") />
                        <TextField label="Groups claim" id="groups-claim" value=f.groups_claim help=groups_help error=error_for("groups-claim") />
                    }
                }}
                <label class="flex items-center gap-2 text-sm font-medium text-slate-700">
                    <input type="checkbox" bind:checked=f.pkce class="h-4 w-4 rounded border-slate-300" />
                    "PKCE"
                    <span class="font-normal text-slate-600">"(S256; recommended)"</span>
                </label>
                <label class="flex items-start gap-2 text-sm font-medium text-slate-700">
                    <input type="checkbox" bind:checked=f.asserts_verified_email class="mt-0.5 h-4 w-4 rounded border-slate-300" />
                    <span>
                        "Emails from this provider are verified"
                        <span class="block font-normal text-slate-600">
                            "Email rules and account linking trust its addresses even without an email_verified claim. Leave off for providers where people choose their own address. Admin only."
                        </span>
                    </span>
                </label>

                <Show when=move || editing && okta()>
                    <DirectoryFields f directory_secret_set error=Signal::derive(move || fault.get().filter(|(id, _)| id.starts_with("dir") || *id == "api-token").map(|(_, fix)| fix)) />
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
        // Step 1's report in full while it is the step; afterwards folded (its passed checks in
        // one line), so the next step's questions and errors stay near the top.
        <Show when=move || !editing && step.get() < STEP_DONE>
            <div data-testid="client-report">{move || show_report(client_check.value().get())}</div>
        </Show>

        // Step 2: directory synchronization (Okta).
        <Show when=move || !editing && step.get() == STEP_DIRECTORY>
            <form class="space-y-5 rounded-lg border border-slate-200 bg-white p-5" on:submit=continue_directory>
                <h2 class=heading tabindex="-1" node_ref=headings[1]>"Directory synchronization"</h2>
                <p class="text-sm text-slate-600">
                    "Keeps a current copy of your Okta users, groups and memberships, so policies can use groups before anyone signs in. Needs an API service app (recommended: Public key / Private key, scopes okta.users.read and okta.groups.read, an admin role such as Read-only Administrator) or an API token."
                </p>
                <DirectoryFields f directory_secret_set=false error=Signal::derive(move || fault.get().map(|(_, fix)| fix)) />
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

        // The last step: finish.
        <Show when=move || !editing && step.get() == STEP_FINISH>
            <form class="space-y-4 rounded-lg border border-slate-200 bg-white p-5" on:submit=finish>
                <h2 class=heading tabindex="-1" node_ref=headings[2]>"Finish"</h2>
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
                {move || duplicate.get().map(|detail| view! {
                    <div class="rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900" data-testid="duplicate-warning">
                        <p>{detail}</p>
                        <label class="mt-2 flex items-center gap-2 font-medium">
                            <input type="checkbox" bind:checked=f.connect_again class="h-4 w-4 rounded border-amber-400" />
                            "Connect this app a second time"
                        </label>
                    </div>
                })}
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
                                        <a href="/settings/identity-providers" class="link">"Back to identity providers"</a>
                                        ": the provider is listed with Test connection."
                                    </li>
                                    <li>
                                        <a href="/directory" class="link">"Directory"</a>
                                        ": the groups found are stored."
                                    </li>
                                    <li>
                                        <a href="/policies" class="link">"Policies"</a>
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
                                <ReportView report=r.report focus_problem=!r.saved />
                            </section>
                        }
                            .into_any()
                    }
                    Err(e) => view! { <div class="mt-4"><ErrorNote message=error_text(&e) /></div> }.into_any(),
                })
        }}
    }
}

/// The generic wizard's "Provider": presets say where each value is found.
#[component]
fn PresetPicker(chosen: RwSignal<Preset>, f: Fields) -> impl IntoView {
    view! {
        <div>
            <label for="preset" class="field-label">"Provider"</label>
            <select
                id="preset"
                class="field-input"
                aria-describedby="preset-help"
                on:change=move |ev| {
                    let before = chosen.get_untracked();
                    let next = preset(&event_target_value(&ev));
                    // Defaults follow the preset until the admin types their own.
                    if f.scopes.get_untracked() == before.scopes {
                        f.scopes.set(next.scopes.into());
                    }
                    if f.groups_claim.get_untracked() == before.groups_claim {
                        f.groups_claim.set(next.groups_claim.into());
                    }
                    let name = f.name.get_untracked();
                    if name.is_empty() || name == before.label {
                        f.name.set(if next.key == "other" { String::new() } else { next.label.into() });
                    }
                    chosen.set(next);
                }
            >
                {PRESETS
                    .iter()
                    .map(|p| view! { <option value=p.key selected=move || chosen.get().key == p.key>{p.label}</option> })
                    .collect_view()}
            </select>
            <p id="preset-help" class="mt-1 text-xs text-slate-600">
                "Where your provider keeps each value; the fields below say where to look."
            </p>
        </div>
    }
}

/// A step in the strip: `number` as shown (a generic provider has no directory step), `of` the
/// wizard's step it stands for.
#[component]
pub(crate) fn StepLabel(number: u8, of: u8, label: &'static str, step: RwSignal<u8>) -> impl IntoView {
    let class = move || {
        let s = step.get();
        if s == of {
            "rounded-full bg-indigo-700 px-3 py-1 font-medium text-white"
        } else if s > of {
            "rounded-full bg-indigo-100 px-3 py-1 text-indigo-900"
        } else {
            "rounded-full bg-slate-100 px-3 py-1 text-slate-700"
        }
    };
    view! {
        <li class=class aria-current=move || (step.get() == of).then_some("step")>
            {format!("{number}. {label}")}
        </li>
    }
}

#[component]
pub(crate) fn DirectoryFields(
    f: Fields,
    directory_secret_set: bool,
    /// The last directory check's failure, shown at the credential it is about.
    #[prop(optional, into)]
    error: MaybeProp<String>,
) -> impl IntoView {
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
                    fallback=move || view! { <SecretField label="API token" id="api-token" value=f.dir_api_token set=directory_secret_set error=error /> }
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
                        error=error
                        help="The private key as the JWK JSON Okta shows after Generate new key, or a PEM. RSA or EC P-256. DPoP is handled for you."
                    />
                </Show>
            </Show>
        </fieldset>
    }
}

/// What to register at the provider, with copy buttons.
#[component]
pub(crate) fn RedirectUris(redirect: String, sign_out: String, intro: &'static str) -> impl IntoView {
    view! {
        <div class="rounded-md border border-indigo-100 bg-indigo-50 p-3 text-sm">
            <p class="text-indigo-900">{intro}</p>
            <dl class="mt-2 space-y-2">
                <CopyRow label="Sign-in redirect URI" value=redirect />
                <CopyRow label="Sign-out redirect URI" value=sign_out />
            </dl>
        </div>
    }
}
