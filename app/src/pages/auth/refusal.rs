//! `/auth/error`: why a sign-in with a provider ended without a session.

use leptos::prelude::*;
use leptos_meta::Title;

use crate::components::*;
use crate::pages::query_value;
use crate::{
    api::sso::{sign_in_refusal, SignInOutcome},
    messages::sso_error,
};

/// `/auth/error?code=…[&ref=…]`: a sign-in with a provider ended here, with no session.
#[component]
pub fn SignInErrorPage() -> impl IntoView {
    let code = query_value("code");
    let reference = query_value("ref");
    let refusal = Resource::new(
        move || reference.get(),
        |r| async move {
            match r {
                Some(r) => sign_in_refusal(r).await.ok().flatten(),
                None => None,
            }
        },
    );
    let text = move || {
        code.get()
            .and_then(|c| sso_error(&c))
            .unwrap_or(("The sign-in did not complete", "Start again from the sign-in page."))
    };
    view! {
        <Title text="Sign-in refused" />
        <AuthCard title="Sign-in refused">
            <div role="alert" data-testid="sign-in-error" data-code=move || code.get().unwrap_or_default()>
                <p class="font-medium text-red-800">{move || text().0}</p>
                <p class="mt-1 text-sm text-slate-700">{move || text().1}</p>
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    refusal.await.map(|o| view! { <RefusalDetails outcome=o /> })
                })}
            </Suspense>
            <a href="/login" class="mt-6 inline-block text-sm font-medium text-indigo-700 underline">"Back to sign-in"</a>
        </AuthCard>
    }
}

#[component]
pub(crate) fn RefusalDetails(outcome: SignInOutcome) -> impl IntoView {
    let groups = if outcome.groups.is_empty() {
        format!("{} sent no groups for you.", outcome.provider_name)
    } else {
        outcome.groups.join(", ")
    };
    view! {
        <div class="mt-4 space-y-3 text-sm" data-testid="refusal-details">
            <p>
                "Signed in at " {outcome.provider_name.clone()} " as " <span class="font-medium">{outcome.email.clone()}</span> "."
            </p>
            <div>
                <p class="font-medium">"Your groups"</p>
                <p class="text-slate-700" data-testid="your-groups">{groups}</p>
            </div>
        </div>
    }
}
