//! Export and import of an application's policies.

use std::collections::BTreeMap;

use leptos::prelude::*;

use crate::components::{allow_drop, drop_handler, go_to, FilePick};
use crate::pages::error_text;
use crate::{
    api::policies::{import_plan, import_policies, ProviderMatch, ProviderMatchKind},
    layout::ErrorNote,
};

/// "Export JSON": one click downloads the document (a plain link, so it works without JavaScript).
#[component]
pub(crate) fn ExportPanel(application_id: String) -> impl IntoView {
    let href = format!("/policies/apps/{}/export.json", portcullis_types::url::encode(&application_id));
    view! {
        <section aria-labelledby="export-heading" class="mb-6 rounded-lg border border-slate-200 bg-white p-4">
            <div class="flex flex-wrap items-center justify-between gap-2">
                <div>
                    <h2 id="export-heading" class="font-medium">"Export"</h2>
                    <p class="text-sm text-slate-600">
                        "The application and its policies as a versioned JSON document, to keep in version control or import into another console. Providers are named by issuer and client ID, so the import finds them there."
                    </p>
                </div>
                <a href=href download="" class="btn">"Export JSON"</a>
            </div>
        </section>
    }
}

/// `/policies`' "Import an application".
#[cfg_attr(feature = "islands-applications", island)]
#[cfg_attr(not(feature = "islands-applications"), component)]
pub(crate) fn ImportApplication() -> impl IntoView {
    view! { <ImportPanel application_id=None /> }
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
    // The administrator's picks: the file's provider id → a provider here.
    let choices = RwSignal::new(BTreeMap::<String, String>::new());
    let into_existing = application_id.is_some();
    let plan = Action::new(move |(doc, choices): &(String, BTreeMap<String, String>)| {
        import_plan(doc.clone(), choices.clone())
    });
    let check = Callback::new(move |()| {
        choices.set(BTreeMap::new());
        if !text.get_untracked().trim().is_empty() {
            plan.dispatch((text.get_untracked(), BTreeMap::new()));
        }
    });
    let import = Action::new({
        let application_id = application_id.clone();
        move |(doc, replace, choices): &(String, bool, BTreeMap<String, String>)| {
            import_policies(application_id.clone(), doc.clone(), *replace, choices.clone())
        }
    });
    let message = message.unwrap_or_else(|| RwSignal::new(None));
    Effect::new(move |_| match import.value().get() {
        Some(Ok(r)) => {
            text.set(String::new());
            plan.value().set(None);
            if r.created_application {
                go_to(&format!("/policies/apps/{}", r.application_id));
            } else {
                let replaced = if r.replaced > 0 { format!(", replacing {}", r.replaced) } else { String::new() };
                message.set(Some(Ok(format!("Imported {} policies{replaced}.", r.imported))));
                if let Some(done) = on_done {
                    done.run(());
                }
            }
        }
        Some(Err(e)) => {
            message.set(Some(Err(error_text(&e))));
            // A provider to choose shows its choice beside the error.
            plan.dispatch((text.get_untracked(), choices.get_untracked()));
        }
        None => {}
    });
    let file_status = RwSignal::new(None);
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
                        import.dispatch((text.get_untracked(), replace.get_untracked(), choices.get_untracked()));
                    }
                >
                    <div>
                        <label for="import-document" class="field-label">"Policy document (JSON)"</label>
                        <textarea
                            id="import-document"
                            rows="10"
                            class="field-input font-mono text-xs"
                            placeholder="{\"format\": \"portcullis.policies\", \"version\": 1, …}"
                            prop:value=move || text.get()
                            on:input=move |ev| text.set(event_target_value(&ev))
                            on:change=move |_| check.run(())
                            on:dragover=allow_drop
                            on:drop=drop_handler(text, file_status, Some(check))
                        ></textarea>
                        <FilePick field_id="import-document" value=text accept=".json,application/json" on_loaded=check status=file_status />
                    </div>
                    {move || plan.value().get().and_then(Result::ok).filter(|p| !p.is_empty()).map(|matches| {
                        view! { <ProviderMapping matches=matches choices=choices /> }
                    })}
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

/// Which provider here stands for each provider the file's rules name.
#[component]
fn ProviderMapping(matches: Vec<ProviderMatch>, choices: RwSignal<BTreeMap<String, String>>) -> impl IntoView {
    view! {
        <fieldset class="space-y-3 rounded-md border border-slate-200 p-3 text-sm" data-testid="provider-mapping">
            <legend class="px-1 font-medium text-slate-700">"Identity providers in the file"</legend>
            {matches
                .into_iter()
                .map(|m| {
                    let file_id = m.in_file.id.clone();
                    let select_id = format!("provider-map-{}", m.in_file.id);
                    let needs_choice = m.chosen.is_none();
                    let how = match m.kind {
                        ProviderMatchKind::SameApp => "Found here: the same issuer and client ID.",
                        ProviderMatchKind::SameIssuer => "Found here: the same issuer, with another client ID.",
                        ProviderMatchKind::Chosen => "Chosen by you.",
                        ProviderMatchKind::Several => "Several providers here match it: choose the one its rules should use.",
                        ProviderMatchKind::NotConnected => "Not connected here: connect it first, or choose the provider whose groups and users its rules should use.",
                    };
                    let chosen = m.chosen.clone().unwrap_or_default();
                    view! {
                        <div data-provider=m.in_file.name.clone()>
                            <label for=select_id.clone() class="field-label">
                                {format!("{} ({})", m.in_file.name, m.in_file.issuer)}
                            </label>
                            <select
                                id=select_id
                                class="field-input"
                                aria-invalid=needs_choice.then_some("true")
                                on:change=move |ev| {
                                    let picked = event_target_value(&ev);
                                    choices.update(|c| {
                                        if picked.is_empty() {
                                            c.remove(&file_id);
                                        } else {
                                            c.insert(file_id.clone(), picked);
                                        }
                                    });
                                }
                            >
                                <option value="" selected=needs_choice>"Choose a provider…"</option>
                                {m.candidates
                                    .into_iter()
                                    .map(|c| {
                                        let selected = c.id == chosen;
                                        view! { <option value=c.id selected=selected>{format!("{} ({})", c.name, c.issuer)}</option> }
                                    })
                                    .collect_view()}
                            </select>
                            <p class=if needs_choice { "mt-1 text-xs text-amber-800" } else { "mt-1 text-xs text-slate-500" }>{how}</p>
                        </div>
                    }
                })
                .collect_view()}
        </fieldset>
    }
}
