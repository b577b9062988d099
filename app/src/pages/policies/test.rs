//! `/policies/test`: Test a user against an application's policies.

use leptos::prelude::*;

use crate::components::{Combo, Hit, SearchBox, SearchResults};

use crate::pages::{error_text, policies::action_badge, query_value};
use crate::{
    api::policies::{list_applications, search_people, test_user_access, DecisionView, TestResult},
    layout::{loading, DataTable, ErrorNote, PageHeader},
};

#[component]
pub fn TestUserPage() -> impl IntoView {
    let app = query_value("app");
    let user = query_value("user");
    let apps = Resource::new(|| (), |_| list_applications());
    let result = Resource::new(
        move || (app.get(), user.get()),
        |(app, user)| async move {
            match (app, user) {
                (Some(app), Some(user)) => test_user_access(app, user).await.map(Some),
                _ => Ok(None),
            }
        },
    );
    view! {
        <p class="mb-2 text-sm"><a href="/policies" class="link">"← Policies"</a></p>
        <PageHeader
            title="Test a user"
            intro="Pick a person from the synchronized directory and an application: see whether they would get in, and which policy and rule decided."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                let (apps, result) = (apps.await, result.await);
                match apps {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(list) if list.apps.is_empty() => {
                        view! {
                            <p class="text-sm text-slate-600">
                                "There is no application to test yet: " <a href="/policies/new" class="link">"create one"</a> " first."
                            </p>
                        }
                            .into_any()
                    }
                    Ok(list) => {
                        let chosen_app = app.get_untracked().unwrap_or_else(|| list.apps[0].id.clone());
                        let typed = match &result {
                            Ok(Some(r)) => r.user_email.clone(),
                            _ => user.get_untracked().unwrap_or_default(),
                        };
                        view! {
                            <TestForm apps=list.apps.iter().map(|a| (a.id.clone(), a.name.clone())).collect() chosen_app typed />
                            {match result {
                                Err(e) => view! { <div class="mt-4"><ErrorNote message=error_text(&e) /></div> }.into_any(),
                                Ok(None) => ().into_any(),
                                Ok(Some(r)) => view! { <DecisionPanel result=r /> }.into_any(),
                            }}
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}

/// A plain GET form: the result has its own address, and the page works without JavaScript
/// (type an email); with it, matching people are listed while typing.
#[cfg_attr(feature = "islands-policy-editor", island)]
#[cfg_attr(not(feature = "islands-policy-editor"), component)]
pub(crate) fn TestForm(apps: Vec<(String, String)>, chosen_app: String, typed: String) -> impl IntoView {
    let text = RwSignal::new(typed.clone());
    let people = Resource::new(
        move || text.get(),
        |search| async move {
            if search.trim().is_empty() {
                Ok(Vec::new())
            } else {
                search_people(search).await
            }
        },
    );
    let show_results = RwSignal::new(false);
    let combo = Combo::new("test-user-results");
    view! {
        <form method="get" action="/policies/test" class="grid max-w-3xl gap-4 rounded-lg border border-slate-200 bg-white p-4 sm:grid-cols-2" data-testid="test-form">
            <label class="field-label">
                "Application"
                <select name="app" class="field-input" aria-label="Application">
                    {apps
                        .into_iter()
                        .map(|(id, name)| {
                            let selected = id == chosen_app;
                            view! { <option value=id selected=selected>{name}</option> }
                        })
                        .collect_view()}
                </select>
            </label>
            <div>
                <SearchBox
                    label="User"
                    placeholder="Name or email"
                    text
                    combo
                    name="user"
                    required=true
                    on_type=Callback::new(move |()| show_results.set(true))
                />
                <Show when=move || show_results.get()>
                    <Transition fallback=|| ()>
                        {move || Suspend::new(async move {
                            let list = people.await;
                            if list.as_ref().map_or(true, Vec::is_empty) {
                                combo.hide();
                            }
                            match list {
                                Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                                Ok(list) if list.is_empty() => ().into_any(),
                                Ok(list) => {
                                    let hits = list
                                        .into_iter()
                                        .map(|u| {
                                            let email = u.email.clone();
                                            Hit {
                                                name: if u.display_name.is_empty() { u.email.clone() } else { u.display_name.clone() },
                                                detail: Some(u.email),
                                                source: None,
                                                on_pick: Callback::new(move |()| {
                                                    text.set(email.clone());
                                                    show_results.set(false);
                                                    combo.hide();
                                                }),
                                            }
                                        })
                                        .collect::<Vec<_>>();
                                    view! { <SearchResults test_id="user-results" label="Matching users" hits combo /> }
                                        .into_any()
                                }
                            }
                        })}
                    </Transition>
                </Show>
            </div>
            <div class="sm:col-span-2">
                <button type="submit" class="btn-primary">"Test a user"</button>
            </div>
        </form>
    }
}

#[component]
pub(crate) fn DecisionPanel(result: TestResult) -> impl IntoView {
    let TestResult { user_label, user_id: _, user_email: _, decision } = result;
    let DecisionView {
        outcome,
        outcome_label,
        permits,
        application_name,
        policy_name,
        summary,
        steps,
        application_id: _,
    } = decision;
    let banner = if permits {
        "rounded-lg border border-green-200 bg-green-50 p-4 text-green-900"
    } else {
        "rounded-lg border border-red-200 bg-red-50 p-4 text-red-900"
    };
    view! {
        <section class="mt-6 space-y-4" aria-labelledby="decision-heading" data-testid="decision" data-outcome=outcome.clone()>
            <div class=banner>
                <h2 id="decision-heading" class="text-lg font-semibold" data-testid="decision-outcome">{outcome_label}</h2>
                <p class="text-sm">
                    {format!("{user_label} on {application_name}")}
                    {policy_name.map(|p| format!(" · decided by policy '{p}'"))}
                </p>
                <p class="mt-2 text-sm" data-testid="decision-summary">{summary}</p>
            </div>
            {if steps.is_empty() {
                ().into_any()
            } else {
                view! {
                    <div>
                        <h3 class="mb-2 font-medium">"Every policy, in evaluation order"</h3>
                        <DataTable headers=&["Evaluated", "# in list", "Policy", "Action", "Result"] testid="decision-steps">
                            {steps
                                .into_iter()
                                .enumerate()
                                .map(|(i, s)| {
                                    let (label, class) = action_badge(&s.action.to_lowercase());
                                    let row_class = if s.result == "matched" { "bg-indigo-50" } else { "" };
                                    view! {
                                        <tr class=row_class data-policy=s.policy_name.clone() data-result=s.result.clone()>
                                            <td class="px-4 py-2 text-slate-700">{format!("{}.", i + 1)}</td>
                                            <td class="px-4 py-2 text-slate-600">{s.number}</td>
                                            <td class="px-4 py-2 font-medium">{s.policy_name.clone()}</td>
                                            <td class="px-4 py-2">
                                                <span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {class}")>{label}</span>
                                            </td>
                                            <td class="px-4 py-2 text-slate-700">{s.reason.clone()}</td>
                                        </tr>
                                    }
                                })
                                .collect_view()}
                        </DataTable>
                    </div>
                }
                    .into_any()
            }}
            <a href="/policies" class="btn">"Back to policies"</a>
        </section>
    }
}
