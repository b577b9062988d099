//! The API service app's private key, as admins paste it: the JWK JSON Okta
//! generates, or a PEM (PKCS#1, PKCS#8 or SEC1); RSA or EC P-256.

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey};
use p256::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::{pkcs1::EncodeRsaPrivateKey, BigUint, RsaPrivateKey};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("Paste the private key: the JWK JSON that Okta shows after Generate new key, or a PEM.")]
    Empty,
    #[error("This is a public key (it has no \"d\" value). Paste the private key that Okta showed once, when it generated the key.")]
    PublicOnly,
    #[error("The JWK is not valid JSON: {0}.")]
    BadJson(String),
    #[error("The JWK is missing {0}.")]
    MissingField(&'static str),
    #[error("Key type {0} is not supported: use an RSA key (what Okta generates) or an EC P-256 key.")]
    UnsupportedType(String),
    #[error("The key values do not form a valid {0} private key.")]
    Invalid(&'static str),
    #[error("RSA keys must have at least 2048 bits (Okta refuses shorter ones).")]
    TooShort,
    #[error("The PEM is not a private key Portcullis can read (RSA or EC P-256, PKCS#1, PKCS#8 or SEC1).")]
    BadPem,
}

/// A private key ready to sign client assertions.
#[derive(Clone)]
pub struct ServiceKey {
    pub(crate) encoding: EncodingKey,
    pub alg: Algorithm,
    /// Okta matches this against the keys registered on the app.
    pub kid: Option<String>,
}

impl std::fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceKey").field("alg", &self.alg).field("kid", &self.kid).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct JwkIn {
    kty: Option<String>,
    kid: Option<String>,
    alg: Option<String>,
    crv: Option<String>,
    n: Option<String>,
    e: Option<String>,
    d: Option<String>,
    p: Option<String>,
    q: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

#[derive(Deserialize)]
struct JwkSetIn {
    keys: Vec<serde_json::Value>,
}

pub fn parse_private_key(text: &str) -> Result<ServiceKey, KeyError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(KeyError::Empty);
    }
    if text.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| KeyError::BadJson(e.to_string()))?;
        // A whole JWKS with one key is accepted too.
        let value = match serde_json::from_value::<JwkSetIn>(value.clone()) {
            Ok(set) if set.keys.len() == 1 => set.keys.into_iter().next().unwrap_or(value),
            _ => value,
        };
        let jwk: JwkIn = serde_json::from_value(value).map_err(|e| KeyError::BadJson(e.to_string()))?;
        from_jwk(jwk)
    } else if text.contains("-----BEGIN") {
        from_pem(text)
    } else {
        Err(KeyError::Empty)
    }
}

fn b64(field: &Option<String>, name: &'static str) -> Result<Vec<u8>, KeyError> {
    let v = field.as_deref().ok_or(KeyError::MissingField(name))?;
    URL_SAFE_NO_PAD.decode(v.trim_end_matches('=')).map_err(|_| KeyError::MissingField(name))
}

fn from_jwk(jwk: JwkIn) -> Result<ServiceKey, KeyError> {
    if jwk.d.is_none() {
        return Err(KeyError::PublicOnly);
    }
    match jwk.kty.as_deref() {
        Some("RSA") => {
            let big = |f: &Option<String>, n| b64(f, n).map(|b| BigUint::from_bytes_be(&b));
            let (n, e, d) = (big(&jwk.n, "n")?, big(&jwk.e, "e")?, big(&jwk.d, "d")?);
            let primes = match (&jwk.p, &jwk.q) {
                (Some(_), Some(_)) => vec![big(&jwk.p, "p")?, big(&jwk.q, "q")?],
                _ => Vec::new(),
            };
            let key = RsaPrivateKey::from_components(n, e, d, primes).map_err(|_| KeyError::Invalid("RSA"))?;
            rsa_key(key, jwk.kid, jwk.alg.as_deref())
        }
        Some("EC") => {
            if jwk.crv.as_deref() != Some("P-256") {
                return Err(KeyError::UnsupportedType(format!("EC {}", jwk.crv.unwrap_or_default())));
            }
            let d = b64(&jwk.d, "d")?;
            let key = p256::SecretKey::from_slice(&d).map_err(|_| KeyError::Invalid("EC"))?;
            // The public part, if given, must belong to the private part.
            if let (Some(x), Some(y)) = (&jwk.x, &jwk.y) {
                let point = key.public_key().to_sec1_bytes();
                let expected = [&[4u8][..], &b64(&Some(x.clone()), "x")?, &b64(&Some(y.clone()), "y")?].concat();
                if point.as_ref() != expected.as_slice() {
                    return Err(KeyError::Invalid("EC"));
                }
            }
            ec_key(key, jwk.kid)
        }
        other => Err(KeyError::UnsupportedType(other.unwrap_or("(none)").to_string())),
    }
}

