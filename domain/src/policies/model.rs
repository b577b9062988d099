//! Applications, policies and selectors, with their stable JSON shape (stored, exported,
//! and later served by the REST API).

use serde::{Deserialize, Serialize};

/// What `format` says in every policy export.
pub const FORMAT: &str = "portcullis.policies";
/// Bumped when the export's shape changes in a way older readers cannot follow.
pub const FORMAT_VERSION: u32 = 1;

pub use portcullis_types::policy::{GroupRef, Selector, UserRef};

/// The three parts of a policy's rules.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rules {
    /// Any of these: at least one must match.
    pub include: Vec<Selector>,
    /// All of these must match.
    #[serde(default)]
    pub require: Vec<Selector>,
    /// None of these may match.
    #[serde(default)]
    pub exclude: Vec<Selector>,
}

impl Rules {
    /// Every selector, in include, require, exclude order.
    pub fn selectors(&self) -> impl Iterator<Item = &Selector> {
        self.include.iter().chain(&self.require).chain(&self.exclude)
    }
}

/// What a matching policy does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Block,
    /// Let the request through without the Allow policies; evaluated first, with Block.
    Bypass,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Block => "block",
            Action::Bypass => "bypass",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Action::Allow, Action::Block, Action::Bypass].into_iter().find(|a| a.as_str() == s)
    }
    pub fn label(self) -> &'static str {
        match self {
            Action::Allow => "Allow",
            Action::Block => "Block",
            Action::Bypass => "Bypass",
        }
    }
    /// Bypass and Block policies are evaluated before every Allow policy.
    pub fn goes_first(self) -> bool {
        matches!(self, Action::Block | Action::Bypass)
    }
}

/// Where an application answers: a hostname (`*.example.com`: one label of sub-domains) and a
/// path prefix ('/' for all paths; `/admin` also covers `/admin/…` but not `/administrator`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HostRule {
    pub hostname: String,
    #[serde(default = "root_path")]
    pub path_prefix: String,
}

fn root_path() -> String {
    "/".into()
}

impl HostRule {
    pub fn new(hostname: impl Into<String>, path_prefix: impl Into<String>) -> Self {
        Self { hostname: hostname.into(), path_prefix: path_prefix.into() }
    }
    /// `host` or `host/prefix`, for messages and the audit log.
    pub fn display(&self) -> String {
        if self.path_prefix == "/" {
            self.hostname.clone()
        } else {
            format!("{}{}", self.hostname, self.path_prefix)
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Application {
    pub id: String,
    pub name: String,
    pub hosts: Vec<HostRule>,
    pub session_duration_minutes: u32,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Policy {
    pub id: String,
    pub application_id: String,
    /// 0-based order within the application, as the admin arranged it.
    pub position: u32,
    pub name: String,
    pub action: Action,
    pub rules: Rules,
    /// Disabled policies are kept but skipped.
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// An application as the form submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ApplicationInput {
    pub name: String,
    pub hosts: Vec<HostRule>,
    pub session_duration_minutes: u32,
}

/// A policy as the editor submits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyInput {
    pub name: String,
    pub action: Action,
    pub rules: Rules,
    #[serde(default = "yes")]
    pub enabled: bool,
}

fn yes() -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_have_a_stable_tagged_json_shape() {
        let group = Selector::Group(GroupRef { provider_id: "p1".into(), external_id: "00g1".into() });
        assert_eq!(
            serde_json::to_value(&group).unwrap(),
            serde_json::json!({"type": "group", "provider_id": "p1", "external_id": "00g1"})
        );
        let cases = [
            (Selector::Everyone, serde_json::json!({"type": "everyone"})),
            (Selector::Email { email: "a@b.c".into() }, serde_json::json!({"type": "email", "email": "a@b.c"})),
            (
                Selector::EmailDomain { domain: "b.c".into() },
                serde_json::json!({"type": "email_domain", "domain": "b.c"}),
            ),
            (
                Selector::User(UserRef { provider_id: "p1".into(), external_id: "00u1".into() }),
                serde_json::json!({"type": "user", "provider_id": "p1", "external_id": "00u1"}),
            ),
            (
                Selector::IdentityProvider { provider_id: "p1".into() },
                serde_json::json!({"type": "identity_provider", "provider_id": "p1"}),
            ),
        ];
        for (selector, json) in cases {
            assert_eq!(serde_json::to_value(&selector).unwrap(), json);
            assert_eq!(serde_json::from_value::<Selector>(json).unwrap(), selector);
        }
    }

    #[test]
    fn require_and_exclude_may_be_left_out() {
        let rules: Rules = serde_json::from_str(r#"{"include": [{"type": "everyone"}]}"#).unwrap();
        assert_eq!(rules, Rules { include: vec![Selector::Everyone], ..Default::default() });
    }
}
