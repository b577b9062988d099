//! What can stop a sync, and what an administrator can do about each.

use super::*;

/// Why a sync request was refused or could not be carried out. Messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("No such provider: it may have been deleted.")]
    ProviderNotFound,
    #[error("No such sync run.")]
    RunNotFound,
    #[error("Directory synchronization is not set up for this provider: edit it and enter the directory sync credentials (an API service app or an API token).")]
    DirectoryOff,
    #[error("The provider is disabled; enable it to synchronize its directory.")]
    ProviderDisabled,
    #[error("A synchronization of this provider is already running (run {run_id}); wait for it to finish.")]
    AlreadyRunning { run_id: String },
    #[error("This run is not waiting for approval (it is {status}).")]
    NotAwaitingApproval { status: String },
    #[error("{0}")]
    BadSettings(String),
    #[error("Okta lists the group {group} ({group_id}) but answered 404 for its members; the run stopped rather than empty the group, and nothing was changed.")]
    MembersNotFound { group: String, group_id: String },
    #[error("Only an Admin can {0}.")]
    AdminOnly(&'static str),
    #[error("The stored directory credentials cannot be used: {0}")]
    Credentials(String),
    #[error("Okta: {source}")]
    Okta { source: OktaError, fix: String },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error("internal error: {0}")]
    Internal(String),
    #[error("database error: {0}")]
    Store(#[from] StoreError),
}

// The same statuses the directory server functions answer with today.
impl crate::error::Classify for SyncError {
    fn fault(&self) -> crate::error::Fault {
        use crate::error::Fault;
        match self {
            SyncError::AdminOnly(_) => Fault::Forbidden,
            SyncError::BadSettings(_) => Fault::Invalid,
            SyncError::ProviderNotFound | SyncError::RunNotFound => Fault::NotFound,
            SyncError::NotAwaitingApproval { .. }
            | SyncError::AlreadyRunning { .. }
            | SyncError::DirectoryOff
            | SyncError::ProviderDisabled => Fault::Conflict,
            // The provider's answer or its stored credentials failed, not this server.
            SyncError::Okta { .. } | SyncError::MembersNotFound { .. } | SyncError::Credentials(_) => Fault::Upstream,
            SyncError::Crypto(_) | SyncError::Internal(_) | SyncError::Store(_) => Fault::Internal,
        }
    }

    fn message(&self) -> String {
        let (text, fix) = (self.to_string(), self.fix());
        if fix == text {
            text
        } else {
            format!("{text} {fix}")
        }
    }
}

impl From<OktaError> for SyncError {
    fn from(e: OktaError) -> Self {
        let fix = e.fix();
        SyncError::Okta { source: e, fix }
    }
}

impl SyncError {
    /// What the admin should do about it.
    pub fn fix(&self) -> String {
        match self {
            SyncError::Okta { fix, .. } => fix.clone(),
            SyncError::Credentials(_) => "Edit the provider and enter the directory sync credentials again.".into(),
            SyncError::Crypto(_) => "The key that encrypts secrets changed: restore PORTCULLIS_SECRET_KEY (or the key file), or enter the directory credentials again.".into(),
            SyncError::Store(_) => "Check the server's log and its disk, then run the sync again.".into(),
            SyncError::MembersNotFound { .. } => "Check the service app's admin role in Okta: a role limited to some groups cannot read the members of others. Then sync again.".into(),
            SyncError::AdminOnly(_) => "Ask an Admin to make this change.".into(),
            SyncError::AlreadyRunning { .. } => "Wait for the running sync to finish; its progress is shown on the provider.".into(),
            other => other.to_string(),
        }
    }
}
