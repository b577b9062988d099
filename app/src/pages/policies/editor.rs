//! `/policies/apps/:id/policies/:policy_id`: the policy editor with its live preview.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use crate::components::*;
use crate::pages::{error_text, policies::action_badge};
use crate::{
    api::policies::{
        create_policy, delete_policy, policy_editor, policy_preview, search_groups, search_people, update_policy,
        EditorData, PolicyForm, RulesDraft, Selector, SelectorItem,
    },
    layout::{loading, ErrorNote, PageHeader},
};

#[component]
pub fn PolicyEditorPage() -> impl IntoView {
    let params = use_params_map();
    let ids = move || {
        params.with(|p| {
            let app = p.get("id").unwrap_or_default();
            let policy = p.get("policy_id").filter(|id| id != "new");
            (app, policy)
        })
    };
    let data = Resource::new(ids, |(app, policy)| policy_editor(app, policy));
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <PageHeader title="Policy" /> <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(data) => {
                        let back = format!("← {}", data.app.name);
                        let app_href = format!("/policies/apps/{}", data.app.id);
                        let title = if data.policy.is_none() { "New policy" } else { "Edit policy" };
                        view! {
                            <p class="mb-2 text-sm"><a href=app_href class="link">{back}</a></p>
                            <PageHeader title=title />
                            <PolicyEditor data />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

pub(crate) const ACTIONS: [(&str, &str, &str); 3] = [
    ("allow", "Allow", "let matching people in (Allow policies are checked after Bypass and Block)"),
    ("block", "Block", "keep matching people out, whatever the Allow policies say"),
    ("bypass", "Bypass", "let requests through without the Allow policies; with Everyone, without signing in"),
];

/// The editor and its live preview: one island, saved with Save policy.
#[cfg_attr(feature = "islands-policy-editor", island)]
#[cfg_attr(not(feature = "islands-policy-editor"), component)]
pub(crate) fn PolicyEditor(data: EditorData) -> impl IntoView {
    let EditorData { app, policy, providers, can_edit } = data;
    let existing_id = policy.as_ref().map(|p| p.id.clone());
    let order_note = match &policy {
        Some(p) => format!(
            "Evaluated {} of {}: Bypass and Block policies are checked before Allow policies, each in list order (this one is number {} in the list).",
            p.evaluated, app.policy_count, p.number
        ),
        None => "A new policy goes last in the list; Bypass and Block policies are still checked before Allow policies.".into(),
    };
    let name = RwSignal::new(policy.as_ref().map(|p| p.name.clone()).unwrap_or_default());
    let action = RwSignal::new(policy.as_ref().map(|p| p.action.clone()).unwrap_or_else(|| "allow".into()));
    let enabled = RwSignal::new(policy.as_ref().map(|p| p.enabled).unwrap_or(true));
    let include = RwSignal::new(policy.as_ref().map(|p| p.include.clone()).unwrap_or_default());
    let require = RwSignal::new(policy.as_ref().map(|p| p.require.clone()).unwrap_or_default());
    let exclude = RwSignal::new(policy.as_ref().map(|p| p.exclude.clone()).unwrap_or_default());
    let draft = Memo::new(move |_| {
        let list =
            |l: RwSignal<Vec<SelectorItem>>| l.with(|l| l.iter().map(|s| s.selector.clone()).collect::<Vec<_>>());
        RulesDraft { include: list(include), require: list(require), exclude: list(exclude) }
    });

    let app_href = format!("/policies/apps/{}", app.id);
    let error = RwSignal::new(None::<String>);
    let save = Action::new({
        let (app_id, existing_id) = (app.id.clone(), existing_id.clone());
        move |form: &PolicyForm| {
            let (form, app_id, existing_id) = (form.clone(), app_id.clone(), existing_id.clone());
            async move {
                match existing_id {
                    Some(id) => update_policy(id, form).await,
                    None => create_policy(app_id, form).await.map(|_| ()),
                }
            }
        }
    });
    let remove = Action::new(move |id: &String| delete_policy(id.clone()));
    Effect::new({
        let app_href = app_href.clone();
        move |_| {
            for result in [save.value().get(), remove.value().get()].into_iter().flatten() {
                match result {
                    Ok(()) => go_to(&app_href),
                    Err(e) => error.set(Some(error_text(&e))),
                }
            }
        }
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        error.set(None);
        save.dispatch(PolicyForm {
            name: name.get_untracked(),
            action: action.get_untracked(),
            enabled: enabled.get_untracked(),
            rules: draft.get_untracked(),
        });
    };
    let confirm_delete = RwSignal::new(false);
    let initial_name = name.get_untracked();
    let initial_action = action.get_untracked();
    let help = move || ACTIONS.iter().find(|(v, _, _)| *v == action.get()).map(|(_, _, h)| *h).unwrap_or_default();

    view! {
        <Show when=move || !can_edit>
            <p class="mb-4 rounded-md bg-slate-100 p-3 text-sm text-slate-700">"You can look at this policy; changing policies needs the Editor role."</p>
        </Show>
        <div class="grid gap-6 lg:grid-cols-[minmax(0,1fr)_20rem]">
            // Enter in a picker adds a rule; only the Save button submits.
            <form class="space-y-5" on:submit=submit data-testid="policy-form">
                <div class="grid gap-4 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-[1fr_12rem]">
                    <label class="field-label">
                        "Policy name"
                        <input
                            class="field-input"
                            required
                            maxlength="100"
                            placeholder="Engineers"
                            disabled=!can_edit
                            value=initial_name
                            on:input=move |ev| name.set(event_target_value(&ev))
                            on:keydown=|ev| {
                                if ev.key() == "Enter" {
                                    ev.prevent_default();
                                }
                            }
                        />
                    </label>
                    <label class="field-label">
                        "Action"
                        <select class="field-input" aria-label="Action" disabled=!can_edit on:change=move |ev| action.set(event_target_value(&ev))>
                            {ACTIONS
                                .iter()
                                .map(|(value, label, _)| view! { <option value=*value selected=initial_action == *value>{*label}</option> })
                                .collect_view()}
                        </select>
                    </label>
                    <p class="text-xs text-slate-600 sm:col-span-2" data-testid="action-help">
                        {move || {
                            let (label, _) = action_badge(&action.get());
                            format!("{label}: {}.", help())
                        }}
                    </p>
                    <p class="text-xs text-slate-600 sm:col-span-2" data-testid="evaluation-order">{order_note}</p>
                    <label class="flex items-center gap-2 text-sm sm:col-span-2">
                        <input
                            type="checkbox"
                            disabled=!can_edit
                            checked=enabled.get_untracked()
                            prop:checked=move || enabled.get()
                            on:change=move |ev| enabled.set(event_target_checked(&ev))
                        />
                        "Enabled"
                        <span class="text-xs text-slate-500">"(a disabled policy is kept but skipped)"</span>
                    </label>
                </div>
                <RulePart
                    legend="Include (any of)"
                    help="The policy applies to people who match at least one of these. Use Everyone for all signed-in people."
                    items=include
                    providers=providers.clone()
                    can_edit
                />
                <RulePart
                    legend="Require (all of)"
                    help="Optional: people must also match every one of these."
                    items=require
                    providers=providers.clone()
                    can_edit
                />
                <RulePart
                    legend="Exclude (none of)"
                    help="Optional: people who match any of these are left out."
                    items=exclude
                    providers=providers.clone()
                    can_edit
                />
                {move || error.get().map(|m| view! { <ErrorNote message=m /> })}
                <Show when=move || can_edit>
                    <div class="flex flex-wrap items-center gap-2">
                        <button type="submit" class="btn-primary" disabled=move || save.pending().get()>"Save policy"</button>
                        <a href=app_href.clone() class="btn">"Cancel"</a>
                        {existing_id
                            .clone()
                            .map(|id| {
                                view! {
                                    <span class="ml-auto flex items-center gap-2">
                                        <Show
                                            when=move || confirm_delete.get()
                                            fallback=move || view! {
                                                <button type="button" class="btn-danger" on:click=move |_| confirm_delete.set(true)>"Delete policy"</button>
                                            }
                                        >
                                            {
                                                let id = id.clone();
                                                view! {
                                                    <span class="text-sm">"Delete this policy?"</span>
                                                    <button type="button" class="btn-danger" on:click=move |_| { remove.dispatch(id.clone()); }>"Yes, delete it"</button>
                                                    <button type="button" class="btn" on:click=move |_| confirm_delete.set(false)>"Keep it"</button>
                                                }
                                            }
                                        </Show>
                                    </span>
                                }
                            })}
                    </div>
                </Show>
            </form>
            <PreviewPanel application_id=app.id.clone() draft />
        </div>
    }
}

/// The rule types, as the picker offers them.
pub(crate) const KINDS: [(&str, &str); 6] = [
    ("group", "Okta group"),
    ("everyone", "Everyone"),
    ("email", "Email address"),
    ("email_domain", "Email domain"),
    ("user", "A specific user"),
    ("identity_provider", "Identity provider used to sign in"),
];

/// One of Include, Require, Exclude: its rules, and a picker to add one.
#[component]
pub(crate) fn RulePart(
    legend: &'static str,
    help: &'static str,
    items: RwSignal<Vec<SelectorItem>>,
    providers: Vec<(String, String)>,
    can_edit: bool,
) -> impl IntoView {
    let kind = RwSignal::new("group".to_string());
    let no_providers = providers.is_empty();
    let text = RwSignal::new(String::new());
    let group_combo = Combo::new(format!("{}-groups", legend.to_lowercase()));
    let user_combo = Combo::new(format!("{}-users", legend.to_lowercase()));
    let provider = RwSignal::new(providers.first().map(|(id, _)| id.clone()).unwrap_or_default());
    let note = RwSignal::new(None::<String>);
    let add = move |item: SelectorItem| {
        note.set(None);
        if items.with(|l| l.iter().any(|s| s.selector == item.selector)) {
            note.set(Some(format!("{} is already in this list.", item.label)));
            return;
        }
        items.update(|l| l.push(item));
        text.set(String::new());
    };
    let groups = Resource::new(
        move || (kind.get() == "group", text.get()),
        |(wanted, search)| async move {
            if wanted && !search.trim().is_empty() {
                search_groups(search).await
            } else {
                Ok(Vec::new())
            }
        },
    );
    let people = Resource::new(
        move || (kind.get() == "user", text.get()),
        |(wanted, search)| async move {
            if wanted && !search.trim().is_empty() {
                search_people(search).await
            } else {
                Ok(Vec::new())
            }
        },
    );
    // Email and email domain: checked lightly here, fully when saving.
    let add_typed = move || {
        let value = text.get_untracked().trim().to_lowercase();
        if value.is_empty() {
            return;
        }
        match kind.get_untracked().as_str() {
            "email" => add(SelectorItem {
                selector: Selector::Email { email: value.clone() },
                kind: "Email".into(),
                label: value,
                missing: false,
            }),
            "email_domain" => {
                let domain = value.trim_start_matches('@').to_string();
                add(SelectorItem {
                    selector: Selector::EmailDomain { domain: domain.clone() },
                    kind: "Email domain".into(),
                    label: domain,
                    missing: false,
                })
            }
            _ => {}
        }
    };
    let providers = StoredValue::new(providers);
    let add_provider = move || {
        let id = provider.get_untracked();
        if let Some((_, name)) = providers.get_value().iter().find(|(p, _)| *p == id) {
            add(SelectorItem {
                selector: Selector::IdentityProvider { provider_id: id },
                kind: "Identity provider".into(),
                label: name.clone(),
                missing: false,
            });
        }
    };
    let enter_adds = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Enter" {
            ev.prevent_default();
            add_typed();
        }
    };
    let is = move |k: &'static str| move || kind.get() == k;

    view! {
        <fieldset class="rounded-lg border border-slate-200 bg-white p-4" data-testid="rule-part" data-part=legend>
            <legend class="px-1 text-sm font-semibold">{legend}</legend>
            <p class="mb-3 text-xs text-slate-500">{help}</p>
            <ul class="mb-3 flex flex-wrap gap-2" data-testid="rules">
                {move || {
                    items
                        .get()
                        .into_iter()
                        .map(|s| {
                            let selector = s.selector.clone();
                            let remove_label = format!("Remove {} {}", s.kind, s.label);
                            view! {
                                <li
                                    class=if s.missing {
                                        "flex items-center gap-2 rounded-full border border-amber-300 bg-amber-50 py-1 pr-1 pl-3 text-sm"
                                    } else {
                                        "flex items-center gap-2 rounded-full border border-slate-300 bg-slate-50 py-1 pr-1 pl-3 text-sm"
                                    }
                                    data-testid="rule"
                                >
                                    <span class="text-xs text-slate-500">{s.kind.clone()}</span>
                                    <span class="font-medium">{s.label.clone()}</span>
                                    {s.missing.then(|| view! { <span class="text-xs text-amber-800">"matches no one"</span> })}
                                    <Show when=move || can_edit>
                                        <button
                                            type="button"
                                            class="rounded-full px-2 text-slate-500 hover:bg-slate-200 hover:text-slate-900"
                                            aria-label=remove_label.clone()
                                            title=remove_label.clone()
                                            on:click={
                                                let selector = selector.clone();
                                                move |_| items.update(|l| l.retain(|x| x.selector != selector))
                                            }
                                        >
                                            "×"
                                        </button>
                                    </Show>
                                </li>
                            }
                        })
                        .collect_view()
                }}
                <Show when=move || items.with(|l| l.is_empty())>
                    <li class="text-sm text-slate-500">"No rules."</li>
                </Show>
            </ul>
            <Show when=move || can_edit>
                <div class="grid gap-3 border-t border-slate-100 pt-3 sm:grid-cols-[14rem_1fr]">
                    <label class="field-label">
                        "Rule type"
                        <select
                            aria-label="Rule type"
                            class="field-input"
                            on:change=move |ev| {
                                kind.set(event_target_value(&ev));
                                text.set(String::new());
                                note.set(None);
                            }
                        >
                            {KINDS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
                        </select>
                    </label>
                    <div>
                        <Show when=is("group")>
                            <SearchBox label="Search groups" placeholder="Engineering" text combo=group_combo />
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    let list = groups.await;
                                    if list.as_ref().map_or(true, Vec::is_empty) {
                                        group_combo.hide();
                                    }
                                    match list {
                                        Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                                        Ok(list) if list.is_empty() && text.with_untracked(|t| t.trim().is_empty()) => {
                                            view! { <p class="mt-2 text-xs text-slate-500">"Type part of a group's name. Policies keep the group's provider ID, so renaming it in Okta keeps them."</p> }.into_any()
                                        }
                                        Ok(list) if list.is_empty() => {
                                            view! { <p class="mt-2 text-sm text-slate-500">"No group matches. Groups come from directory synchronization."</p> }.into_any()
                                        }
                                        Ok(list) => {
                                            let hits = list
                                                .into_iter()
                                                .map(|g| {
                                                    let item = SelectorItem { selector: g.selector.clone(), kind: "Group".into(), label: g.name.clone(), missing: false };
                                                    Hit {
                                                        detail: None,
                                                        source: Some(format!("{} · {}", g.provider_name, g.kind)),
                                                        name: g.name,
                                                        on_pick: Callback::new(move |()| add(item.clone())),
                                                    }
                                                })
                                                .collect::<Vec<_>>();
                                            view! { <SearchResults test_id="group-results" label="Groups" hits combo=group_combo /> }
                                                .into_any()
                                        }
                                    }
                                })}
                            </Transition>
                        </Show>
                        <Show when=is("user")>
                            <SearchBox label="Search users" placeholder="Name or email" text combo=user_combo />
                            <Transition fallback=|| ()>
                                {move || Suspend::new(async move {
                                    let list = people.await;
                                    if list.as_ref().map_or(true, Vec::is_empty) {
                                        user_combo.hide();
                                    }
                                    match list {
                                        Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                                        Ok(list) if list.is_empty() && text.with_untracked(|t| t.trim().is_empty()) => {
                                            view! { <p class="mt-2 text-xs text-slate-500">"Type part of a name or email address."</p> }.into_any()
                                        }
                                        Ok(list) if list.is_empty() => {
                                            view! { <p class="mt-2 text-sm text-slate-500">"No active directory user matches."</p> }.into_any()
                                        }
                                        Ok(list) => {
                                            let hits = list
                                                .into_iter()
                                                .map(|u| {
                                                    let item = SelectorItem { selector: u.selector.clone(), kind: "User".into(), label: u.label(), missing: false };
                                                    Hit {
                                                        name: if u.display_name.is_empty() { u.email.clone() } else { u.display_name.clone() },
                                                        detail: Some(u.email),
                                                        source: Some(u.provider_name),
                                                        on_pick: Callback::new(move |()| add(item.clone())),
                                                    }
                                                })
                                                .collect::<Vec<_>>();
                                            view! { <SearchResults test_id="user-results" label="Users" hits combo=user_combo /> }
                                                .into_any()
                                        }
                                    }
                                })}
                            </Transition>
                        </Show>
                        <Show when=is("everyone")>
                            <p class="mb-2 text-sm text-slate-600">"Everyone who signs in, with any identity provider."</p>
                            <button
                                type="button"
                                class="btn"
                                on:click=move |_| add(SelectorItem { selector: Selector::Everyone, kind: "Everyone".into(), label: "Everyone".into(), missing: false })
                            >
                                "Add Everyone"
                            </button>
                        </Show>
                        <Show when=is("email")>
                            <div class="flex items-end gap-2">
                                <label class="field-label flex-1">
                                    "Email address"
                                    <input
                                        class="field-input"
                                        type="email"
                                        placeholder="name@example.com"
                                        prop:value=move || text.get()
                                        on:input=move |ev| text.set(event_target_value(&ev))
                                        on:keydown=enter_adds
                                    />
                                </label>
                                <button type="button" class="btn" on:click=move |_| add_typed()>"Add email"</button>
                            </div>
                        </Show>
                        <Show when=is("email_domain")>
                            <div class="flex items-end gap-2">
                                <label class="field-label flex-1">
                                    "Email domain"
                                    <input
                                        class="field-input"
                                        placeholder="example.com"
                                        prop:value=move || text.get()
                                        on:input=move |ev| text.set(event_target_value(&ev))
                                        on:keydown=enter_adds
                                    />
                                </label>
                                <button type="button" class="btn" on:click=move |_| add_typed()>"Add domain"</button>
                            </div>
                            <p class="mt-1 text-xs text-slate-500">"The part after '@'; sub-domains do not match."</p>
                        </Show>
                        <Show when=is("identity_provider")>
                            <div class="flex items-end gap-2">
                                <label class="field-label flex-1">
                                    "Identity provider"
                                    <select class="field-input" aria-label="Identity provider" on:change=move |ev| provider.set(event_target_value(&ev))>
                                        {providers.get_value().into_iter().map(|(id, name)| view! { <option value=id>{name}</option> }).collect_view()}
                                    </select>
                                </label>
                                <button type="button" class="btn" disabled=no_providers on:click=move |_| add_provider()>
                                    "Add provider"
                                </button>
                            </div>
                        </Show>
                        {move || note.get().map(|n| view! { <p class="mt-2 text-sm text-amber-800">{n}</p> })}
                    </div>
                </div>
            </Show>
        </fieldset>
    }
}

