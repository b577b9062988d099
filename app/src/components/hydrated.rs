//! `#console[data-hydrated=true]` once the page's islands are interactive: the loader hydrates
//! islands in document order, and this one comes last. Tests wait for it before clicking.

use leptos::prelude::*;

#[island]
pub fn HydrationMarker() -> impl IntoView {
    #[cfg(feature = "hydrate")]
    Effect::new(|_| {
        if let Some(console) = document().get_element_by_id("console") {
            let _ = console.set_attribute("data-hydrated", "true");
        }
    });
}
