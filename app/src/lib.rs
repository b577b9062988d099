#![recursion_limit = "256"]
//! The Portcullis console: routes, layout and pages.
//!
//! Pages render on the server and hydrate in the browser. Sign-in, setup and
//! sign-out are plain HTML forms handled by the server, so they work without
//! JavaScript; data comes from server functions in [`api`].

pub mod api;
mod components;
mod layout;
pub mod messages;
mod pages;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::{
    components::{ParentRoute, Route, Router, Routes},
    path, SsrMode,
};

/// The browser bundles, one per page group, and the islands each hydrates (the frontend
/// crate's features). `scripts/build-site.sh` builds each of them; a page loads only its own.
pub const BUNDLES: [(&str, &str); 6] = [
    ("portcullis", "the console's frame: Theme, the phone menu, Copy buttons"),
    ("portcullis-directory", "Directory: sync panels and the live search"),
    ("portcullis-applications", "Policies, New application, an application's page, import"),
    ("portcullis-policy-editor", "the policy editor and its preview, Test a user"),
    ("portcullis-providers", "the Connect wizard, connected providers, provisioning"),
    ("portcullis-access", "role mappings, API tokens"),
];

/// The bundle a page loads: the frame's, plus the islands of its group.
pub fn bundle_for(path: &str) -> &'static str {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["directory"] => "portcullis-directory",
        ["policies", "test"] | ["policies", "apps", _, "policies", _] => "portcullis-policy-editor",
        ["policies", ..] => "portcullis-applications",
        ["settings", "identity-providers", ..] => "portcullis-providers",
        ["settings", "role-mappings"] | ["settings", "api-tokens"] => "portcullis-access",
        _ => "portcullis",
    }
}

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    #[cfg(feature = "ssr")]
    let options = {
        let path = use_context::<http::request::Parts>().map(|p| p.uri.path().to_string()).unwrap_or_default();
        let mut options = options;
        options.output_name = bundle_for(&path).into();
        options
    };
    view! {
        <!DOCTYPE html>
        <html lang="en" class="h-full bg-slate-50">
            <head>
                <meta charset="utf-8" />
                <meta name="viewport" content="width=device-width, initial-scale=1" />
                <script inner_html=crate::components::THEME_SCRIPT></script>
                <link rel="stylesheet" href="/pkg/portcullis.css" />
                <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
                <HydrationScripts options islands=true />
                <MetaTags />
            </head>
            <body class="h-full text-slate-900 antialiased">
                <App />
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Pages render whole on the server (SsrMode::Async) so they work without
    // JavaScript; streamed fragments would need a script to be shown.

    view! {
        <Title formatter=|page: String| format!("{page} · Portcullis") />
        <div id="console" class="min-h-full" data-hydrated="false">
            <Router>
                <Routes fallback=pages::NotFound>
                    <Route ssr=SsrMode::Async path=path!("/login") view=pages::auth::login::LoginPage />
                    <Route ssr=SsrMode::Async path=path!("/setup") view=pages::auth::setup::SetupPage />
                    <Route ssr=SsrMode::Async path=path!("/auth/error") view=pages::auth::refusal::SignInErrorPage />
                    <ParentRoute ssr=SsrMode::Async path=path!("") view=layout::ConsoleLayout>
                        <Route ssr=SsrMode::Async path=path!("") view=pages::overview::Overview />
                        <Route ssr=SsrMode::Async path=path!("/settings/identity-providers")
                            view=pages::settings::identity_providers::IdentityProviders
                        />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/settings/identity-providers/new")
                            view=pages::settings::provider_wizard::NewProvider
                        />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/settings/identity-providers/:id/edit")
                            view=pages::settings::provider_wizard::EditProvider
                        />
                        <Route ssr=SsrMode::Async path=path!("/directory") view=pages::directory::Directory />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/directory/users/:id")
                            view=pages::directory::user::DirectoryUserPage
                        />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/directory/groups/:id")
                            view=pages::directory::group::DirectoryGroupPage
                        />
                        <Route ssr=SsrMode::Async path=path!("/directory/runs/:id") view=pages::directory::run::SyncRunPage />
                        <Route ssr=SsrMode::Async path=path!("/policies") view=pages::policies::Policies />
                        <Route ssr=SsrMode::Async path=path!("/policies/new") view=pages::policies::application::NewApplication />
                        <Route ssr=SsrMode::Async path=path!("/policies/test") view=pages::policies::test::TestUserPage />
                        <Route ssr=SsrMode::Async path=path!("/policies/apps/:id") view=pages::policies::application::ApplicationPage />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/policies/apps/:id/policies/:policy_id")
                            view=pages::policies::editor::PolicyEditorPage
                        />
                        <Route ssr=SsrMode::Async path=path!("/audit") view=pages::audit::AuditLog />
                        <Route ssr=SsrMode::Async path=path!("/settings") view=pages::settings::SettingsPage />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/settings/role-mappings")
                            view=pages::settings::role_mappings::RoleMappingsPage
                        />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/settings/api-tokens")
                            view=pages::settings::api_tokens::ApiTokensPage
                        />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/settings/identity-providers/:id/test-sign-in")
                            view=pages::settings::test_sign_in::TestSignInPage
                        />
                        <Route
                            ssr=SsrMode::Async
                            path=path!("/settings/identity-providers/:id/provisioning")
                            view=pages::settings::provisioning::ProvisioningPage
                        />
                    </ParentRoute>
                </Routes>
            </Router>
            <components::HydrationMarker />
        </div>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_page_loads_the_bundle_with_its_islands() {
        for (path, bundle) in [
            ("/", "portcullis"),
            ("/audit", "portcullis"),
            ("/settings", "portcullis"),
            ("/directory", "portcullis-directory"),
            ("/directory/users/u1", "portcullis"),
            ("/policies", "portcullis-applications"),
            ("/policies/new", "portcullis-applications"),
            ("/policies/apps/a1", "portcullis-applications"),
            ("/policies/apps/a1/policies/new", "portcullis-policy-editor"),
            ("/policies/apps/a1/policies/p1", "portcullis-policy-editor"),
            ("/policies/test", "portcullis-policy-editor"),
            ("/policies-other", "portcullis"),
            ("/settings/identity-providers", "portcullis-providers"),
            ("/settings/identity-providers/new", "portcullis-providers"),
            ("/settings/identity-providers/p1/provisioning", "portcullis-providers"),
            ("/settings/role-mappings", "portcullis-access"),
            ("/settings/api-tokens", "portcullis-access"),
        ] {
            assert_eq!(bundle_for(path), bundle, "{path}");
            assert!(BUNDLES.iter().any(|(name, _)| *name == bundle));
        }
    }
}
