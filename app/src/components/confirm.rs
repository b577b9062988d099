//! A row's destructive button that asks first, in place: the question and Cancel beside the
//! button that does it. Keyboard and screen readers get an `alertdialog` with its own name.

use leptos::prelude::*;

#[component]
pub(crate) fn InlineConfirm(
    /// The first button's text ("Remove") and its accessible name ("Remove mapping for Eng").
    label: &'static str,
    #[prop(into)] aria_label: String,
    /// The alertdialog's name ("Confirm removal").
    dialog: &'static str,
    #[prop(into)] question: String,
    /// The button that does it ("Remove mapping").
    confirm: &'static str,
    /// Whether the first button is offered at all (role, state).
    #[prop(default = true)]
    enabled: bool,
    on_confirm: impl Fn() + Send + Sync + 'static,
) -> impl IntoView {
    let asking = RwSignal::new(false);
    let on_confirm = StoredValue::new(on_confirm);
    view! {
        <Show when=move || enabled && !asking.get()>
            <button type="button" class="btn" aria-label=aria_label.clone() on:click=move |_| asking.set(true)>
                {label}
            </button>
        </Show>
        <Show when=move || asking.get()>
            <div role="alertdialog" aria-label=dialog class="flex flex-wrap items-center justify-end gap-2 text-left">
                <span class="text-sm text-slate-800">{question.clone()}</span>
                <button type="button" class="btn" on:click=move |_| asking.set(false)>"Cancel"</button>
                <button type="button" class="btn-danger" on:click=move |_| on_confirm.with_value(|f| f())>{confirm}</button>
            </div>
        </Show>
    }
}
