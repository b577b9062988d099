//! Client authentication at `/token`, `/revoke`, `/introspect` (okta-api.md §2.6, §3.2):
//! `client_secret_basic`, `client_secret_post`, `client_secret_jwt`, `private_key_jwt`, `none`.

use std::sync::Arc;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use super::Form;
use crate::errors::{OAuthError, OktaError};
use crate::fixture::ClientAuthMethod;
use crate::keys::{asymmetric_alg, ParsedJwt};
use crate::state::AppState;
use crate::store::Client;
use crate::switches::InvalidClientIdShape;
use crate::util::{percent_decode, secure_eq};

pub(crate) const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Clock-skew allowance for assertion `exp`/`iat`.
const SKEW_SECS: i64 = 10;

fn lookup(st: &AppState, id: &str) -> Option<Client> {
    let store = st.store();
    if let Some(a) = store.oidc_apps.get(id) {
        return Some(Client::Oidc(a.clone()));
    }
    store.service_apps.get(id).map(|a| Client::Service(a.clone()))
}

fn invalid_client_id(st: &AppState) -> Response {
    let text = "Invalid value for 'client_id' parameter.";
    match st.switches().invalid_client_id_shape {
        InvalidClientIdShape::OAuth => OAuthError::client(text).into_response(),
        InvalidClientIdShape::Okta => OktaError::new(StatusCode::BAD_REQUEST, "invalid_client", text).into_response(),
    }
}

fn fail(description: &str) -> Response {
    OAuthError::client(description).into_response()
}

fn generic() -> Response {
    OAuthError::client_generic().into_response()
}

/// `Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn parse_basic(value: &str) -> Option<(String, String)> {
    let decoded = STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let plus = |s: &str| percent_decode(&s.replace('+', " "));
    Some((plus(id), plus(secret)))
}

/// Authenticates the client of a token-endpoint-style request. `endpoint` is the URL invoked,
/// which a client assertion's `aud` must equal.
pub(crate) fn authenticate(
    st: &Arc<AppState>,
    headers: &HeaderMap,
    form: &Form,
    endpoint: &str,
) -> Result<Client, Response> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.get(..6).filter(|p| p.eq_ignore_ascii_case("basic ")).map(|_| &v[6..]));
    let post_secret = form.get("client_secret");
    let assertion = form.get("client_assertion");
    let forms = [basic.is_some(), post_secret.is_some(), assertion.is_some()].iter().filter(|b| **b).count();
    if forms > 1 {
        return Err(OAuthError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "Cannot supply multiple client credentials. Use one of the following: credentials in the Authorization header, credentials in the post body, or a client_assertion in the post body.",
        )
        .into_response());
    }

    if let Some(b) = basic {
        let (id, secret) =
            parse_basic(b).ok_or_else(|| fail("Found Authentication header but was not valid client credentials."))?;
        let client = lookup(st, &id).ok_or_else(|| invalid_client_id(st))?;
        if form.value("client_id").is_some_and(|fid| fid != id) {
            return Err(generic());
        }
        if client.auth_method() != ClientAuthMethod::ClientSecretBasic {
            return Err(generic());
        }
        check_secret(&client, &secret)?;
        return Ok(client);
    }

    if let Some(secret) = post_secret {
        let id = form.value("client_id").ok_or_else(|| fail("No client credentials found."))?;
        let client = lookup(st, id).ok_or_else(|| invalid_client_id(st))?;
        if client.auth_method() != ClientAuthMethod::ClientSecretPost {
            return Err(generic());
        }
        check_secret(&client, secret)?;
        return Ok(client);
    }

    if let Some(a) = assertion {
        if form.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::bad("invalid_request", "The client_assertion_type is invalid.").into_response());
        }
        return verify_assertion(st, form, a, endpoint);
    }

    let id = form.value("client_id").ok_or_else(|| fail("No client credentials found."))?;
    let client = lookup(st, id).ok_or_else(|| invalid_client_id(st))?;
    if client.auth_method() == ClientAuthMethod::None {
        Ok(client)
    } else {
        Err(generic())
    }
}

fn check_secret(client: &Client, secret: &str) -> Result<(), Response> {
    match client.secret() {
        Some(s) if secure_eq(s, secret) => Ok(()),
        _ => Err(fail("The client secret supplied for a confidential client is invalid.")),
    }
}

