//! The report a check run produces: one row per check, with a fix for what failed.

use std::time::Instant;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Passed,
    Warning,
    Failed,
    /// Not run because an earlier check failed.
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

/// Times one check and builds its row.
pub struct Timer {
    id: &'static str,
    title: &'static str,
    started: Instant,
}

impl Timer {
    pub fn start(id: &'static str, title: &'static str) -> Self {
        Self { id, title, started: Instant::now() }
    }

    fn finish(self, status: Status, detail: String, fix: Option<String>) -> Check {
        Check {
            id: self.id.to_string(),
            title: self.title.to_string(),
            status,
            duration_ms: self.started.elapsed().as_millis() as u64,
            detail,
            fix,
        }
    }

    pub fn passed(self, detail: impl Into<String>) -> Check {
        self.finish(Status::Passed, detail.into(), None)
    }
    pub fn warning(self, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        self.finish(Status::Warning, detail.into(), Some(fix.into()))
    }
    pub fn failed(self, detail: impl Into<String>, fix: impl Into<String>) -> Check {
        self.finish(Status::Failed, detail.into(), Some(fix.into()))
    }
}

pub fn skipped(id: &str, title: &str, because: &str) -> Check {
    Check {
        id: id.to_string(),
        title: title.to_string(),
        status: Status::Skipped,
        duration_ms: 0,
        detail: format!("Not run: {because}."),
        fix: None,
    }
}
