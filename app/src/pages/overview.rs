//! `/`: the state of the console: what to do next, each provider's last check and sync
//! (problems first), what is protected, and what was decided in the last 24 hours.

use leptos::prelude::*;

use crate::api::console::{console_overview, OverviewData};
use crate::layout::{loading, ErrorNote, PageHeader};
use crate::pages::error_text;

#[component]
pub fn Overview() -> impl IntoView {
    let data = Resource::new(|| (), |_| console_overview());
    view! {
        <PageHeader title="Overview" intro="Where your identity providers, directory and applications stand." />
        <Suspense fallback=loading>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorNote message=error_text(&e) /> }.into_any(),
                    Ok(d) => view! { <OverviewView data=d /> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn OverviewView(data: OverviewData) -> impl IntoView {
    let OverviewData { providers, applications, policies, role_mappings, allowed_24h, blocked_24h, next } = data;
    let stats = [
        ("Applications", applications.to_string(), "/policies"),
        ("Policies", policies.to_string(), "/policies"),
        ("Role mappings", role_mappings.to_string(), "/settings/role-mappings"),
        ("Allowed, last 24 h", allowed_24h.to_string(), "/audit?action=access.allowed"),
        ("Blocked, last 24 h", blocked_24h.to_string(), "/audit?action=access.blocked"),
    ];
    view! {
        <section class="mb-6 rounded-lg border border-indigo-200 bg-indigo-50 p-5" aria-labelledby="next-heading" data-testid="next-step">
            <p class="text-xs font-semibold uppercase tracking-wide text-indigo-800">"Next"</p>
            <h2 id="next-heading" class="mt-1 text-lg font-semibold text-indigo-950">{next.title}</h2>
            <p class="mt-1 text-sm text-indigo-950">{next.text}</p>
            <a href=next.href class="btn-primary mt-3 inline-block">{next.link}</a>
        </section>
        <dl class="mb-6 grid grid-cols-2 gap-3 sm:grid-cols-5" data-testid="overview-stats">
            {stats
                .into_iter()
                .map(|(label, value, href)| {
                    view! {
                        <div class="rounded-lg border border-slate-200 bg-white p-4">
                            <dt class="text-xs font-medium text-slate-600">{label}</dt>
                            <dd class="mt-1 text-2xl font-semibold">
                                <a href=href class="hover:underline" data-stat=label>{value}</a>
                            </dd>
                        </div>
                    }
                })
                .collect_view()}
        </dl>
        <section aria-labelledby="providers-state-heading">
            <h2 id="providers-state-heading" class="mb-2 text-lg font-semibold">"Identity providers"</h2>
            {if providers.is_empty() {
                view! { <p class="text-sm text-slate-600">"None connected yet."</p> }.into_any()
            } else {
                view! {
                    <ul class="space-y-2" data-testid="provider-states">
                        {providers
                            .into_iter()
                            .map(|p| {
                                let ok = p.problem.is_none();
                                let border = if ok { "border-slate-200" } else { "border-amber-300" };
                                view! {
                                    <li class=format!("rounded-lg border {border} bg-white p-4") data-provider=p.name.clone() data-ok=ok.to_string()>
                                        <div class="flex flex-wrap items-baseline justify-between gap-2">
                                            <a href=format!("/settings/identity-providers/{}/edit", p.id) class="font-medium link">{p.name.clone()}</a>
                                            <span class="text-xs text-slate-600">{if p.enabled { "Enabled" } else { "Disabled" }}</span>
                                        </div>
                                        <p class="mt-1 text-sm text-slate-700">
                                            {format!("Check: {} · Directory sync: {}", p.check, p.sync)}
                                        </p>
                                        {p.problem.map(|problem| view! {
                                            <p class="mt-1 text-sm font-medium text-amber-900" data-testid="provider-problem">{problem}</p>
                                        })}
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                }
                    .into_any()
            }}
        </section>
    }
}
