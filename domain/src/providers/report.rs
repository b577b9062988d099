//! The report a check run produces: one row per check, with a fix for what failed.

use std::time::Instant;

pub use portcullis_types::provider::{Check, Report, Status};

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
