//! The audit log's write path and vocabulary. Details are structured JSON built
//! by the callers here; no caller passes a secret, and [`Audit::record`] refuses
//! keys that look like one, so a mistake fails loudly in tests.

use serde_json::{Map, Value};

mod query;
pub use query::{AuditError, AuditExport, AuditFilter, EXPORT_LIMIT};

use crate::store::{new_id, now_ms, AuditRecord, Store, StoreError};

/// Every action the audit log records. The string form is stable: filters and exports use it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SetupCompleted,
    AdminCreatedFromSettings,
    SignIn,
    SignInFailed,
    SignInThrottled,
    SignOut,
    ProviderCreated,
    ProviderUpdated,
    ProviderTested,
    ProviderEnabled,
    ProviderDisabled,
    ProviderDeleted,
    SyncStarted,
    SyncSucceeded,
    SyncFailed,
    SyncAwaitingApproval,
    SyncApproved,
    SyncDiscarded,
    SyncSettingsChanged,
    DirectoryUsersCreated,
    DirectoryUsersUpdated,
    DirectoryUserRestored,
    DirectoryUserDisabled,
    DirectoryUserDeleted,
    DirectoryUserKept,
    DirectoryGroupsCreated,
    DirectoryGroupsUpdated,
    DirectoryGroupDeleted,
    DirectoryMembershipsChanged,
    SsoSignInFailed,
    SsoNoRole,
    SessionRefreshed,
    SessionRefreshFailed,
    SsoDryRun,
    AccountLinked,
    RoleMappingCreated,
    RoleMappingUpdated,
    RoleMappingDeleted,
    LocalSignInRestricted,
    ApplicationCreated,
    ApplicationUpdated,
    ApplicationDeleted,
    PolicyCreated,
    PolicyUpdated,
    PolicyDeleted,
    PoliciesReordered,
    PoliciesImported,
    AccessAllowed,
    AccessBlocked,
    ApiTokenCreated,
    ApiTokenRevoked,
    ApiTokenRefused,
    ConfigApplied,
    UniversalLogout,
    ScimTokenGenerated,
    ScimUserCreated,
    ScimUserUpdated,
    ScimUserDeactivated,
    ScimUserReactivated,
    ScimUserDeleted,
    ScimGroupCreated,
    ScimGroupUpdated,
    ScimGroupDeleted,
    ScimDeactivationBurst,
    ScimSettingsChanged,
}

