//! `/setup`: the first admin, with the one-time token from the server's log.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::*;
use crate::pages::query_value;
use crate::{
    api::console::setup_needed,
    layout::{loading, ErrorNote},
    messages::setup_error,
};

/// `/setup`: the first visitor creates the first admin, with the one-time token from the log.
#[component]
pub fn SetupPage() -> impl IntoView {
    let error = query_value("error");
    let email = query_value("email");
    let name = query_value("name");
    let needed = Resource::new(|| (), |_| setup_needed());

    view! {
        <Title text="Set up" />
        <AuthCard title="Set up Portcullis">
            <Suspense fallback=loading>
                {move || Suspend::new(async move {
                    match needed.await {
                        Ok(false) => {
                            view! {
                                <p class="text-sm text-slate-700">
                                    "Setup is done: an admin exists. "
                                    <a href="/login" class="font-medium text-indigo-700 underline">
                                        "Sign in"
                                    </a>
                                </p>
                            }
                                .into_any()
                        }
                        _ => {
                            view! {
                                <p class="mb-4 text-sm text-slate-600">
                                    "Create the first admin account. The setup token is printed in the server's log at start (and written to "
                                    <code class="rounded bg-slate-100 px-1">"setup-token"</code>
                                    " in the data folder); it works once."
                                </p>
                                {move || {
                                    error
                                        .get()
                                        .and_then(|code| setup_error(&code))
                                        .map(|m| view! { <div class="mb-4"><ErrorNote message=m.to_string() /></div> })
                                }}
                                <form method="post" action="/setup" class="space-y-4">
                                    <Field label="Setup token" name="token" autocomplete="off" />
                                    <Field label="Email" name="email" kind="email" autocomplete="username" value=email />
                                    <Field label="Name" name="name" autocomplete="name" value=name required=false />
                                    <Field
                                        label="Password"
                                        name="password"
                                        kind="password"
                                        autocomplete="new-password"
                                        help="At least 12 characters."
                                    />
                                    <Field
                                        label="Confirm password"
                                        name="password_confirm"
                                        kind="password"
                                        autocomplete="new-password"
                                    />
                                    <SubmitButton label="Create admin" />
                                </form>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </AuthCard>
    }
}
