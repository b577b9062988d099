//! Signing keys (with rotation and a grace period), JWT parsing and verification, JWK helpers.

use std::sync::Arc;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::Rng;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::{BigUint, RsaPrivateKey};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::util::{b64url, b64url_decode};

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("invalid key: {0}")]
    Invalid(String),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// Pre-generated RSA-2048 keys, so starting a simulator never waits on key generation.
/// Test material only: these keys are public.
const POOL: [&str; 8] = [
    include_str!("keys/pool/signing-0.pem"),
    include_str!("keys/pool/signing-1.pem"),
    include_str!("keys/pool/signing-2.pem"),
    include_str!("keys/pool/signing-3.pem"),
    include_str!("keys/pool/signing-4.pem"),
    include_str!("keys/pool/signing-5.pem"),
    include_str!("keys/pool/signing-6.pem"),
    include_str!("keys/pool/signing-7.pem"),
];

pub(crate) struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    pub decoding: DecodingKey,
    pub public_jwk: Value,
}

impl SigningKey {
    fn from_rsa(key: &RsaPrivateKey) -> Result<SigningKey, KeyError> {
        let n = b64url(&key.n().to_bytes_be());
        let e = b64url(&key.e().to_bytes_be());
        let kid = rsa_thumbprint(&n, &e);
        let der = key.to_pkcs1_der().map_err(|e| KeyError::Invalid(e.to_string()))?;
        let decoding = DecodingKey::from_rsa_components(&n, &e).map_err(|e| KeyError::Invalid(e.to_string()))?;
        Ok(SigningKey {
            public_jwk: json!({"kty": "RSA", "alg": "RS256", "kid": kid, "use": "sig", "e": e, "n": n}),
            kid,
            encoding: EncodingKey::from_rsa_der(der.as_bytes()),
            decoding,
        })
    }

    fn from_pem(pem: &str) -> Result<SigningKey, KeyError> {
        let key = RsaPrivateKey::from_pkcs8_pem(pem).map_err(|e| KeyError::Invalid(e.to_string()))?;
        SigningKey::from_rsa(&key)
    }

    /// An RS256 JWS over the given header (with `alg` and `kid` filled in) and claims.
    pub fn sign(&self, mut header: Map<String, Value>, claims: &Value) -> Result<String, KeyError> {
        header.insert("kid".into(), Value::from(self.kid.clone()));
        header.insert("alg".into(), Value::from("RS256"));
        sign_rs(&self.encoding, Algorithm::RS256, &Value::Object(header), claims)
    }

    /// A forgery: HS256 with this key's public JWK (exactly as the JWKS serves it) as the HMAC
    /// secret, under this key's `kid`. A verifier that lets the token pick the algorithm accepts it.
    pub fn forge_hs256_with_public_jwk(&self, claims: &Value) -> Result<String, KeyError> {
        let secret = serde_json::to_vec(&self.public_jwk).map_err(|e| KeyError::Sign(e.to_string()))?;
        let header = json!({ "alg": "HS256", "kid": self.kid });
        sign_rs(&EncodingKey::from_secret(&secret), Algorithm::HS256, &header, claims)
    }
}

fn sign_rs(key: &EncodingKey, alg: Algorithm, header: &Value, claims: &Value) -> Result<String, KeyError> {
    let h = serde_json::to_vec(header).map_err(|e| KeyError::Sign(e.to_string()))?;
    let c = serde_json::to_vec(claims).map_err(|e| KeyError::Sign(e.to_string()))?;
    let input = format!("{}.{}", b64url(&h), b64url(&c));
    let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, alg).map_err(|e| KeyError::Sign(e.to_string()))?;
    Ok(format!("{input}.{sig}"))
}

/// The org's signing keys. The JWKS lists the active key, the next one (pre-published), and
/// retired keys until their grace period ends.
pub(crate) struct KeyRing {
    active: Arc<SigningKey>,
    next: Arc<SigningKey>,
    retired: Vec<(Arc<SigningKey>, i64)>,
    start: usize,
    taken: usize,
}

