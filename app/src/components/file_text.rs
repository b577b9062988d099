//! Text that is usually a file (a private key, a policy export): typed or pasted, picked with
//! "Choose file…", or dropped on the field.

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
/// Files larger than this are not what these fields take (a key is a few KB, an export of 200
/// policies well under this), and a mistaken drop of a large file should not freeze the page.
const MAX_FILE_BYTES: f64 = 1024.0 * 1024.0;

/// The "Choose file…" control and the status line for a text field `field_id` bound to
/// `value`; `on_loaded` runs after a file's text is in `value`.
#[component]
pub(crate) fn FilePick(
    field_id: &'static str,
    value: RwSignal<String>,
    /// e.g. `.json,application/json`.
    accept: &'static str,
    #[prop(optional)] on_loaded: Option<Callback<()>>,
    /// Set from a drop on the field itself: see [`drop_handler`].
    #[prop(optional)]
    status: Option<RwSignal<Option<Result<String, String>>>>,
) -> impl IntoView {
    let status = status.unwrap_or_else(|| RwSignal::new(None));
    let picker_id = format!("{field_id}-file");
    let on_change = move |ev: leptos::ev::Event| {
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let file = ev
                .target()
                .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
                .and_then(|input| input.files())
                .and_then(|files| files.get(0));
            if let Some(file) = file {
                load(file, value, status, on_loaded);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, value, on_loaded);
    };
    view! {
        <div class="mt-1 flex flex-wrap items-center gap-2 text-xs text-slate-600">
            <label class="btn-secondary cursor-pointer focus-within:ring-2 focus-within:ring-indigo-300">
                "Choose file…"
                <input id=picker_id type="file" class="sr-only" accept=accept on:change=on_change />
            </label>
            <span>"or drop a file on the field."</span>
            {move || status.get().map(|s| match s {
                Ok(name) => view! { <span role="status" class="text-green-800">{format!("Loaded {name}.")}</span> }.into_any(),
                Err(e) => view! { <span role="alert" class="text-red-700">{e}</span> }.into_any(),
            })}
        </div>
    }
}

/// `on:drop` for the text field: the dropped file's text goes into `value`.
pub(crate) fn drop_handler(
    value: RwSignal<String>,
    status: RwSignal<Option<Result<String, String>>>,
    on_loaded: Option<Callback<()>>,
) -> impl Fn(leptos::ev::DragEvent) + Clone + 'static {
    move |ev: leptos::ev::DragEvent| {
        #[cfg(feature = "hydrate")]
        {
            let file = ev.data_transfer().and_then(|d| d.files()).and_then(|files| files.get(0));
            if let Some(file) = file {
                ev.prevent_default();
                load(file, value, status, on_loaded);
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, value, status, on_loaded);
    }
}

/// `on:dragover` for the text field: without it the browser opens a dropped file instead.
pub(crate) fn allow_drop(ev: leptos::ev::DragEvent) {
    ev.prevent_default();
}

#[cfg(feature = "hydrate")]
fn load(
    file: web_sys::File,
    value: RwSignal<String>,
    status: RwSignal<Option<Result<String, String>>>,
    on_loaded: Option<Callback<()>>,
) {
    let name = file.name();
    if file.size() > MAX_FILE_BYTES {
        status.set(Some(Err(format!("{name} is larger than 1 MB: choose the exported file itself."))));
        return;
    }
    leptos::task::spawn_local(async move {
        match wasm_bindgen_futures::JsFuture::from(file.text()).await.ok().and_then(|t| t.as_string()) {
            Some(text) => {
                value.set(text);
                status.set(Some(Ok(name)));
                if let Some(done) = on_loaded {
                    done.run(());
                }
            }
            None => status.set(Some(Err(format!("{name} could not be read as text.")))),
        }
    });
}
