//! OpenID Connect / OAuth 2.0 for the org server (`/oauth2/v1/*`) and custom servers
//! (`/oauth2/{id}/v1/*`).

pub(crate) mod authorize;
pub(crate) mod client_auth;
pub(crate) mod discovery;
pub(crate) mod token;
pub(crate) mod userinfo;

use std::sync::Arc;

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use crate::errors::{OAuthError, OktaError};
use crate::fixture::UserStatus;
use crate::state::{AppState, Server};
use crate::store::{OidcApp, Store, User};
use crate::switches::{EmptyGroupsClaim, GroupsOverLimit, IdTokenDefect, Switches};
use crate::util::{b64url, b64url_decode, random_alnum, sha256_b64url};

pub(crate) const ID_TOKEN_SECS: i64 = 3600;
pub(crate) const REFRESH_TOKEN_SECS: i64 = 90 * 86_400;
pub(crate) const CODE_SECS: i64 = 300;

/// The server a route speaks for: the org server for `/oauth2/v1/*`, the custom server named
/// in `/oauth2/{as}/v1/*` (404 `E0000007 (AuthorizationServer)` when unknown), so one handler
/// serves both.
impl FromRequestParts<Arc<AppState>> for Server {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, st: &Arc<AppState>) -> Result<Server, Response> {
        match Option::<Path<String>>::from_request_parts(parts, st).await {
            Ok(None) => Ok(Server::Org),
            Ok(Some(Path(id))) if st.store().auth_servers.contains_key(&id) => Ok(Server::Custom(id)),
            Ok(Some(Path(id))) => Err(OktaError::not_found(&id, "AuthorizationServer").into_response()),
            Err(rejection) => Err(rejection.into_response()),
        }
    }
}

/// `application/x-www-form-urlencoded` pairs, in order, duplicates kept.
#[derive(Debug, Default, Clone)]
pub(crate) struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn parse(bytes: &[u8]) -> Form {
        Form { pairs: url::form_urlencoded::parse(bytes).into_owned().collect() }
    }
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }
    /// A non-empty value.
    pub fn value(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|v| !v.is_empty())
    }
    pub fn has_duplicates(&self) -> bool {
        let mut seen = std::collections::HashSet::new();
        self.pairs.iter().any(|(k, _)| !seen.insert(k.as_str()))
    }
}

pub(crate) fn split_scopes(s: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for sc in s.split([' ', '+']).filter(|s| !s.is_empty()) {
        if !out.iter().any(|o| o == sc) {
            out.push(sc.to_owned());
        }
    }
    out
}

pub(crate) fn has(scopes: &[String], s: &str) -> bool {
    scopes.iter().any(|x| x == s)
}

/// Scope-dependent claims of a user (okta-api.md §2.7): for the ID token and `/userinfo`.
pub(crate) fn profile_claims(user: &User, scopes: &[String]) -> Map<String, Value> {
    let mut c = Map::new();
    let p = |k: &str| user.profile.get(k).filter(|v| !v.is_null()).cloned();
    if has(scopes, "profile") {
        let first = user.profile_str("firstName").unwrap_or_default();
        let last = user.profile_str("lastName").unwrap_or_default();
        let name = user.profile_str("displayName").map(str::to_owned).unwrap_or_else(|| format!("{first} {last}"));
        c.insert("name".into(), Value::from(name.trim()));
        c.insert("preferred_username".into(), Value::from(user.login()));
        for (claim, attr) in [
            ("nickname", "nickName"),
            ("given_name", "firstName"),
            ("middle_name", "middleName"),
            ("family_name", "lastName"),
            ("profile", "profileUrl"),
        ] {
            if let Some(v) = p(attr) {
                c.insert(claim.into(), v);
            }
        }
        c.insert("zoneinfo".into(), p("timezone").unwrap_or_else(|| Value::from("America/Los_Angeles")));
        c.insert("locale".into(), p("locale").unwrap_or_else(|| Value::from("en_US")));
        c.insert("updated_at".into(), Value::from(user.last_updated.div_euclid(1000)));
    }
    if has(scopes, "email") {
        if let Some(v) = p("email") {
            c.insert("email".into(), v);
            c.insert("email_verified".into(), Value::from(true));
        }
    }
    if has(scopes, "address") {
        let mut a = Map::new();
        for (claim, attr) in [
            ("street_address", "streetAddress"),
            ("locality", "city"),
            ("region", "state"),
            ("postal_code", "zipCode"),
            ("country", "countryCode"),
        ] {
            if let Some(v) = p(attr) {
                a.insert(claim.into(), v);
            }
        }
        c.insert("address".into(), Value::Object(a));
    }
    if has(scopes, "phone") {
        if let Some(v) = p("mobilePhone").or_else(|| p("primaryPhone")) {
            c.insert("phone_number".into(), v);
        }
    }
    c
}

pub(crate) fn too_many_groups() -> OAuthError {
    OAuthError::bad(
        "server_error",
        "The groups claim matched too many groups and must be configured to match fewer groups.",
    )
}