impl KeyRing {
    pub fn new() -> Result<KeyRing, KeyError> {
        // A random starting point, so two simulators in one test rarely share keys.
        let start = rand::thread_rng().gen_range(0..POOL.len());
        let active = Arc::new(SigningKey::from_pem(POOL[start])?);
        let next = Arc::new(SigningKey::from_pem(POOL[(start + 1) % POOL.len()])?);
        Ok(KeyRing { active, next, retired: Vec::new(), start, taken: 2 })
    }

    fn take_fresh(&mut self) -> Result<SigningKey, KeyError> {
        let key = if self.taken < POOL.len() {
            SigningKey::from_pem(POOL[(self.start + self.taken) % POOL.len()])
        } else {
            // Pool exhausted: generate (slow unoptimised, fine after a handful of rotations).
            let key =
                RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| KeyError::Invalid(e.to_string()))?;
            SigningKey::from_rsa(&key)
        };
        self.taken += 1;
        key
    }

    pub fn active(&self) -> Arc<SigningKey> {
        self.active.clone()
    }

    /// The next key becomes active; the old one stays published until `now_ms + grace_ms`.
    pub fn rotate(&mut self, now_ms: i64, grace_ms: i64) -> Result<(), KeyError> {
        let fresh = Arc::new(self.take_fresh()?);
        let old = std::mem::replace(&mut self.active, std::mem::replace(&mut self.next, fresh));
        self.retired.push((old, now_ms + grace_ms));
        Ok(())
    }

    pub fn jwks(&mut self, now_ms: i64, publish_next: bool) -> Value {
        self.retired.retain(|(_, until)| *until > now_ms);
        let mut keys = vec![self.active.public_jwk.clone()];
        if publish_next {
            keys.push(self.next.public_jwk.clone());
        }
        keys.extend(self.retired.iter().map(|(k, _)| k.public_jwk.clone()));
        json!({ "keys": keys })
    }

    /// A published key by `kid` (to verify our own tokens, e.g. `id_token_hint`).
    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        std::iter::once(&self.active)
            .chain(std::iter::once(&self.next))
            .chain(self.retired.iter().map(|(k, _)| k))
            .find(|k| k.kid == kid)
            .cloned()
    }

    /// A key this ring does not hold (nor will soon: the pool's untaken keys come first), so its
    /// `kid` is in no JWKS of this simulator.
    pub fn unpublished(&self) -> Result<SigningKey, KeyError> {
        let kids = self.kids();
        for i in 0..POOL.len() {
            let key = SigningKey::from_pem(POOL[(self.start + POOL.len() - 1 - i) % POOL.len()])?;
            if !kids.contains(&key.kid) {
                return Ok(key);
            }
        }
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| KeyError::Invalid(e.to_string()))?;
        SigningKey::from_rsa(&key)
    }

    pub fn kids(&self) -> Vec<String> {
        let mut v = vec![self.active.kid.clone(), self.next.kid.clone()];
        v.extend(self.retired.iter().map(|(k, _)| k.kid.clone()));
        v
    }
}

/// A compact JWS split into its parts; header and claims as JSON objects.
pub(crate) struct ParsedJwt {
    pub header: Map<String, Value>,
    pub claims: Map<String, Value>,
    pub signing_input: String,
    pub signature: String,
}

impl ParsedJwt {
    pub fn parse(token: &str) -> Option<ParsedJwt> {
        let mut parts = token.split('.');
        let (h, c, s) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || s.is_empty() {
            return None;
        }
        let header: Map<String, Value> = serde_json::from_slice(&b64url_decode(h)?).ok()?;
        let claims: Map<String, Value> = serde_json::from_slice(&b64url_decode(c)?).ok()?;
        Some(ParsedJwt { header, claims, signing_input: format!("{h}.{c}"), signature: s.to_owned() })
    }

    pub fn alg(&self) -> Option<&str> {
        self.header.get("alg").and_then(Value::as_str)
    }

