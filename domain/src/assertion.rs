//! Signed identity for upstreams: `X-Portcullis-Jwt-Assertion`, an ES256 JWT that an
//! upstream verifies against the keys published at `/.well-known/portcullis/jwks.json`
//! (like Pomerium's `X-Pomerium-Jwt-Assertion` or Cloudflare's `Cf-Access-Jwt-Assertion`).
//!
//! Keys live in the database, their private half sealed with the console's secret key, so
//! every replica signs with the same key and publishes the same set. They rotate with overlap:
//!
//! - a new key is made when the newest one is [`ROTATE_AFTER_MS`] old (30 days);
//! - it is published at once but signs only once it has been published for
//!   [`PUBLISH_AHEAD_MS`] (1 hour), so verifiers with a cached JWKS see it first; at the very
//!   first start, when no key has been published that long, the oldest key signs at once;
//! - the key that signs is the newest one published that long: replicas that made a key at
//!   the same moment agree on it, and the other key is simply never used;
//! - a superseded key stays published [`RETIRE_AFTER_MS`] (1 day) after it stopped signing,
//!   far longer than any assertion it signed lives, and is then deleted.
//!
//! Signing is synchronous and touches no database: the key, the encoded header and the JWKS
//! are prepared whenever the keys are (re)loaded.

use std::sync::{Arc, PoisonError, RwLock};

use base64::{
    engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    Engine,
};
use p256::{
    ecdsa::{signature::Signer, Signature, SigningKey},
    pkcs8::{DecodePrivateKey, EncodePrivateKey},
};
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
pub const ROTATE_AFTER_MS: i64 = 30 * 24 * HOUR_MS;
/// A new key is published this long before it signs.
pub const PUBLISH_AHEAD_MS: i64 = HOUR_MS;
/// A superseded key stays published this long after it stopped signing.
pub const RETIRE_AFTER_MS: i64 = 24 * HOUR_MS;

#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(
        "the assertion signing key {kid} cannot be opened: {source} If the secret key it was sealed with is lost for \
         good, delete the rows of the signing_keys table: a new signing key is made at the next start"
    )]
    Crypto { kid: String, source: CryptoError },
    #[error(
        "the assertion signing key {kid} in the database is damaged ({reason}); delete its row from the signing_keys \
         table: a new signing key is made at the next start"
    )]
    BadKey { kid: String, reason: String },
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

/// The key that signs and what is published, swapped whole on every (re)load.
struct Current {
    kid: String,
    key: SigningKey,
    /// `base64url(header) + "."`, the start of every assertion.
    header: String,
    jwks: Arc<str>,
    published: Vec<String>,
}

struct Inner {
    store: Store,
    secrets: SecretBox,
    issuer: Box<str>,
    current: RwLock<Arc<Current>>,
}

/// Signs assertions and publishes their keys. Cheap to clone.
#[derive(Clone)]
pub struct Assertions(Arc<Inner>);

/// The issuer and key ids; never a private key.
impl std::fmt::Debug for Assertions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.current();
        f.debug_struct("Assertions")
            .field("issuer", &self.0.issuer)
            .field("signing_kid", &current.kid)
            .field("published", &current.published)
            .finish_non_exhaustive()
    }
}

impl Assertions {
    /// Loads the keys, making the first one if there is none, and rotates if due.
    pub async fn load(store: Store, secrets: SecretBox, issuer: &str) -> Result<Self, AssertionError> {
        Self::load_at(store, secrets, issuer, now_ms()).await
    }

    /// [`Assertions::load`] as if it were `now` (ms since the epoch).
    pub(crate) async fn load_at(
        store: Store,
        secrets: SecretBox,
        issuer: &str,
        now: i64,
    ) -> Result<Self, AssertionError> {
        let current = build(&store, &secrets, now, true).await?;
        Ok(Self(Arc::new(Inner { store, secrets, issuer: issuer.into(), current: RwLock::new(Arc::new(current)) })))
    }

    /// Rotates when due, drops retired keys and picks up keys another replica made. Called
    /// every few minutes. On failure the keys in use stay as they were.
    pub async fn refresh(&self) -> Result<(), AssertionError> {
        self.refresh_at(now_ms()).await
    }

