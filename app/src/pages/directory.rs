use leptos::prelude::*;

use crate::layout::{EmptyState, PageHeader};

/// `/directory`
#[component]
pub fn Directory() -> impl IntoView {
    view! {
        <PageHeader
            title="Directory"
            intro="The users, groups and memberships synchronized from your identity providers."
        />
        <EmptyState title="The directory is empty">
            <p>
                "Users and groups appear here once an identity provider with directory synchronization is connected, with search, each user's groups, each group's members and the history of sync runs."
            </p>
            <p>
                "First: "
                <a href="/settings/identity-providers" class="font-medium text-indigo-700 underline">
                    "connect an identity provider"
                </a> "."
            </p>
        </EmptyState>
    }
}
