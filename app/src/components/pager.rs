//! Previous/next paging for long lists.

use leptos::prelude::*;

/// "1–50 of 1,234" with Previous / Next links. `base` ends in `?` or `&` and carries what the
/// list keeps (search, filters, sort).
#[component]
pub(crate) fn Pager(total: i64, offset: u32, limit: u32, base: String) -> impl IntoView {
    let end = (offset as i64 + limit as i64).min(total);
    let prev = (offset > 0).then(|| format!("{base}offset={}", offset.saturating_sub(limit)));
    let next = (end < total).then(|| format!("{base}offset={end}"));
    view! {
        <div class="mt-2 flex items-center gap-4 text-sm text-slate-600" data-testid="pager">
            <span>{if total == 0 { "None".to_string() } else { format!("{}–{} of {}", offset + 1, end, total) }}</span>
            {prev.map(|href| view! { <a href=href class="link">"Previous"</a> })}
            {next.map(|href| view! { <a href=href class="link">"Next"</a> })}
        </div>
    }
}
