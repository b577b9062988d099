//! Signed identity for upstreams: `X-Portcullis-Jwt-Assertion`, an ES256 JWT that an
//! upstream verifies against the keys published at `/.well-known/portcullis/jwks.json`.
//!
//! Keys live in the database, sealed, so every replica signs with the same key. They rotate
//! with overlap: a new key is published an hour before it signs (verifiers with a cached
//! JWKS see it first), and a superseded key stays published a day after it stopped signing,
//! far longer than any assertion it signed lives.

use std::sync::{Arc, RwLock};

use base64::{engine::general_purpose::STANDARD, Engine};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use p256::pkcs8::EncodePrivateKey;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{
    crypto::{CryptoError, SecretBox},
    store::{now_ms, signing_keys::SigningKeyRow, Store, StoreError},
};

/// How long an assertion is good for.
pub const ASSERTION_LIFETIME_SECS: i64 = 300;
const HOUR_MS: i64 = 3_600_000;
/// A key signs for about this long before the next one takes over.
const ROTATE_AFTER_MS: i64 = 30 * 24 * HOUR_MS;
/// A new key is published this long before it signs.
const PUBLISH_AHEAD_MS: i64 = HOUR_MS;
/// A superseded key stays published this long after it stopped signing.
const RETIRE_AFTER_MS: i64 = 24 * HOUR_MS;

#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("an assertion signing key cannot be opened: {0}")]
    Crypto(#[from] CryptoError),
    #[error("an assertion signing key is damaged: {0}")]
    BadKey(String),
    #[error("could not sign an assertion: {0}")]
    Signing(String),
}

/// What an assertion says.
#[derive(Debug, Clone)]
pub struct Claims<'a> {
    pub application_id: &'a str,
    /// Hostname, without port.
    pub host: &'a str,
    pub sub: &'a str,
    pub email: &'a str,
    pub name: &'a str,
    pub groups: &'a [String],
    /// Unix seconds.
    pub issued_at: i64,
}

#[derive(Serialize)]
struct Payload<'a> {
    iss: &'a str,
    aud: [&'a str; 2],
    sub: &'a str,
    email: &'a str,
    name: &'a str,
    groups: &'a [String],
    iat: i64,
    exp: i64,
}

/// The key in use and what is published, swapped whole on rotation.
struct Current {
    kid: String,
    key: EncodingKey,
    header: Header,
    jwks: Arc<str>,
}

/// Signs assertions and publishes their keys. Cheap to clone.
#[derive(Clone)]
pub struct Assertions {
    store: Store,
    secrets: SecretBox,
    issuer: Arc<str>,
    current: Arc<RwLock<Arc<Current>>>,
}

impl std::fmt::Debug for Assertions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Assertions").field("issuer", &self.issuer).field("kid", &self.current().kid).finish_non_exhaustive()
    }
}

impl Assertions {
    /// Loads the keys, creating the first one, and rotates if due.
    pub async fn load(store: Store, secrets: SecretBox, issuer: &str) -> Result<Self, AssertionError> {
        Self::load_at(store, secrets, issuer, now_ms()).await
    }

    async fn load_at(store: Store, secrets: SecretBox, issuer: &str, now: i64) -> Result<Self, AssertionError> {
        let current = build(&store, &secrets, now).await?;
        Ok(Self { store, secrets, issuer: issuer.into(), current: Arc::new(RwLock::new(Arc::new(current))) })
    }

    /// Rotates when due and picks up keys another replica made. Called every few minutes.
    pub async fn refresh(&self) -> Result<(), AssertionError> {
        self.refresh_at(now_ms()).await
    }

