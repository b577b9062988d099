//! Run-time switches: fault injection for tests, and a choice for every behaviour that
//! okta-api.md marks unconfirmed or conflicting (its §8). Settable in the fixture file
//! (`"switches": {…}`), in [`crate::Options`], and at run time through [`crate::Control`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What happens when more than 100 groups match an app's groups-claim filter (okta-api.md §2.9, §8.3).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum GroupsOverLimit {
    /// The request fails with `server_error` "The groups claim matched too many groups…" (the API docs).
    #[default]
    Fail,
    /// The claim carries the first 100 groups.
    Truncate,
    /// No limit (the support article's reading of the code flow).
    NoLimit,
}

/// The groups claim when no group matches (okta-api.md §2.9, unconfirmed).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum EmptyGroupsClaim {
    #[default]
    Omit,
    EmptyArray,
}

/// `limit` above an endpoint's maximum (okta-api.md §4.2, §8.4).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum LimitOverMax {
    #[default]
    Cap,
    /// 400 `E0000054` "Invalid pagination properties."
    Reject,
}

/// Body sent with an OAuth error at `/api/v1` (okta-api.md §3.3, §8.6).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum ResourceErrorBody {
    /// Only the `WWW-Authenticate` header (seen for `insufficient_scope`).
    Empty,
    /// An Okta error object (`E0000011` for 401, `E0000006` for 403).
    Okta,
}

/// Body shape for an unknown `client_id` at `/token` (okta-api.md §2.6: catalogue vs. one capture).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum InvalidClientIdShape {
    /// `401 {"error":"invalid_client","error_description":"Invalid value for 'client_id' parameter."}`
    #[default]
    OAuth,
    /// `400 {"errorCode":"invalid_client","errorSummary":"Invalid value for 'client_id' parameter.",…}`
    Okta,
}

/// Error for a client-credentials request naming an `okta.*` scope the app was not granted
/// (okta-api.md §8.11: the catalogue text is known, its use for this case is inferred).
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum UngrantedScopeError {
    /// `400 consent_required` "You are not allowed any of the requested scopes."
    #[default]
    ConsentRequired,
    /// `400 invalid_scope` "The requested scope is invalid, unknown, malformed, or exceeds…"
    InvalidScope,
}

/// One defect in the ID tokens the token endpoint issues (authorization code and refresh), so a
/// relying party's verifier can be tested end to end. Each breaks one property of a token that
/// is otherwise correct.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub enum IdTokenDefect {
    /// A correct token.
    #[default]
    None,
    /// Correctly signed, then bytes of the signature flipped.
    BadSignature,
    /// RS256 with a key whose `kid` is not in the JWKS (nor pre-published).
    UnknownKey,
    /// Header `{"alg":"none"}` and an empty signature.
    AlgNone,
    /// HS256 keyed with the active key's public JWK as the JWKS serves it (the key-confusion attack).
    HmacWithPublicKey,
    /// `aud` is another client.
    WrongAudience,
    /// `aud` is this client and another one (`azp` names this client).
    ExtraAudience,
    /// `nonce` is not the one of the authorization request.
    WrongNonce,
    /// No `nonce` claim.
    MissingNonce,
    /// `exp` an hour ago (`iat` two hours ago).
    Expired,
    /// `iat` ten minutes ahead (`exp` an hour after that).
    IssuedInFuture,
    /// `azp` is another client.
    ForeignAzp,
}

