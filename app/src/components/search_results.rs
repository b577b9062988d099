//! A picker's results: one button per hit, its name, what else tells it apart, and where it
//! comes from. The policy editor's group and user pickers and Test a user share it.

use leptos::prelude::*;

/// One result of a picker search.
#[derive(Clone)]
pub struct Hit {
    pub name: String,
    /// Beside the name, e.g. the email of a person shown by name.
    pub detail: Option<String>,
    /// At the right edge, e.g. the provider.
    pub source: Option<String>,
    /// What a screen reader announces for the button, e.g. "Add group Engineering".
    pub aria_label: String,
    pub on_pick: Callback<()>,
}

#[component]
pub fn SearchResults(test_id: &'static str, hits: Vec<Hit>) -> impl IntoView {
    view! {
        <ul class="mt-2 max-h-56 divide-y divide-slate-100 overflow-y-auto rounded-md border border-slate-200" data-testid=test_id>
            {hits
                .into_iter()
                .map(|hit| {
                    let pick = hit.on_pick;
                    view! {
                        <li>
                            <button
                                type="button"
                                class="flex w-full items-baseline justify-between gap-2 px-3 py-1.5 text-left text-sm hover:bg-indigo-50"
                                aria-label=hit.aria_label
                                on:click=move |_| pick.run(())
                            >
                                <span>
                                    <span class="font-medium">{hit.name}</span>
                                    {hit.detail.map(|d| view! { <span class="ml-2 text-xs text-slate-500">{d}</span> })}
                                </span>
                                {hit.source.map(|s| view! { <span class="text-xs text-slate-500">{s}</span> })}
                            </button>
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