    async fn refresh_at(&self, now: i64) -> Result<(), AssertionError> {
        let next = build(&self.store, &self.secrets, now).await?;
        *self.current.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    fn current(&self) -> Arc<Current> {
        self.current.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The published keys, as JSON: `{"keys": [...]}`.
    pub fn jwks(&self) -> Arc<str> {
        self.current().jwks.clone()
    }

    /// An assertion: `iss` this console, `aud` the application's id and the host asked for,
    /// good for [`ASSERTION_LIFETIME_SECS`].
    pub fn sign(&self, c: &Claims<'_>) -> Result<String, AssertionError> {
        let current = self.current();
        let payload = Payload {
            iss: &self.issuer,
            aud: [c.application_id, c.host],
            sub: c.sub,
            email: c.email,
            name: c.name,
            groups: c.groups,
            iat: c.issued_at,
            exp: c.issued_at + ASSERTION_LIFETIME_SECS,
        };
        jsonwebtoken::encode(&current.header, &payload, &current.key).map_err(|e| AssertionError::Signing(e.to_string()))
    }
}

/// Applies the rotation rules at `now` and returns the signer and what to publish.
async fn build(store: &Store, secrets: &SecretBox, now: i64) -> Result<Current, AssertionError> {
    let mut keys = store.signing_keys().await?;
    if keys.last().is_none_or(|newest| newest.created_at <= now - ROTATE_AFTER_MS) {
        store.insert_signing_key(&generate(secrets, now)?).await?;
        keys = store.signing_keys().await?;
    }
    // The newest key published long enough; at first start, the only one there is.
    let signer = keys
        .iter()
        .rposition(|k| k.created_at <= now - PUBLISH_AHEAD_MS)
        .unwrap_or(0);
    let signing_since = if signer == 0 { keys[0].created_at } else { keys[signer].created_at + PUBLISH_AHEAD_MS };
    let mut published = Vec::new();
    for (i, key) in keys.iter().enumerate() {
        if i < signer && now > signing_since + RETIRE_AFTER_MS {
            store.delete_signing_key(&key.kid).await?;
            continue;
        }
        let jwk: serde_json::Value =
            serde_json::from_str(&key.public_jwk).map_err(|e| AssertionError::BadKey(format!("{}: {e}", key.kid)))?;
        published.push(jwk);
    }
    let chosen = &keys[signer];
    let der = STANDARD
        .decode(secrets.open(&context(&chosen.kid), &chosen.private_sealed)?.expose())
        .map_err(|e| AssertionError::BadKey(format!("{}: {e}", chosen.kid)))?;
    let mut header = Header::new(Algorithm::ES256);
    header.kid = Some(chosen.kid.clone());
    let jwks = serde_json::json!({ "keys": published }).to_string();
    Ok(Current { kid: chosen.kid.clone(), key: EncodingKey::from_ec_der(&der), header, jwks: jwks.into() })
}

fn context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// A new P-256 key: the private half sealed, the public half as a JWK.
fn generate(secrets: &SecretBox, now: i64) -> Result<SigningKeyRow, AssertionError> {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let der = secret.to_pkcs8_der().map_err(|e| AssertionError::Signing(e.to_string()))?;
    let public = secret.public_key();
    let point = p256::EncodedPoint::from(public);
    let kid = hex::encode(&Sha256::digest(point.as_bytes())[..12]);
    let mut jwk: serde_json::Value =
        serde_json::to_value(public.to_jwk()).map_err(|e| AssertionError::Signing(e.to_string()))?;
    if let Some(map) = jwk.as_object_mut() {
        map.insert("kid".into(), kid.clone().into());
        map.insert("use".into(), "sig".into());
        map.insert("alg".into(), "ES256".into());
    }
    Ok(SigningKeyRow {
        private_sealed: secrets.seal(&context(&kid), &STANDARD.encode(der.as_bytes())),
        public_jwk: jwk.to_string(),
        kid,
        created_at: now,
    })
}

#[cfg(test)]
mod tests {
    use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};

    use super::*;

    const ISSUER: &str = "https://pc.example.test";
    const DAY: i64 = 24 * HOUR_MS;

    fn claims(groups: &[String]) -> Claims<'_> {
        Claims {
            application_id: "app-1",
            host: "wiki.example.test",
            sub: "user-1",
            email: "ada@example.test",
            name: "Ada",
            groups,
            issued_at: now_ms() / 1000,
        }
    }

    async fn assertions(now: i64) -> (Store, Assertions) {
        let store = Store::in_memory().await.unwrap();
        let a = Assertions::load_at(store.clone(), SecretBox::from_key(&[7u8; 32]), ISSUER, now).await.unwrap();
        (store, a)
    }

