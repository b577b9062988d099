//! ID token verification with the `openidconnect` crate, plus the checks it leaves
//! to relying parties (`azp`, `at_hash`, `iat` in the future, `nbf`) and a pinned list of
//! asymmetric algorithms, so neither `alg: none` nor HMAC with a public key can pass.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use openidconnect::{
    core::{
        CoreGenderClaim, CoreIdTokenVerifier, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    },
    AdditionalClaims, ClaimsVerificationError, ClientId, IdToken, IssuerUrl, Nonce, SignatureVerificationError,
};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256, Sha384, Sha512};

/// Claims beyond the standard ones (`groups` and whatever the provider adds), kept as JSON.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OtherClaims {
    #[serde(flatten)]
    pub claims: Map<String, Value>,
}
impl AdditionalClaims for OtherClaims {}

type PortcullisIdToken =
    IdToken<OtherClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// Clocks differ a little between us and the provider.
pub const LEEWAY_SECS: i64 = 60;

/// Why an ID token was refused. Each says what happened in words an admin can act on.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error("the ID token is not a well-formed JWT ({0})")]
    Malformed(String),
    #[error("the ID token is signed with '{0}', which Portcullis does not accept (only RS256/384/512, PS256/384/512, ES256/384)")]
    AlgorithmRefused(String),
    #[error("the ID token's signature does not verify with the provider's keys")]
    BadSignature,
    #[error("the ID token is signed with a key that is not in the provider's JWKS (kid {0})")]
    UnknownKey(String),
    #[error("the ID token names no key and the provider's JWKS has several")]
    AmbiguousKey,
    #[error("the ID token's issuer is not {expected}: {detail}")]
    WrongIssuer { expected: String, detail: String },
    #[error("the ID token is not meant for this client ({0})")]
    WrongAudience(String),
    #[error("the ID token's authorized party (azp) is {0}, not this client")]
    WrongAuthorizedParty(String),
    #[error("the ID token's nonce does not match this sign-in ({0})")]
    Nonce(String),
    #[error("the ID token has expired ({0})")]
    Expired(String),
    #[error("the ID token claims to be issued in the future ({0}); check the clocks")]
    IssuedInFuture(String),
    #[error("the ID token is not valid yet (nbf {0})")]
    NotYetValid(i64),
    #[error("the ID token's at_hash does not match the access token")]
    AccessTokenHash,
    #[error("the ID token was refused: {0}")]
    Other(String),
}

impl TokenError {
    /// A short stable code for URLs and the audit log.
    pub fn code(&self) -> &'static str {
        match self {
            TokenError::Malformed(_) => "malformed",
            TokenError::AlgorithmRefused(_) => "algorithm",
            TokenError::BadSignature => "signature",
            TokenError::UnknownKey(_) => "unknown_key",
            TokenError::AmbiguousKey => "ambiguous_key",
            TokenError::WrongIssuer { .. } => "issuer",
            TokenError::WrongAudience(_) => "audience",
            TokenError::WrongAuthorizedParty(_) => "azp",
            TokenError::Nonce(_) => "nonce",
            TokenError::Expired(_) => "expired",
            TokenError::IssuedInFuture(_) => "iat_future",
            TokenError::NotYetValid(_) => "nbf",
            TokenError::AccessTokenHash => "at_hash",
            TokenError::Other(_) => "token_invalid",
        }
    }
}

/// What a token must be for.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    /// `None` on refresh: a refreshed ID token carries the original nonce or none.
    pub nonce: Option<&'a str>,
    pub access_token: Option<&'a str>,
    /// Seconds since the epoch.
    pub now: i64,
}

const ALLOWED: [CoreJwsSigningAlgorithm; 8] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
];

/// The JOSE header, read before verification only to explain a refusal.
fn header(raw: &str) -> Result<Map<String, Value>, TokenError> {
    let first = raw.split('.').next().unwrap_or_default();
    let bytes = URL_SAFE_NO_PAD.decode(first).map_err(|_| TokenError::Malformed("header is not base64url".into()))?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed("header is not JSON".into()))
}

