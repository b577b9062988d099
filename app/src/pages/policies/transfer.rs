//! Export and import of an application's policies.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;

use crate::pages::error_text;
use crate::{
    api::policies::{export_policies, import_policies},
    layout::ErrorNote,
};

/// "Export JSON": the document, shown and downloadable.
#[component]
pub(crate) fn ExportPanel(application_id: String) -> impl IntoView {
    let export = Action::new(move |id: &String| export_policies(id.clone()));
    view! {
        <section aria-labelledby="export-heading" class="mb-6 rounded-lg border border-slate-200 bg-white p-4">
            <div class="flex flex-wrap items-center justify-between gap-2">
                <div>
                    <h2 id="export-heading" class="font-medium">"Export"</h2>
                    <p class="text-sm text-slate-600">
                        "The application and its policies as a versioned JSON document, to keep in version control or import elsewhere."
                    </p>
                </div>
                <button
                    type="button"
                    class="btn"
                    disabled=move || export.pending().get()
                    on:click={
                        let id = application_id.clone();
                        move |_| {
                            export.dispatch(id.clone());
                        }
                    }
                >
                    "Export JSON"
                </button>
            </div>
            {move || {
                export
                    .value()
                    .get()
                    .map(|r| match r {
                        Err(e) => view! { <div class="mt-3"><ErrorNote message=error_text(&e) /></div> }.into_any(),
                        Ok(doc) => {
                            let href = format!("data:application/json;charset=utf-8,{}", portcullis_types::url::encode(&doc.json));
                            view! {
                                <div class="mt-3 space-y-2">
                                    <textarea
                                        readonly
                                        rows="14"
                                        aria-label="Exported policies (JSON)"
                                        class="block w-full rounded-md border border-slate-300 bg-slate-50 p-2 font-mono text-xs"
                                        data-testid="export-json"
                                        prop:value=doc.json.clone()
                                    >
                                        {doc.json.clone()}
                                    </textarea>
                                    <a href=href download=doc.file_name.clone() class="btn">
                                        {format!("Download {}", doc.file_name)}
                                    </a>
                                </div>
                            }
                                .into_any()
                        }
                    })
            }}
        </section>
    }
}

/// "Import JSON": into this application (replace or append), or as a new application.
#[component]
pub(crate) fn ImportPanel(
    application_id: Option<String>,
    #[prop(optional)] on_done: Option<Callback<()>>,
    #[prop(optional)] message: Option<RwSignal<Option<Result<String, String>>>>,
) -> impl IntoView {
    let open = RwSignal::new(false);
    let text = RwSignal::new(String::new());
    let replace = RwSignal::new(true);
    let into_existing = application_id.is_some();
    let navigate = use_navigate();
    let import = Action::new({
        let application_id = application_id.clone();
        move |(doc, replace): &(String, bool)| import_policies(application_id.clone(), doc.clone(), *replace)
    });
    let message = message.unwrap_or_else(|| RwSignal::new(None));
    Effect::new(move |_| match import.value().get() {
        Some(Ok(r)) => {
            text.set(String::new());
            if r.created_application {
                navigate(&format!("/policies/apps/{}", r.application_id), Default::default());
            } else {
                let replaced = if r.replaced > 0 { format!(", replacing {}", r.replaced) } else { String::new() };
                message.set(Some(Ok(format!("Imported {} policies{replaced}.", r.imported))));
                if let Some(done) = on_done {
                    done.run(());
                }
            }
        }
        Some(Err(e)) => message.set(Some(Err(error_text(&e)))),
        None => {}
    });
    let (title, intro) = if into_existing {
        ("Import", "Policies from an exported JSON document. The whole document is checked first: a document with a mistake changes nothing.")
    } else {
        ("Import an application", "A new application with its policies, from an exported JSON document (it needs the export's application section).")
    };
    view! {
        <section aria-labelledby="import-heading" class="mt-6 rounded-lg border border-slate-200 bg-white p-4">
            <div class="flex flex-wrap items-center justify-between gap-2">
                <div>
                    <h2 id="import-heading" class="font-medium">{title}</h2>
                    <p class="text-sm text-slate-600">{intro}</p>
                </div>
                <button type="button" class="btn" aria-expanded=move || open.get().to_string() on:click=move |_| open.update(|o| *o = !*o)>
                    "Import JSON"
                </button>
            </div>
            {move || message.get().map(|m| match m {
                Ok(t) => view! { <p role="status" class="mt-3 text-sm text-green-800" data-testid="import-result">{t}</p> }.into_any(),
                Err(t) => view! { <div class="mt-3"><ErrorNote message=t /></div> }.into_any(),
            })}
            <Show when=move || open.get()>
                <form
                    class="mt-3 space-y-3"
                    on:submit=move |ev| {
                        ev.prevent_default();
                        message.set(None);
                        import.dispatch((text.get_untracked(), replace.get_untracked()));
                    }
                >
                    <label class="field-label">
                        "Policy document (JSON)"
                        <textarea
                            rows="10"
                            class="field-input font-mono text-xs"
                            placeholder="{\"format\": \"portcullis.policies\", \"version\": 1, …}"
                            prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev))
                        ></textarea>
                    </label>
                    <Show when=move || into_existing>
                        <fieldset class="space-y-1 text-sm">
                            <legend class="font-medium text-slate-700">"The application's current policies"</legend>
                            <label class="flex items-center gap-2">
                                <input type="radio" name="import-mode" prop:checked=move || replace.get() on:change=move |_| replace.set(true) />
                                "Replace them with the document's"
                            </label>
                            <label class="flex items-center gap-2">
                                <input type="radio" name="import-mode" prop:checked=move || !replace.get() on:change=move |_| replace.set(false) />
                                "Keep them, and add the document's after them"
                            </label>
                        </fieldset>
                    </Show>
                    <button type="submit" class="btn-primary" disabled=move || import.pending().get()>
                        {if into_existing { "Import policies" } else { "Import as new application" }}
                    </button>
                </form>
            </Show>
        </section>
    }
}
