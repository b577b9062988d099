//! `/login`: password and provider sign-in.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::*;
use crate::pages::query_value;
use crate::{api::console::setup_needed, api::sso::sign_in_options, layout::ErrorNote, messages::sign_in_error};

/// `/login`: a plain form posted to the server, so it works without JavaScript.
#[component]
pub fn LoginPage() -> impl IntoView {
    let error = query_value("error");
    let retry = query_value("retry");
    let email = query_value("email");
    let next = query_value("next");
    let signed_out = query_value("signed_out");
    // The provider's sign-out sends people back with `state=signed_out`.
    let provider_state = query_value("state");
    let message = move || error.get().and_then(|code| sign_in_error(&code, retry.get().as_deref()));
    let needs_setup = Resource::new(|| (), |_| setup_needed());
    let options = Resource::new(|| (), |_| sign_in_options());

    view! {
        <Title text="Sign in" />
        <AuthCard title="Sign in to Portcullis">
            <Show when=move || signed_out.get().is_some() || provider_state.get().as_deref() == Some("signed_out")>
                <p role="status" class="mb-4 rounded-md bg-green-50 p-3 text-sm text-green-800">
                    "You are signed out."
                </p>
            </Show>
            {move || message().map(|m| view! { <div class="mb-4"><ErrorNote message=m /></div> })}
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let Ok(options) = options.await else { return None };
                    (!options.providers.is_empty())
                        .then(|| {
                            view! {
                                <div class="mb-6 space-y-2" data-testid="provider-sign-in">
                                    {options
                                        .providers
                                        .into_iter()
                                        .map(|(id, name)| {
                                            view! {
                                                // A form: it works without JavaScript, and the cross-site guard covers it.
                                                <form method="post" action="/auth/start">
                                                    <input type="hidden" name="provider" value=id />
                                                    <input type="hidden" name="next" value=move || next.get().unwrap_or_default() />
                                                    <button
                                                        type="submit"
                                                        class="w-full rounded-md border border-slate-300 bg-white px-4 py-2 text-sm font-semibold text-slate-800 shadow-sm hover:bg-slate-50 focus:outline-none focus:ring-2 focus:ring-indigo-400"
                                                    >
                                                        {format!("Sign in with {name}")}
                                                    </button>
                                                </form>
                                            }
                                        })
                                        .collect_view()}
                                    <p class="pt-2 text-center text-xs uppercase tracking-wide text-slate-500">
                                        {if options.local_restricted { "or, break-glass account only" } else { "or with a password" }}
                                    </p>
                                </div>
                            }
                        })
                })}
            </Suspense>
            <form method="post" action="/login" class="space-y-4">
                <input type="hidden" name="next" value=move || next.get().unwrap_or_default() />
                <Field label="Email" name="email" kind="email" autocomplete="username" value=email />
                <Field label="Password" name="password" kind="password" autocomplete="current-password" />
                <SubmitButton label="Sign in" />
            </form>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    (needs_setup.await == Ok(true))
                        .then(|| {
                            view! {
                                <p class="mt-6 text-sm text-slate-600">
                                    "No admin exists yet. "
                                    <a href="/setup" class="font-medium text-indigo-700 underline">
                                        "Set up Portcullis"
                                    </a>
                                    " with the setup token from the server's log."
                                </p>
                            }
                        })
                })}
            </Suspense>
        </AuthCard>
    }
}
