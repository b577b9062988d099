//! SCIM 2.0 provisioning (RFC 7643, RFC 7644) as Okta pushes it: the resources Portcullis
//! publishes, the filters it answers, and PATCH and PUT read into changes of the directory.
//! Parsing of filters and PATCH paths is `scim_v2`'s (the RFC grammar, with depth and size
//! limits); what they mean for a directory person or group is decided here, Okta's quirks
//! included (any case of `op`, booleans as strings, members without `type`).

mod discovery;
mod filter;
mod patch;
mod resource;
mod service;
mod tokens;

pub use discovery::MAX_BODY_BYTES;
pub use filter::{parse_filter, Lookup};
pub use patch::{group_patch, normalize_patch, user_patch, GroupChange, UserChange};
pub use resource::{GroupResource, MemberRef, UserResource};
pub use service::{Answer, Endpoint, ListQuery, Received, ScimService, ScimStatus, RATE_BURST, RATE_PER_SECOND};
pub use tokens::{
    ScimTokenError, ScimTokenView, ScimTokens, DEFAULT_GRACE_MINUTES, MAX_GRACE_MINUTES, SCIM_TOKEN_PREFIX,
};

/// The media type of every SCIM answer.
pub const SCIM_JSON: &str = "application/scim+json";
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
pub const LIST_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:ListResponse";
pub const PATCH_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
/// A page when the client does not say (`count`), and the most one page holds.
pub const DEFAULT_COUNT: u32 = 100;
pub const MAX_COUNT: u32 = 500;

/// A refusal in RFC 7644 §3.12's terms: the HTTP status, the `scimType` where the RFC has one,
/// and a detail for the administrator reading Okta's provisioning log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidFilter"), detail: detail.into() }
    }

    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidValue"), detail: detail.into() }
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidSyntax"), detail: detail.into() }
    }

    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("invalidPath"), detail: detail.into() }
    }

    pub fn no_target(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("noTarget"), detail: detail.into() }
    }

    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self { status: 409, scim_type: Some("uniqueness"), detail: detail.into() }
    }

    pub fn mutability(detail: impl Into<String>) -> Self {
        Self { status: 400, scim_type: Some("mutability"), detail: detail.into() }
    }

    pub fn not_found(what: &str, id: &str) -> Self {
        Self { status: 404, scim_type: None, detail: format!("No {what} has the id {id}.") }
    }

    /// The RFC 7644 error body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let Some(t) = self.scim_type {
            body["scimType"] = t.into();
        }
        body
    }
}

/// Okta sends booleans as JSON booleans or as strings ("True", "false"): both are read.
pub(crate) fn boolean(value: &serde_json::Value) -> Option<bool> {
    match value {
        serde_json::Value::Bool(b) => Some(*b),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
        serde_json::Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_have_the_rfc_shape_with_status_as_a_string() {
        let body = ScimError::uniqueness("userName taken").body();
        assert_eq!(body["schemas"][0], ERROR_SCHEMA);
        assert_eq!(body["status"], "409");
        assert_eq!(body["scimType"], "uniqueness");
        assert!(ScimError::not_found("user", "x").body().get("scimType").is_none());
    }

    #[test]
    fn booleans_arrive_as_booleans_or_strings_in_any_case() {
        assert_eq!(boolean(&serde_json::json!(false)), Some(false));
        assert_eq!(boolean(&serde_json::json!("False")), Some(false));
        assert_eq!(boolean(&serde_json::json!("TRUE")), Some(true));
        assert_eq!(boolean(&serde_json::json!("no")), None);
        assert_eq!(boolean(&serde_json::json!(0)), None);
    }
}