#[component]
pub(crate) fn PreviewPanel(application_id: String, draft: Memo<RulesDraft>) -> impl IntoView {
    let settled = RwSignal::new(draft.get_untracked());
    #[cfg(feature = "hydrate")]
    {
        let pending = StoredValue::new(None::<leptos::prelude::TimeoutHandle>);
        Effect::new(move |_| {
            let rules = draft.get();
            if let Some(h) = pending.get_value() {
                h.clear();
            }
            let handle =
                set_timeout_with_handle(move || settled.set(rules), std::time::Duration::from_millis(300)).ok();
            pending.set_value(handle);
        });
    }
    let app_id = application_id.clone();
    let preview = Resource::new(move || (app_id.clone(), settled.get()), |(app, rules)| policy_preview(app, rules));
    let stale = move || draft.get() != settled.get();
    view! {
        <aside class="h-fit rounded-lg border border-slate-200 bg-white p-4 lg:sticky lg:top-4" aria-labelledby="preview-heading">
            <h2 id="preview-heading" class="font-semibold">"Preview"</h2>
            <p class="mb-3 text-xs text-slate-500">"Who these rules match among the active users of the synchronized directory."</p>
            <Transition fallback=loading>
                {move || {
                    let application_id = application_id.clone();
                    Suspend::new(async move {
                    match preview.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                        Ok(p) => {
                            let shown = p.users.len();
                            let more = p.matched.saturating_sub(shown);
                            let app_id = application_id.clone();
                            view! {
                                <div data-testid="preview" data-matched=p.matched data-total=p.total>
                                    <p class="text-lg font-semibold" data-testid="preview-count">
                                        {format!("Matches {} of {} users", p.matched, p.total)}
                                    </p>
                                    {(p.total == 0)
                                        .then(|| view! { <p class="text-sm text-slate-600">"The directory has no active users yet: synchronize it first."</p> })}
                                    <ul class="mt-2 max-h-96 divide-y divide-slate-100 overflow-y-auto text-sm" data-testid="preview-users">
                                        {p
                                            .users
                                            .into_iter()
                                            .map(|u| {
                                                let href = format!("/policies/test?app={app_id}&user={}", u.id);
                                                view! {
                                                    <li class="flex items-baseline justify-between gap-2 py-1" data-email=u.email.clone()>
                                                        <span class="min-w-0">
                                                            <span class="block truncate">{if u.display_name.is_empty() { u.email.clone() } else { u.display_name.clone() }}</span>
                                                            <span class="block truncate text-xs text-slate-500">{u.email.clone()}</span>
                                                        </span>
                                                        <a href=href class="text-xs text-indigo-700 hover:underline" aria-label=format!("Test {}", u.email)>"Test"</a>
                                                    </li>
                                                }
                                            })
                                            .collect_view()}
                                    </ul>
                                    {(more > 0).then(|| view! { <p class="mt-1 text-xs text-slate-500">{format!("and {more} more")}</p> })}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })
                }}
            </Transition>
            <Show when=stale>
                <p class="mt-2 text-xs text-slate-500" role="status">"Updating…"</p>
            </Show>
        </aside>
    }
}
