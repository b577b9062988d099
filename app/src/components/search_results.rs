//! A picker's results: the listbox of a [`Combo`], one option per hit with its name, what
//! else tells it apart, and where it comes from.

use leptos::prelude::*;

use super::Combo;

/// One result of a picker search.
#[derive(Clone)]
pub struct Hit {
    pub name: String,
    /// Beside the name, e.g. the email of a person shown by name.
    pub detail: Option<String>,
    /// At the right edge, e.g. the provider.
    pub source: Option<String>,
    pub on_pick: Callback<()>,
}

#[component]
pub fn SearchResults(test_id: &'static str, label: &'static str, hits: Vec<Hit>, combo: Combo) -> impl IntoView {
    combo.show(hits.iter().map(|h| h.on_pick).collect());
    view! {
        <ul
            id=combo.id()
            role="listbox"
            aria-label=label
            class="mt-2 max-h-56 divide-y divide-slate-100 overflow-y-auto rounded-md border border-slate-200"
            data-testid=test_id
        >
            {hits
                .into_iter()
                .enumerate()
                .map(|(i, hit)| {
                    let pick = hit.on_pick;
                    let active = move || combo.active.get() == Some(i);
                    view! {
                        <li
                            id=combo.option_id(i)
                            role="option"
                            aria-selected=move || active().to_string()
                            class=move || {
                                if active() {
                                    "flex cursor-pointer items-baseline justify-between gap-2 bg-indigo-100 px-3 py-1.5 text-sm outline outline-2 -outline-offset-2 outline-indigo-500"
                                } else {
                                    "flex cursor-pointer items-baseline justify-between gap-2 px-3 py-1.5 text-sm hover:bg-indigo-50"
                                }
                            }
                            // The field keeps focus: a mouse press must not take it.
                            on:mousedown=|ev| ev.prevent_default()
                            on:click=move |_| pick.run(())
                        >
                            <span>
                                <span class="font-medium">{hit.name}</span>
                                {hit.detail.map(|d| view! { <span class="ml-2 text-xs text-slate-500">{d}</span> })}
                            </span>
                            {hit.source.map(|s| view! { <span class="text-xs text-slate-500">{s}</span> })}
                        </li>
                    }
                })
                .collect_view()}
        </ul>
    }
}