/// Parses a JWKS, dropping keys of types the crate does not know rather than failing the set.
pub fn parse_jwks(body: &[u8]) -> Result<CoreJsonWebKeySet, String> {
    let doc: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let keys = doc.get("keys").and_then(Value::as_array).ok_or("no \"keys\" array")?;
    let usable: Vec<Value> = keys
        .iter()
        .filter(|k| serde_json::from_value::<openidconnect::core::CoreJsonWebKey>((*k).clone()).is_ok())
        .cloned()
        .collect();
    serde_json::from_value(serde_json::json!({ "keys": usable })).map_err(|e| e.to_string())
}

/// Verifies a raw ID token and returns all its claims.
pub fn verify_id_token(
    raw: &str,
    expected: &Expected<'_>,
    jwks: &CoreJsonWebKeySet,
) -> Result<Map<String, Value>, TokenError> {
    let head = header(raw)?;
    let alg = head.get("alg").and_then(Value::as_str).unwrap_or("(none)").to_string();
    let alg_ok = serde_json::from_value::<CoreJwsSigningAlgorithm>(Value::String(alg.clone()))
        .is_ok_and(|a| ALLOWED.contains(&a));
    if !alg_ok {
        return Err(TokenError::AlgorithmRefused(alg));
    }
    let kid = head.get("kid").and_then(Value::as_str).unwrap_or("none").to_string();
    let token: PortcullisIdToken = raw.parse().map_err(|e: serde_json::Error| TokenError::Malformed(e.to_string()))?;

    let issuer = IssuerUrl::new(expected.issuer.to_string()).map_err(|e| TokenError::Other(format!("issuer: {e}")))?;
    let now = expected.now;
    let verifier =
        CoreIdTokenVerifier::new_public_client(ClientId::new(expected.client_id.to_string()), issuer, jwks.clone())
            .set_allowed_algs(ALLOWED)
            // The verifier compares `exp` with this clock: a little behind the real one is the leeway.
            .set_time_fn(move || chrono_at(now - LEEWAY_SECS))
            .set_issue_time_verifier_fn(move |iat| {
                if iat.timestamp() > now + LEEWAY_SECS {
                    Err(format!("iat_future: iat {} is {} s ahead", iat.timestamp(), iat.timestamp() - now))
                } else {
                    Ok(())
                }
            });
    let claims = match expected.nonce {
        Some(nonce) => token.claims(&verifier, &Nonce::new(nonce.to_string())),
        None => token.claims(&verifier, |_: Option<&Nonce>| Ok(())),
    }
    .map_err(|e| map_error(e, &kid, expected.issuer))?;
    let claims = match serde_json::to_value(claims) {
        Ok(Value::Object(map)) => map,
        _ => return Err(TokenError::Malformed("claims are not a JSON object".into())),
    };

    // Left to us by the crate: azp, nbf, at_hash.
    let audiences = match claims.get("aud") {
        Some(Value::Array(a)) => a.len(),
        Some(_) => 1,
        None => 0,
    };
    match claims.get("azp").and_then(Value::as_str) {
        Some(azp) if azp != expected.client_id => return Err(TokenError::WrongAuthorizedParty(azp.to_string())),
        None if audiences > 1 => return Err(TokenError::WrongAuthorizedParty("missing with several audiences".into())),
        _ => {}
    }
    if let Some(nbf) = claims.get("nbf").and_then(Value::as_i64) {
        if nbf > now + LEEWAY_SECS {
            return Err(TokenError::NotYetValid(nbf));
        }
    }
    if let (Some(at_hash), Some(access_token)) = (claims.get("at_hash").and_then(Value::as_str), expected.access_token)
    {
        if at_hash != access_token_hash(&alg, access_token) {
            return Err(TokenError::AccessTokenHash);
        }
    }
    Ok(claims)
}

fn chrono_at(secs: i64) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

/// OIDC Core 3.1.3.6: the left half of the hash the signing algorithm uses.
fn access_token_hash(alg: &str, token: &str) -> String {
    let digest: Vec<u8> = match &alg[alg.len().saturating_sub(3)..] {
        "384" => Sha384::digest(token.as_bytes()).to_vec(),
        "512" => Sha512::digest(token.as_bytes()).to_vec(),
        _ => Sha256::digest(token.as_bytes()).to_vec(),
    };
    URL_SAFE_NO_PAD.encode(&digest[..digest.len() / 2])
}

