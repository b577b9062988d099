//! `/directory/users/:id`: one synced person and their groups.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::pages::error_text;
use crate::{
    api::directory::directory_user,
    layout::{loading, DataTable, ErrorNote, PageHeader},
};
use portcullis_types::url::encode;

/// `/directory/users/{id}`: a user, where they came from, which applications they can reach
/// and why, and their groups.
#[component]
pub fn DirectoryUserPage() -> impl IntoView {
    let params = use_params_map();
    let user = Resource::new(move || params.with(|p| p.get("id").unwrap_or_default()), directory_user);
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match user.await {
                    Err(e) => view! { <PageHeader title="User" /> <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(d) => {
                        let u = d.user;
                        let (label, class) = state_badge(&u.state);
                        view! {
                            <p class="mb-2 text-sm"><a href="/directory" class="link">"← Directory"</a></p>
                            <leptos_meta::Title text=u.email.clone() />
                            <h1 class="text-2xl font-semibold">{if u.name.is_empty() { u.email.clone() } else { u.name.clone() }}</h1>
                            <dl class="mt-3 grid grid-cols-1 gap-x-6 gap-y-1 text-sm sm:grid-cols-[max-content_1fr]">
                                <dt class="text-slate-600">"Email"</dt><dd>{u.email.clone()}</dd>
                                <dt class="text-slate-600">"State"</dt>
                                <dd><span class=format!("rounded px-1.5 py-0.5 text-xs font-medium {class}")>{label}</span></dd>
                                <dt class="text-slate-600">"Okta status"</dt><dd>{u.okta_status.clone()}</dd>
                                <dt class="text-slate-600">"Provider"</dt>
                                <dd class="flex flex-wrap items-center gap-2">
                                    {format!("{} · ID ", u.provider)}
                                    <code class="font-mono text-xs">{u.external_id.clone()}</code>
                                    <crate::components::CopyIsland what="the user's provider ID" text=u.external_id.clone() />
                                </dd>
                                <dt class="text-slate-600">"Came from"</dt>
                                <dd>
                                    {u.source.clone()}
                                    {u.last_changed_run.clone().map(|r| view! {
                                        ", last changed by "
                                        <a href=format!("/directory/runs/{r}") class="link">"this sync run"</a>
                                    })}
                                </dd>
                                <dt class="text-slate-600">"Console role"</dt><dd>{u.account_role.clone().unwrap_or_else(|| "none".into())}</dd>
                            </dl>
                            <h2 class="mt-6 mb-2 font-semibold">"Applications"</h2>
                            {if d.access.is_empty() {
                                view! { <p class="text-sm text-slate-600">"No application is protected yet."</p> }.into_any()
                            } else {
                                let user_id = u.id.clone();
                                view! {
                                    <DataTable headers=&["Application", "Decision", "Why"] testid="user-access">
                                        {d
                                            .access
                                            .into_iter()
                                            .map(|a| {
                                                let class = if a.permits {
                                                    "rounded bg-green-100 px-1.5 py-0.5 text-xs font-medium text-green-800"
                                                } else {
                                                    "rounded bg-red-100 px-1.5 py-0.5 text-xs font-medium text-red-800"
                                                };
                                                let steps = format!(
                                                    "/policies/test?app={}&user={}",
                                                    encode(&a.application_id),
                                                    encode(&user_id),
                                                );
                                                let row_app = a.application_name.clone();
                                                view! {
                                                    <tr data-app=row_app data-outcome=a.outcome.clone()>
                                                        <td class="px-4 py-2 font-medium">
                                                            <a href=format!("/policies/apps/{}", a.application_id) class="link">{a.application_name}</a>
                                                        </td>
                                                        <td class="whitespace-nowrap px-4 py-2"><span class=class>{a.outcome_label}</span></td>
                                                        <td class="px-4 py-2 text-slate-700">
                                                            {a.summary}
                                                            " "
                                                            <a href=steps class="link whitespace-nowrap">"Every step"</a>
                                                        </td>
                                                    </tr>
                                                }
                                            })
                                            .collect_view()}
                                    </DataTable>
                                }
                                    .into_any()
                            }}
                            <h2 class="mt-6 mb-2 font-semibold">{format!("Groups ({})", d.groups.len())}</h2>
                            <ul class="list-disc pl-5 text-sm" data-testid="user-groups">
                                {d.groups
                                    .into_iter()
                                    .map(|g| view! { <li><a href=format!("/directory/groups/{}", g.id) class="link">{g.name}</a></li> })
                                    .collect_view()}
                            </ul>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
