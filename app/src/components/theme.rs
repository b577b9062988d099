//! Light, dark, or as the system says: chosen per browser, applied before the first paint.

use leptos::prelude::*;

/// Where the choice is kept; absent means "as the system says".
macro_rules! key {
    () => {
        "portcullis-theme"
    };
}
#[cfg(feature = "hydrate")]
const KEY: &str = key!();

/// Runs in `<head>` before anything is drawn, so a remembered choice never flashes the other
/// theme. Without it (or without JavaScript) the CSS follows `prefers-color-scheme`.
pub const THEME_SCRIPT: &str = concat!(
    r#"try{var t=localStorage.getItem(""#,
    key!(),
    r#"");if(t==="dark"||t==="light")document.documentElement.classList.add(t)}catch(e){}"#
);

/// The header's Theme menu. Hidden until the page is interactive: without JavaScript it
/// could not work, and the page follows the system.
#[island]
pub fn ThemeMenu() -> impl IntoView {
    let choice = RwSignal::new(String::from("system"));
    let ready = RwSignal::new(false);
    Effect::new(move |_| {
        choice.set(stored().unwrap_or_else(|| "system".into()));
        ready.set(true);
    });
    let change = move |ev: leptos::ev::Event| {
        let value = event_target_value(&ev);
        apply(&value);
        choice.set(value);
    };
    view! {
        <label class="flex items-center gap-1.5" hidden=move || !ready.get()>
            <span class="sr-only text-chrome-300 sm:not-sr-only">"Theme"</span>
            <select
                class="rounded-md border-0 bg-chrome-700 py-1.5 pl-2 pr-7 text-sm text-on-chrome focus:outline-none focus:ring-2 focus:ring-indigo-400"
                prop:value=move || choice.get()
                on:change=change
                data-testid="theme"
            >
                <option value="system">"System"</option>
                <option value="light">"Light"</option>
                <option value="dark">"Dark"</option>
            </select>
        </label>
    }
}

#[cfg(feature = "hydrate")]
fn stored() -> Option<String> {
    let storage = web_sys::window()?.local_storage().ok()??;
    storage.get_item(KEY).ok()?.filter(|v| v == "light" || v == "dark")
}

#[cfg(not(feature = "hydrate"))]
fn stored() -> Option<String> {
    None
}

/// Remembers the choice and switches the page at once.
#[cfg(feature = "hydrate")]
fn apply(choice: &str) {
    let Some(window) = web_sys::window() else { return };
    if let Ok(Some(storage)) = window.local_storage() {
        let _ = match choice {
            "light" | "dark" => storage.set_item(KEY, choice),
            _ => storage.remove_item(KEY),
        };
    }
    if let Some(root) = window.document().and_then(|d| d.document_element()) {
        let classes = root.class_list();
        let _ = classes.remove_2("light", "dark");
        if choice == "light" || choice == "dark" {
            let _ = classes.add_1(choice);
        }
    }
}

#[cfg(not(feature = "hydrate"))]
fn apply(_choice: &str) {}
