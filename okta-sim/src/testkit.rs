//! Client-side helpers for tests: client assertions and DPoP proofs, built the way the
//! Okta SDKs build them. The simulator itself does not use these.

use jsonwebtoken::{Algorithm, EncodingKey};
use p256::ecdsa::SigningKey as P256Key;
use p256::pkcs8::EncodePrivateKey;
use serde_json::{json, Value};

use crate::keys::{jwk_thumbprint, sign_with, sign_with_private_jwk, KeyError};
use crate::util::{random_token, sha256_b64url};

fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

/// A `private_key_jwt` client assertion as okta-sdk-golang builds it: RS256, `kid` from the
/// JWK, `iss` = `sub` = client id, `aud` = the token URL, `exp` = now + 1 h, a fresh `jti`.
pub fn client_assertion(private_jwk: &Value, client_id: &str, token_url: &str) -> Result<String, KeyError> {
    let now = now();
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": token_url,
        "iat": now, "exp": now + 3600, "jti": random_token(16),
    });
    client_assertion_with_claims(private_jwk, &claims)
}

/// A client assertion with the caller's claims (to test refusals); RS256 with the JWK's `kid`.
pub fn client_assertion_with_claims(private_jwk: &Value, claims: &Value) -> Result<String, KeyError> {
    let mut header = json!({"alg": "RS256", "typ": "JWT"});
    if let Some(kid) = private_jwk.get("kid") {
        header["kid"] = kid.clone();
    }
    sign_with_private_jwk(private_jwk, "RS256", &header, claims)
}

/// An ephemeral P-256 key for DPoP, as the SDKs generate per client.
pub struct DpopKey {
    encoding: EncodingKey,
    public_jwk: Value,
}

impl DpopKey {
    pub fn generate() -> DpopKey {
        let sk = P256Key::random(&mut rand::thread_rng());
        DpopKey::from_p256(&sk)
    }

    fn from_p256(sk: &P256Key) -> DpopKey {
        let point = sk.verifying_key().to_encoded_point(false);
        let coord = |b: Option<&p256::FieldBytes>| b.map(|b| crate::util::b64url(b)).unwrap_or_default();
        let public_jwk = json!({"kty": "EC", "crv": "P-256", "x": coord(point.x()), "y": coord(point.y())});
        // PKCS#8 encoding of a valid in-memory key does not fail.
        let der = sk.to_pkcs8_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
        DpopKey { encoding: EncodingKey::from_ec_der(&der), public_jwk }
    }

    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// The RFC 7638 thumbprint (`cnf.jkt` of tokens bound to this key).
    pub fn thumbprint(&self) -> String {
        jwk_thumbprint(&self.public_jwk).unwrap_or_default()
    }

    /// A proof for `method` `url` (query stripped, as the SDKs do), with an optional server
    /// nonce and, for resource requests, the access token's `ath`.
    pub fn proof(&self, method: &str, url: &str, nonce: Option<&str>, access_token: Option<&str>) -> String {
        self.proof_at(method, url, nonce, access_token, now())
    }

    pub fn proof_at(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
        iat: i64,
    ) -> String {
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let mut claims = json!({"htm": method, "htu": htu, "iat": iat, "jti": random_token(16)});
        if let Some(n) = nonce {
            claims["nonce"] = Value::from(n);
        }
        if let Some(t) = access_token {
            claims["ath"] = Value::from(sha256_b64url(t.as_bytes()));
        }
        self.sign(&json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": self.public_jwk}), &claims)
    }

    /// Signs arbitrary header and claims with this key (ES256), to build malformed proofs.
    pub fn sign(&self, header: &Value, claims: &Value) -> String {
        sign_with(&self.encoding, Algorithm::ES256, header, claims).unwrap_or_default()
    }
}
