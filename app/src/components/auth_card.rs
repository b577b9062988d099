//! The card, fields and button of the sign-in and setup pages.

use leptos::prelude::*;

/// The centred card of the sign-in and setup pages.
#[component]
pub fn AuthCard(title: &'static str, children: Children) -> impl IntoView {
    view! {
        <main class="flex min-h-full items-center justify-center px-4 py-12">
            <div class="w-full max-w-md">
                <div class="mb-6 flex items-center gap-2 text-lg font-semibold">
                    <span aria-hidden="true" class="grid h-8 w-8 place-items-center rounded bg-brand text-on-chrome">
                        "P"
                    </span>
                    "Portcullis"
                </div>
                <div class="rounded-lg border border-slate-200 bg-white p-6 shadow-sm">
                    <h1 class="mb-4 text-xl font-semibold">{title}</h1>
                    {children()}
                </div>
            </div>
        </main>
    }
}

/// A labelled input. The label's text is what people and tests look for.
#[component]
pub fn Field(
    label: &'static str,
    name: &'static str,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] value: Option<Memo<Option<String>>>,
    #[prop(optional)] help: Option<&'static str>,
    #[prop(default = true)] required: bool,
) -> impl IntoView {
    let id = format!("field-{name}");
    view! {
        <div>
            <label for=id.clone() class="block text-sm font-medium text-slate-700">
                {label}
            </label>
            <input
                id=id
                name=name
                type=kind
                required=required
                autocomplete=autocomplete
                value=move || value.and_then(|v| v.get()).unwrap_or_default()
                class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
            />
            {help.map(|h| view! { <p class="mt-1 text-xs text-slate-500">{h}</p> })}
        </div>
    }
}

#[component]
pub fn SubmitButton(label: &'static str) -> impl IntoView {
    view! {
        <button
            type="submit"
            class="w-full rounded-md bg-indigo-600 px-4 py-2 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-400 focus:ring-offset-2"
        >
            {label}
        </button>
    }
}
