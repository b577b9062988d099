//! `/settings/identity-providers/:id/test-sign-in`: what a test sign-in saw.

use leptos::prelude::*;

use crate::pages::{error_text, query_value};
use crate::{
    api::sso::{test_sign_in_result, SignInOutcome},
    layout::{loading, ErrorNote, PageHeader},
};

/// `/settings/identity-providers/:id/test-sign-in?ref=…`: what a test sign-in received.
#[component]
pub fn TestSignInPage() -> impl IntoView {
    let reference = query_value("ref");
    let result = Resource::new(
        move || reference.get(),
        |r| async move {
            match r {
                Some(r) => test_sign_in_result(r).await,
                None => Ok(None),
            }
        },
    );
    view! {
        <PageHeader
            title="Test sign-in"
            intro="What the identity provider sent for this sign-in, and the console role it maps to. No session was created."
        />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match result.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(None) => {
                        view! {
                            <ErrorNote message="This test sign-in result has expired or belongs to another admin. Run Test sign-in again from Identity providers."
                                .to_string() />
                        }
                            .into_any()
                    }
                    Ok(Some(o)) => view! { <TestSignInResult outcome=o /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub(crate) fn TestSignInResult(outcome: SignInOutcome) -> impl IntoView {
    let role = outcome.role.clone();
    let verdict = match &role {
        Some(r) => format!("{} would sign in as {r}.", outcome.email),
        None => format!("{} would be refused: no group maps to a console role.", outcome.email),
    };
    let groups = if outcome.groups.is_empty() { "none".to_string() } else { outcome.groups.join(", ") };
    let source = match outcome.groups_source.as_str() {
        "claim" => "from the ID token's groups claim (or userinfo)",
        "directory" => "from the directory API (the token carried no groups claim)",
        _ => "nowhere: the token had no groups claim and no directory credentials are set",
    };
    view! {
        <div class="space-y-4" data-testid="test-sign-in-result">
            <p
                class=if role.is_some() {
                    "rounded-md bg-green-50 p-3 text-sm font-medium text-green-800"
                } else {
                    "rounded-md bg-amber-50 p-3 text-sm font-medium text-amber-900"
                }
                data-testid="test-sign-in-verdict"
            >
                {verdict}
            </p>
            <dl class="grid grid-cols-1 gap-x-6 gap-y-2 rounded-lg border border-slate-200 bg-white p-4 text-sm sm:grid-cols-[12rem_1fr]">
                <dt class="text-slate-500">"Provider"</dt>
                <dd>{outcome.provider_name.clone()}</dd>
                <dt class="text-slate-500">"Subject (sub)"</dt>
                <dd class="font-mono text-xs">{outcome.subject.clone()}</dd>
                <dt class="text-slate-500">"Email"</dt>
                <dd>
                    {outcome.email.clone()}
                    {match outcome.email_verified {
                        Some(true) => " (verified)",
                        Some(false) => " (not verified)",
                        None => "",
                    }}
                </dd>
                <dt class="text-slate-500">"Name"</dt>
                <dd>{outcome.name.clone()}</dd>
                <dt class="text-slate-500">"Groups"</dt>
                <dd data-testid="test-sign-in-groups">{groups} <span class="text-xs text-slate-500">{format!(" — {source}")}</span></dd>
            </dl>
            {outcome
                .claims
                .map(|claims| {
                    view! {
                        <details class="rounded-lg border border-slate-200 bg-white p-4" open>
                            <summary class="cursor-pointer text-sm font-medium">"Claims received (ID token and userinfo)"</summary>
                            <pre class="mt-2 overflow-x-auto text-xs" data-testid="test-sign-in-claims">{claims}</pre>
                        </details>
                    }
                })}
            <a href="/settings/identity-providers" class="text-sm font-medium text-indigo-700 underline">"Back to identity providers"</a>
        </div>
    }
}