    pub fn kid(&self) -> Option<&str> {
        self.header.get("kid").and_then(Value::as_str)
    }

    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    /// Integer seconds; a float such as `1.7e9` counts too, a string does not.
    pub fn claim_num(&self, name: &str) -> Option<i64> {
        let v = self.claims.get(name)?;
        v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
    }

    pub fn verify(&self, alg: Algorithm, key: &DecodingKey) -> bool {
        jsonwebtoken::crypto::verify(&self.signature, self.signing_input.as_bytes(), key, alg).unwrap_or(false)
    }

    /// Verifies against a public JWK; a key whose type does not fit `alg` fails.
    pub fn verify_with_jwk(&self, alg: Algorithm, jwk: &Value) -> bool {
        if !jwk_fits_alg(jwk, alg) {
            return false;
        }
        let Ok(parsed) = serde_json::from_value::<Jwk>(jwk.clone()) else {
            return false;
        };
        match DecodingKey::from_jwk(&parsed) {
            Ok(key) => self.verify(alg, &key),
            Err(_) => false,
        }
    }
}

/// The asymmetric algorithms Okta accepts for client assertions and DPoP proofs.
pub(crate) fn asymmetric_alg(name: &str) -> Option<Algorithm> {
    match name {
        "RS256" => Some(Algorithm::RS256),
        "RS384" => Some(Algorithm::RS384),
        "RS512" => Some(Algorithm::RS512),
        "ES256" => Some(Algorithm::ES256),
        "ES384" => Some(Algorithm::ES384),
        _ => None,
    }
}

pub(crate) fn jwk_fits_alg(jwk: &Value, alg: Algorithm) -> bool {
    let kty = jwk.get("kty").and_then(Value::as_str);
    let crv = jwk.get("crv").and_then(Value::as_str);
    match alg {
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512 => kty == Some("RSA"),
        Algorithm::ES256 => kty == Some("EC") && crv == Some("P-256"),
        Algorithm::ES384 => kty == Some("EC") && crv == Some("P-384"),
        _ => false,
    }
}

fn rsa_thumbprint(n: &str, e: &str) -> String {
    let canonical = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
    b64url(&Sha256::digest(canonical.as_bytes()))
}

/// RFC 7638 SHA-256 thumbprint of a public JWK, base64url: DPoP's `jkt`, Okta's style of `kid`.
pub fn jwk_thumbprint(jwk: &Value) -> Option<String> {
    let s = |k: &str| jwk.get(k).and_then(Value::as_str).map(|v| serde_json::to_string(v).unwrap_or_default());
    let canonical = match jwk.get("kty").and_then(Value::as_str)? {
        "RSA" => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, s("e")?, s("n")?),
        "EC" => format!(r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#, s("crv")?, s("x")?, s("y")?),
        "OKP" => format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, s("crv")?, s("x")?),
        _ => return None,
    };
    Some(b64url(&Sha256::digest(canonical.as_bytes())))
}

fn big(jwk: &Value, field: &str) -> Result<BigUint, KeyError> {
    let s = jwk
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| KeyError::Invalid(format!("private JWK lacks '{field}'")))?;
    let bytes = b64url_decode(s).ok_or_else(|| KeyError::Invalid(format!("'{field}' is not base64url")))?;
    Ok(BigUint::from_bytes_be(&bytes))
}

/// An RSA private JWK (as Okta's Admin Console generates it) as a PKCS#8 PEM.
pub fn private_jwk_to_pem(jwk: &Value) -> Result<String, KeyError> {
    if jwk.get("kty").and_then(Value::as_str) != Some("RSA") {
        return Err(KeyError::Invalid("only RSA private JWKs are supported".to_owned()));
    }
    let key = RsaPrivateKey::from_components(
        big(jwk, "n")?,
        big(jwk, "e")?,
        big(jwk, "d")?,
        vec![big(jwk, "p")?, big(jwk, "q")?],
    )
    .map_err(|e| KeyError::Invalid(e.to_string()))?;
    let pem = key.to_pkcs8_pem(LineEnding::LF).map_err(|e| KeyError::Invalid(e.to_string()))?;
    Ok(pem.to_string())
}

