//! `/directory/runs/:id`: one sync run, what it saw and what it changed.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;

use super::run_sentence;
use crate::pages::error_text;
use crate::{
    api::directory::directory_run,
    layout::{loading, ErrorNote, PageHeader},
};

/// `/directory/runs/{id}`: where a user's "last changed by" leads, and each history row.
#[component]
pub fn SyncRunPage() -> impl IntoView {
    let params = use_params_map();
    let run = Resource::new(move || params.with(|p| p.get("id").unwrap_or_default()), directory_run);
    view! {
        <p class="mb-2 text-sm"><a href="/directory" class="link">"← Directory"</a></p>
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match run.await {
                    Err(e) => view! { <PageHeader title="Sync run" /> <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(d) => {
                        let r = d.run;
                        let title = format!("{} of {}", r.kind_label, d.provider);
                        let applied = !(r.status == "cancelled" || r.status == "awaiting_approval" || r.mode == "dry_run");
                        let rows = [
                            ("Status", r.status_label.clone()),
                            ("Started", format!("{} · {}", r.started_at, r.trigger)),
                            ("Duration", r.duration.clone()),
                            ("Seen", format!("{} users, {} groups", r.users_seen, r.groups_seen)),
                            ("Requests to the provider", format!("{} ({} waits for its rate limit)", r.requests, r.rate_limit_waits)),
                        ];
                        let changes = [
                            ("Users created", r.created),
                            ("Users updated", r.updated),
                            ("Users disabled", r.disabled),
                            ("Users deleted", r.deleted),
                            ("Users unchanged", r.unchanged),
                            ("Groups deleted", r.groups_deleted),
                            ("Memberships removed", r.memberships_removed),
                        ];
                        view! {
                            <leptos_meta::Title text=title.clone() />
                            <h1 class="text-2xl font-semibold">{title}</h1>
                            <p class="mt-1 text-sm text-slate-600" data-testid="run-sentence">{run_sentence(&r)}</p>
                            {r.error.clone().map(|e| view! {
                                <div class="mt-3"><ErrorNote message=format!("{e} {}", r.error_fix.clone().unwrap_or_default()) /></div>
                            })}
                            <dl class="mt-4 grid grid-cols-1 gap-x-6 gap-y-1 text-sm sm:grid-cols-[max-content_1fr]">
                                {rows.into_iter().map(|(k, v)| view! { <dt class="text-slate-600">{k}</dt><dd>{v}</dd> }).collect_view()}
                                <dt class="text-slate-600">"Decided by"</dt>
                                <dd>{r.decided_by.clone().unwrap_or_else(|| "—".into())}</dd>
                            </dl>
                            <h2 class="mt-6 mb-2 font-semibold">
                                {if applied { "Changes applied" } else { "Changes (none applied)" }}
                            </h2>
                            <dl class="grid grid-cols-[max-content_auto] gap-x-6 gap-y-1 text-sm" data-testid="run-changes">
                                {changes
                                    .into_iter()
                                    .map(|(k, n)| view! { <dt class="text-slate-600">{k}</dt><dd class="tabular-nums">{n}</dd> })
                                    .collect_view()}
                            </dl>
                            <p class="mt-4 text-sm">
                                <a href=format!("/audit?target={}", portcullis_types::url::encode(&d.provider)) class="link">
                                    "This provider's audit entries"
                                </a>
                            </p>
                        }
                            .into_any()
                    }
                }
            })}
        </Suspense>
    }
}