    fn verify(a: &Assertions, token: &str, alg: Algorithm) -> jsonwebtoken::errors::Result<serde_json::Value> {
        let jwks: JwkSet = serde_json::from_str(&a.jwks()).unwrap();
        let kid = decode_header(token)?.kid.unwrap_or_default();
        let key = DecodingKey::from_jwk(jwks.find(&kid).expect("published key"))?;
        let mut v = Validation::new(alg);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&["app-1"]);
        Ok(decode::<serde_json::Value>(token, &key, &v)?.claims)
    }

    fn kid(token: &str) -> String {
        decode_header(token).unwrap().kid.unwrap()
    }

    #[tokio::test]
    async fn an_assertion_verifies_against_the_published_keys_with_its_claims() {
        let (_, a) = assertions(now_ms()).await;
        let groups = vec!["Engineering".to_string(), "IT".to_string()];
        let token = a.sign(&claims(&groups)).unwrap();
        let c = verify(&a, &token, Algorithm::ES256).unwrap();
        assert_eq!(c["iss"], ISSUER);
        assert_eq!(c["aud"], serde_json::json!(["app-1", "wiki.example.test"]));
        assert_eq!((c["sub"].as_str(), c["email"].as_str()), (Some("user-1"), Some("ada@example.test")));
        assert_eq!(c["groups"], serde_json::json!(["Engineering", "IT"]));
        assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), ASSERTION_LIFETIME_SECS);
        let jwks: serde_json::Value = serde_json::from_str(&a.jwks()).unwrap();
        assert!(jwks["keys"][0].get("d").is_none(), "the private part is never published");
    }

    #[tokio::test]
    async fn an_altered_assertion_or_another_algorithm_is_refused() {
        let (_, a) = assertions(now_ms()).await;
        let token = a.sign(&claims(&[])).unwrap();
        let mut parts: Vec<String> = token.split('.').map(String::from).collect();
        let forged = serde_json::json!({"iss": ISSUER, "aud": ["app-1"], "sub": "admin", "exp": 9_999_999_999i64});
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(forged.to_string());
        assert!(verify(&a, &parts.join("."), Algorithm::ES256).is_err());
        assert!(verify(&a, &token, Algorithm::HS256).is_err());
        let none = format!("{}.{}.", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#), parts[1]);
        assert!(verify(&a, &none, Algorithm::ES256).is_err());
    }

    #[tokio::test]
    async fn private_keys_are_sealed_at_rest() {
        use p256::pkcs8::DecodePrivateKey;
        let (store, _) = assertions(now_ms()).await;
        let row = store.signing_keys().await.unwrap().remove(0);
        // Neither PEM nor base64 DER: only the console's secret key opens it.
        assert!(!row.private_sealed.contains("PRIVATE KEY"));
        let raw = STANDARD.decode(&row.private_sealed).unwrap_or_default();
        assert!(p256::SecretKey::from_pkcs8_der(&raw).is_err());
        let opened = SecretBox::from_key(&[7u8; 32]).open(&context(&row.kid), &row.private_sealed).unwrap();
        assert!(p256::SecretKey::from_pkcs8_der(&STANDARD.decode(opened.expose()).unwrap()).is_ok());
        assert!(SecretBox::from_key(&[8u8; 32]).open(&context(&row.kid), &row.private_sealed).is_err());
    }

    #[tokio::test]
    async fn keys_rotate_with_an_hour_of_publication_first_and_a_day_of_overlap_after() {
        let t0 = now_ms() - 40 * DAY;
        let (store, a) = assertions(t0).await;
        let first = kid(&a.sign(&claims(&[])).unwrap());

        // After 30 days a second key is published, but the first still signs for an hour.
        let t1 = t0 + 30 * DAY + 1;
        a.refresh_at(t1).await.unwrap();
        let keys = store.signing_keys().await.unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(kid(&a.sign(&claims(&[])).unwrap()), first);
        assert!(a.jwks().contains(&keys[1].kid));

        // An hour later the new key signs; the old one is still published.
        a.refresh_at(t1 + HOUR_MS).await.unwrap();
        let token = a.sign(&claims(&[])).unwrap();
        assert_eq!(kid(&token), keys[1].kid);
        assert!(a.jwks().contains(&first));
        assert!(verify(&a, &token, Algorithm::ES256).is_ok());

        // A day after it stopped signing, the old key is gone from the JWKS and the database.
        a.refresh_at(t1 + HOUR_MS + DAY + 1).await.unwrap();
        assert!(!a.jwks().contains(&first));
        assert_eq!(store.signing_keys().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn replicas_on_one_database_sign_with_the_same_key() {
        let t0 = now_ms() - 2 * DAY;
        let (store, a) = assertions(t0).await;
        let b = Assertions::load_at(store.clone(), SecretBox::from_key(&[7u8; 32]), ISSUER, t0 + 1).await.unwrap();
        assert_eq!(kid(&a.sign(&claims(&[])).unwrap()), kid(&b.sign(&claims(&[])).unwrap()));
        // Both rotate at once: both keys are published, and both replicas agree on the signer.
        let t1 = t0 + 31 * DAY;
        a.refresh_at(t1).await.unwrap();
        b.refresh_at(t1).await.unwrap();
        let later = t1 + 2 * HOUR_MS;
        a.refresh_at(later).await.unwrap();
        b.refresh_at(later).await.unwrap();
        assert_eq!(kid(&a.sign(&claims(&[])).unwrap()), kid(&b.sign(&claims(&[])).unwrap()));
        assert_eq!(a.jwks(), b.jwks());
    }
}
