//! `/settings/role-mappings`: groups to console roles, and the break-glass account.

use leptos::prelude::*;

use crate::pages::error_text;
use crate::{
    api::sso::{
        add_role_mapping, remove_role_mapping, role_mappings, set_break_glass, set_mapping_role, AddMappingOutcome,
        RoleMappingsData,
    },
    components::{refresher, InlineConfirm},
    layout::{loading, DataTable, ErrorNote, PageHeader},
};

const ROLES: [(&str, &str, &str); 3] = [
    ("admin", "Admin", "everything, including role mappings"),
    ("editor", "Editor", "configure providers and policies"),
    ("viewer", "Viewer", "read only"),
];

/// "Role" for something new: Admin, Editor or Viewer with what each may do; Viewer first.
#[component]
pub(crate) fn RoleField(role: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="block text-sm font-medium text-slate-700">
            "Role"
            <select class="field-input" on:change=move |ev| role.set(event_target_value(&ev))>
                {ROLES
                    .into_iter()
                    .map(|(value, label, help)| {
                        view! { <option value=value selected=value == "viewer">{format!("{label} — {help}")}</option> }
                    })
                    .collect_view()}
            </select>
        </label>
    }
}

/// `/settings/role-mappings`: which groups grant which console role.
#[component]
pub fn RoleMappingsPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| role_mappings());
    view! {
        <PageHeader
            title="Role mappings"
            intro="People who sign in with an identity provider get the highest role their groups map to, at every sign-in and session refresh. A person whose groups map to no role is refused."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(data) => view! { <RoleMappings data /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The mappings, Add a mapping and Password sign-in: each change is saved at once.
#[cfg_attr(feature = "islands-access", island)]
#[cfg_attr(not(feature = "islands-access"), component)]
fn RoleMappings(data: RoleMappingsData) -> impl IntoView {
    let data = RwSignal::new(data);
    let reload = refresher(data, role_mappings);
    move || view! { <RoleMappingsView data=data.get() on_change=reload /> }
}

#[component]
pub(crate) fn RoleMappingsView(
    data: RoleMappingsData,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
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
                    <DataTable headers=&["Provider", "Group", "Role", "Actions"]>
                        {rows
                            .into_iter()
                            .map(|m| {
                                let (id_change, id_remove) = (m.id.clone(), m.id.clone());
                                let current = m.role.clone();
                                let group = m.group_name.clone();
                                let remove_label = format!("Remove mapping for {}", m.group_name);
                                let confirm_text = format!(
                                    "Remove the mapping for {}? Sessions that may have their role from it end now.",
                                    m.group_name
                                );
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
                                            <InlineConfirm
                                                label="Remove"
                                                aria_label=remove_label
                                                dialog="Confirm removal"
                                                question=confirm_text
                                                confirm="Remove mapping"
                                                enabled=can_edit
                                                on_confirm=move || {
                                                    remove.dispatch(id_remove.clone());
                                                }
                                            />
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
pub(crate) fn AddMapping(data: RoleMappingsData, on_change: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let provider = RwSignal::new(data.providers.first().map(|(id, _)| id.clone()).unwrap_or_default());
    let group = RwSignal::new(String::new());
    let role = RwSignal::new("viewer".to_string());
    let add = Action::new(move |(p, g, r, anyway): &(String, String, String, bool)| {
        let (p, g, r, anyway) = (p.clone(), g.clone(), r.clone(), *anyway);
        async move { add_role_mapping(p, g, r, anyway).await }
    });
    let error = RwSignal::new(None::<String>);
    // A name no synced group has: the closest names, and "add anyway".
    let unknown = RwSignal::new(None::<(String, Vec<String>)>);
    Effect::new(move |_| match add.value().get() {
        Some(Ok(AddMappingOutcome::Added)) => {
            group.set(String::new());
            unknown.set(None);
            on_change();
        }
        Some(Ok(AddMappingOutcome::UnknownGroup { message, closest })) => unknown.set(Some((message, closest))),
        Some(Err(e)) => error.set(Some(error_text(&e))),
        None => {}
    });
    let submit = move |anyway: bool| {
        error.set(None);
        add.dispatch((provider.get_untracked(), group.get_untracked(), role.get_untracked(), anyway));
    };
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
                    unknown.set(None);
                    submit(false);
                }
            >
                <label class="block text-sm font-medium text-slate-700">
                    "Identity provider"
                    <select class="field-input" on:change=move |ev| provider.set(event_target_value(&ev))>
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
                        class="field-input"
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
                <RoleField role />
                <button type="submit" class="btn-primary" disabled=move || add.pending().get() || !has_providers>
                    "Add mapping"
                </button>
            </form>
            <p class="mt-2 text-xs text-slate-500">
                "Groups come from directory synchronization and earlier sign-ins, and are matched by their provider id, so renaming a group in Okta keeps its mapping. A name typed here that Portcullis has not seen is matched by name."
            </p>
            {move || error.get().map(|m| view! { <div class="mt-3"><ErrorNote message=m /></div> })}
            {move || unknown.get().map(|(message, closest)| {
                let typed = group.get_untracked();
                view! {
                    <div class="mt-3 rounded-md border border-amber-300 bg-amber-50 p-3 text-sm text-amber-900" role="alert" data-testid="unknown-group">
                        <p>{message}</p>
                        <div class="mt-2 flex flex-wrap gap-2">
                            {closest
                                .into_iter()
                                .map(|name| {
                                    let label = format!("Use '{name}'");
                                    view! {
                                        <button type="button" class="btn" on:click=move |_| {
                                            group.set(name.clone());
                                            unknown.set(None);
                                            submit(false);
                                        }>{label}</button>
                                    }
                                })
                                .collect_view()}
                            <button type="button" class="btn" on:click=move |_| {
                                unknown.set(None);
                                submit(true);
                            }>{format!("Add '{typed}' anyway")}</button>
                        </div>
                    </div>
                }
            })}
        </section>
    }
}

#[component]
pub(crate) fn BreakGlass(
    current: Option<String>,
    on_change: impl Fn() + Copy + Send + Sync + 'static,
) -> impl IntoView {
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
                        class="field-input"
                        type="email"
                        disabled=move || !restricted.get()
                        prop:value=move || email.get()
                        on:input=move |ev| email.set(event_target_value(&ev))
                    />
                </label>
                <button type="submit" class="btn-primary" disabled=move || save.pending().get()>"Save password sign-in"</button>
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