    /// Picks up keys another replica made, without rotating (a replica that is not the
    /// background runner): one replica makes each new key.
    pub async fn reload(&self) -> Result<(), AssertionError> {
        let next = build(&self.0.store, &self.0.secrets, now_ms(), false).await?;
        *self.0.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    /// [`Assertions::refresh`] as if it were `now` (ms since the epoch).
    pub(crate) async fn refresh_at(&self, now: i64) -> Result<(), AssertionError> {
        let next = build(&self.0.store, &self.0.secrets, now, true).await?;
        *self.0.current.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    fn current(&self) -> Arc<Current> {
        self.0.current.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// `iss` of every assertion: the console's public address.
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The published keys, as JSON: `{"keys": [...]}`, newest first.
    pub fn jwks(&self) -> Arc<str> {
        self.current().jwks.clone()
    }

    /// An assertion: header `{alg: ES256, typ: JWT, kid}`; `iss` this console, `aud` the
    /// application's id and the host asked for, good for [`ASSERTION_LIFETIME_SECS`].
    pub fn sign(&self, c: &Claims<'_>) -> Result<String, AssertionError> {
        let current = self.current();
        let payload = Payload {
            iss: &self.0.issuer,
            aud: [c.application_id, c.host],
            sub: c.sub,
            email: c.email,
            name: c.name,
            groups: c.groups,
            iat: c.issued_at,
            exp: c.issued_at + ASSERTION_LIFETIME_SECS,
        };
        let payload = serde_json::to_vec(&payload).map_err(|e| AssertionError::Signing(e.to_string()))?;
        let mut token = String::with_capacity(current.header.len() + payload.len() * 4 / 3 + 90);
        token.push_str(&current.header);
        URL_SAFE_NO_PAD.encode_string(&payload, &mut token);
        // ES256 (RFC 7518 §3.4): ECDSA P-256 over SHA-256 of the signing input, as r || s.
        let signature: Signature =
            current.key.try_sign(token.as_bytes()).map_err(|e| AssertionError::Signing(e.to_string()))?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.to_bytes(), &mut token);
        Ok(token)
    }
}

/// Applies the rotation rules at `now` and returns the signer and what to publish.
/// `rotate`: make a new key when the newest is due (else only when there is none at all).
async fn build(store: &Store, secrets: &SecretBox, now: i64, rotate: bool) -> Result<Current, AssertionError> {
    let mut keys = store.signing_keys().await?; // newest first
    if keys.first().is_none_or(|newest| rotate && now - newest.created_at >= ROTATE_AFTER_MS) {
        store.insert_signing_key(&generate(secrets, now)?).await?;
        keys = store.signing_keys().await?;
    }
    // Key i stopped signing when the next newer key started, an hour after that one was made.
    // So every key older than the newest key made an hour and a day ago has been retired for a
    // day at least.
    if let Some(keep) = keys.iter().position(|k| rotate && now - k.created_at >= PUBLISH_AHEAD_MS + RETIRE_AFTER_MS) {
        if keep + 1 < keys.len() {
            let k = &keys[keep];
            let gone = store.delete_signing_keys_before(k.created_at, &k.kid).await?;
            tracing::info!(count = gone, "retired assertion signing keys deleted");
            keys.truncate(keep + 1);
        }
    }
    // The newest key published for an hour; at the first start, the oldest there is.
    let signer = keys
        .iter()
        .find(|k| now - k.created_at >= PUBLISH_AHEAD_MS)
        .or(keys.last())
        .ok_or_else(|| AssertionError::Signing("no signing key in the database".into()))?;

    let bad = |kid: &str, reason: String| AssertionError::BadKey { kid: kid.to_string(), reason };
    let mut published = Vec::with_capacity(keys.len());
    for k in &keys {
        let jwk: serde_json::Value =
            serde_json::from_str(&k.public_jwk).map_err(|e| bad(&k.kid, format!("public key: {e}")))?;
        published.push(jwk);
    }
    let opened = secrets
        .open(&context(&signer.kid), &signer.private_sealed)
        .map_err(|source| AssertionError::Crypto { kid: signer.kid.clone(), source })?;
    let der = STANDARD.decode(opened.expose()).map_err(|e| bad(&signer.kid, format!("private key: {e}")))?;
    let key = SigningKey::from_pkcs8_der(&der).map_err(|e| bad(&signer.kid, format!("private key: {e}")))?;
    if published_point(signer) != Some(point(&key)) {
        return Err(bad(&signer.kid, "the private key does not match the published one".into()));
    }
    let header = serde_json::json!({ "alg": "ES256", "typ": "JWT", "kid": signer.kid });
    Ok(Current {
        kid: signer.kid.clone(),
        key,
        header: format!("{}.", URL_SAFE_NO_PAD.encode(header.to_string())),
        jwks: serde_json::json!({ "keys": published }).to_string().into(),
        published: keys.iter().map(|k| k.kid.clone()).collect(),
    })
}

fn context(kid: &str) -> String {
    format!("signing-key:{kid}")
}

/// `(x, y)` of a public key, base64url as in a JWK.
fn point(key: &SigningKey) -> (String, String) {
    let jwk = p256::PublicKey::from(key.verifying_key()).to_jwk();
    let v = serde_json::to_value(&jwk).unwrap_or_default();
    (v["x"].as_str().unwrap_or_default().to_string(), v["y"].as_str().unwrap_or_default().to_string())
}

/// `(x, y)` of the key's published JWK.
fn published_point(key: &SigningKeyRow) -> Option<(String, String)> {
    let v: serde_json::Value = serde_json::from_str(&key.public_jwk).ok()?;
    Some((v["x"].as_str()?.to_string(), v["y"].as_str()?.to_string()))
}

/// The RFC 7638 thumbprint of a P-256 public key: its key id.
fn thumbprint(public: p256::PublicKey) -> String {
    let v = serde_json::to_value(public.to_jwk()).unwrap_or_default();
    // The required members in lexicographic order, no whitespace.
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        v["x"].as_str().unwrap_or_default(),
        v["y"].as_str().unwrap_or_default()
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// A new P-256 key: the private half sealed, the public half as a JWK.
fn generate(secrets: &SecretBox, now: i64) -> Result<SigningKeyRow, AssertionError> {
    let secret = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let der = secret.to_pkcs8_der().map_err(|e| AssertionError::Signing(format!("cannot encode a new key: {e}")))?;
    let public = secret.public_key();
    let kid = thumbprint(public);
    let mut jwk = serde_json::to_value(public.to_jwk())
        .map_err(|e| AssertionError::Signing(format!("cannot encode a new key: {e}")))?;
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
    use jsonwebtoken::{decode, decode_header, jwk::JwkSet, Algorithm, DecodingKey, EncodingKey, Header, Validation};

    use super::*;

    const ISSUER: &str = "https://pc.example.test";
    const DAY: i64 = 24 * HOUR_MS;

    fn secrets() -> SecretBox {
        SecretBox::from_key(&[7u8; 32])
    }

    fn claims(groups: &[String]) -> Claims<'_> {
        Claims {
            application_id: "app-1",
            host: "wiki.example.test",
            sub: "user-1",
            email: "ada@example.test",
            name: "Ada Lovelace",
            groups,
            issued_at: now_ms() / 1000,
        }
    }

    async fn assertions(now: i64) -> (Store, Assertions) {
        let store = Store::in_memory().await.unwrap();
        let a = Assertions::load_at(store.clone(), secrets(), ISSUER, now).await.unwrap();
        (store, a)
    }

    /// What an upstream does: the key named by `kid` from the JWKS, the algorithm it expects.
    fn verify_as(
        a: &Assertions,
        token: &str,
        alg: Algorithm,
        audience: &str,
    ) -> jsonwebtoken::errors::Result<serde_json::Value> {
        let jwks: JwkSet = serde_json::from_str(&a.jwks()).unwrap();
        let kid = decode_header(token)?.kid.unwrap_or_default();
        let key = DecodingKey::from_jwk(jwks.find(&kid).expect("the key is published"))?;
        let mut v = Validation::new(alg);
        v.set_issuer(&[ISSUER]);
        v.set_audience(&[audience]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        Ok(decode::<serde_json::Value>(token, &key, &v)?.claims)
    }

    fn verify(a: &Assertions, token: &str) -> jsonwebtoken::errors::Result<serde_json::Value> {
        verify_as(a, token, Algorithm::ES256, "app-1")
    }

    fn signing_kid(a: &Assertions) -> String {
        decode_header(a.sign(&claims(&[])).unwrap()).unwrap().kid.unwrap()
    }

    fn published(a: &Assertions) -> Vec<String> {
        let jwks: JwkSet = serde_json::from_str(&a.jwks()).unwrap();
        jwks.keys.into_iter().map(|k| k.common.key_id.unwrap()).collect()
    }

    async fn stored(store: &Store) -> Vec<String> {
        store.signing_keys().await.unwrap().into_iter().map(|k| k.kid).collect()
    }

    #[tokio::test]
    async fn an_assertion_verifies_against_the_published_jwks_with_its_claims() {
        let (_, a) = assertions(now_ms()).await;
        let groups = vec!["Engineering".to_string(), "IT \"ops\"".to_string()];
        let token = a.sign(&claims(&groups)).unwrap();

        let header = decode_header(&token).unwrap();
        assert_eq!((header.alg, header.typ.as_deref()), (Algorithm::ES256, Some("JWT")));
        assert_eq!(header.kid.as_deref(), Some(published(&a)[0].as_str()));

        let c = verify(&a, &token).unwrap();
        assert_eq!(c["iss"], ISSUER);
        assert_eq!(c["aud"], serde_json::json!(["app-1", "wiki.example.test"]));
        assert_eq!(c["sub"], "user-1");
        assert_eq!(c["email"], "ada@example.test");
        assert_eq!(c["name"], "Ada Lovelace");
        assert_eq!(c["groups"], serde_json::json!(["Engineering", "IT \"ops\""]));
        assert_eq!(c["exp"].as_i64().unwrap(), c["iat"].as_i64().unwrap() + ASSERTION_LIFETIME_SECS);
        // Either audience is enough: the application's id or the host asked for.
        assert!(verify_as(&a, &token, Algorithm::ES256, "wiki.example.test").is_ok());
        assert!(verify_as(&a, &token, Algorithm::ES256, "other-app").is_err());
        assert_eq!(a.issuer(), ISSUER);
    }

    #[tokio::test]
    async fn the_jwks_publishes_public_ec_keys_only() {
        let (_, a) = assertions(now_ms()).await;
        let jwks: serde_json::Value = serde_json::from_str(&a.jwks()).unwrap();
        let key = &jwks["keys"][0];
        assert_eq!((key["kty"].as_str(), key["crv"].as_str()), (Some("EC"), Some("P-256")));
        assert_eq!((key["use"].as_str(), key["alg"].as_str()), (Some("sig"), Some("ES256")));
        assert!(key["x"].is_string() && key["y"].is_string());
        assert!(key.get("d").is_none(), "the private part is never published");
        // The key id is the RFC 7638 thumbprint.
        let minimal = serde_json::json!({"kty": "EC", "crv": "P-256", "x": key["x"], "y": key["y"]});
        let public = p256::PublicKey::from_jwk_str(&minimal.to_string()).unwrap();
        assert_eq!(key["kid"].as_str().unwrap(), thumbprint(public));
    }

    #[tokio::test]
    async fn an_assertion_with_an_altered_payload_is_refused() {
        let (_, a) = assertions(now_ms()).await;
        let token = a.sign(&claims(&[])).unwrap();
        let parts: Vec<&str> = token.split('.').collect();
        let mut payload: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        payload["groups"] = serde_json::json!(["Admins"]);
        let altered = format!("{}.{}.{}", parts[0], URL_SAFE_NO_PAD.encode(payload.to_string()), parts[2]);
        assert!(verify(&a, &token).is_ok());
        assert!(verify(&a, &altered).is_err());
    }

    #[tokio::test]
    async fn an_assertion_checked_as_hs256_or_none_is_refused() {
        let (_, a) = assertions(now_ms()).await;
        let token = a.sign(&claims(&[])).unwrap();
        // An upstream configured for HS256 cannot use the published EC key.
        assert!(verify_as(&a, &token, Algorithm::HS256, "app-1").is_err());

        let kid = signing_kid(&a);
        let body = token.split('.').nth(1).unwrap();
        // Forged with HS256 keyed with the public JWKS (the algorithm confusion attack).
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(kid.clone());
        let claims: serde_json::Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).unwrap()).unwrap();
        let forged = jsonwebtoken::encode(&header, &claims, &EncodingKey::from_secret(a.jwks().as_bytes())).unwrap();
        assert!(verify(&a, &forged).is_err());
        // `alg: none`, no signature.
        let none = URL_SAFE_NO_PAD.encode(serde_json::json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
        assert!(verify(&a, &format!("{none}.{body}.")).is_err());
    }

    #[tokio::test]
    async fn private_keys_are_sealed_at_rest() {
        let (store, a) = assertions(now_ms()).await;
        let row = store.signing_keys().await.unwrap().remove(0);
        // Neither PEM nor (base64) DER: only the console's secret key opens it.
        assert!(!row.private_sealed.contains("PRIVATE KEY"));
        let raw = STANDARD.decode(row.private_sealed.trim_start_matches("v1:")).unwrap_or_default();
        assert!(p256::SecretKey::from_pkcs8_der(&raw).is_err());
        assert!(p256::SecretKey::from_pkcs8_der(&STANDARD.decode(&row.private_sealed).unwrap_or_default()).is_err());

        let opened = secrets().open(&context(&row.kid), &row.private_sealed).unwrap();
        let secret = p256::SecretKey::from_pkcs8_der(&STANDARD.decode(opened.expose()).unwrap()).unwrap();
        assert_eq!(thumbprint(secret.public_key()), row.kid);
        // Bound to its key id, and to the console's key.
        assert!(secrets().open(&context("another"), &row.private_sealed).is_err());
        assert!(SecretBox::from_key(&[8u8; 32]).open(&context(&row.kid), &row.private_sealed).is_err());

        // Nothing secret in Debug output.
        let d = secret.to_jwk().to_string();
        let d = serde_json::from_str::<serde_json::Value>(&d).unwrap()["d"].as_str().unwrap().to_string();
        for shown in [format!("{a:?}"), format!("{row:?}")] {
            assert!(!shown.contains(&d) && !shown.contains(&row.private_sealed), "{shown}");
            assert!(shown.contains(&row.kid));
        }
    }

    #[tokio::test]
    async fn keys_sealed_with_another_secret_key_stop_the_load_with_an_actionable_error() {
        let (store, _) = assertions(now_ms()).await;
        let err = Assertions::load(store, SecretBox::from_key(&[8u8; 32]), ISSUER).await.unwrap_err();
        assert!(matches!(err, AssertionError::Crypto { .. }), "{err:?}");
        assert!(err.to_string().contains("signing_keys"), "{err}");
    }

    #[tokio::test]
    async fn keys_rotate_with_an_hour_of_publication_first_and_a_day_of_overlap_after() {
        let t0 = now_ms() - 60 * DAY;
        let (store, a) = assertions(t0).await;
        let first = signing_kid(&a);
        a.refresh_at(t0 + 30 * DAY - 1).await.unwrap();
        assert_eq!(published(&a), std::slice::from_ref(&first), "no new key before 30 days");

        // After 30 days a second key is published, but the first still signs for an hour.
        let t1 = t0 + 30 * DAY;
        a.refresh_at(t1).await.unwrap();
        let second = stored(&store).await[0].clone();
        assert_ne!(second, first);
        assert_eq!(published(&a), [second.clone(), first.clone()]);
        assert_eq!(signing_kid(&a), first);
        a.refresh_at(t1 + HOUR_MS - 1).await.unwrap();
        assert_eq!(signing_kid(&a), first);

        // An hour later the new key signs; the old one is still published.
        a.refresh_at(t1 + HOUR_MS).await.unwrap();
        let token = a.sign(&claims(&[])).unwrap();
        assert_eq!(decode_header(&token).unwrap().kid.unwrap(), second);
        assert!(verify(&a, &token).is_ok());
        assert_eq!(published(&a), [second.clone(), first.clone()]);
        a.refresh_at(t1 + HOUR_MS + DAY - 1).await.unwrap();
        assert_eq!(published(&a), [second.clone(), first.clone()], "published for a day after it stopped signing");

        // A day after it stopped signing, the old key is gone from the JWKS and the database.
        a.refresh_at(t1 + HOUR_MS + DAY).await.unwrap();
        assert_eq!(published(&a), std::slice::from_ref(&second));
        assert_eq!(stored(&store).await, std::slice::from_ref(&second));
        assert_eq!(signing_kid(&a), second);
    }

    #[tokio::test]
    async fn after_a_long_stop_the_old_key_still_signs_for_an_hour_while_the_new_one_is_published() {
        let t0 = now_ms() - 100 * DAY;
        let (store, a) = assertions(t0).await;
        let first = signing_kid(&a);
        drop(a);
        let b = Assertions::load_at(store.clone(), secrets(), ISSUER, t0 + 90 * DAY).await.unwrap();
        assert_eq!(published(&b).len(), 2);
        assert_eq!(signing_kid(&b), first);
    }

    #[tokio::test]
    async fn replicas_on_one_database_sign_with_the_same_key_after_refresh() {
        let t0 = now_ms() - 40 * DAY;
        let (store, a) = assertions(t0).await;
        let b = Assertions::load_at(store.clone(), secrets(), ISSUER, t0 + 1).await.unwrap();
        assert_eq!(signing_kid(&a), signing_kid(&b));
        assert_eq!(published(&b).len(), 1, "the second replica used the first one's key");

        // One replica rotates; the other picks the new key up at its next refresh.
        let t1 = t0 + 30 * DAY;
        a.refresh_at(t1).await.unwrap();
        b.refresh_at(t1 + 60_000).await.unwrap();
        assert_eq!(a.jwks(), b.jwks());
        let later = t1 + HOUR_MS + 60_000;
        a.refresh_at(later).await.unwrap();
        b.refresh_at(later).await.unwrap();
        assert_eq!(signing_kid(&a), signing_kid(&b));
        assert_eq!(signing_kid(&a), stored(&store).await[0]);
    }

    #[tokio::test]
    async fn replicas_that_make_a_key_at_the_same_moment_publish_both_and_agree_on_the_signer() {
        let t0 = now_ms() - 40 * DAY;
        let (store, a) = assertions(t0).await;
        let first = signing_kid(&a);
        let b = Assertions::load_at(store.clone(), secrets(), ISSUER, t0).await.unwrap();

        // Both see a 30-day-old newest key and both make a new one, in the same millisecond.
        let t1 = t0 + 30 * DAY;
        store.insert_signing_key(&generate(&secrets(), t1).unwrap()).await.unwrap();
        store.insert_signing_key(&generate(&secrets(), t1).unwrap()).await.unwrap();
        a.refresh_at(t1).await.unwrap();
        b.refresh_at(t1).await.unwrap();
        let keys = stored(&store).await;
        assert_eq!(keys.len(), 3, "{keys:?}");
        assert_eq!(published(&a), keys);
        assert_eq!(published(&b), keys);
        assert_eq!((signing_kid(&a), signing_kid(&b)), (first.clone(), first.clone()));

        // An hour later both sign with the same new key; the other new key never signs.
        let t2 = t1 + HOUR_MS;
        a.refresh_at(t2).await.unwrap();
        b.refresh_at(t2).await.unwrap();
        assert_eq!(signing_kid(&a), keys[0]);
        assert_eq!(signing_kid(&b), keys[0]);

        // A day later only the key that signs is left.
        a.refresh_at(t2 + DAY).await.unwrap();
        b.refresh_at(t2 + DAY).await.unwrap();
        assert_eq!(published(&a), [keys[0].clone()]);
        assert_eq!(published(&b), [keys[0].clone()]);
        assert_eq!(stored(&store).await, [keys[0].clone()]);
    }

    #[tokio::test]
    async fn replicas_starting_on_an_empty_database_at_once_sign_with_the_oldest_key() {
        let t0 = now_ms();
        let store = Store::in_memory().await.unwrap();
        let early = generate(&secrets(), t0).unwrap();
        let late = generate(&secrets(), t0 + 5).unwrap();
        store.insert_signing_key(&late).await.unwrap();
        store.insert_signing_key(&early).await.unwrap();
        let a = Assertions::load_at(store.clone(), secrets(), ISSUER, t0 + 10).await.unwrap();
        assert_eq!(signing_kid(&a), early.kid);
        assert_eq!(published(&a), [late.kid.clone(), early.kid.clone()]);
        // Once the later key has been published for an hour, it signs.
        a.refresh_at(t0 + 5 + HOUR_MS).await.unwrap();
        assert_eq!(signing_kid(&a), late.kid);
    }
}
