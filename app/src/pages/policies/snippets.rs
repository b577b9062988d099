//! "Connect your proxy" on an application's page: its nginx, Caddy and Traefik configuration,
//! filled in with its hostnames and pinned to it, to copy.

use leptos::prelude::*;

use crate::api::policies::ProxySnippet;
use crate::components::CopyButton;

#[component]
pub(crate) fn ProxySnippets(snippets: Vec<ProxySnippet>) -> impl IntoView {
    let shown = RwSignal::new(0usize);
    let tabs = snippets.clone();
    view! {
        <section aria-labelledby="proxy-heading" class="mb-6 rounded-lg border border-slate-200 bg-white p-4" data-testid="proxy-snippets">
            <h2 id="proxy-heading" class="font-medium">"Connect your proxy"</h2>
            <p class="mb-3 text-sm text-slate-600">
                "Add this to the proxy in front of the application, with "
                <code class="text-xs">"http://127.0.0.1:8080"</code>
                " replaced by where the application listens. It asks Portcullis before every request, pinned to this application."
            </p>
            <div role="tablist" aria-label="Proxy" class="mb-2 flex gap-1">
                {tabs
                    .iter()
                    .enumerate()
                    .map(|(i, s)| {
                        let id = format!("proxy-tab-{i}");
                        view! {
                            <button
                                type="button"
                                role="tab"
                                id=id
                                aria-selected=move || (shown.get() == i).to_string()
                                aria-controls=format!("proxy-panel-{i}")
                                class=move || if shown.get() == i { "btn-primary" } else { "btn" }
                                on:click=move |_| shown.set(i)
                            >
                                {s.proxy.clone()}
                            </button>
                        }
                    })
                    .collect_view()}
            </div>
            {snippets
                .into_iter()
                .enumerate()
                .map(|(i, s)| {
                    view! {
                        <div
                            role="tabpanel"
                            id=format!("proxy-panel-{i}")
                            aria-labelledby=format!("proxy-tab-{i}")
                            hidden=move || shown.get() != i
                            data-proxy=s.proxy.clone()
                        >
                            <div class="mb-1 flex justify-end">
                                <CopyButton what=format!("{} configuration", s.proxy) text=s.text.clone() />
                            </div>
                            <pre class="max-h-96 overflow-auto rounded-md bg-chrome-900 p-3 text-xs text-chrome-100" tabindex="0"><code class=format!("language-{}", s.language)>{s.text}</code></pre>
                        </div>
                    }
                })
                .collect_view()}
        </section>
    }
}
