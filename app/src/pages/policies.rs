//! The policy builder: `/policies` (applications), `/policies/new` (a new application) and
//! `/policies/apps/{id}` (hosts, session duration, the ordered policies, export and import).
//! The policy editor is in `policy_editor`, Test a user in `policy_test`.

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::error_text;
use crate::{
    api::policies::{
        application_page, create_application, delete_application, export_policies, import_policies, list_applications,
        move_policy, reorder_policies, update_application, AppForm, AppPage, AppSummary, HostForm, PolicyItem,
        SelectorItem,
    },
    layout::{loading, DataTable, EmptyState, ErrorNote, PageHeader},
};

pub(crate) const BUTTON: &str = "inline-block rounded-md border border-slate-300 bg-white px-3 py-1.5 text-sm font-medium text-slate-800 hover:bg-slate-100 disabled:cursor-not-allowed disabled:opacity-40";
pub(crate) const PRIMARY: &str = "inline-block rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 disabled:opacity-50";
pub(crate) const DANGER: &str = "rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-medium text-red-700 hover:bg-red-50 disabled:opacity-50";
pub(crate) const INPUT: &str = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200 disabled:bg-slate-50";
pub(crate) const LABEL: &str = "block text-sm font-medium text-slate-700";
pub(crate) const LINK: &str = "font-medium text-indigo-700 underline";

/// "24 hours", "90 minutes", "7 days".
pub(crate) fn duration_label(minutes: u32) -> String {
    let plural = |n: u32, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if minutes.is_multiple_of(1440) {
        plural(minutes / 1440, "day")
    } else if minutes.is_multiple_of(60) {
        plural(minutes / 60, "hour")
    } else {
        plural(minutes, "minute")
    }
}

/// (label, badge classes) of a policy action.
pub(crate) fn action_badge(action: &str) -> (&'static str, &'static str) {
    match action {
        "allow" => ("Allow", "bg-green-100 text-green-800"),
        "block" => ("Block", "bg-red-100 text-red-800"),
        "bypass" => ("Bypass", "bg-amber-100 text-amber-900"),
        _ => ("Unknown", "bg-slate-100 text-slate-700"),
    }
}

