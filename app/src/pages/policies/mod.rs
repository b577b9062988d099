//! `/policies`: the protected applications, and what the policy pages share.

pub mod application;
pub mod editor;
pub mod snippets;
pub mod test;
pub mod transfer;

pub use transfer::*;

use leptos::prelude::*;

use crate::pages::error_text;
use crate::{
    api::policies::{list_applications, AppSummary},
    layout::{loading, DataTable, EmptyState, ErrorNote, PageHeader},
};

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
pub(crate) fn ApplicationList(apps: Vec<AppSummary>, can_edit: bool) -> impl IntoView {
    let empty = apps.is_empty();
    view! {
        <div class="mb-4 flex flex-wrap gap-2">
            <Show when=move || can_edit>
                <a href="/policies/new" class="btn-primary">"New application"</a>
            </Show>
            <a href="/policies/test" class="btn">"Test a user"</a>
        </div>
        {if empty {
            view! {
                <EmptyState title="No applications yet">
                    <p>
                        "An application is a site behind Portcullis: its hostnames (and optional path prefixes), how long a sign-in lasts, and the policies that decide who gets in. Policies are built from the directory's groups and people, with a live preview of who they match."
                    </p>
                    <p>
                        "The directory comes from an "
                        <a href="/settings/identity-providers" class="link">"identity provider"</a>
                        " whose groups are synchronized in the "
                        <a href="/directory" class="link">"Directory"</a>
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
            <ImportApplication />
        </Show>
    }
}