/// The app's groups claim for the user: names of matching groups, or nothing (okta-api.md §2.9).
pub(crate) fn groups_claim(
    store: &Store,
    app: &OidcApp,
    user_id: &str,
    scopes: &[String],
    server: &Server,
    sw: &Switches,
) -> Result<Option<(String, Value)>, OAuthError> {
    // The org server emits the app's groups claim when the `groups` scope is granted.
    let (Server::Org, Some((claim, re))) = (server, &app.groups_claim) else {
        return Ok(None);
    };
    if !has(scopes, "groups") {
        return Ok(None);
    }
    let mut names: Vec<String> = store
        .groups_of(user_id)
        .iter()
        .filter_map(|g| store.groups.get(g))
        .map(|g| g.name().to_owned())
        .filter(|n| re.is_match(n))
        .collect();
    if names.len() > 100 {
        match sw.groups_claim_over_limit {
            GroupsOverLimit::Fail => return Err(too_many_groups()),
            GroupsOverLimit::Truncate => names.truncate(100),
            GroupsOverLimit::NoLimit => {}
        }
    }
    if names.is_empty() && sw.empty_groups_claim == EmptyGroupsClaim::Omit {
        return Ok(None);
    }
    Ok(Some((claim.clone(), json!(names))))
}

/// What the token endpoint returns.
pub(crate) struct Issued {
    pub access_token: String,
    pub expires_in: i64,
    pub token_type: &'static str,
    pub scope: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
}

impl Issued {
    pub fn body(&self) -> Value {
        let mut b = json!({
            "token_type": self.token_type,
            "expires_in": self.expires_in,
            "access_token": self.access_token,
            "scope": self.scope,
        });
        if let Some(r) = &self.refresh_token {
            b["refresh_token"] = Value::from(r.clone());
        }
        if let Some(i) = &self.id_token {
            b["id_token"] = Value::from(i.clone());
        }
        b
    }
}

pub(crate) fn server_error(msg: impl Into<String>) -> OAuthError {
    OAuthError::new(StatusCode::INTERNAL_SERVER_ERROR, "server_error", msg)
}

/// Mints a JWT access token and records it.
pub(crate) fn mint_access_token(
    st: &Arc<AppState>,
    server: &Server,
    client_id: &str,
    user: Option<&User>,
    scopes: &[String],
    auth_time: Option<i64>,
    jkt: Option<&str>,
) -> Result<String, OAuthError> {
    let sw = st.switches();
    let now = st.clock.now_secs();
    let jti = format!("AT.{}", random_alnum(&mut rand::thread_rng(), 43));
    let iss = st.token_issuer(server, &sw);
    let aud = match server {
        Server::Org => st.base_url.clone(),
        Server::Custom(id) => st.store().auth_servers.get(id).map(|a| a.audience.clone()).unwrap_or_default(),
    };
    let mut claims = json!({
        "ver": 1, "jti": jti, "iss": iss, "aud": aud, "iat": now, "exp": now + sw.access_token_seconds,
        "cid": client_id, "scp": scopes,
    });
    match user {
        Some(u) => {
            claims["uid"] = Value::from(u.id.clone());
            claims["sub"] = Value::from(u.login());
            if let Some(t) = auth_time {
                claims["auth_time"] = Value::from(t);
            }
        }
        None => claims["sub"] = Value::from(client_id),
    }
    if let Some(j) = jkt {
        claims["cnf"] = json!({ "jkt": j });
    }
    let mut header = Map::new();
    if *server == Server::Org {
        header.insert("typ".into(), Value::from("application/okta-internal-at+jwt"));
    }
    let key = st.keys().active();
    let token = key.sign(header, &claims).map_err(|e| server_error(e.to_string()))?;
    let mut tokens = st.tokens();
    tokens.access.insert(
        token.clone(),
        crate::state::AccessRecord {
            server: server.clone(),
            client_id: client_id.to_owned(),
            user_id: user.map(|u| u.id.clone()),
            scopes: scopes.to_vec(),
            exp: now + sw.access_token_seconds,
            jkt: jkt.map(str::to_owned),
            revoked: false,
            jti,
            iat: now,
            aud,
            iss,
        },
    );
    tokens.maybe_prune(now);
    Ok(token)
}

pub(crate) struct IdTokenInput<'a> {
    pub server: &'a Server,
    pub app: &'a OidcApp,
    pub user: &'a User,
    pub scopes: &'a [String],
    pub nonce: Option<&'a str>,
    pub auth_time: i64,
    pub access_token: Option<&'a str>,
    pub groups: Option<(String, Value)>,
}

