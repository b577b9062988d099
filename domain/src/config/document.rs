//! The configuration document: everything an administrator configures, in one file that moves
//! between consoles. Providers are named by the document (`provider: Okta`), groups and people
//! by their provider's ids (Okta's `00g…`, `00u…`), so it survives renames; names next to those
//! ids are hints for people reading it and are not compared.

use portcullis_types::{provider::ProviderKind, Role};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    policies::{Action, HostRule},
    sync::SyncSettings,
};

pub const FORMAT: &str = "portcullis.config";
pub const VERSION: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigDocument {
    /// Always `portcullis.config`.
    pub format: String,
    /// 1.
    pub version: u32,
    #[serde(default)]
    pub providers: Vec<ProviderConfig>,
    #[serde(default)]
    pub role_mappings: Vec<RoleMappingConfig>,
    /// Each with its policies in evaluation order.
    #[serde(default)]
    pub applications: Vec<ApplicationConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// What the rest of the document calls it; unique.
    pub name: String,
    pub kind: ProviderKind,
    pub base_url: String,
    /// Okta's authorization server: absent for the org server, else its id (`default`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_server: Option<String>,
    pub client_id: String,
    /// A reference, never the secret: `${env:OKTA_CLIENT_SECRET}` or `${file:/run/secrets/okta}`.
    /// The command line resolves it before sending; absent keeps the stored secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    pub scopes: String,
    pub groups_claim: String,
    pub pkce: bool,
    pub asserts_verified_email: bool,
    pub enabled: bool,
    pub directory: DirectoryConfig,
    /// Directory synchronization's schedule and removal rules; absent: the defaults.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sync: Option<SyncSettings>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "mode", rename_all = "snake_case", deny_unknown_fields)]
pub enum DirectoryConfig {
    Off,
    ServiceApp {
        client_id: String,
        /// A reference to the private key (PEM or JWK), as `client_secret`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        private_key: Option<String>,
    },
    ApiToken {
        /// A reference to the Okta API token, as `client_secret`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        api_token: Option<String>,
    },
}

impl DirectoryConfig {
    pub fn mode(&self) -> &'static str {
        match self {
            DirectoryConfig::Off => "off",
            DirectoryConfig::ServiceApp { .. } => "service_app",
            DirectoryConfig::ApiToken { .. } => "api_token",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleMappingConfig {
    /// A provider's `name` in this document.
    pub provider: String,
    /// The group's id at the provider (Okta: `00g…`); a groups-claim name the directory does
    /// not list is its name.
    pub group: String,
    /// The group's name, for people reading the file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationConfig {
    /// Unique among applications.
    pub name: String,
    pub hosts: Vec<HostRule>,
    pub session_duration_minutes: u32,
    #[serde(default)]
    pub policies: Vec<PolicyConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyConfig {
    pub name: String,
    pub action: Action,
    #[serde(default = "yes")]
    pub enabled: bool,
    pub include: Vec<SelectorConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub require: Vec<SelectorConfig>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<SelectorConfig>,
}

fn yes() -> bool {
    true
}

/// Who a rule is about, with providers by their document name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SelectorConfig {
    Group {
        provider: String,
        /// Okta: `00g…`.
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    User {
        provider: String,
        /// Okta: `00u…`.
        id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<String>,
    },
    IdentityProvider {
        provider: String,
    },
    Everyone,
    Email {
        email: String,
    },
    EmailDomain {
        domain: String,
    },
}

impl SelectorConfig {
    /// Without the name hints: what plans compare.
    pub fn without_hints(&self) -> SelectorConfig {
        match self {
            SelectorConfig::Group { provider, id, .. } => {
                SelectorConfig::Group { provider: provider.clone(), id: id.clone(), name: None }
            }
            SelectorConfig::User { provider, id, .. } => {
                SelectorConfig::User { provider: provider.clone(), id: id.clone(), name: None }
            }
            other => other.clone(),
        }
    }
}

impl PolicyConfig {
    pub fn without_hints(&self) -> PolicyConfig {
        let strip = |v: &[SelectorConfig]| v.iter().map(SelectorConfig::without_hints).collect();
        PolicyConfig {
            include: strip(&self.include),
            require: strip(&self.require),
            exclude: strip(&self.exclude),
            ..self.clone()
        }
    }
}

impl RoleMappingConfig {
    pub fn without_hints(&self) -> RoleMappingConfig {
        RoleMappingConfig { group_name: None, ..self.clone() }
    }
}

/// YAML or JSON, as the caller says or as the text looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Syntax {
    Json,
    Yaml,
}

#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    #[error("The document is not valid {syntax}: {detail}")]
    Syntax { syntax: &'static str, detail: String },
    #[error("\"format\" must be \"{FORMAT}\".")]
    Format,
    #[error("This document is version {0}; this console reads version {VERSION}.")]
    Version(u64),
}

impl ConfigDocument {
    pub fn empty() -> Self {
        Self { format: FORMAT.into(), version: VERSION, providers: vec![], role_mappings: vec![], applications: vec![] }
    }

    /// Checks format and version before the shape, so a newer document is named as such.
    pub fn parse(text: &str, syntax: Syntax) -> Result<Self, DocumentError> {
        let value: serde_json::Value = match syntax {
            Syntax::Json => serde_json::from_str(text)
                .map_err(|e| DocumentError::Syntax { syntax: "JSON", detail: e.to_string() })?,
            Syntax::Yaml => serde_norway::from_str(text)
                .map_err(|e| DocumentError::Syntax { syntax: "YAML", detail: e.to_string() })?,
        };
        if value.get("format").and_then(|f| f.as_str()) != Some(FORMAT) {
            return Err(DocumentError::Format);
        }
        match value.get("version").and_then(|v| v.as_u64()) {
            Some(v) if v == u64::from(VERSION) => {}
            Some(v) => return Err(DocumentError::Version(v)),
            None => return Err(DocumentError::Version(0)),
        }
        serde_path_to_error::deserialize(value).map_err(|e| DocumentError::Syntax {
            syntax: match syntax {
                Syntax::Json => "JSON",
                Syntax::Yaml => "YAML",
            },
            detail: format!("at {}: {}", e.path(), e.inner()),
        })
    }

    pub fn to_yaml(&self) -> String {
        serde_norway::to_string(self).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

/// The environment variable an export names for a provider's secret: `Okta` → `OKTA_CLIENT_SECRET`.
pub fn secret_variable(provider: &str, what: &str) -> String {
    let mut slug: String =
        provider.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    while slug.contains("__") {
        slug = slug.replace("__", "_");
    }
    let slug = slug.trim_matches('_');
    let slug = if slug.is_empty() || slug.starts_with(|c: char| c.is_ascii_digit()) {
        format!("IDP_{slug}")
    } else {
        slug.to_string()
    };
    format!("${{env:{slug}_{what}}}")
}

/// Whether a secret field is still a reference (`${env:…}`, `${file:…}`): the command line
/// resolves them; a console never reads its own environment or files for a document.
pub fn is_reference(value: &str) -> bool {
    let v = value.trim();
    v.starts_with("${") && v.ends_with('}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_and_json_read_the_same_document_and_a_newer_version_is_named() {
        let yaml = "format: portcullis.config\nversion: 1\napplications:\n  - name: Wiki\n    hosts: [{hostname: wiki.example.com}]\n    session_duration_minutes: 60\n    policies:\n      - name: Staff\n        action: allow\n        include: [{type: group, provider: Okta, id: 00g1}]\n";
        let doc = ConfigDocument::parse(yaml, Syntax::Yaml).expect("yaml");
        let again = ConfigDocument::parse(&doc.to_json(), Syntax::Json).expect("json");
        assert_eq!(doc, again);
        assert_eq!(ConfigDocument::parse(&doc.to_yaml(), Syntax::Yaml).expect("yaml again"), doc);
        assert!(matches!(
            ConfigDocument::parse("format: portcullis.config\nversion: 2\n", Syntax::Yaml),
            Err(DocumentError::Version(2))
        ));
        assert!(matches!(ConfigDocument::parse("{\"format\": \"x\"}", Syntax::Json), Err(DocumentError::Format)));
        let unknown = "format: portcullis.config\nversion: 1\nproviders: []\nowner: me\n";
        let e = ConfigDocument::parse(unknown, Syntax::Yaml).expect_err("unknown field");
        assert!(e.to_string().contains("owner"), "{e}");
    }

    #[test]
    fn secret_variables_are_shell_names_from_the_provider_name() {
        assert_eq!(secret_variable("Okta", "CLIENT_SECRET"), "${env:OKTA_CLIENT_SECRET}");
        assert_eq!(secret_variable("Okta (staging)", "DIRECTORY_KEY"), "${env:OKTA_STAGING_DIRECTORY_KEY}");
        assert_eq!(secret_variable("1st", "CLIENT_SECRET"), "${env:IDP_1ST_CLIENT_SECRET}");
        assert!(is_reference("${env:X}") && !is_reference("s3cr3t"));
    }
}
