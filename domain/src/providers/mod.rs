//! External identity providers: their settings, and the checks that prove
//! them before they are saved.

pub mod checks;
pub mod directory;
pub mod normalize;
pub mod report;
pub mod service;

use serde::{Deserialize, Serialize};

use crate::settings::Secret;

pub use portcullis_types::provider::ProviderKind;

/// Okta's two kinds of authorization server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum AuthServer {
    /// Issuer = the org URL; the only server whose tokens carry groups for the org's apps by default.
    Org,
    /// `/oauth2/{id}`, e.g. `default`.
    Custom(String),
}

impl AuthServer {
    /// "Org" or a custom server id, as typed in the wizard.
    pub fn parse(text: &str) -> AuthServer {
        let t = text.trim();
        if t.is_empty() || t.eq_ignore_ascii_case("org") {
            AuthServer::Org
        } else {
            AuthServer::Custom(t.to_string())
        }
    }
    pub fn label(&self) -> String {
        match self {
            AuthServer::Org => "Org".into(),
            AuthServer::Custom(id) => id.clone(),
        }
    }
}

pub use crate::store::DEFAULT_SCOPES;
pub const DEFAULT_GROUPS_CLAIM: &str = "groups";

/// Step 1 of the wizard: what the admin typed.
#[derive(Debug, Clone)]
pub struct ClientSettings {
    pub kind: ProviderKind,
    pub name: String,
    pub base_url: String,
    pub client_id: String,
    pub client_secret: Secret,
    pub auth_server: AuthServer,
    pub scopes: Vec<String>,
    pub groups_claim: String,
    pub pkce: bool,
}

/// Splits "openid profile, email" into scopes.
pub fn parse_scopes(text: &str) -> Vec<String> {
    let mut scopes: Vec<String> = Vec::new();
    for s in text.split(|c: char| c.is_whitespace() || c == ',').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_string());
        }
    }
    scopes
}
