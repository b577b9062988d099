//! Settings → Your account: linked sign-in methods.

use leptos::prelude::*;

use crate::pages::{error_text, query_value};
use crate::{api::sso::my_account, layout::ErrorNote};

/// The signed-in person's sign-in methods, with a button to link an identity provider.
#[component]
pub fn MyAccountPanel() -> impl IntoView {
    let account = Resource::new(|| (), |_| my_account());
    let linked_now = query_value("linked");
    view! {
        <section class="mb-8 rounded-lg border border-slate-200 bg-white p-4" aria-labelledby="account-heading">
            <h2 id="account-heading" class="font-medium">"Your account"</h2>
            <Show when=move || linked_now.get().is_some()>
                <p role="status" class="mt-2 rounded-md bg-green-50 p-2 text-sm text-green-800">"The identity provider is linked."</p>
            </Show>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    match account.await {
                        Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                        Ok(a) => {
                            view! {
                                <p class="mt-1 text-sm text-slate-600">
                                    {a.email.clone()}
                                    {if a.has_password { " · password sign-in" } else { "" }}
                                </p>
                                <ul class="mt-2 text-sm" data-testid="linked-providers">
                                    {a
                                        .linked
                                        .into_iter()
                                        .map(|(provider, email)| view! { <li>{format!("Linked: {provider} ({email})")}</li> })
                                        .collect_view()}
                                </ul>
                                <div class="mt-3 flex flex-wrap gap-2">
                                    {a
                                        .linkable
                                        .into_iter()
                                        .map(|(id, name)| {
                                            view! {
                                                <form method="post" action="/auth/start">
                                                    <input type="hidden" name="provider" value=id />
                                                    <input type="hidden" name="purpose" value="link" />
                                                    <button type="submit" class="btn">{format!("Link {name}")}</button>
                                                </form>
                                            }
                                        })
                                        .collect_view()}
                                </div>
                            }
                                .into_any()
                        }
                    }
                })}
            </Suspense>
        </section>
    }
}
