pub mod audit;
pub mod auth;
pub mod directory;
pub mod overview;
pub mod policies;
pub mod settings;

use leptos::prelude::*;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <leptos_meta::Title text="Not found" />
        <main class="mx-auto max-w-xl px-6 py-24 text-center">
            <h1 class="text-2xl font-semibold">"This page does not exist"</h1>
            <p class="mt-2 text-slate-600">"Check the address, or go back to the console."</p>
            <a href="/" class="mt-6 inline-block text-indigo-700 underline">"Go to the console"</a>
        </main>
    }
}

/// The text of a server function's error, without the framework's prefix.
pub fn error_text(e: &ServerFnError) -> String {
    match e {
        ServerFnError::ServerError(message) => message.clone(),
        other => other.to_string(),
    }
}

/// A page's single query value, if present and not empty.
pub fn query_value(name: &'static str) -> Memo<Option<String>> {
    let query = leptos_router::hooks::use_query_map();
    Memo::new(move |_| query.with(|q| q.get(name)).filter(|v| !v.is_empty()))
}
