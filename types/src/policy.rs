//! Who a policy rule is about. Shared: the domain stores and exports this JSON shape, and the
//! console's policy editor builds the same values, so one declaration serves both.

use serde::{Deserialize, Serialize};

/// A group by its provider's id (Okta: 00g…), never by name: a renamed group keeps its policies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GroupRef {
    /// `identity_providers.id`.
    pub provider_id: String,
    /// `directory_groups.external_id`.
    pub external_id: String,
}

/// A person by their provider's id (Okta: 00u…, the ID token's `sub`).
///
/// Not the directory row id: a user that sync deletes and later sees again gets a new row,
/// and a person can sign in before any sync stored them; the provider's id stays the same.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UserRef {
    pub provider_id: String,
    pub external_id: String,
}

/// Who a rule is about. JSON: `{"type": "group", "provider_id": "…", "external_id": "00g…"}`,
/// `{"type": "everyone"}`, `{"type": "email", "email": "…"}`, `{"type": "email_domain",
/// "domain": "…"}`, `{"type": "user", "provider_id": "…", "external_id": "00u…"}`,
/// `{"type": "identity_provider", "provider_id": "…"}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Selector {
    /// Members of a directory group.
    Group(GroupRef),
    /// Anyone signed in.
    Everyone,
    /// One email address, case-insensitive.
    Email { email: String },
    /// Email addresses whose part after '@' is exactly this (sub-domains do not match).
    EmailDomain { domain: String },
    /// One person of a provider.
    User(UserRef),
    /// People who signed in with this identity provider.
    IdentityProvider { provider_id: String },
}

impl Selector {
    /// The kind, as the policy editor names it.
    pub fn kind_label(&self) -> &'static str {
        match self {
            Selector::Group(_) => "Group",
            Selector::Everyone => "Everyone",
            Selector::Email { .. } => "Email",
            Selector::EmailDomain { .. } => "Email domain",
            Selector::User(_) => "User",
            Selector::IdentityProvider { .. } => "Identity provider",
        }
    }

    /// A label without the directory: ids where a name would need a lookup. The service's
    /// `describe` gives current names.
    pub fn plain_label(&self) -> String {
        match self {
            Selector::Group(g) => format!("Group {}", g.external_id),
            Selector::Everyone => "Everyone".into(),
            Selector::Email { email } => format!("Email {email}"),
            Selector::EmailDomain { domain } => format!("Email domain {domain}"),
            Selector::User(u) => format!("User {}", u.external_id),
            Selector::IdentityProvider { provider_id } => {
                format!("Identity provider {provider_id}")
            }
        }
    }
}

impl Selector {
    /// The provider a selector is about, if any: what an import maps to this console's.
    pub fn provider_id_mut(&mut self) -> Option<&mut String> {
        match self {
            Selector::Group(GroupRef { provider_id, .. })
            | Selector::User(UserRef { provider_id, .. })
            | Selector::IdentityProvider { provider_id } => Some(provider_id),
            Selector::Everyone | Selector::Email { .. } | Selector::EmailDomain { .. } => None,
        }
    }
}

/// A provider as a policy export names it: the id its rules use on the exporting console, and
/// what identifies the same provider on any console (its issuer and client ID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExportedProvider {
    pub id: String,
    pub name: String,
    pub issuer: String,
    pub client_id: String,
}

/// A provider connected to this console, as an import offers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderOption {
    pub id: String,
    pub name: String,
    pub issuer: String,
}

/// How one of a file's providers is found here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ProviderMatchKind {
    /// One provider with the same issuer and client ID: the same app.
    SameApp,
    /// One provider with the same issuer and another client ID: the same directory.
    SameIssuer,
    /// Picked by the administrator.
    Chosen,
    /// Several providers match: the administrator picks one.
    Several,
    /// None matches: the administrator picks one (its groups and users are checked) or
    /// connects the provider first.
    NotConnected,
}

/// One of a file's providers and the provider that stands for it here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ProviderMatch {
    pub in_file: ExportedProvider,
    pub kind: ProviderMatchKind,
    /// The provider used here; `None` until the administrator picks one.
    pub chosen: Option<String>,
    /// What to pick from: the matching providers, or every provider when none matches.
    pub candidates: Vec<ProviderOption>,
}
