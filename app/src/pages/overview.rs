use leptos::prelude::*;

use crate::layout::PageHeader;

/// `/`: where a new admin starts.
#[component]
pub fn Overview() -> impl IntoView {
    let steps = [
        (
            "Connect your identity provider",
            "Add Okta or another OpenID Connect provider. Portcullis checks the settings before saving them.",
            "/settings/identity-providers",
            "Identity providers",
        ),
        (
            "Bring in users and groups",
            "Directory synchronization keeps a current copy of your provider's users, groups and memberships.",
            "/directory",
            "Directory",
        ),
        (
            "Decide who may reach what",
            "Policies map groups to applications; your reverse proxy asks Portcullis on every request.",
            "/policies",
            "Policies",
        ),
    ];
    view! {
        <PageHeader
            title="Overview"
            intro="Portcullis connects your identity provider to the access policies of your applications."
        />
        <ol class="grid gap-4 md:grid-cols-3">
            {steps
                .into_iter()
                .enumerate()
                .map(|(i, (title, text, href, link))| {
                    view! {
                        <li class="rounded-lg border border-slate-200 bg-white p-5">
                            <p class="text-xs font-semibold uppercase tracking-wide text-indigo-600">
                                {format!("Step {}", i + 1)}
                            </p>
                            <h2 class="mt-1 font-semibold">{title}</h2>
                            <p class="mt-1 text-sm text-slate-600">{text}</p>
                            <a href=href class="mt-3 inline-block text-sm font-medium text-indigo-700 underline">
                                {format!("Open {link}")}
                            </a>
                        </li>
                    }
                })
                .collect_view()}
        </ol>
    }
}