/// A "fat" ID token with Okta's claims (okta-api.md §2.7).
pub(crate) fn mint_id_token(st: &Arc<AppState>, input: IdTokenInput<'_>) -> Result<String, OAuthError> {
    let sw = st.switches();
    let now = st.clock.now_secs();
    let org_id = st.store().org.id.clone();
    let mut c = Map::new();
    c.insert("ver".into(), Value::from(1));
    c.insert("sub".into(), Value::from(input.user.id.clone()));
    c.insert("iss".into(), Value::from(st.token_issuer(input.server, &sw)));
    c.insert("aud".into(), Value::from(input.app.client_id.clone()));
    c.insert("iat".into(), Value::from(now));
    c.insert("exp".into(), Value::from(now + ID_TOKEN_SECS));
    c.insert("jti".into(), Value::from(format!("ID.{}", random_alnum(&mut rand::thread_rng(), 43))));
    c.insert("amr".into(), json!(["pwd"]));
    c.insert("idp".into(), Value::from(org_id));
    if let Some(n) = input.nonce {
        c.insert("nonce".into(), Value::from(n));
    }
    c.insert("auth_time".into(), Value::from(input.auth_time));
    if let Some(at) = input.access_token {
        // Left half of SHA-256, base64url (OIDC Core 3.1.3.6).
        let digest = <sha2::Sha256 as sha2::Digest>::digest(at.as_bytes());
        c.insert("at_hash".into(), Value::from(b64url(&digest[..16])));
    }
    c.extend(profile_claims(input.user, input.scopes));
    if sw.email_unverified && c.contains_key("email_verified") {
        c.insert("email_verified".into(), Value::from(false));
    }
    if let Some((name, v)) = input.groups {
        c.insert(name, v);
    }
    let defect = sw.id_token_defect;
    break_claims(&mut c, defect, &input.app.client_id, now);
    let claims = Value::Object(c);
    let key = st.keys().active();
    let signed = match defect {
        IdTokenDefect::UnknownKey => st.keys().unpublished().and_then(|k| k.sign(Map::new(), &claims)),
        IdTokenDefect::HmacWithPublicKey => key.forge_hs256_with_public_jwk(&claims),
        IdTokenDefect::AlgNone => {
            let body = serde_json::to_vec(&claims).map_err(|e| server_error(e.to_string()))?;
            return Ok(format!("{}.{}.", b64url(br#"{"alg":"none"}"#), b64url(&body)));
        }
        _ => key.sign(Map::new(), &claims),
    };
    let token = signed.map_err(|e| server_error(e.to_string()))?;
    Ok(if defect == IdTokenDefect::BadSignature { flip_signature(&token) } else { token })
}

/// Another client of the org, as far as a relying party can tell.
fn foreign_client_id() -> String {
    format!("0oa{}", random_alnum(&mut rand::thread_rng(), 17))
}

/// The claim-level defects of [`IdTokenDefect`]; the signature-level ones are applied when signing.
fn break_claims(c: &mut Map<String, Value>, defect: IdTokenDefect, client_id: &str, now: i64) {
    match defect {
        IdTokenDefect::WrongAudience => {
            c.insert("aud".into(), Value::from(foreign_client_id()));
        }
        IdTokenDefect::ExtraAudience => {
            c.insert("aud".into(), json!([client_id, foreign_client_id()]));
            c.insert("azp".into(), Value::from(client_id));
        }
        IdTokenDefect::ForeignAzp => {
            c.insert("azp".into(), Value::from(foreign_client_id()));
        }
        IdTokenDefect::WrongNonce => {
            c.insert("nonce".into(), Value::from(format!("forged-{}", random_alnum(&mut rand::thread_rng(), 22))));
        }
        IdTokenDefect::MissingNonce => {
            c.remove("nonce");
        }
        IdTokenDefect::Expired => {
            // Well beyond any clock-skew leeway.
            let (iat, exp) = (now - ID_TOKEN_SECS - 3600, now - 3600);
            c.insert("iat".into(), Value::from(iat));
            c.insert("exp".into(), Value::from(exp));
            let auth_time = c.get("auth_time").and_then(Value::as_i64).unwrap_or(iat).min(iat);
            c.insert("auth_time".into(), Value::from(auth_time));
        }
        IdTokenDefect::IssuedInFuture => {
            c.insert("iat".into(), Value::from(now + 600));
            c.insert("exp".into(), Value::from(now + 600 + ID_TOKEN_SECS));
        }
        IdTokenDefect::None
        | IdTokenDefect::BadSignature
        | IdTokenDefect::UnknownKey
        | IdTokenDefect::AlgNone
        | IdTokenDefect::HmacWithPublicKey => {}
    }
}

/// The same JWS with bytes in the middle of its signature inverted: header and claims intact.
fn flip_signature(token: &str) -> String {
    let (input, sig) = token.rsplit_once('.').unwrap_or((token, ""));
    let mut bytes = b64url_decode(sig).unwrap_or_default();
    let mid = bytes.len() / 2;
    for b in bytes.iter_mut().skip(mid.saturating_sub(4)).take(8) {
        *b ^= 0xFF;
    }
    format!("{input}.{}", b64url(&bytes))
}

/// Whether a user may still sign in or use tokens.
pub(crate) fn user_is_usable(u: &User) -> bool {
    u.status == UserStatus::Active
}

pub(crate) fn pkce_s256(verifier: &str) -> String {
    sha256_b64url(verifier.as_bytes())
}
