//! `/policies/new` and `/policies/apps/:id`: an application, its hostnames and its ordered policies.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::components::{go_to, refresher};
use crate::pages::error_text;
use crate::{
    api::policies::{
        application_page, create_application, delete_application, move_policy, reorder_policies, update_application,
        AppForm, AppPage, HostForm, PolicyItem, SelectorItem,
    },
    layout::{loading, DataTable, ErrorNote, PageHeader},
};

/// `/policies/new`
#[component]
pub fn NewApplication() -> impl IntoView {
    view! {
        <p class="mb-2 text-sm"><a href="/policies" class="link">"← Policies"</a></p>
        <PageHeader
            title="New application"
            intro="The site Portcullis protects: the hostnames it answers on, and how long a sign-in lasts before people sign in again. Add its policies next."
        />
        <NewApplicationForm />
    }
}

/// An application's page, loaded whole: after it is created, or renamed (its name is the
/// document's title).
fn open_application(id: String) {
    go_to(&format!("/policies/apps/{id}"));
}

#[cfg_attr(feature = "islands-applications", island)]
#[cfg_attr(not(feature = "islands-applications"), component)]
fn NewApplicationForm() -> impl IntoView {
    let on_saved = Callback::new(open_application);
    let initial =
        AppForm { name: String::new(), hosts: vec![HostForm::default()], session_duration_minutes: "1440".into() };
    view! { <ApplicationForm initial edit_id=None submit_label="Create application" on_saved /> }
}

#[derive(Clone, Copy)]
pub(crate) struct HostRow {
    key: u32,
    hostname: RwSignal<String>,
    prefix: RwSignal<String>,
}

/// Name, hostnames with optional path prefixes, session duration; creates or updates.
#[component]
pub(crate) fn ApplicationForm(
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
            <label class="field-label">
                "Name"
                <input
                    class="field-input"
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
                                        class="btn"
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
                <button type="button" class="btn mt-2" on:click=move |_| hosts.update(|l| l.push(new_row(HostForm::default())))>
                    "Add hostname"
                </button>
            </fieldset>
            <label class="field-label">
                "Session duration (minutes)"
                <input
                    class="field-input max-w-40"
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
            <button type="submit" class="btn-primary" disabled=move || save.pending().get()>{submit_label}</button>
        </form>
    }
}

