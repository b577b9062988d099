//! Reading the log back: the filters an administrator types, and the filtered rows as CSV or
//! JSON files.

use serde_json::{json, Value};

use super::{Action, Audit};
use crate::store::{AuditPage, AuditQuery, AuditRecord, StoreError};

/// The most rows one export holds; a wider range is cut to the newest and says so.
pub const EXPORT_LIMIT: usize = 100_000;

/// The log's filters as typed (the page's query string). Empty fields filter nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct AuditFilter {
    /// An action's stable name; an unknown name filters nothing.
    pub action: Option<String>,
    /// Part of the actor's email or name, any case.
    pub actor: Option<String>,
    /// Part of the target, any case.
    pub target: Option<String>,
    /// First day shown, `YYYY-MM-DD`, UTC.
    pub from: Option<String>,
    /// Last day shown (inclusive), `YYYY-MM-DD`, UTC.
    pub to: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("“{0}” is not a date. Use the form YYYY-MM-DD, for example 2026-12-04.")]
    NotADate(String),
    #[error("The first day ({from}) is after the last day ({to}).")]
    BackwardsRange { from: String, to: String },
    #[error("the audit log could not be read: {0}")]
    Store(#[from] StoreError),
}

impl crate::error::Classify for AuditError {
    fn fault(&self) -> crate::Fault {
        match self {
            AuditError::NotADate(_) | AuditError::BackwardsRange { .. } => crate::Fault::Invalid,
            AuditError::Store(_) => crate::Fault::Internal,
        }
    }
}

/// Midnight UTC that starts `day`, in epoch ms.
fn day_start(day: &str) -> Result<i64, AuditError> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(day.trim(), &format).map_err(|_| AuditError::NotADate(day.to_string()))?;
    Ok(date.midnight().assume_utc().unix_timestamp() * 1000)
}

const DAY_MS: i64 = 86_400_000;

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string)
}

impl AuditFilter {
    /// Whether any filter is set.
    pub fn is_active(&self) -> bool {
        [&self.action, &self.actor, &self.target, &self.from, &self.to].iter().any(|v| non_empty(v).is_some())
    }

    /// The store query for these filters, or what is wrong with them.
    pub fn query(&self, before: Option<String>, limit: u32) -> Result<AuditQuery, AuditError> {
        let since = non_empty(&self.from).map(|d| day_start(&d)).transpose()?;
        let until = non_empty(&self.to).map(|d| day_start(&d).map(|t| t + DAY_MS)).transpose()?;
        if let (Some(since), Some(until)) = (since, until) {
            if since >= until {
                return Err(AuditError::BackwardsRange {
                    from: self.from.clone().unwrap_or_default(),
                    to: self.to.clone().unwrap_or_default(),
                });
            }
        }
        Ok(AuditQuery {
            before: before.filter(|b| !b.is_empty()),
            action: non_empty(&self.action).filter(|a| Action::parse(a).is_some()),
            actor: non_empty(&self.actor),
            target: non_empty(&self.target),
            since,
            until,
            limit,
        })
    }
}

/// The filtered rows, newest first, for a download.
#[derive(Debug, Clone)]
pub struct AuditExport {
    pub records: Vec<AuditRecord>,
    /// More rows matched than [`EXPORT_LIMIT`]; the oldest were left out.
    pub truncated: bool,
}

impl Audit {
    /// A page of the log, newest first, older than `before`.
    pub async fn page(
        &self,
        filter: &AuditFilter,
        before: Option<String>,
        limit: u32,
    ) -> Result<AuditPage, AuditError> {
        Ok(self.store.audit_page(&filter.query(before, limit)?).await?)
    }

    /// Every row the filters match, up to [`EXPORT_LIMIT`].
    pub async fn export(&self, filter: &AuditFilter) -> Result<AuditExport, AuditError> {
        let mut query = filter.query(None, 500)?;
        let mut records = Vec::new();
        loop {
            let page = self.store.audit_page(&query).await?;
            records.extend(page.records);
            match page.next_before {
                Some(next) if records.len() < EXPORT_LIMIT => query.before = Some(next),
                Some(_) => {
                    records.truncate(EXPORT_LIMIT);
                    return Ok(AuditExport { records, truncated: true });
                }
                None => return Ok(AuditExport { records, truncated: false }),
            }
        }
    }
}

/// RFC 3339, UTC.
fn timestamp(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// A spreadsheet runs a cell that starts like a formula. Actors and targets come from outside
/// (a typed sign-in email, a provider's names), so such a cell is kept as text.
fn spreadsheet_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    match cell.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{cell}").into(),
        _ => cell.into(),
    }
}

