//! The REST API's error codes: each the `type` of an RFC 9457 problem,
//! `urn:portcullis:problem:<code>`, stable across releases.

use serde::{Deserialize, Serialize};

macro_rules! problems {
    ($($variant:ident = $code:literal, $status:literal, $title:literal;)+) => {
        /// Why an API request failed.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        pub enum ProblemCode {
            $(#[serde(rename = $code)] $variant,)+
        }

        impl ProblemCode {
            pub const ALL: &'static [ProblemCode] = &[$(ProblemCode::$variant,)+];

            pub fn code(self) -> &'static str {
                match self { $(ProblemCode::$variant => $code,)+ }
            }
            pub fn status(self) -> u16 {
                match self { $(ProblemCode::$variant => $status,)+ }
            }
            pub fn title(self) -> &'static str {
                match self { $(ProblemCode::$variant => $title,)+ }
            }
        }
    };
}

problems! {
    Invalid = "invalid", 400, "The request is not valid";
    BadBody = "bad-body", 400, "The request body could not be read";
    BadQuery = "bad-query", 400, "A query parameter is not valid";
    BadCursor = "bad-cursor", 400, "The cursor is not one this API gave out";
    TokenMissing = "token-missing", 401, "An API token is needed";
    TokenMalformed = "token-malformed", 401, "The API token is malformed";
    TokenUnknown = "token-unknown", 401, "The API token is not known";
    TokenExpired = "token-expired", 401, "The API token has expired";
    TokenRevoked = "token-revoked", 401, "The API token was revoked";
    TokenSourceRefused = "token-source-refused", 401, "The API token may not be used from this address";
    Forbidden = "forbidden", 403, "The token's role does not allow this";
    NotFound = "not-found", 404, "Not found";
    MethodNotAllowed = "method-not-allowed", 405, "Method not allowed";
    Conflict = "conflict", 409, "It clashes with what is stored";
    ChecksFailed = "checks-failed", 422, "The provider's checks did not pass; nothing was saved";
    PreconditionFailed = "precondition-failed", 412, "It changed since you read it";
    PayloadTooLarge = "payload-too-large", 413, "The request body is too large";
    UnsupportedMediaType = "unsupported-media-type", 415, "Send application/json";
    Upstream = "upstream", 502, "The identity provider failed or could not be reached";
    Internal = "internal", 500, "The server could not complete the request";
}

impl ProblemCode {
    /// The problem's `type`.
    pub fn type_uri(self) -> String {
        format!("urn:portcullis:problem:{}", self.code())
    }

    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }
}

/// An API token as lists show it: never the token or its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TokenView {
    pub id: String,
    pub name: String,
    /// `pcat_` and the first characters: what lists show and revoking takes.
    pub prefix: String,
    pub role: crate::Role,
    pub allowed_cidrs: Vec<String>,
    pub created_by: String,
    /// Epoch milliseconds, as every time here.
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: Option<i64>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<i64>,
}

impl TokenView {
    /// `active`, `expired` or `revoked` at `now`.
    pub fn state(&self, now: i64) -> &'static str {
        match (self.revoked_at, self.expires_at <= now) {
            (Some(_), _) => "revoked",
            (None, true) => "expired",
            (None, false) => "active",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_code_is_unique_serializes_as_itself_and_has_an_error_status() {
        let mut seen = std::collections::HashSet::new();
        for c in ProblemCode::ALL {
            assert!(seen.insert(c.code()), "{} twice", c.code());
            assert_eq!(serde_json::to_value(c).ok(), Some(serde_json::Value::from(c.code())));
            assert_eq!(ProblemCode::parse(c.code()), Some(*c));
            assert!((400..600).contains(&c.status()));
        }
    }
}
