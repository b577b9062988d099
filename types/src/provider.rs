//! Identity providers on the wire: their kinds, and the report a check run produces (one row
//! per check, with a fix for what failed), which the wizard, Test connection and later the
//! REST API all show.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    Okta,
    /// Any OpenID Connect provider.
    Oidc,
}

impl ProviderKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderKind::Okta => "okta",
            ProviderKind::Oidc => "oidc",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "okta" => Some(ProviderKind::Okta),
            "oidc" => Some(ProviderKind::Oidc),
            _ => None,
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            ProviderKind::Okta => "Okta",
            ProviderKind::Oidc => "Generic OpenID Connect",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Warning,
    Failed,
    /// Not run because an earlier check failed.
    Skipped,
}

impl Status {
    /// As in JSON and the report's `data-status` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Warning => "warning",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Status::Passed => "Passed",
            Status::Warning => "Warning",
            Status::Failed => "Failed",
            Status::Skipped => "Skipped",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Check {
    /// Stable id, e.g. `discovery`; tests and the UI key on it.
    pub id: String,
    pub title: String,
    pub status: Status,
    pub duration_ms: u64,
    /// What was found, in plain words.
    pub detail: String,
    /// For a failure or warning: what to do about it.
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Report {
    pub checks: Vec<Check>,
    pub total_ms: u64,
}

impl Report {
    /// Every check passed or only warned.
    pub fn ok(&self) -> bool {
        !self.checks.is_empty() && self.checks.iter().all(|c| matches!(c.status, Status::Passed | Status::Warning))
    }

    pub fn get(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    pub fn summary(&self) -> String {
        let count = |s| self.checks.iter().filter(|c| c.status == s).count();
        let (failed, warned) = (count(Status::Failed), count(Status::Warning));
        match (failed, warned) {
            (0, 0) => format!("All {} checks passed", self.checks.len()),
            (0, w) => format!("Passed with {w} warning{}", if w == 1 { "" } else { "s" }),
            (f, _) => format!("{f} check{} failed", if f == 1 { "" } else { "s" }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(status: Status) -> Check {
        Check { id: "x".into(), title: "X".into(), status, duration_ms: 1, detail: String::new(), fix: None }
    }

    #[test]
    fn kinds_and_statuses_keep_their_stored_and_wire_names() {
        for kind in [ProviderKind::Okta, ProviderKind::Oidc] {
            assert_eq!(ProviderKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).ok(), Some(serde_json::Value::from(kind.as_str())));
        }
        for status in [Status::Passed, Status::Warning, Status::Failed, Status::Skipped] {
            assert_eq!(serde_json::to_value(status).ok(), Some(serde_json::Value::from(status.as_str())));
        }
    }

    #[test]
    fn a_report_is_ok_only_without_failures_and_says_how_many() {
        let report = |s: &[Status]| Report { checks: s.iter().map(|s| check(*s)).collect(), total_ms: 0 };
        assert!(!Report::default().ok());
        assert!(report(&[Status::Passed, Status::Warning]).ok());
        assert!(!report(&[Status::Passed, Status::Failed, Status::Skipped]).ok());
        assert_eq!(report(&[Status::Passed, Status::Passed]).summary(), "All 2 checks passed");
        assert_eq!(report(&[Status::Passed, Status::Warning]).summary(), "Passed with 1 warning");
        assert_eq!(report(&[Status::Failed, Status::Failed]).summary(), "2 checks failed");
    }
}
