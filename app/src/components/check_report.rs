//! The check report: what failed first and in full, with the fix; what passed folded into
//! one line ("7 checks passed") that opens to the rows.

use leptos::prelude::*;

use crate::api::providers::{Check, CheckReport, Status};

/// `focus_problem`: move focus to the first failure and scroll it into view, as after a
/// Continue or Save that did not pass (the report may be below the fold).
#[component]
pub fn ReportView(report: CheckReport, #[prop(optional)] focus_problem: bool) -> impl IntoView {
    let banner_class =
        if report.ok { "border-green-200 bg-green-50 text-green-900" } else { "border-red-200 bg-red-50 text-red-900" };
    let (passed, problems): (Vec<Check>, Vec<Check>) =
        report.rows.into_iter().partition(|c| c.status == Status::Passed);
    let first_failure = NodeRef::<leptos::html::Li>::new();
    let first_failed_index = problems.iter().position(|c| c.status == Status::Failed);
    if focus_problem {
        Effect::new(move |_| {
            if let Some(li) = first_failure.get() {
                let _ = li.focus();
                li.scroll_into_view();
            }
        });
    }
    let passed_count = passed.len();
    view! {
        <section aria-label="Check results" data-testid="check-report" data-ok=report.ok.to_string()>
            <p class=format!("mb-2 rounded-md border px-3 py-2 text-sm font-medium {banner_class}") role="status">
                {report.summary.clone()}
                <span class="ml-2 font-normal text-slate-700">{format!("({} ms)", report.total_ms)}</span>
            </p>
            {(!problems.is_empty()).then(|| view! {
                <ul class="mb-2 divide-y divide-slate-100 rounded-md border border-slate-200 bg-white">
                    {problems
                        .into_iter()
                        .enumerate()
                        .map(|(i, row)| {
                            let node = if Some(i) == first_failed_index { first_failure } else { NodeRef::new() };
                            view! { <CheckRow row node /> }
                        })
                        .collect_view()}
                </ul>
            })}
            {(passed_count > 0).then(|| {
                let summary = if passed_count == 1 { "1 check passed".to_string() } else { format!("{passed_count} checks passed") };
                view! {
                    <details class="rounded-md border border-slate-200 bg-white" data-testid="passed-checks">
                        <summary class="cursor-pointer px-3 py-2 text-sm font-medium text-green-800">
                            <span aria-hidden="true" class="mr-2 font-bold">"✓"</span>
                            {summary}
                        </summary>
                        <ul class="divide-y divide-slate-100 border-t border-slate-200">
                            {passed.into_iter().map(|row| view! { <CheckRow row node=NodeRef::new() /> }).collect_view()}
                        </ul>
                    </details>
                }
            })}
        </section>
    }
}

#[component]
fn CheckRow(row: Check, node: NodeRef<leptos::html::Li>) -> impl IntoView {
    let (icon, class) = match row.status {
        Status::Passed => ("✓", "text-green-700"),
        Status::Warning => ("!", "text-amber-800"),
        Status::Failed => ("✗", "text-red-700"),
        Status::Skipped => ("–", "text-slate-600"),
    };
    view! {
        <li
            node_ref=node
            tabindex="-1"
            class="flex gap-3 px-3 py-2 text-sm focus:outline-none focus-visible:ring-2 focus-visible:ring-indigo-400"
            data-check=row.id.clone()
            data-status=row.status.as_str()
        >
            <span aria-hidden="true" class=format!("w-4 shrink-0 font-bold {class}")>{icon}</span>
            <div class="min-w-0 flex-1">
                <p class="font-medium">
                    {row.title}
                    <span class=format!("ml-2 text-xs font-semibold {class}")>{row.status.label()}</span>
                    <span class="ml-2 text-xs text-slate-600">{format!("{} ms", row.duration_ms)}</span>
                </p>
                <p class="break-words text-slate-700">{row.detail}</p>
                {row.fix.map(|fix| {
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
}
