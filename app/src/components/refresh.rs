//! How islands move on without a client-side router: they fetch their own data again after a
//! change (`refresher`), load another page (`go_to`), or swap in a region of the page as the
//! server renders it now (`swap_region`).

use std::future::Future;

use leptos::prelude::*;

/// A callback that fetches `data` again with `fetch` and replaces it. A failed fetch keeps what
/// is shown: the change that triggered it reports its own error.
pub fn refresher<T, F, Fut>(data: RwSignal<T>, fetch: F) -> impl Fn() + Copy + Send + Sync + 'static
where
    T: Send + Sync + 'static,
    F: Fn() -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<T, ServerFnError>> + 'static,
{
    let fetch = StoredValue::new(fetch);
    move || {
        let fut = fetch.with_value(|f| f());
        leptos::task::spawn_local(async move {
            if let Ok(value) = fut.await {
                data.set(value);
            }
        });
    }
}

/// Islands have no client-side router: going to another page is a document load.
pub fn go_to(path: &str) {
    #[cfg(feature = "hydrate")]
    {
        let _ = window().location().set_href(path);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = path;
}

/// Replaces the element `id` with the same element of the page at `href` as the server renders
/// it, and shows `href` in the address bar. Server-rendered lists (the Directory's) stay on the
/// server: a search or a finished sync fetches the page again instead of shipping their view
/// code to the browser. A later call wins over an earlier one still loading.
pub fn swap_region(href: String, id: &'static str) {
    #[cfg(feature = "hydrate")]
    {
        let turn = swap::next_turn();
        leptos::task::spawn_local(async move {
            if swap::swap(&href, id, turn).await.is_err() {
                // Signed out, or the page is gone: load it whole and let the server say.
                go_to(&href);
            }
        });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (href, id);
}

#[cfg(feature = "hydrate")]
mod swap {
    use std::cell::Cell;

    use leptos::prelude::{document, window};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;

    thread_local! {
        static LATEST: Cell<u32> = const { Cell::new(0) };
    }

    pub(super) fn next_turn() -> u32 {
        LATEST.with(|l| {
            l.set(l.get().wrapping_add(1));
            l.get()
        })
    }

    pub(super) async fn swap(href: &str, id: &str, turn: u32) -> Result<(), JsValue> {
        let response: web_sys::Response = JsFuture::from(window().fetch_with_str(href)).await?.dyn_into()?;
        if !response.ok() || response.redirected() {
            return Err(JsValue::NULL);
        }
        let html = JsFuture::from(response.text()?).await?.as_string().unwrap_or_default();
        if LATEST.with(Cell::get) != turn {
            return Ok(());
        }
        let fresh = web_sys::DomParser::new()?.parse_from_string(&html, web_sys::SupportedType::TextHtml)?;
        let (Some(fresh), Some(shown)) = (fresh.get_element_by_id(id), document().get_element_by_id(id)) else {
            return Err(JsValue::NULL);
        };
        shown.set_inner_html(&fresh.inner_html());
        window().history()?.replace_state_with_url(&JsValue::NULL, "", Some(href))
    }
}
