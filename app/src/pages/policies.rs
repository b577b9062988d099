use leptos::prelude::*;

use crate::layout::{EmptyState, PageHeader};

/// `/policies`
#[component]
pub fn Policies() -> impl IntoView {
    view! {
        <PageHeader
            title="Policies"
            intro="Applications and the ordered Allow, Block and Bypass policies that decide who may reach them."
        />
        <EmptyState title="No applications yet">
            <p>
                "Policies are built from the groups in the directory: include, require and exclude rules, with a live preview of who is matched and a Test a user check."
            </p>
            <p>
                "First: "
                <a href="/settings/identity-providers" class="font-medium text-indigo-700 underline">
                    "connect an identity provider"
                </a> ", then synchronize its groups in the "
                <a href="/directory" class="font-medium text-indigo-700 underline">
                    "Directory"
                </a> "."
            </p>
        </EmptyState>
    }
}