impl AuditExport {
    pub fn file_name(&self, extension: &str) -> String {
        format!("portcullis-audit-{}.{extension}", time::OffsetDateTime::now_utc().date())
    }

    pub fn to_csv(&self) -> Vec<u8> {
        let mut out = csv::Writer::from_writer(Vec::new());
        let header = ["at", "actor", "action", "action_label", "target", "outcome", "ip", "details"];
        // Writing to a Vec cannot fail; a failed row would only be missing, never a panic.
        let _ = out.write_record(header);
        for r in &self.records {
            let label = Action::parse(&r.action).map(Action::label).unwrap_or_default();
            let row = [
                timestamp(r.at),
                spreadsheet_safe(&r.actor).into_owned(),
                r.action.clone(),
                label.to_string(),
                spreadsheet_safe(r.target.as_deref().unwrap_or_default()).into_owned(),
                r.outcome.clone(),
                spreadsheet_safe(r.ip.as_deref().unwrap_or_default()).into_owned(),
                spreadsheet_safe(&r.details).into_owned(),
            ];
            let _ = out.write_record(&row);
        }
        out.into_inner().unwrap_or_default()
    }

    pub fn to_json(&self) -> Vec<u8> {
        let entries: Vec<Value> = self
            .records
            .iter()
            .map(|r| {
                json!({
                    "id": r.id,
                    "at": timestamp(r.at),
                    "actor": r.actor,
                    "actor_id": r.actor_id,
                    "action": r.action,
                    "action_label": Action::parse(&r.action).map(Action::label),
                    "target": r.target,
                    "outcome": r.outcome,
                    "ip": r.ip,
                    "details": serde_json::from_str::<Value>(&r.details).unwrap_or(Value::String(r.details.clone())),
                })
            })
            .collect();
        let doc = json!({ "entries": entries, "truncated": self.truncated });
        serde_json::to_vec_pretty(&doc).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(from: &str, to: &str) -> AuditFilter {
        AuditFilter { from: Some(from.into()), to: Some(to.into()), ..Default::default() }
    }

    #[test]
    fn a_day_range_covers_whole_utc_days_inclusive() {
        let q = filter("2026-12-01", "2026-12-01").query(None, 50).unwrap();
        // 2026-12-01T00:00:00Z
        assert_eq!(q.since, Some(1_796_083_200_000));
        assert_eq!(q.until, Some(1_796_083_200_000 + DAY_MS));
    }

    #[test]
    fn bad_dates_and_backwards_ranges_are_refused_with_what_to_type() {
        let e = filter("12/01/2026", "").query(None, 50).unwrap_err();
        assert!(e.to_string().contains("YYYY-MM-DD"), "{e}");
        assert!(matches!(filter("2026-12-02", "2026-12-01").query(None, 50), Err(AuditError::BackwardsRange { .. })));
    }

    #[test]
    fn empty_fields_and_unknown_actions_filter_nothing() {
        let f = AuditFilter { action: Some("no.such".into()), actor: Some("  ".into()), ..Default::default() };
        let q = f.query(Some(String::new()), 50).unwrap();
        assert_eq!((q.action, q.actor, q.before, q.since), (None, None, None, None));
        assert!(!AuditFilter::default().is_active());
    }

    #[test]
    fn cells_that_a_spreadsheet_would_run_are_kept_as_text() {
        let export = AuditExport {
            records: vec![AuditRecord {
                id: "1".into(),
                at: 0,
                actor_id: None,
                actor: "anonymous".into(),
                action: "auth.sign_in_failed".into(),
                target: Some("=HYPERLINK(\"https://evil.example\")".into()),
                outcome: "failure".into(),
                ip: Some("127.0.0.1".into()),
                details: r#"{"reason":"wrong password"}"#.into(),
            }],
            truncated: false,
        };
        let csv = String::from_utf8(export.to_csv()).unwrap();
        assert!(csv.contains(r#"'=HYPERLINK"#), "{csv}");
        assert!(csv.starts_with("at,actor,action,action_label,target,outcome,ip,details\n"));
        assert!(csv.contains("Sign-in failed"));
        let json: Value = serde_json::from_slice(&export.to_json()).unwrap();
        assert_eq!(json["entries"][0]["details"]["reason"], "wrong password");
        assert_eq!(json["entries"][0]["target"], "=HYPERLINK(\"https://evil.example\")", "JSON keeps the value as is");
    }
}
