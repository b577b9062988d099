use leptos::prelude::*;

use crate::layout::{EmptyState, PageHeader};

/// `/settings/identity-providers`
#[component]
pub fn IdentityProviders() -> impl IntoView {
    view! {
        <PageHeader
            title="External identity providers"
            intro="Identity providers sign people in to the console and to your applications, and supply the users and groups that policies use."
        />
        <EmptyState title="No identity provider is connected yet">
            <p>
                "This page will hold a catalogue of provider kinds (Okta and generic OpenID Connect), each with a Connect wizard that checks the Base URL, Client ID and Client secret before saving, and the list of connected providers with Test connection, Edit, Disable and Delete."
            </p>
            <p>
                "Until a provider is connected, admins sign in with the local account created at setup."
            </p>
        </EmptyState>
    }
}