/// `/policies`
#[component]
pub fn Policies() -> impl IntoView {
    let list = Resource::new(|| (), |_| list_applications());
    view! {
        <PageHeader
            title="Policies"
            intro="Applications and the ordered Allow, Block and Bypass policies that decide who may reach them. Rules are built from the synchronized directory: groups are kept by their provider ID, so renaming a group in Okta keeps its policies."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match list.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(list) => view! { <ApplicationList apps=list.apps can_edit=list.can_edit /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn ApplicationList(apps: Vec<AppSummary>, can_edit: bool) -> impl IntoView {
    let empty = apps.is_empty();
    view! {
        <div class="mb-4 flex flex-wrap gap-2">
            <Show when=move || can_edit>
                <a href="/policies/new" class=PRIMARY>"New application"</a>
            </Show>
            <a href="/policies/test" class=BUTTON>"Test a user"</a>
        </div>
        {if empty {
            view! {
                <EmptyState title="No applications yet">
                    <p>
                        "An application is a site behind Portcullis: its hostnames (and optional path prefixes), how long a sign-in lasts, and the policies that decide who gets in. Policies are built from the directory's groups and people, with a live preview of who they match."
                    </p>
                    <p>
                        "The directory comes from an "
                        <a href="/settings/identity-providers" class=LINK>"identity provider"</a>
                        " whose groups are synchronized in the "
                        <a href="/directory" class=LINK>"Directory"</a>
                        "."
                    </p>
                </EmptyState>
            }
                .into_any()
        } else {
            view! {
                <DataTable headers=&["Application", "Hostnames", "Session duration", "Policies"] testid="application-list">
                    {apps
                        .into_iter()
                        .map(|a| {
                            let hosts = a.host_labels().join(", ");
                            view! {
                                <tr data-application=a.name.clone()>
                                    <td class="px-4 py-2">
                                        <a href=format!("/policies/apps/{}", a.id) class="font-medium text-indigo-700 hover:underline">
                                            {a.name.clone()}
                                        </a>
                                    </td>
                                    <td class="px-4 py-2 font-mono text-xs">{hosts}</td>
                                    <td class="px-4 py-2">{duration_label(a.session_duration_minutes)}</td>
                                    <td class="px-4 py-2" data-testid="policy-count">{a.policy_count}</td>
                                </tr>
                            }
                        })
                        .collect_view()}
                </DataTable>
            }
                .into_any()
        }}
        <Show when=move || can_edit>
            <ImportPanel application_id=None />
        </Show>
    }
}

/// `/policies/new`
#[component]
pub fn NewApplication() -> impl IntoView {
    let navigate = use_navigate();
    let on_saved = Callback::new(move |id: String| navigate(&format!("/policies/apps/{id}"), Default::default()));
    let initial =
        AppForm { name: String::new(), hosts: vec![HostForm::default()], session_duration_minutes: "1440".into() };
    view! {
        <p class="mb-2 text-sm"><a href="/policies" class=LINK>"← Policies"</a></p>
        <PageHeader
            title="New application"
            intro="The site Portcullis protects: the hostnames it answers on, and how long a sign-in lasts before people sign in again. Add its policies next."
        />
        <ApplicationForm initial edit_id=None submit_label="Create application" on_saved />
    }
}

#[derive(Clone, Copy)]
struct HostRow {
    key: u32,
    hostname: RwSignal<String>,
    prefix: RwSignal<String>,
}

/// Name, hostnames with optional path prefixes, session duration; creates or updates.
#[component]
fn ApplicationForm(
    initial: AppForm,
    edit_id: Option<String>,
    submit_label: &'static str,
    on_saved: Callback<String>,
) -> impl IntoView {
    let name = RwSignal::new(initial.name.clone());
    let minutes = RwSignal::new(initial.session_duration_minutes.clone());
    let next_key = StoredValue::new(0u32);
    let new_row = move |h: HostForm| {
        let key = next_key.get_value();
        next_key.set_value(key + 1);
        HostRow {
            key,
            hostname: RwSignal::new(h.hostname),
            prefix: RwSignal::new(if h.path_prefix == "/" { String::new() } else { h.path_prefix }),
        }
    };
    let hosts = RwSignal::new(initial.hosts.iter().cloned().map(new_row).collect::<Vec<_>>());
    let error = RwSignal::new(None::<String>);
    let saved = RwSignal::new(false);
    let save = Action::new({
        let edit_id = edit_id.clone();
        move |form: &AppForm| {
            let (form, edit_id) = (form.clone(), edit_id.clone());
            async move {
                match edit_id {
                    Some(id) => update_application(id.clone(), form).await.map(|()| id),
                    None => create_application(form).await,
                }
            }
        }
    });
    Effect::new(move |_| match save.value().get() {
        Some(Ok(id)) => {
            error.set(None);
            saved.set(true);
            on_saved.run(id);
        }
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        saved.set(false);
        error.set(None);
        let form = AppForm {
            name: name.get_untracked(),
            hosts: hosts
                .get_untracked()
                .iter()
                .map(|h| HostForm { hostname: h.hostname.get_untracked(), path_prefix: h.prefix.get_untracked() })
                .collect(),
            session_duration_minutes: minutes.get_untracked(),
        };
        save.dispatch(form);
    };
    let hours = move || minutes.get().trim().parse::<u32>().ok().filter(|m| *m > 0).map(duration_label);
    view! {
        <form class="max-w-3xl space-y-5 rounded-lg border border-slate-200 bg-white p-5" on:submit=submit data-testid="application-form">
            <label class=LABEL>
                "Name"
                <input
                    class=INPUT
                    required
                    maxlength="100"
                    placeholder="Team wiki"
                    value=initial.name.clone()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
            </label>
            <fieldset>
                <legend class="text-sm font-medium text-slate-700">"Hostnames"</legend>
                <p class="mb-2 text-xs text-slate-500">
                    "Exact names like wiki.example.com, or *.example.com for one level of sub-domains. A path prefix such as /admin limits the application to that part of the site; leave it empty for every path."
                </p>
                <ul class="space-y-2">
                    <For each=move || hosts.get() key=|h| h.key let:row>
                        {
                            let number = move || hosts.with(|l| l.iter().position(|h| h.key == row.key).map(|i| i + 1).unwrap_or(0));
                            view! {
                                <li class="flex flex-wrap items-center gap-2" data-testid="host-row">
                                    <input
                                        class="min-w-0 flex-1 rounded-md border border-slate-300 px-3 py-2 font-mono text-sm"
                                        placeholder="wiki.example.com"
                                        aria-label=move || format!("Hostname {}", number())
                                        value=row.hostname.get_untracked()
                                        on:input=move |ev| row.hostname.set(event_target_value(&ev))
                                    />
                                    <input
                                        class="w-40 rounded-md border border-slate-300 px-3 py-2 font-mono text-sm"
                                        placeholder="/ (every path)"
                                        aria-label=move || format!("Path prefix {}", number())
                                        value=row.prefix.get_untracked()
                                        on:input=move |ev| row.prefix.set(event_target_value(&ev))
                                    />
                                    <button
                                        type="button"
                                        class=BUTTON
                                        aria-label=move || format!("Remove hostname {}", number())
                                        disabled=move || hosts.with(|l| l.len() <= 1)
                                        on:click=move |_| hosts.update(|l| l.retain(|h| h.key != row.key))
                                    >
                                        "Remove"
                                    </button>
                                </li>
                            }
                        }
                    </For>
                </ul>
                <button type="button" class=format!("{BUTTON} mt-2") on:click=move |_| hosts.update(|l| l.push(new_row(HostForm::default())))>
                    "Add hostname"
                </button>
            </fieldset>
            <label class=LABEL>
                "Session duration (minutes)"
                <input
                    class=format!("{INPUT} max-w-40")
                    type="number"
                    min="5"
                    max="43200"
                    required
                    value=initial.session_duration_minutes.clone()
                    on:input=move |ev| minutes.set(event_target_value(&ev))
                />
                <span class="mt-1 block text-xs font-normal text-slate-500">
                    "How long a sign-in lasts before people sign in again: 5 minutes to 30 days. "
                    {move || hours().map(|h| format!("Now: {h}."))}
                </span>
            </label>
            {move || error.get().map(|m| view! { <ErrorNote message=m /> })}
            <Show when=move || saved.get() && edit_id.is_some()>
                <p role="status" class="text-sm text-green-800">"Saved."</p>
            </Show>
            <button type="submit" class=PRIMARY disabled=move || save.pending().get()>{submit_label}</button>
        </form>
    }
}

/// `/policies/apps/{id}`
#[component]
pub fn ApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let version = RwSignal::new(0u32);
    let page = Resource::new(move || (id(), version.get()), |(id, _)| application_page(id));
    let reload = Callback::new(move |()| version.update(|v| *v += 1));
    // Outlives the reload that follows an import.
    let import_message = RwSignal::new(None::<Result<String, String>>);
    view! {
        <p class="mb-2 text-sm"><a href="/policies" class=LINK>"← Policies"</a></p>
        <Transition fallback=loading>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <PageHeader title="Application" /> <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(p) => view! { <ApplicationView page=p reload import_message /> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn ApplicationView(
    page: AppPage,
    reload: Callback<()>,
    import_message: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let AppPage { app, policies, can_edit } = page;
    let app_id = StoredValue::new(app.id.clone());
    let editing = RwSignal::new(false);
    let navigate = use_navigate();
    let on_saved = Callback::new(move |_id: String| {
        editing.set(false);
        reload.run(());
    });
    let delete_confirm = RwSignal::new(false);
    let delete = Action::new(move |id: &String| delete_application(id.clone()));
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => navigate("/policies", Default::default()),
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });
    let form = AppForm {
        name: app.name.clone(),
        hosts: app.hosts.clone(),
        session_duration_minutes: app.session_duration_minutes.to_string(),
    };
    let hosts = app.host_labels().join(", ");
    let title = app.name.clone();
    view! {
        <leptos_meta::Title text=title.clone() />
        <div class="mb-6 flex flex-col gap-3 sm:flex-row sm:items-start sm:justify-between">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight">{title.clone()}</h1>
                <p class="mt-1 text-sm text-slate-600" data-testid="application-summary">
                    <span class="font-mono text-xs">{hosts}</span>
                    {format!(" · sessions last {}", duration_label(app.session_duration_minutes))}
                </p>
            </div>
            <div class="flex flex-wrap gap-2">
                <Show when=move || can_edit>
                    <button type="button" class=BUTTON on:click=move |_| editing.update(|e| *e = !*e)>"Edit application"</button>
                </Show>
                <a href=format!("/policies/test?app={}", app.id) class=BUTTON>"Test a user"</a>
            </div>
        </div>
        <Show when=move || editing.get()>
            <section class="mb-8" aria-label="Application settings">
                <ApplicationForm initial=form.clone() edit_id=Some(app_id.get_value()) submit_label="Save application" on_saved />
                <div class="mt-3 flex flex-wrap items-center gap-2">
                    <Show
                        when=move || delete_confirm.get()
                        fallback=move || view! {
                            <button type="button" class=DANGER on:click=move |_| delete_confirm.set(true)>"Delete application"</button>
                        }
                    >
                        {
                            view! {
                                <span class="text-sm text-slate-700">"Delete the application and all its policies?"</span>
                                <button type="button" class=DANGER on:click=move |_| { delete.dispatch(app_id.get_value()); }>
                                    "Yes, delete it"
                                </button>
                                <button type="button" class=BUTTON on:click=move |_| delete_confirm.set(false)>"Keep it"</button>
                            }
                        }
                    </Show>
                </div>
                {move || error.get().map(|m| view! { <div class="mt-3"><ErrorNote message=m /></div> })}
            </section>
        </Show>
        <PolicyList app_id=app.id.clone() policies can_edit reload />
        <ExportPanel application_id=app.id.clone() />
        <Show when=move || can_edit>
            <ImportPanel application_id=Some(app_id.get_value()) on_done=reload message=import_message />
        </Show>
    }
}

/// "Group Engineering, Email ann@example.com"
pub(crate) fn selector_list(items: &[SelectorItem]) -> String {
    items
        .iter()
        .map(|s| match s.kind.as_str() {
            "Everyone" => "Everyone".to_string(),
            kind => format!("{} {}{}", kind, s.label, if s.missing { " (missing)" } else { "" }),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

#[component]
fn PolicyList(app_id: String, policies: Vec<PolicyItem>, can_edit: bool, reload: Callback<()>) -> impl IntoView {
    let error = RwSignal::new(None::<String>);
    let moving = Action::new(move |(id, up): &(String, bool)| move_policy(id.clone(), *up));
    let reorder = Action::new({
        let app_id = app_id.clone();
        move |ids: &Vec<String>| reorder_policies(app_id.clone(), ids.clone())
    });
    Effect::new(move |_| {
        for result in [moving.value().get(), reorder.value().get()].into_iter().flatten() {
            match result {
                Ok(()) => reload.run(()),
                Err(e) => error.set(Some(error_text(&e))),
            }
        }
    });
    let busy = move || moving.pending().get() || reorder.pending().get();
    let ids: Vec<String> = policies.iter().map(|p| p.id.clone()).collect();
    let dragging = RwSignal::new(None::<String>);
    let drop_on = {
        let ids = ids.clone();
        move |target: String| {
            let Some(dragged) = dragging.get_untracked() else { return };
            dragging.set(None);
            if dragged == target {
                return;
            }
            let mut order: Vec<String> = ids.iter().filter(|i| **i != dragged).cloned().collect();
            let from = ids.iter().position(|i| *i == dragged).unwrap_or(0);
            let to = ids.iter().position(|i| *i == target).unwrap_or(0);
            // Dropped on a row below: after it; above: before it.
            let at = order
                .iter()
                .position(|i| *i == target)
                .map(|p| if from < to { p + 1 } else { p })
                .unwrap_or(order.len());
            order.insert(at, dragged);
            reorder.dispatch(order);
        }
    };
    let count = policies.len();
    let new_href = format!("/policies/apps/{app_id}/policies/new");
    view! {
        <section aria-labelledby="policies-heading" class="mb-8">
            <div class="mb-2 flex flex-wrap items-end justify-between gap-2">
                <div>
                    <h2 id="policies-heading" class="text-lg font-semibold">"Policies"</h2>
                    <p class="max-w-3xl text-sm text-slate-600">
                        "Bypass and Block policies are checked first, then Allow policies, each in the order below; the first policy that matches decides. When none matches, the request is blocked."
                    </p>
                </div>
                <Show when=move || can_edit>
                    <a href=new_href.clone() class=PRIMARY>"Add policy"</a>
                </Show>
            </div>
            {move || error.get().map(|m| view! { <div class="mb-3"><ErrorNote message=m /></div> })}
            {if policies.is_empty() {
                view! {
                    <p class="rounded-lg border border-dashed border-slate-300 bg-white p-6 text-sm text-slate-600" data-testid="no-policies">
                        "No policies yet: everyone is blocked until an Allow policy matches them."
                    </p>
                }
                    .into_any()
            } else {
                view! {
                    <DataTable headers=&["#", "Policy", "Action", "Rules", "Order"] testid="policy-list">
                        {policies
                            .into_iter()
                            .enumerate()
                            .map(|(i, p)| {
                                let (label, class) = action_badge(&p.action);
                                let href = format!("/policies/apps/{app_id}/policies/{}", p.id);
                                let (id_up, id_down, id_drag, id_drop) = (p.id.clone(), p.id.clone(), p.id.clone(), p.id.clone());
                                let drop_on = drop_on.clone();
                                view! {
                                    <tr
                                        data-testid="policy-row"
                                        data-policy=p.name.clone()
                                        draggable=if can_edit { "true" } else { "false" }
                                        class=move || if dragging.get().is_some() { "cursor-move" } else { "" }
                                        on:dragstart=move |ev| {
                                            mark_drag(&ev);
                                            dragging.set(Some(id_drag.clone()));
                                        }
                                        on:dragover=move |ev| {
                                            if dragging.get_untracked().is_some() {
                                                ev.prevent_default();
                                            }
                                        }
                                        on:drop=move |ev| {
                                            ev.prevent_default();
                                            drop_on(id_drop.clone());
                                        }
                                        on:dragend=move |_| dragging.set(None)
                                    >
                                        <td class="px-4 py-2 text-slate-500" data-testid="policy-number">{p.number}</td>
                                        <td class="px-4 py-2">
                                            <a href=href class="font-medium text-indigo-700 hover:underline">{p.name.clone()}</a>
                                            {(!p.enabled).then(|| view! { <span class="ml-2 rounded bg-slate-200 px-1.5 py-0.5 text-xs">"Disabled"</span> })}
                                        </td>
                                        <td class="px-4 py-2">
                                            <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {class}") data-testid="policy-action">{label}</span>
                                        </td>
                                        <td class="px-4 py-2 text-xs text-slate-700" data-testid="policy-rules">
                                            <p>{format!("Include: {}", if p.include.is_empty() { "nothing".into() } else { selector_list(&p.include) })}</p>
                                            {(!p.require.is_empty()).then(|| view! { <p>{format!("Require: {}", selector_list(&p.require))}</p> })}
                                            {(!p.exclude.is_empty()).then(|| view! { <p>{format!("Exclude: {}", selector_list(&p.exclude))}</p> })}
                                        </td>
                                        <td class="whitespace-nowrap px-4 py-2">
                                            <Show when=move || can_edit>
                                                <div class="flex gap-1">
                                                    <button
                                                        type="button"
                                                        class=BUTTON
                                                        disabled=move || i == 0 || busy()
                                                        on:click={
                                                            let id = id_up.clone();
                                                            move |_| {
                                                                error.set(None);
                                                                moving.dispatch((id.clone(), true));
                                                            }
                                                        }
                                                    >
                                                        "Move up"
                                                    </button>
                                                    <button
                                                        type="button"
                                                        class=BUTTON
                                                        disabled=move || i + 1 == count || busy()
                                                        on:click={
                                                            let id = id_down.clone();
                                                            move |_| {
                                                                error.set(None);
                                                                moving.dispatch((id.clone(), false));
                                                            }
                                                        }
                                                    >
                                                        "Move down"
                                                    </button>
                                                </div>
                                            </Show>
                                        </td>
                                    </tr>
                                }
                            })
                            .collect_view()}
                    </DataTable>
                    <Show when=move || can_edit>
                        <p class="mt-2 text-xs text-slate-500">"Drag a row, or use Move up and Move down, to change the order."</p>
                    </Show>
                }
                    .into_any()
            }}
        </section>
    }
}

/// Firefox starts a drag only with data set on it.
#[cfg(feature = "hydrate")]
fn mark_drag(ev: &leptos::ev::DragEvent) {
    use wasm_bindgen::JsCast;
    if let Some(dt) = ev.unchecked_ref::<drag::WithData>().data_transfer() {
        dt.set_data("text/plain", "policy");
    }
}

#[cfg(not(feature = "hydrate"))]
fn mark_drag(_ev: &leptos::ev::DragEvent) {}

#[cfg(feature = "hydrate")]
mod drag {
    use wasm_bindgen::prelude::*;

    #[wasm_bindgen]
    extern "C" {
        pub type WithData;
        #[wasm_bindgen(method, getter, js_name = dataTransfer)]
        pub fn data_transfer(this: &WithData) -> Option<Transfer>;
        pub type Transfer;
        #[wasm_bindgen(method, js_name = setData)]
        pub fn set_data(this: &Transfer, format: &str, data: &str);
    }
}

/// "Export JSON": the document, shown and downloadable.
#[component]
fn ExportPanel(application_id: String) -> impl IntoView {
    let export = Action::new(move |id: &String| export_policies(id.clone()));
    view! {
        <section aria-labelledby="export-heading" class="mb-6 rounded-lg border border-slate-200 bg-white p-4">
            <div class="flex flex-wrap items-center justify-between gap-2">
                <div>
                    <h2 id="export-heading" class="font-medium">"Export"</h2>
                    <p class="text-sm text-slate-600">
                        "The application and its policies as a versioned JSON document, to keep in version control or import elsewhere."
                    </p>
                </div>
                <button
                    type="button"
                    class=BUTTON
                    disabled=move || export.pending().get()
                    on:click={
                        let id = application_id.clone();
                        move |_| {
                            export.dispatch(id.clone());
                        }
                    }
                >
                    "Export JSON"
                </button>
            </div>
            {move || {
                export
                    .value()
                    .get()
                    .map(|r| match r {
                        Err(e) => view! { <div class="mt-3"><ErrorNote message=error_text(&e) /></div> }.into_any(),
                        Ok(doc) => {
                            let href = format!("data:application/json;charset=utf-8,{}", percent_encode(&doc.json));
                            view! {
                                <div class="mt-3 space-y-2">
                                    <textarea
                                        readonly
                                        rows="14"
                                        aria-label="Exported policies (JSON)"
                                        class="block w-full rounded-md border border-slate-300 bg-slate-50 p-2 font-mono text-xs"
                                        data-testid="export-json"
                                        prop:value=doc.json.clone()
                                    >
                                        {doc.json.clone()}
                                    </textarea>
                                    <a href=href download=doc.file_name.clone() class=BUTTON>
                                        {format!("Download {}", doc.file_name)}
                                    </a>
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </section>
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// "Import JSON": into this application (replace or append), or as a new application.
#[component]
fn ImportPanel(
    application_id: Option<String>,
    #[prop(optional)] on_done: Option<Callback<()>>,
    #[prop(optional)] message: Option<RwSignal<Option<Result<String, String>>>>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let replace = RwSignal::new(true);
    let into_existing = application_id.is_some();
    let navigate = use_navigate();
    let import = Action::new({
        let application_id = application_id.clone();
        move |(doc, replace): &(String, bool)| import_policies(application_id.clone(), doc.clone(), *replace)
    });
    let message = message.unwrap_or_else(|| RwSignal::new(None));
    Effect::new(move |_| match import.value().get() {
        Some(Ok(r)) => {
            text.set(String::new());
            if r.created_application {
                navigate(&format!("/policies/apps/{}", r.application_id), Default::default());
            } else {
                let replaced = if r.replaced > 0 { format!(", replacing {}", r.replaced) } else { String::new() };
                message.set(Some(Ok(format!("Imported {} policies{replaced}.", r.imported))));
                if let Some(done) = on_done {
                    done.run(());
                }
            }
        }
        Some(Err(e)) => message.set(Some(Err(error_text(&e)))),
        None => {}
    });
    let (title, intro) = if into_existing {
        ("Import", "Policies from an exported JSON document. The whole document is checked first: a document with a mistake changes nothing.")
    } else {
        ("Import an application", "A new application with its policies, from an exported JSON document (it needs the export's application section).")
    };
    view! {
        <section aria-labelledby="import-heading" class="mt-6 rounded-lg border border-slate-200 bg-white p-4">
            <div class="flex flex-wrap items-center justify-between gap-2">
                <div>
                    <h2 id="import-heading" class="font-medium">{title}</h2>
                    <p class="text-sm text-slate-600">{intro}</p>
                </div>
                <button type="button" class=BUTTON aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                    "Import JSON"
                </button>
            </div>
            {move || message.get().map(|m| match m {
                Ok(t) => view! { <p role="status" class="mt-3 text-sm text-green-800" data-testid="import-result">{t}</p> }.into_any(),
                Err(t) => view! { <div class="mt-3"><ErrorNote message=t /></div> }.into_any(),
            })}
            <Show when=move || open.get()>
                <form
                    class="mt-3 space-y-3"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        message.set(None);
                        import.dispatch((text.get_untracked(), replace.get_untracked()));
                    }
                >
                    <label class=LABEL>
                        "Policy document (JSON)"
                        <textarea
                            rows="10"
                            class=format!("{INPUT} font-mono text-xs")
                            placeholder="{\"format\": \"portcullis.policies\", \"version\": 1, …}"
                            prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev))
                        ></textarea>
                    </label>
                    <Show when=move || into_existing>
                        <fieldset class="space-y-1 text-sm">
                            <legend class="font-medium text-slate-700">"The application's current policies"</legend>
                            <label class="flex items-center gap-2">
                                <input type="radio" name="import-mode" prop:checked=move || replace.get() on:change=move |_| replace.set(true) />
                                "Replace them with the document's"
                            </label>
                            <label class="flex items-center gap-2">
                                <input type="radio" name="import-mode" prop:checked=move || !replace.get() on:change=move |_| replace.set(false) />
                                "Keep them, and add the document's after them"
                            </label>
                        </fieldset>
                    </Show>
                    <button type="submit" class=PRIMARY disabled=move || import.pending().get()>
                        {if into_existing { "Import policies" } else { "Import as new application" }}
                    </button>
                </form>
            </Show>
        </section>
    }
}