/// `/policies/apps/{id}`
#[component]
pub fn ApplicationPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.with(|p| p.get("id").unwrap_or_default());
    let page = Resource::new(id, application_page);
    view! {
        <p class="mb-2 text-sm"><a href="/policies" class="link">"← Policies"</a></p>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match page.await {
                    Err(e) => view! { <PageHeader title="Application" /> <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(page) => {
                        view! {
                            <leptos_meta::Title text=page.app.name.clone() />
                            <Application page />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// The application's page: its settings, ordered policies, proxy snippets, export and import.
#[cfg_attr(feature = "islands-applications", island)]
#[cfg_attr(not(feature = "islands-applications"), component)]
fn Application(page: AppPage) -> impl IntoView {
    let app_id = page.app.id.clone();
    let page = RwSignal::new(page);
    let reload = refresher(page, move || application_page(app_id.clone()));
    let reload = Callback::new(move |()| reload());
    // Outlives the reload that follows an import.
    let import_message = RwSignal::new(None::<Result<String, String>>);
    move || view! { <ApplicationView page=page.get() reload import_message /> }
}

#[component]
pub(crate) fn ApplicationView(
    page: AppPage,
    reload: Callback<()>,
    import_message: RwSignal<Option<Result<String, String>>>,
) -> impl IntoView {
    let AppPage { app, policies, can_edit, snippets } = page;
    let app_id = StoredValue::new(app.id.clone());
    let editing = RwSignal::new(false);
    let on_saved = Callback::new(open_application);
    let delete_confirm = RwSignal::new(false);
    let delete = Action::new(move |id: &String| delete_application(id.clone()));
    let error = RwSignal::new(None::<String>);
    Effect::new(move |_| match delete.value().get() {
        Some(Ok(())) => go_to("/policies"),
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
        <div class="mb-6 flex flex-col gap-3 sm:flex-row sm:items-start sm:justify-between">
            <div>
                <h1 class="text-2xl font-semibold tracking-tight">{title.clone()}</h1>
                <p class="mt-1 text-sm text-slate-600" data-testid="application-summary">
                    <span class="font-mono text-xs">{hosts}</span>
                    {format!(" · sessions last {}", duration_label(app.session_duration_minutes))}
                </p>
                <p class="mt-1 flex flex-wrap items-center gap-2 text-xs text-slate-600">
                    "Application ID"
                    <code class="rounded bg-slate-100 px-1.5 py-0.5" data-testid="application-id">{app.id.clone()}</code>
                    <crate::components::CopyButton what="application ID" text=app.id.clone() />
                </p>
            </div>
            <div class="flex flex-wrap gap-2">
                <Show when=move || can_edit>
                    <button type="button" class="btn" on:click=move |_| editing.update(|e| *e = !*e)>"Edit application"</button>
                </Show>
                <a href=format!("/policies/test?app={}", app.id) class="btn">"Test a user"</a>
            </div>
        </div>
        <Show when=move || editing.get()>
            <section class="mb-8" aria-label="Application settings">
                <ApplicationForm initial=form.clone() edit_id=Some(app_id.get_value()) submit_label="Save application" on_saved />
                <div class="mt-3 flex flex-wrap items-center gap-2">
                    <Show
                        when=move || delete_confirm.get()
                        fallback=move || view! {
                            <button type="button" class="btn-danger" on:click=move |_| delete_confirm.set(true)>"Delete application"</button>
                        }
                    >
                        {
                            view! {
                                <span class="text-sm text-slate-700">"Delete the application and all its policies?"</span>
                                <button type="button" class="btn-danger" on:click=move |_| { delete.dispatch(app_id.get_value()); }>
                                    "Yes, delete it"
                                </button>
                                <button type="button" class="btn" on:click=move |_| delete_confirm.set(false)>"Keep it"</button>
                            }
                        }
                    </Show>
                </div>
                {move || error.get().map(|m| view! { <div class="mt-3"><ErrorNote message=m /></div> })}
            </section>
        </Show>
        <PolicyList app_id=app.id.clone() policies can_edit reload />
        <super::snippets::ProxySnippets snippets />
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
pub(crate) fn PolicyList(
    app_id: String,
    policies: Vec<PolicyItem>,
    can_edit: bool,
    reload: Callback<()>,
) -> impl IntoView {
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
    // The list is built again after a move: the same button of the moved policy gets focus back.
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| refocus::restore());
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
                    <a href=new_href.clone() class="btn-primary">"Add policy"</a>
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
                    <DataTable headers=&["#", "Evaluated", "Policy", "Action", "Rules", "Order"] testid="policy-list">
                        {policies
                            .into_iter()
                            .enumerate()
                            .map(|(i, p)| {
                                let (label, class) = action_badge(&p.action);
                                let href = format!("/policies/apps/{app_id}/policies/{}", p.id);
                                let (id_move, id_drag, id_drop) = (p.id.clone(), p.id.clone(), p.id.clone());
                                let drop_on = drop_on.clone();
                                view! {
                                    <tr
                                        data-testid="policy-row"
                                        data-policy=p.name.clone()
                                        data-policy-id=p.id.clone()
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
                                        <td class="px-4 py-2 text-slate-600" data-testid="policy-number">{p.number}</td>
                                        <td class="px-4 py-2 text-slate-700" data-testid="policy-evaluated">
                                            {format!("{}.", p.evaluated)}
                                            {(p.evaluated != p.number).then(|| view! {
                                                <span class="block text-xs text-slate-600">{if p.action == "allow" { "after Bypass and Block" } else { "before Allow" }}</span>
                                            })}
                                        </td>
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
                                                <div class="flex flex-col gap-1 sm:flex-row">
                                                    {[("up", "Move up", i == 0), ("down", "Move down", i + 1 == count)]
                                                        .into_iter()
                                                        .map(|(direction, label, at_end)| {
                                                            let id = id_move.clone();
                                                            view! {
                                                                <button
                                                                    type="button"
                                                                    class="btn"
                                                                    data-move=direction
                                                                    disabled=move || at_end || busy()
                                                                    on:click=move |_| {
                                                                        error.set(None);
                                                                        #[cfg(feature = "hydrate")]
                                                                        refocus::request(&id, direction);
                                                                        moving.dispatch((id.clone(), direction == "up"));
                                                                    }
                                                                >
                                                                    {label}
                                                                </button>
                                                            }
                                                        })
                                                        .collect_view()}
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

/// Where focus goes back after the list is built again: the moved policy's button, or its
/// other Move button when that one is now disabled (the policy reached an end).
#[cfg(feature = "hydrate")]
mod refocus {
    use std::cell::RefCell;

    use wasm_bindgen::JsCast;

    thread_local! {
        static PENDING: RefCell<Option<(String, &'static str)>> = const { RefCell::new(None) };
    }

    pub(super) fn request(policy_id: &str, direction: &'static str) {
        PENDING.with(|p| *p.borrow_mut() = Some((policy_id.to_string(), direction)));
    }

    pub(super) fn restore() {
        if let Some(pending) = PENDING.with(|p| p.borrow_mut().take()) {
            try_focus(pending, 10);
        }
    }

    /// The new list may not be in the document yet, or may replace the old one a frame later:
    /// keep focus on the button for a few frames.
    fn try_focus((id, direction): (String, &'static str), frames: u8) {
        leptos::prelude::request_animation_frame(move || {
            let document = leptos::prelude::document();
            let other = if direction == "up" { "down" } else { "up" };
            let button = [direction, other].into_iter().find_map(|d| {
                let selector = format!("tr[data-policy-id=\"{id}\"] button[data-move=\"{d}\"]:not([disabled])");
                document.query_selector(&selector).ok().flatten()?.dyn_into::<web_sys::HtmlElement>().ok()
            });
            if let Some(button) = button {
                let focused = document.active_element().is_some_and(|a| a == *button.as_ref());
                if !focused {
                    let _ = button.focus();
                }
            }
            if frames > 0 {
                try_focus((id, direction), frames - 1);
            }
        });
    }
}

/// Firefox starts a drag only with data set on it.
#[cfg(feature = "hydrate")]
pub(crate) fn mark_drag(ev: &leptos::ev::DragEvent) {
    use wasm_bindgen::JsCast;
    if let Some(dt) = ev.unchecked_ref::<drag::WithData>().data_transfer() {
        dt.set_data("text/plain", "policy");
    }
}

#[cfg(not(feature = "hydrate"))]
pub(crate) fn mark_drag(_ev: &leptos::ev::DragEvent) {}

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