fn verify_assertion(st: &Arc<AppState>, form: &Form, assertion: &str, endpoint: &str) -> Result<Client, Response> {
    let jwt = ParsedJwt::parse(assertion).ok_or_else(|| fail("The parsing of the client_assertion failed."))?;
    let claimed = form.value("client_id").or(jwt.claim_str("iss")).or(jwt.claim_str("sub")).unwrap_or_default();
    let client =
        lookup(st, claimed).ok_or_else(|| fail("The issuer claim for client_assertion is not a valid client_id."))?;
    let alg_name = jwt.alg().unwrap_or_default();

    if let Some(hs) = match alg_name {
        "HS256" => Some(Algorithm::HS256),
        "HS384" => Some(Algorithm::HS384),
        "HS512" => Some(Algorithm::HS512),
        _ => None,
    } {
        if client.auth_method() != ClientAuthMethod::ClientSecretJwt {
            return Err(generic());
        }
        let secret = client.secret().unwrap_or_default();
        if secret.len() < 32 {
            return Err(fail("The client secret is too short to verify a JWT HMAC."));
        }
        if !jwt.verify(hs, &DecodingKey::from_secret(secret.as_bytes())) {
            return Err(fail("The client_assertion signature is invalid."));
        }
    } else {
        let alg =
            asymmetric_alg(alg_name).ok_or_else(|| fail("The client_assertion JWT signature algorithm is invalid."))?;
        if client.auth_method() != ClientAuthMethod::PrivateKeyJwt {
            return Err(generic());
        }
        let keys = client.jwks();
        if keys.is_empty() {
            return Err(fail("The client does not have a JWKSet configured, but the client_assertion requires one."));
        }
        let candidates: Vec<&Value> = match jwt.kid() {
            Some(kid) => {
                let found: Vec<&Value> =
                    keys.iter().filter(|k| k.get("kid").and_then(Value::as_str) == Some(kid)).collect();
                if found.is_empty() {
                    return Err(fail("The client_assertion JWT kid is invalid."));
                }
                found
            }
            None => keys.iter().collect(),
        };
        if !candidates.iter().any(|k| jwt.verify_with_jwk(alg, k)) {
            return Err(fail("The client_assertion signature is invalid."));
        }
    }

    let id = client.id().to_owned();
    if jwt.claim_str("iss") != Some(id.as_str()) {
        return Err(fail("The issuer claim for client_assertion is not a valid client_id."));
    }
    if jwt.claim_str("sub") != Some(id.as_str()) {
        return Err(fail("The subject claim for client_assertion is not a valid client_id."));
    }
    let aud_ok = match jwt.claims.get("aud") {
        Some(Value::String(a)) => a == endpoint,
        Some(Value::Array(a)) => a.iter().any(|v| v.as_str() == Some(endpoint)),
        _ => false,
    };
    if !aud_ok {
        return Err(fail("The audience claim for client_assertion must be the endpoint invoked for the request."));
    }
    let now = st.clock.now_secs();
    let exp = jwt
        .claim_num("exp")
        .ok_or_else(|| fail("The client_assertion must contain the 'exp' claim as seconds since epoch."))?;
    if exp + SKEW_SECS < now {
        return Err(fail("The client_assertion token is expired."));
    }
    if exp > now + 3600 + SKEW_SECS {
        return Err(fail("The client_assertion token has an expiration too far into the future."));
    }
    if jwt.claim_num("iat").is_some_and(|iat| iat > now + SKEW_SECS) {
        return Err(fail("The client_assertion token must be issued before the current time."));
    }
    if let Some(jti) = jwt.claim_str("jti") {
        // Single use. Consumed here, before any DPoP nonce round trip (okta-api.md §3.2).
        let key = format!("{id}\u{0}{jti}");
        let mut tokens = st.tokens();
        if tokens.assertion_jtis.contains_key(&key) {
            return Err(fail("The client_assertion token has already been used."));
        }
        tokens.assertion_jtis.insert(key, exp + SKEW_SECS);
        tokens.maybe_prune(now);
    }
    Ok(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_are_form_decoded() {
        let v = STANDARD.encode("my%20id:s%3Acret+x");
        assert_eq!(parse_basic(&v), Some(("my id".to_owned(), "s:cret x".to_owned())));
        assert_eq!(parse_basic("!!!"), None);
        assert_eq!(parse_basic(&STANDARD.encode("no-colon")), None);
    }
}
