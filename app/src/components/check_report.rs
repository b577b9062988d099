//! The check report: one row per check, with its time and, for a failure, the fix.

use leptos::prelude::*;

use crate::api::providers::{CheckReport, Status};

#[component]
pub fn ReportView(report: CheckReport) -> impl IntoView {
    let (banner, banner_class) = if report.ok {
        (report.summary.clone(), "border-green-200 bg-green-50 text-green-900")
    } else {
        (report.summary.clone(), "border-red-200 bg-red-50 text-red-900")
    };
    view! {
        <section aria-label="Check results" data-testid="check-report" data-ok=report.ok.to_string()>
            <p class=format!("mb-2 rounded-md border px-3 py-2 text-sm font-medium {banner_class}") role="status">
                {banner}
                <span class="ml-2 font-normal text-slate-600">{format!("({} ms)", report.total_ms)}</span>
            </p>
            <ul class="divide-y divide-slate-100 rounded-md border border-slate-200 bg-white">
                {report
                    .rows
                    .into_iter()
                    .map(|row| {
                        let (icon, class) = match row.status {
                            Status::Passed => ("✓", "text-green-700"),
                            Status::Warning => ("!", "text-amber-700"),
                            Status::Failed => ("✗", "text-red-700"),
                            Status::Skipped => ("–", "text-slate-400"),
                        };
                        let label = row.status.label();
                        view! {
                            <li class="flex gap-3 px-3 py-2 text-sm" data-check=row.id.clone() data-status=row.status.as_str()>
                                <span aria-hidden="true" class=format!("w-4 shrink-0 font-bold {class}")>{icon}</span>
                                <div class="min-w-0 flex-1">
                                    <p class="font-medium">
                                        {row.title}
                                        <span class=format!("ml-2 text-xs font-semibold {class}")>{label}</span>
                                        <span class="ml-2 text-xs text-slate-400">{format!("{} ms", row.duration_ms)}</span>
                                    </p>
                                    <p class="break-words text-slate-700">{row.detail}</p>
                                    {row
                                        .fix
                                        .map(|fix| {
                                            view! {
                                                <p class="mt-1 break-words text-slate-900">
                                                    <span class="font-semibold">"How to fix: "</span>
                                                    {fix}
                                                </p>
                                            }
                                        })}
                                </div>
                            </li>
                        }
                    })
                    .collect_view()}
            </ul>
        </section>
    }
}
