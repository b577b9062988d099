//! Signing in with an identity provider, on the wire.

use serde::{Deserialize, Serialize};

/// What the refusal page and the test sign-in page show. No token, ever.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SignInOutcome {
    /// Why it ended: a refusal code such as `no_role`, or the test sign-in's outcome.
    pub kind: String,
    pub provider_id: String,
    pub provider_name: String,
    pub subject: String,
    pub email: String,
    pub name: String,
    pub email_verified: Option<bool>,
    pub groups: Vec<String>,
    /// Where the groups came from: the named claim, userinfo, the directory API, or nowhere.
    pub groups_source: String,
    pub role: Option<String>,
    /// Every mapping of this provider: group name → role. For the admin's test sign-in only: a
    /// refused person is told no role applies, never which groups would grant one.
    pub mappings: Vec<(String, String)>,
    /// The ID token's claims, for the test sign-in only.
    pub claims: Option<String>,
}
