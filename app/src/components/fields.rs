//! Form fields: labelled text, secrets that are never shown back, values to copy.

use leptos::prelude::*;

#[component]
pub(crate) fn TextField(
    label: &'static str,
    id: &'static str,
    value: RwSignal<String>,
    #[prop(optional)] help: Option<&'static str>,
    #[prop(optional, into)] placeholder: MaybeProp<String>,
    /// What is wrong with the value, from the last check: marks the field and says why.
    #[prop(optional, into)]
    error: MaybeProp<String>,
) -> impl IntoView {
    let help_id = format!("{id}-help");
    let error_id = format!("{id}-error");
    let described_by = {
        let (help_id, error_id) = (help_id.clone(), error_id.clone());
        move || {
            let mut ids = Vec::new();
            if error.get().is_some() {
                ids.push(error_id.clone());
            }
            if help.is_some() {
                ids.push(help_id.clone());
            }
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div>
            <label for=id class="field-label">{label}</label>
            <input
                id=id
                type="text"
                bind:value=value
                placeholder=move || placeholder.get()
                autocomplete="off"
                spellcheck="false"
                aria-invalid=move || error.get().is_some().then_some("true")
                aria-describedby=described_by
                class="field-input aria-invalid:border-red-500 aria-invalid:ring-2 aria-invalid:ring-red-200"
            />
            <FieldError id=error_id error />
            {help.map(|h| view! { <p id=help_id class="mt-1 text-xs text-slate-600">{h}</p> })}
        </div>
    }
}

/// The message under a field at fault, linked from it with `aria-describedby`.
#[component]
fn FieldError(id: String, error: MaybeProp<String>) -> impl IntoView {
    move || error.get().map(|e| view! { <p id=id.clone() class="mt-1 text-xs font-medium text-red-700">{e}</p> })
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
    #[prop(optional, into)] error: MaybeProp<String>,
) -> impl IntoView {
    let error_id = format!("{id}-error");
    let invalid = move || error.get().is_some().then_some("true");
    let described_by = {
        let error_id = error_id.clone();
        move || error.get().map(|_| error_id.clone())
    };
    let replacing = RwSignal::new(!set);
    let input_class = "field-input font-mono aria-invalid:border-red-500 aria-invalid:ring-2 aria-invalid:ring-red-200";
    view! {
        <div>
            <label for=id class="field-label">{label}</label>
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
                            aria-invalid=invalid
                            aria-describedby=described_by.clone()
                            on:dragover=crate::components::allow_drop
                            on:drop=crate::components::drop_handler(value, status, None)
                        ></textarea>
                        <crate::components::FilePick field_id=id value=value accept=".json,.pem,.key,.txt,application/json" status=status />
                    }
                        .into_any()
                } else {
                    view! {
                        <input
                            id=id
                            type="password"
                            bind:value=value
                            autocomplete="new-password"
                            class=input_class
                            aria-invalid=invalid
                            aria-describedby=described_by.clone()
                        />
                    }
                        .into_any()
                }}
            </Show>
            <FieldError id=error_id error />
            {help.map(|h| view! { <p class="mt-1 text-xs text-slate-600">{h}</p> })}
        </div>
    }
}

/// A `CopyButton` of its own, for pages rendered on the server (islands do not nest).
#[island]
pub(crate) fn CopyIsland(#[prop(into)] what: String, text: String) -> impl IntoView {
    view! { <CopyButton what text /> }
}

/// "Copy", then "Copied": puts `text` on the clipboard. `what` names it for screen readers
/// ("Copy Sign-in redirect URI").
#[component]
pub(crate) fn CopyButton(#[prop(into)] what: String, text: String) -> impl IntoView {
    let copied = RwSignal::new(false);
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
        <button
            type="button"
            class="rounded border border-indigo-200 bg-white px-2 py-1 text-xs font-medium text-indigo-800 hover:bg-indigo-100"
            aria-label=format!("Copy {what}")
            on:click=copy
        >
            {move || if copied.get() { "Copied" } else { "Copy" }}
        </button>
    }
}

#[component]
pub(crate) fn CopyRow(label: &'static str, value: String) -> impl IntoView {
    view! {
        <div class="flex flex-wrap items-center gap-2">
            <dt class="w-44 shrink-0 font-medium text-indigo-900">{label}</dt>
            <dd class="flex min-w-0 items-center gap-2">
                <code class="break-all rounded bg-white px-2 py-1" data-testid="redirect-uri">{value.clone()}</code>
                <CopyButton what=label text=value />
            </dd>
        </div>
    }
}