#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(default, rename_all = "camelCase")]
pub struct Switches {
    /// Added to every response except the control endpoint.
    pub latency_ms: u64,
    /// Fraction (0.0–1.0) of requests answered with `error_status` instead of being served.
    pub error_rate: f64,
    /// Status for injected errors (500 → `E0000009` / `server_error`; 503 and others likewise).
    pub error_status: u16,
    /// Only paths starting with this prefix get injected errors (empty: all but the control endpoint).
    pub error_path_prefix: String,
    /// Discovery documents and tokens carry an issuer that is not the server's.
    pub wrong_issuer: bool,
    /// Only tokens carry the wrong issuer; discovery stays correct.
    pub wrong_token_issuer: bool,
    /// Per-minute budget of each rate-limit bucket (okta-api.md §5).
    pub rate_limit_per_minute: u32,
    /// Per-bucket budgets, keyed `"GET /api/v1/users"` or `"/api/v1/users"`.
    pub rate_limit_overrides: BTreeMap<String, u32>,
    /// More than 100 matching groups in the code flow (§8.3).
    pub groups_claim_over_limit: GroupsOverLimit,
    /// No matching groups (§8.3).
    pub empty_groups_claim: EmptyGroupsClaim,
    /// Serve `{org}/.well-known/oauth-authorization-server` (§8.1); it then equals the org OIDC document.
    pub org_oauth_metadata: bool,
    /// `dpop_signing_alg_values_supported` in org discovery (§8.2).
    pub dpop_algs_in_org_discovery: bool,
    /// Default `limit` of `GET /api/v1/groups` without `q` (§8.4: 200 or 10000).
    pub groups_default_limit: u32,
    /// `limit` above the maximum (§8.4).
    pub limit_over_max: LimitOverMax,
    /// Page `GET /api/v1/users/{id}/groups` with `limit`/`after` (§8.5); default: all groups, `self` link only.
    pub user_groups_paged: bool,
    /// Body with `403 insufficient_scope` at `/api/v1` (§8.6).
    pub insufficient_scope_body: ResourceErrorBody,
    /// Body with `401 invalid_token` at `/api/v1` (§3.3 recommends `E0000011`).
    pub invalid_token_body: ResourceErrorBody,
    /// Body shape for an unknown `client_id` at `/token`.
    pub invalid_client_id_shape: InvalidClientIdShape,
    /// `okta.*.manage` satisfies a `okta.*.read` requirement (§3.2, unconfirmed).
    pub manage_implies_read: bool,
    /// JWKS also lists the next signing key before it is used (Okta pre-publishes keys).
    pub publish_next_key: bool,
    /// After a rotation the previous key stays in the JWKS this long.
    pub key_grace_seconds: u64,
    /// The token endpoint demands a server `nonce` in DPoP proofs (`use_dpop_nonce`), as Okta does.
    pub dpop_nonce_required: bool,
    /// Type name in a group's `404 E0000007` "Not found: Resource not found: {id} (UserGroup)" (§8.7).
    pub group_not_found_type: String,
    /// Client credentials asking for an ungranted `okta.*` scope (§8.11).
    pub ungranted_scope_error: UngrantedScopeError,
    /// Lifetime of access tokens (`expires_in`); short ones make relying parties refresh soon.
    pub access_token_seconds: i64,
    /// A defect in every ID token the token endpoint issues; `none` by default.
    pub id_token_defect: IdTokenDefect,
    /// ID tokens and `/userinfo` say `email_verified: false`, as a self-service provider does
    /// for an address nobody confirmed. Left out of saved fixtures while off.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub email_unverified: bool,
    // Faults for directory-sync tests; left out of serialized fixtures while off.
    /// `GET /api/v1/groups` answers an empty list (a broken or hostile answer, or a filter mistake).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub empty_group_list: bool,
    /// `GET /api/v1/groups/{id}/users` answers 404 `E0000007` for groups that are still listed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub group_members_not_found: bool,
    /// Origin (`scheme://host:port`) put in `Link: rel="next"` instead of the server's own; empty: the server's.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub next_link_origin: String,
}

