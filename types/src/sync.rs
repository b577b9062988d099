//! A directory sync run's kind and status. The strings are what `sync_runs.mode` and
//! `sync_runs.status` store, so `as_str`/`parse` must keep them unchanged.

use serde::{Deserialize, Serialize};

/// What a run does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    /// Every user, group and membership.
    Full,
    /// Only what changed since the last run (a full run when there was none).
    Incremental,
    /// A full fetch and the diff, applied to nothing.
    DryRun,
}

impl RunKind {
    pub const ALL: [RunKind; 3] = [RunKind::Full, RunKind::Incremental, RunKind::DryRun];

    pub fn as_str(self) -> &'static str {
        match self {
            RunKind::Full => "full",
            RunKind::Incremental => "incremental",
            RunKind::DryRun => "dry_run",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// In words, as the console shows it.
    pub fn label(self) -> &'static str {
        match self {
            RunKind::Full => "Full sync",
            RunKind::Incremental => "Incremental sync",
            RunKind::DryRun => "Dry run",
        }
    }
}

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    Running,
    /// Stopped before removing more people than the threshold allows; an admin decides.
    AwaitingApproval,
    Succeeded,
    /// Succeeded after an admin approved its removals.
    Approved,
    Failed,
    Cancelled,
}

impl RunStatus {
    pub const ALL: [RunStatus; 6] = [
        RunStatus::Running,
        RunStatus::AwaitingApproval,
        RunStatus::Succeeded,
        RunStatus::Approved,
        RunStatus::Failed,
        RunStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Running => "running",
            RunStatus::AwaitingApproval => "awaiting_approval",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Approved => "approved",
            RunStatus::Failed => "failed",
            RunStatus::Cancelled => "cancelled",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
    /// In words, as the console shows it.
    pub fn label(self) -> &'static str {
        match self {
            RunStatus::Running => "Running",
            RunStatus::AwaitingApproval => "Waiting for approval",
            RunStatus::Succeeded => "Succeeded",
            RunStatus::Approved => "Approved and applied",
            RunStatus::Failed => "Failed",
            RunStatus::Cancelled => "Discarded: nothing applied",
        }
    }
    /// Whether a stored status string is this one.
    pub fn is(self, stored: &str) -> bool {
        stored == self.as_str()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_round_trip() {
        for k in RunKind::ALL {
            assert_eq!(RunKind::parse(k.as_str()), Some(k));
        }
        for s in RunStatus::ALL {
            assert_eq!(RunStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(RunKind::parse("bogus"), None);
    }
}