fn rsa_key(key: RsaPrivateKey, kid: Option<String>, alg: Option<&str>) -> Result<ServiceKey, KeyError> {
    use rsa::traits::PublicKeyParts;
    key.validate().map_err(|_| KeyError::Invalid("RSA"))?;
    if key.n().bits() < 2048 {
        return Err(KeyError::TooShort);
    }
    let der = key.to_pkcs1_der().map_err(|_| KeyError::Invalid("RSA"))?;
    let alg = match alg {
        Some("RS384") => Algorithm::RS384,
        Some("RS512") => Algorithm::RS512,
        _ => Algorithm::RS256,
    };
    Ok(ServiceKey { encoding: EncodingKey::from_rsa_der(der.as_bytes()), alg, kid })
}

fn ec_key(key: p256::SecretKey, kid: Option<String>) -> Result<ServiceKey, KeyError> {
    let der = key.to_pkcs8_der().map_err(|_| KeyError::Invalid("EC"))?;
    Ok(ServiceKey { encoding: EncodingKey::from_ec_der(der.as_bytes()), alg: Algorithm::ES256, kid })
}

fn from_pem(text: &str) -> Result<ServiceKey, KeyError> {
    use p256::pkcs8::DecodePrivateKey;
    use rsa::pkcs1::DecodeRsaPrivateKey;
    if text.contains("PUBLIC KEY-----") {
        return Err(KeyError::PublicOnly);
    }
    if let Ok(key) = RsaPrivateKey::from_pkcs1_pem(text) {
        return rsa_key(key, None, None);
    }
    if let Ok(key) = RsaPrivateKey::from_pkcs8_pem(text) {
        return rsa_key(key, None, None);
    }
    if let Ok(key) = p256::SecretKey::from_pkcs8_pem(text) {
        return ec_key(key, None);
    }
    if let Ok(key) = p256::SecretKey::from_sec1_pem(text) {
        return ec_key(key, None);
    }
    Err(KeyError::BadPem)
}

/// A P-256 key pair for DPoP proofs, made fresh per client: cheap, and never stored.
pub struct DpopKey {
    pub(crate) encoding: EncodingKey,
    pub(crate) jwk: jsonwebtoken::jwk::Jwk,
}

impl DpopKey {
    pub fn generate() -> Self {
        use jsonwebtoken::jwk::{
            AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType, Jwk,
        };
        let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let point = secret.public_key().to_sec1_bytes();
        // SEC1 uncompressed: 0x04 || x (32) || y (32).
        let (x, y) = (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..65]));
        let der = secret.to_pkcs8_der().map(|d| d.as_bytes().to_vec()).unwrap_or_default();
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x,
                y,
            }),
        };
        Self { encoding: EncodingKey::from_ec_der(&der), jwk }
    }
}

/// For tests and the simulator's fixtures: a PEM of a fresh P-256 key.
pub fn generate_ec_pem() -> String {
    p256::SecretKey::random(&mut rand::rngs::OsRng)
        .to_pkcs8_pem(LineEnding::LF)
        .map(|p| p.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_jwk_is_refused_with_a_hint() {
        let jwk = r#"{"kty":"RSA","kid":"k1","e":"AQAB","n":"abc"}"#;
        assert_eq!(parse_private_key(jwk).unwrap_err(), KeyError::PublicOnly);
    }

    #[test]
    fn an_ec_pem_and_its_jwk_form_are_accepted() {
        let pem = generate_ec_pem();
        let key = parse_private_key(&pem).unwrap();
        assert_eq!(key.alg, Algorithm::ES256);

        use p256::pkcs8::DecodePrivateKey;
        let secret = p256::SecretKey::from_pkcs8_pem(&pem).unwrap();
        let point = secret.public_key().to_sec1_bytes();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256", "kid": "ec1",
            "d": URL_SAFE_NO_PAD.encode(secret.to_bytes()),
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        let key = parse_private_key(&jwk.to_string()).unwrap();
        assert_eq!(key.kid.as_deref(), Some("ec1"));
    }

    #[test]
    fn an_ec_jwk_whose_public_part_does_not_match_is_refused() {
        let a = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let b = p256::SecretKey::random(&mut rand::rngs::OsRng);
        let point = b.public_key().to_sec1_bytes();
        let jwk = serde_json::json!({
            "kty": "EC", "crv": "P-256",
            "d": URL_SAFE_NO_PAD.encode(a.to_bytes()),
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
            "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
        });
        assert_eq!(parse_private_key(&jwk.to_string()).unwrap_err(), KeyError::Invalid("EC"));
    }

    #[test]
    fn garbage_gets_a_message_that_says_what_to_paste() {
        assert_eq!(parse_private_key("  ").unwrap_err(), KeyError::Empty);
        assert!(matches!(parse_private_key("{not json").unwrap_err(), KeyError::BadJson(_)));
        assert_eq!(
            parse_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").unwrap_err(),
            KeyError::BadPem
        );
        assert!(matches!(parse_private_key(r#"{"kty":"OKP","d":"x"}"#).unwrap_err(), KeyError::UnsupportedType(_)));
    }
}