impl Switches {
    /// Every switch set, so that serializing names all of them (faults that are off are
    /// left out of a normal serialization).
    pub fn all_named() -> Self {
        Switches {
            email_unverified: true,
            empty_group_list: true,
            group_members_not_found: true,
            next_link_origin: "http://127.0.0.1:9".into(),
            ..Switches::default()
        }
    }
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            latency_ms: 0,
            error_rate: 0.0,
            error_status: 500,
            error_path_prefix: String::new(),
            wrong_issuer: false,
            wrong_token_issuer: false,
            rate_limit_per_minute: 600,
            rate_limit_overrides: BTreeMap::new(),
            groups_claim_over_limit: GroupsOverLimit::Fail,
            empty_groups_claim: EmptyGroupsClaim::Omit,
            org_oauth_metadata: true,
            dpop_algs_in_org_discovery: true,
            groups_default_limit: 200,
            limit_over_max: LimitOverMax::Cap,
            user_groups_paged: false,
            insufficient_scope_body: ResourceErrorBody::Empty,
            invalid_token_body: ResourceErrorBody::Okta,
            invalid_client_id_shape: InvalidClientIdShape::OAuth,
            manage_implies_read: true,
            publish_next_key: true,
            key_grace_seconds: 3600,
            dpop_nonce_required: true,
            group_not_found_type: "UserGroup".to_owned(),
            ungranted_scope_error: UngrantedScopeError::ConsentRequired,
            access_token_seconds: 3600,
            id_token_defect: IdTokenDefect::None,
            email_unverified: false,
            empty_group_list: false,
            group_members_not_found: false,
            next_link_origin: String::new(),
        }
    }
}

impl Switches {
    /// The budget for a bucket: an exact `"METHOD /path"` override, then a path override, then the default.
    pub(crate) fn rate_limit_for(&self, method: &str, template: &str) -> u32 {
        self.rate_limit_overrides
            .get(&format!("{method} {template}"))
            .or_else(|| self.rate_limit_overrides.get(template))
            .copied()
            .unwrap_or(self.rate_limit_per_minute)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_switches_object_keeps_the_other_defaults() {
        let s: Switches = serde_json::from_str(r#"{"latencyMs":5,"groupsClaimOverLimit":"truncate"}"#).unwrap();
        assert_eq!(s.latency_ms, 5);
        assert_eq!(s.groups_claim_over_limit, GroupsOverLimit::Truncate);
        assert_eq!(s.rate_limit_per_minute, 600);
        assert!(s.org_oauth_metadata);
        assert_eq!(s.id_token_defect, IdTokenDefect::None);
    }

    #[test]
    fn id_token_defects_are_camel_case() {
        let s: Switches = serde_json::from_str(r#"{"idTokenDefect":"hmacWithPublicKey"}"#).unwrap();
        assert_eq!(s.id_token_defect, IdTokenDefect::HmacWithPublicKey);
        assert_eq!(serde_json::to_value(IdTokenDefect::AlgNone).unwrap(), "algNone");
        assert_eq!(serde_json::to_value(IdTokenDefect::None).unwrap(), "none");
    }

    #[test]
    fn directory_faults_are_set_by_their_camel_case_names() {
        let s: Switches = serde_json::from_str(
            r#"{"emptyGroupList":true,"groupMembersNotFound":true,"nextLinkOrigin":"http://127.0.0.1:9"}"#,
        )
        .unwrap();
        assert!(s.empty_group_list && s.group_members_not_found);
        assert_eq!(s.next_link_origin, "http://127.0.0.1:9");
        let off = serde_json::to_value(Switches::default()).unwrap();
        assert!(off.get("emptyGroupList").is_none(), "off faults stay out of fixtures");
        let all = serde_json::to_value(Switches::all_named()).unwrap();
        for name in ["emailUnverified", "emptyGroupList", "groupMembersNotFound", "nextLinkOrigin", "latencyMs"] {
            assert!(all.get(name).is_some(), "{name} can be set at run time");
        }
    }

    #[test]
    fn rate_limit_overrides_prefer_method_and_path() {
        let mut s = Switches::default();
        s.rate_limit_overrides.insert("/api/v1/users".into(), 10);
        s.rate_limit_overrides.insert("GET /api/v1/users".into(), 5);
        assert_eq!(s.rate_limit_for("GET", "/api/v1/users"), 5);
        assert_eq!(s.rate_limit_for("POST", "/api/v1/users"), 10);
        assert_eq!(s.rate_limit_for("GET", "/api/v1/groups"), 600);
    }
}