fn map_error(e: ClaimsVerificationError, kid: &str, issuer: &str) -> TokenError {
    match e {
        ClaimsVerificationError::SignatureVerification(s) => match s {
            SignatureVerificationError::NoMatchingKey => TokenError::UnknownKey(kid.to_string()),
            SignatureVerificationError::AmbiguousKeyId(_) => TokenError::AmbiguousKey,
            SignatureVerificationError::DisallowedAlg(a) | SignatureVerificationError::UnsupportedAlg(a) => {
                TokenError::AlgorithmRefused(a)
            }
            SignatureVerificationError::NoSignature => TokenError::AlgorithmRefused("none".into()),
            SignatureVerificationError::CryptoError(_) | SignatureVerificationError::InvalidKey(_) => {
                TokenError::BadSignature
            }
            other => TokenError::Other(other.to_string()),
        },
        ClaimsVerificationError::Expired(m) if m.starts_with("iat_future") => TokenError::IssuedInFuture(m),
        ClaimsVerificationError::Expired(m) => TokenError::Expired(m),
        ClaimsVerificationError::InvalidAudience(m) => TokenError::WrongAudience(m),
        ClaimsVerificationError::InvalidIssuer(m) => {
            TokenError::WrongIssuer { expected: issuer.to_string(), detail: m }
        }
        ClaimsVerificationError::InvalidNonce(m) => TokenError::Nonce(m),
        other => TokenError::Other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
    use rsa::{pkcs8::EncodePrivateKey, traits::PublicKeyParts, RsaPrivateKey};
    use serde_json::json;

    const ISS: &str = "https://idp.example.com";
    const CLIENT: &str = "client-1";
    const NOW: i64 = 1_800_000_000;

    struct Key {
        pem: String,
        jwk: Value,
    }

    fn key(kid: &str) -> Key {
        // A small key keeps the test fast; size does not matter to the checks.
        let private = RsaPrivateKey::new(&mut rand::thread_rng(), 1024).unwrap();
        let pem = private.to_pkcs8_pem(rsa::pkcs8::LineEnding::LF).unwrap().to_string();
        let public = private.to_public_key();
        let jwk = json!({
            "kty": "RSA", "alg": "RS256", "use": "sig", "kid": kid,
            "n": URL_SAFE_NO_PAD.encode(public.n().to_bytes_be()),
            "e": URL_SAFE_NO_PAD.encode(public.e().to_bytes_be()),
        });
        Key { pem, jwk }
    }

    fn keys() -> &'static (Key, Key) {
        static KEYS: std::sync::OnceLock<(Key, Key)> = std::sync::OnceLock::new();
        KEYS.get_or_init(|| (key("k1"), key("k2")))
    }

    fn jwks(with: &[&Key]) -> CoreJsonWebKeySet {
        let body = json!({ "keys": with.iter().map(|k| k.jwk.clone()).collect::<Vec<_>>() });
        parse_jwks(body.to_string().as_bytes()).unwrap()
    }

    fn claims() -> Value {
        json!({ "iss": ISS, "aud": CLIENT, "sub": "00u1", "iat": NOW - 10, "exp": NOW + 3600, "nonce": "n-1",
                "email": "ada@example.com", "groups": ["Admins"] })
    }

    fn sign(claims: &Value, k: &Key, kid: Option<&str>) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = kid.map(str::to_string);
        encode(&header, claims, &EncodingKey::from_rsa_pem(k.pem.as_bytes()).unwrap()).unwrap()
    }

    fn expected() -> Expected<'static> {
        Expected { issuer: ISS, client_id: CLIENT, nonce: Some("n-1"), access_token: None, now: NOW }
    }

    fn check(token: &str) -> Result<Map<String, Value>, TokenError> {
        let (k1, _) = keys();
        verify_id_token(token, &expected(), &jwks(&[k1]))
    }

    #[test]
    fn a_good_token_passes_with_its_groups() {
        let (k1, _) = keys();
        let claims = check(&sign(&claims(), k1, Some("k1"))).unwrap();
        assert_eq!(claims["sub"], "00u1");
        assert_eq!(claims["groups"], json!(["Admins"]));
    }

    #[test]
    fn a_token_without_kid_passes_when_one_key_matches() {
        let (k1, _) = keys();
        assert!(check(&sign(&claims(), k1, None)).is_ok());
    }

    #[test]
    fn a_key_not_in_the_jwks_is_an_unknown_key() {
        let (_, k2) = keys();
        assert_eq!(check(&sign(&claims(), k2, Some("k2"))).unwrap_err(), TokenError::UnknownKey("k2".into()));
    }

    #[test]
    fn a_bad_signature_is_refused() {
        let (_, k2) = keys();
        // Signed by k2 but claiming k1.
        assert_eq!(check(&sign(&claims(), k2, Some("k1"))).unwrap_err(), TokenError::BadSignature);
    }

    #[test]
    fn alg_none_is_refused() {
        let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims().to_string());
        assert_eq!(check(&format!("{head}.{body}.")).unwrap_err(), TokenError::AlgorithmRefused("none".into()));
    }

    #[test]
    fn hmac_signed_with_the_public_key_is_refused() {
        let (k1, _) = keys();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some("k1".into());
        let forged = encode(&header, &claims(), &EncodingKey::from_secret(k1.jwk.to_string().as_bytes())).unwrap();
        assert_eq!(check(&forged).unwrap_err(), TokenError::AlgorithmRefused("HS256".into()));
    }

    #[test]
    fn wrong_issuer_audience_nonce_are_refused() {
        let (k1, _) = keys();
        let mut c = claims();
        c["iss"] = json!("https://evil.example.com");
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "issuer");
        let mut c = claims();
        c["aud"] = json!("someone-else");
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "audience");
        let mut c = claims();
        c["aud"] = json!([CLIENT, "someone-else"]);
        c["azp"] = json!(CLIENT);
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "audience");
        let mut c = claims();
        c["nonce"] = json!("other");
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "nonce");
        let mut c = claims();
        c.as_object_mut().unwrap().remove("nonce");
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "nonce");
    }

    #[test]
    fn a_foreign_azp_is_refused() {
        let (k1, _) = keys();
        let mut c = claims();
        c["azp"] = json!("another-client");
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "azp");
    }

    #[test]
    fn expiry_has_a_small_leeway_and_no_more() {
        let (k1, _) = keys();
        let mut c = claims();
        c["exp"] = json!(NOW - 30);
        assert!(check(&sign(&c, k1, Some("k1"))).is_ok(), "30 s late is within the leeway");
        c["exp"] = json!(NOW - 120);
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "expired");
    }

    #[test]
    fn iat_far_in_the_future_and_nbf_ahead_are_refused() {
        let (k1, _) = keys();
        let mut c = claims();
        c["iat"] = json!(NOW + 600);
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "iat_future");
        let mut c = claims();
        c["nbf"] = json!(NOW + 600);
        assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "nbf");
    }

    #[test]
    fn missing_sub_or_iat_is_malformed() {
        let (k1, _) = keys();
        for claim in ["sub", "iat"] {
            let mut c = claims();
            c.as_object_mut().unwrap().remove(claim);
            assert_eq!(check(&sign(&c, k1, Some("k1"))).unwrap_err().code(), "malformed", "without {claim}");
        }
    }

    #[test]
    fn at_hash_must_match_the_access_token() {
        let (k1, _) = keys();
        let mut c = claims();
        c["at_hash"] = json!(access_token_hash("RS256", "the-access-token"));
        let token = sign(&c, k1, Some("k1"));
        let mut e = expected();
        e.access_token = Some("the-access-token");
        assert!(verify_id_token(&token, &e, &jwks(&[k1])).is_ok());
        e.access_token = Some("another-access-token");
        assert_eq!(verify_id_token(&token, &e, &jwks(&[k1])).unwrap_err(), TokenError::AccessTokenHash);
    }

    #[test]
    fn a_jwks_with_unknown_key_types_keeps_its_usable_keys() {
        let (k1, _) = keys();
        let body = json!({ "keys": [ { "kty": "weird", "kid": "x" }, k1.jwk ] });
        let set = parse_jwks(body.to_string().as_bytes()).unwrap();
        assert!(verify_id_token(&sign(&claims(), k1, Some("k1")), &expected(), &set).is_ok());
    }
}
