//! A labelled search input that filters as one types.

use leptos::prelude::*;

/// "Matches N of M users", with the list, for the draft's rules; recomputed on the server
/// 300 ms after the rules stop changing.
/// A search field for a picker. Enter must not submit the policy form.
#[component]
pub(crate) fn SearchBox(label: &'static str, placeholder: &'static str, text: RwSignal<String>) -> impl IntoView {
    view! {
        <label class="field-label">
            {label}
            <input
                class="field-input"
                type="search"
                placeholder=placeholder
                prop:value=move || text.get()
                on:input=move |ev| text.set(event_target_value(&ev))
                on:keydown=|ev| {
                    if ev.key() == "Enter" {
                        ev.prevent_default();
                    }
                }
            />
        </label>
    }
}