impl Action {
    pub const ALL: [Action; 65] = [
        Action::SetupCompleted,
        Action::AdminCreatedFromSettings,
        Action::SignIn,
        Action::SignInFailed,
        Action::SignInThrottled,
        Action::SignOut,
        Action::ProviderCreated,
        Action::ProviderUpdated,
        Action::ProviderTested,
        Action::ProviderEnabled,
        Action::ProviderDisabled,
        Action::ProviderDeleted,
        Action::SyncStarted,
        Action::SyncSucceeded,
        Action::SyncFailed,
        Action::SyncAwaitingApproval,
        Action::SyncApproved,
        Action::SyncDiscarded,
        Action::SyncSettingsChanged,
        Action::DirectoryUsersCreated,
        Action::DirectoryUsersUpdated,
        Action::DirectoryUserRestored,
        Action::DirectoryUserDisabled,
        Action::DirectoryUserDeleted,
        Action::DirectoryUserKept,
        Action::DirectoryGroupsCreated,
        Action::DirectoryGroupsUpdated,
        Action::DirectoryGroupDeleted,
        Action::DirectoryMembershipsChanged,
        Action::SsoSignInFailed,
        Action::SsoNoRole,
        Action::SessionRefreshed,
        Action::SessionRefreshFailed,
        Action::SsoDryRun,
        Action::AccountLinked,
        Action::RoleMappingCreated,
        Action::RoleMappingUpdated,
        Action::RoleMappingDeleted,
        Action::LocalSignInRestricted,
        Action::ApplicationCreated,
        Action::ApplicationUpdated,
        Action::ApplicationDeleted,
        Action::PolicyCreated,
        Action::PolicyUpdated,
        Action::PolicyDeleted,
        Action::PoliciesReordered,
        Action::PoliciesImported,
        Action::AccessAllowed,
        Action::AccessBlocked,
        Action::ApiTokenCreated,
        Action::ApiTokenRevoked,
        Action::ApiTokenRefused,
        Action::ConfigApplied,
        Action::UniversalLogout,
        Action::ScimTokenGenerated,
        Action::ScimUserCreated,
        Action::ScimUserUpdated,
        Action::ScimUserDeactivated,
        Action::ScimUserReactivated,
        Action::ScimUserDeleted,
        Action::ScimGroupCreated,
        Action::ScimGroupUpdated,
        Action::ScimGroupDeleted,
        Action::ScimDeactivationBurst,
        Action::ScimSettingsChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Action::SetupCompleted => "setup.completed",
            Action::AdminCreatedFromSettings => "setup.admin_from_settings",
            Action::SignIn => "auth.sign_in",
            Action::SignInFailed => "auth.sign_in_failed",
            Action::SignInThrottled => "auth.sign_in_throttled",
            Action::SignOut => "auth.sign_out",
            Action::ProviderCreated => "provider.created",
            Action::ProviderUpdated => "provider.updated",
            Action::ProviderTested => "provider.tested",
            Action::ProviderEnabled => "provider.enabled",
            Action::ProviderDisabled => "provider.disabled",
            Action::ProviderDeleted => "provider.deleted",
            Action::SyncStarted => "sync.started",
            Action::SyncSucceeded => "sync.succeeded",
            Action::SyncFailed => "sync.failed",
            Action::SyncAwaitingApproval => "sync.awaiting_approval",
            Action::SyncApproved => "sync.approved",
            Action::SyncDiscarded => "sync.discarded",
            Action::SyncSettingsChanged => "sync.settings_changed",
            Action::DirectoryUsersCreated => "directory.users_created",
            Action::DirectoryUsersUpdated => "directory.users_updated",
            Action::DirectoryUserRestored => "directory.user_restored",
            Action::DirectoryUserDisabled => "directory.user_disabled",
            Action::DirectoryUserDeleted => "directory.user_deleted",
            Action::DirectoryUserKept => "directory.user_kept",
            Action::DirectoryGroupsCreated => "directory.groups_created",
            Action::DirectoryGroupsUpdated => "directory.groups_updated",
            Action::DirectoryGroupDeleted => "directory.group_deleted",
            Action::DirectoryMembershipsChanged => "directory.memberships_changed",
            Action::SsoSignInFailed => "auth.sso_sign_in_failed",
            Action::SsoNoRole => "auth.sso_no_role",
            Action::SessionRefreshed => "auth.session_refreshed",
            Action::SessionRefreshFailed => "auth.session_refresh_failed",
            Action::SsoDryRun => "auth.sso_dry_run",
            Action::AccountLinked => "auth.account_linked",
            Action::RoleMappingCreated => "role_mapping.created",
            Action::RoleMappingUpdated => "role_mapping.updated",
            Action::RoleMappingDeleted => "role_mapping.deleted",
            Action::LocalSignInRestricted => "auth.local_sign_in_restricted",
            Action::ApplicationCreated => "application.created",
            Action::ApplicationUpdated => "application.updated",
            Action::ApplicationDeleted => "application.deleted",
            Action::PolicyCreated => "policy.created",
            Action::PolicyUpdated => "policy.updated",
            Action::PolicyDeleted => "policy.deleted",
            Action::PoliciesReordered => "policy.reordered",
            Action::PoliciesImported => "policy.imported",
            Action::AccessAllowed => "access.allowed",
            Action::AccessBlocked => "access.blocked",
            Action::ApiTokenCreated => "api_token.created",
            Action::ApiTokenRevoked => "api_token.revoked",
            Action::ApiTokenRefused => "api_token.refused",
            Action::ConfigApplied => "config.applied",
            Action::UniversalLogout => "session.universal_logout",
            Action::ScimTokenGenerated => "scim.token_generated",
            Action::ScimUserCreated => "scim.user_created",
            Action::ScimUserUpdated => "scim.user_updated",
            Action::ScimUserDeactivated => "scim.user_deactivated",
            Action::ScimUserReactivated => "scim.user_reactivated",
            Action::ScimUserDeleted => "scim.user_deleted",
            Action::ScimGroupCreated => "scim.group_created",
            Action::ScimGroupUpdated => "scim.group_updated",
            Action::ScimGroupDeleted => "scim.group_deleted",
            Action::ScimDeactivationBurst => "scim.deactivation_burst",
            Action::ScimSettingsChanged => "scim.settings_changed",
        }
    }

    /// What the Audit log page shows.
    pub fn label(self) -> &'static str {
        match self {
            Action::SetupCompleted => "First admin created (setup)",
            Action::AdminCreatedFromSettings => "First admin created from settings",
            Action::SignIn => "Signed in",
            Action::SignInFailed => "Sign-in failed",
            Action::SignInThrottled => "Sign-in refused: too many attempts",
            Action::SignOut => "Signed out",
            Action::ProviderCreated => "Identity provider connected",
            Action::ProviderUpdated => "Identity provider edited",
            Action::ProviderTested => "Identity provider tested",
            Action::ProviderEnabled => "Identity provider enabled",
            Action::ProviderDisabled => "Identity provider disabled",
            Action::ProviderDeleted => "Identity provider deleted",
            Action::SyncStarted => "Directory sync started",
            Action::SyncSucceeded => "Directory sync finished",
            Action::SyncFailed => "Directory sync failed",
            Action::SyncAwaitingApproval => "Directory sync stopped: removals need approval",
            Action::SyncApproved => "Directory sync removals approved",
            Action::SyncDiscarded => "Directory sync diff discarded",
            Action::SyncSettingsChanged => "Directory sync settings changed",
            Action::DirectoryUsersCreated => "Directory users added by sync",
            Action::DirectoryUsersUpdated => "Directory users updated by sync",
            Action::DirectoryUserRestored => "Directory user back in the provider: restored",
            Action::DirectoryUserDisabled => "Directory user gone from the provider: disabled",
            Action::DirectoryUserDeleted => "Directory user gone from the provider: deleted",
            Action::DirectoryUserKept => "Directory user gone from the provider: kept",
            Action::DirectoryGroupsCreated => "Directory groups added by sync",
            Action::DirectoryGroupsUpdated => "Directory groups updated by sync",
            Action::DirectoryGroupDeleted => "Directory group gone from the provider: deleted",
            Action::DirectoryMembershipsChanged => "Group memberships changed by sync",
            Action::SsoSignInFailed => "Sign-in with the identity provider refused",
            Action::SsoNoRole => "Sign-in refused: no role for the person's groups",
            Action::SessionRefreshed => "Session refreshed at the identity provider",
            Action::SessionRefreshFailed => "Session ended: refresh at the identity provider failed",
            Action::SsoDryRun => "Test sign-in (no session created)",
            Action::AccountLinked => "Local account linked to the identity provider",
            Action::RoleMappingCreated => "Role mapping added",
            Action::RoleMappingUpdated => "Role mapping changed",
            Action::RoleMappingDeleted => "Role mapping removed",
            Action::LocalSignInRestricted => "Local sign-in restriction changed",
            Action::ApplicationCreated => "Application created",
            Action::ApplicationUpdated => "Application changed",
            Action::ApplicationDeleted => "Application deleted",
            Action::PolicyCreated => "Policy created",
            Action::PolicyUpdated => "Policy changed",
            Action::PolicyDeleted => "Policy deleted",
            Action::PoliciesReordered => "Policies reordered",
            Action::PoliciesImported => "Policies imported",
            Action::AccessAllowed => "Access allowed",
            Action::AccessBlocked => "Access blocked",
            Action::ApiTokenCreated => "API token created",
            Action::ApiTokenRevoked => "API token revoked",
            Action::ApiTokenRefused => "API request refused: bad API token",
            Action::ConfigApplied => "Configuration applied",
            Action::UniversalLogout => "Signed out by the provider (Universal Logout)",
            Action::ScimTokenGenerated => "SCIM token generated",
            Action::ScimUserCreated => "Person provisioned by SCIM",
            Action::ScimUserUpdated => "Person changed by SCIM",
            Action::ScimUserDeactivated => "Person deactivated by SCIM: sessions ended",
            Action::ScimUserReactivated => "Person reactivated by SCIM",
            Action::ScimUserDeleted => "Person deleted by SCIM",
            Action::ScimGroupCreated => "Group pushed by SCIM",
            Action::ScimGroupUpdated => "Group changed by SCIM",
            Action::ScimGroupDeleted => "Group deleted by SCIM",
            Action::ScimDeactivationBurst => "SCIM deactivated more people than the removal threshold",
            Action::ScimSettingsChanged => "SCIM provisioning turned on or off",
        }
    }

    pub fn parse(s: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// Who did it.
#[derive(Debug, Clone)]
pub enum Actor {
    User {
        id: String,
        email: String,
    },
    /// Someone not signed in, e.g. a failed sign-in (the typed email goes in `target`).
    Anonymous,
    System,
    /// `portcullis api-token …` on the server's machine: whoever can run it holds the database.
    CommandLine,
    /// An API token: its id, and `API token pcat_… (name)` as the log shows it.
    Token {
        id: String,
        label: String,
    },
}

impl Actor {
    /// A signed-in person's email, as runs and mappings record who decided.
    pub fn email(&self) -> Option<&str> {
        match self {
            Actor::User { email, .. } => Some(email),
            Actor::Anonymous | Actor::System | Actor::CommandLine | Actor::Token { .. } => None,
        }
    }

    /// Who, as the audit log's actor column shows it.
    pub fn label(&self) -> String {
        match self {
            Actor::User { email, .. } => email.clone(),
            Actor::Anonymous => "anonymous".into(),
            Actor::System => "system".into(),
            Actor::CommandLine => "command line".into(),
            Actor::Token { label, .. } => label.clone(),
        }
    }
}

/// Who asks for a change, with what role and from where: what every service that changes
/// something needs to check the role and write the audit entry. Built once per request by
/// whoever authenticated it (a console session, later an API token).
#[derive(Debug, Clone)]
pub struct Caller {
    pub actor: Actor,
    pub role: crate::Role,
    pub ip: Option<String>,
}

impl Caller {
    /// The caller's address, as the audit log takes it.
    pub fn ip(&self) -> Option<&str> {
        self.ip.as_deref()
    }
}

/// One entry to record.
#[derive(Debug, Clone)]
pub struct Event {
    pub actor: Actor,
    pub action: Action,
    pub target: Option<String>,
    pub success: bool,
    pub ip: Option<String>,
    pub details: Map<String, Value>,
}

impl Event {
    pub fn new(actor: Actor, action: Action) -> Self {
        Self { actor, action, target: None, success: true, ip: None, details: Map::new() }
    }
    pub fn target(mut self, target: impl Into<String>) -> Self {
        self.target = Some(target.into());
        self
    }
    pub fn failed(mut self) -> Self {
        self.success = false;
        self
    }
    pub fn ip(mut self, ip: Option<&str>) -> Self {
        self.ip = ip.map(str::to_string);
        self
    }
    pub fn detail(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.details.insert(key.to_string(), value.into());
        self
    }

    /// The row to store; sync writes it inside its own transaction.
    pub fn into_record(self) -> AuditRecord {
        debug_assert!(
            !self.details.keys().any(|k| SECRET_KEYS.iter().any(|s| k.to_ascii_lowercase().contains(s))),
            "audit details must not carry secrets: {:?}",
            self.details.keys().collect::<Vec<_>>()
        );
        let (actor_id, actor) = match self.actor {
            Actor::User { id, email } => (Some(id), email),
            Actor::Anonymous => (None, "anonymous".to_string()),
            Actor::System => (None, "system".to_string()),
            Actor::CommandLine => (None, "command line".to_string()),
            Actor::Token { id, label } => (Some(id), label),
        };
        AuditRecord {
            id: new_id(),
            at: now_ms(),
            actor_id,
            actor,
            action: self.action.as_str().to_string(),
            target: self.target,
            outcome: if self.success { "success" } else { "failure" }.to_string(),
            ip: self.ip,
            details: Value::Object(self.details).to_string(),
        }
    }
}

/// Keys that must never reach the audit log.
const SECRET_KEYS: [&str; 6] = ["password", "secret", "token", "private_key", "client_secret", "api_token"];

#[derive(Clone, Debug)]
pub struct Audit {
    store: Store,
}

impl Audit {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn record(&self, event: Event) -> Result<(), StoreError> {
        self.store.insert_audit(&event.into_record()).await
    }

    /// Records, and logs instead of failing when the database refuses: an
    /// audit write must not turn a sign-out into an error page.
    pub async fn record_or_log(&self, event: Event) {
        let action = event.action.as_str();
        if let Err(e) = self.record(event).await {
            tracing::error!(action, error = %e, "could not write the audit log");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_listed_once_with_a_unique_name_and_a_label() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        for a in Action::ALL {
            assert_eq!(Action::parse(a.as_str()), Some(a));
            assert!(!a.label().is_empty());
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}

/// Audit rows that anyone can cause (denied requests, failed or throttled sign-ins) are
/// written once a minute per key; the rest are counted and the next written row says how
/// many there were. Bounded memory: closed windows are forgotten past 100,000 keys.
#[derive(Clone, Default)]
pub struct AuditLimiter {
    /// key → (start of the current window, rows not written in it)
    windows: std::sync::Arc<std::sync::Mutex<std::collections::HashMap<u64, (i64, u64)>>>,
}

/// One row per key this often.
pub const LIMITED_AUDIT_MS: i64 = 60_000;

impl std::fmt::Debug for AuditLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLimiter").finish_non_exhaustive()
    }
}

impl AuditLimiter {
    /// `Some(n)`: write this row, saying `n` more were not written before it; `None`: count it.
    pub fn admit(&self, key: &[&str], now: i64) -> Option<u64> {
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            key.hash(&mut h);
            h.finish()
        };
        let mut windows = self.windows.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if windows.len() > 100_000 {
            windows.retain(|_, (start, _)| now - *start < LIMITED_AUDIT_MS);
        }
        match windows.get_mut(&key) {
            Some((start, suppressed)) if now - *start < LIMITED_AUDIT_MS => {
                *suppressed += 1;
                None
            }
            Some((start, suppressed)) => {
                let before = *suppressed;
                (*start, *suppressed) = (now, 0);
                Some(before)
            }
            None => {
                windows.insert(key, (now, 0));
                Some(0)
            }
        }
    }
}
