#![recursion_limit = "256"]
//! The browser entry point. Pages are rendered on the server; only their interactive parts,
//! the app's `#[island]`s, are compiled here and hydrated where a page has them.

// Linked for its islands: each is exported to the page's loader by the `#[island]` macro.
extern crate portcullis_app;

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