/// Signs a JWT with an RSA private JWK (RS256/384/512), e.g. a `private_key_jwt` client assertion.
pub fn sign_with_private_jwk(jwk: &Value, alg: &str, header: &Value, claims: &Value) -> Result<String, KeyError> {
    let alg = match alg {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        other => return Err(KeyError::Invalid(format!("unsupported algorithm {other}"))),
    };
    let pem = private_jwk_to_pem(jwk)?;
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(|e| KeyError::Invalid(e.to_string()))?;
    sign_rs(&key, alg, header, claims)
}

/// Signs with any `EncodingKey` (ES256 keys from `p256`, for example).
pub(crate) fn sign_with(key: &EncodingKey, alg: Algorithm, header: &Value, claims: &Value) -> Result<String, KeyError> {
    sign_rs(key, alg, header, claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pooled_key_loads_and_has_a_thumbprint_kid() {
        for pem in POOL {
            let k = SigningKey::from_pem(pem).unwrap();
            assert_eq!(k.kid.len(), 43);
            assert_eq!(jwk_thumbprint(&k.public_jwk).unwrap(), k.kid);
        }
    }

    #[test]
    fn our_signature_verifies_with_the_published_jwk() {
        let ring = KeyRing::new().unwrap();
        let token = ring.active().sign(Map::new(), &json!({"sub": "x"})).unwrap();
        let parsed = ParsedJwt::parse(&token).unwrap();
        assert_eq!(parsed.kid(), Some(ring.active().kid.as_str()));
        assert!(parsed.verify_with_jwk(Algorithm::RS256, &ring.active().public_jwk));
        assert!(!parsed.verify_with_jwk(Algorithm::ES256, &ring.active().public_jwk));
    }

    #[test]
    fn the_unpublished_key_is_in_no_jwks_of_the_ring() {
        let mut ring = KeyRing::new().unwrap();
        for _ in 0..3 {
            let stranger = ring.unpublished().unwrap();
            assert!(!ring.kids().contains(&stranger.kid));
            ring.rotate(0, 1_000).unwrap();
        }
    }

    #[test]
    fn the_hs256_forgery_verifies_with_the_public_jwk_as_secret() {
        let ring = KeyRing::new().unwrap();
        let key = ring.active();
        let token = key.forge_hs256_with_public_jwk(&json!({"sub": "x"})).unwrap();
        let parsed = ParsedJwt::parse(&token).unwrap();
        assert_eq!((parsed.alg(), parsed.kid()), (Some("HS256"), Some(key.kid.as_str())));
        let secret = DecodingKey::from_secret(key.public_jwk.to_string().as_bytes());
        assert!(parsed.verify(Algorithm::HS256, &secret));
    }

    #[test]
    fn rotation_keeps_the_old_key_published_for_the_grace_period() {
        let mut ring = KeyRing::new().unwrap();
        let old = ring.active().kid.clone();
        ring.rotate(1_000, 500).unwrap();
        assert_ne!(ring.active().kid, old);
        let kids = |j: Value| {
            j["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
        };
        assert!(kids(ring.jwks(1_400, false)).contains(&old));
        assert!(!kids(ring.jwks(1_600, false)).contains(&old));
        assert!(ring.find(&old).is_none());
    }

    #[test]
    fn the_sample_private_jwk_converts_to_pem_and_signs() {
        let jwk = crate::fixture::sample::service_private_jwk();
        let token = sign_with_private_jwk(&jwk, "RS256", &json!({"alg": "RS256", "kid": jwk["kid"]}), &json!({"a": 1}))
            .unwrap();
        let public = &crate::fixture::sample::service_public_jwks()["keys"][0];
        assert!(ParsedJwt::parse(&token).unwrap().verify_with_jwk(Algorithm::RS256, public));
    }

    #[test]
    fn thumbprint_matches_rfc7638_example() {
        let jwk = json!({"kty":"RSA","e":"AQAB","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"});
        assert_eq!(jwk_thumbprint(&jwk).unwrap(), "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs");
    }
}
