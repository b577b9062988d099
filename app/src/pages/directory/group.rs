//! `/directory/groups/:id`: one synced group and its members.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::*;
use crate::pages::{error_text, query_value};
use crate::{
    api::directory::directory_group,
    layout::{loading, ErrorNote, PageHeader},
};

/// `/directory/groups/{id}`: a group, the policies and role mappings that use it, and its
/// members.
#[component]
pub fn DirectoryGroupPage() -> impl IntoView {
    let params = use_params_map();
    let offset = query_value("offset");
    let group = Resource::new(
        move || {
            (
                params.with(|p| p.get("id").unwrap_or_default()),
                offset.get().and_then(|o| o.parse().ok()).unwrap_or(0u32),
            )
        },
        |(id, offset)| directory_group(id, offset),
    );
    view! {
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match group.await {
                    Err(e) => view! { <PageHeader title="Group" /> <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(d) => {
                        let g = d.group;
                        let base = format!("/directory/groups/{}?", g.id);
                        let used = !d.roles.is_empty() || !d.policies.is_empty();
                        view! {
                            <p class="mb-2 text-sm"><a href="/directory?tab=groups" class="link">"← Groups"</a></p>
                            <leptos_meta::Title text=g.name.clone() />
                            <h1 class="text-2xl font-semibold">{g.name.clone()}</h1>
                            <p class="flex flex-wrap items-center gap-2 text-sm text-slate-600">
                                {format!("{} · {} · {} members · from {} · provider ID ", g.provider, g.kind, g.member_count, g.source)}
                                <code class="font-mono text-xs">{g.external_id.clone()}</code>
                                <crate::components::CopyIsland what="the group's provider ID" text=g.external_id.clone() />
                            </p>
                            <h2 class="mt-6 mb-2 font-semibold">"Used by"</h2>
                            <ul class="list-disc space-y-1 pl-5 text-sm" data-testid="group-uses">
                                {d.roles.into_iter().map(|role| view! {
                                    <li>
                                        <a href="/settings/role-mappings" class="link">"Role mapping"</a>
                                        {format!(": members are given the {role} role in this console")}
                                    </li>
                                }).collect_view()}
                                {d.policies.into_iter().map(|u| view! {
                                    <li data-policy=u.policy_name.clone()>
                                        <a href=format!("/policies/apps/{}/policies/{}", u.application_id, u.policy_id) class="link">
                                            {u.policy_name.clone()}
                                        </a>
                                        {format!(
                                            " on {}: {} policy, the group is in its {} rules{}",
                                            u.application_name,
                                            u.action,
                                            u.part,
                                            if u.enabled { "" } else { " (policy disabled)" },
                                        )}
                                    </li>
                                }).collect_view()}
                            </ul>
                            {(!used).then(|| view! {
                                <p class="text-sm text-slate-600">"No policy or role mapping uses this group."</p>
                            })}
                            <h2 class="mt-6 mb-2 font-semibold">"Members"</h2>
                            <UserTable page=d.members base />
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
