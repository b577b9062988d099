//! Form fields: labelled text, secrets that are never shown back, values to copy.

use leptos::prelude::*;

#[component]
pub(crate) fn TextField(
    label: &'static str,
    id: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] help: Option<&'static str>,
    #[prop(optional)] placeholder: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div>
            <label for=id class="block text-sm font-medium text-slate-700">{label}</label>
            <input
                id=id
                type="text"
                bind:value=value
                placeholder=placeholder
                autocomplete="off"
                spellcheck="false"
                class="mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200"
            />
            {help.map(|h| view! { <p class="mt-1 text-xs text-slate-500">{h}</p> })}
        </div>
    }
}

/// A write-only field: when a value is stored, it shows "set" and a Replace button.
#[component]
pub(crate) fn SecretField(
    label: &'static str,
    id: &'static str,
    value: RwSignal<String>,
    set: bool,
    #[prop(optional)] multiline: bool,
    #[prop(optional)] help: Option<&'static str>,
) -> impl IntoView {
    let replacing = RwSignal::new(!set);
    let input_class = "mt-1 block w-full rounded-md border border-slate-300 px-3 py-2 font-mono text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-200";
    view! {
        <div>
            <label for=id class="block text-sm font-medium text-slate-700">{label}</label>
            <Show
                when=move || replacing.get()
                fallback=move || {
                    view! {
                        <div class="mt-1 flex items-center gap-3 text-sm">
                            <span class="rounded bg-slate-100 px-2 py-1 text-slate-700" data-testid=format!("{id}-set")>
                                "Set (hidden)"
                            </span>
                            <button
                                type="button"
                                class="font-medium text-indigo-700 underline"
                                aria-label=format!("Replace {label}")
                                on:click=move |_| replacing.set(true)
                            >
                                "Replace"
                            </button>
                        </div>
                    }
                }
            >
                {if multiline {
                    let status = RwSignal::new(None);
                    view! {
                        <textarea
                            id=id
                            rows="6"
                            bind:value=value
                            autocomplete="off"
                            spellcheck="false"
                            class=input_class
                            on:dragover=crate::components::allow_drop
                            on:drop=crate::components::drop_handler(value, status, None)
                        ></textarea>
                        <crate::components::FilePick field_id=id value=value accept=".json,.pem,.key,.txt,application/json" status=status />
                    }
                        .into_any()
                } else {
                    view! { <input id=id type="password" bind:value=value autocomplete="new-password" class=input_class /> }
                        .into_any()
                }}
            </Show>
            {help.map(|h| view! { <p class="mt-1 text-xs text-slate-500">{h}</p> })}
        </div>
    }
}

#[component]
pub(crate) fn CopyRow(label: &'static str, value: String) -> impl IntoView {
    let copied = RwSignal::new(false);
    let text = value.clone();
    let copy = move |_| {
        #[cfg(feature = "hydrate")]
        {
            if let Some(window) = web_sys::window() {
                let _ = window.navigator().clipboard().write_text(&text);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &text;
        copied.set(true);
    };
    view! {
        <div class="flex flex-wrap items-center gap-2">
            <dt class="w-44 shrink-0 font-medium text-indigo-900">{label}</dt>
            <dd class="flex min-w-0 items-center gap-2">
                <code class="break-all rounded bg-white px-2 py-1" data-testid="redirect-uri">{value}</code>
                <button
                    type="button"
                    class="rounded border border-indigo-200 bg-white px-2 py-1 text-xs font-medium text-indigo-800 hover:bg-indigo-100"
                    aria-label=format!("Copy {label}")
                    on:click=copy
                >
                    {move || if copied.get() { "Copied" } else { "Copy" }}
                </button>
            </dd>
        </div>
    }
}
