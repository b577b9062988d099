//! Universal Logout (Okta's Global Token Revocation): Okta, on a threat or a termination, asks
//! Portcullis to end a person's sessions now. The request is a signed JWT from the org
//! (verified against the org's keys: `iss` the org, `aud` this endpoint, `exp`, a `jti` used
//! once) and a body naming the person by email or by issuer and subject.

use std::time::{Duration, Instant};

use jsonwebtoken::{jwk::JwkSet, Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::*;

/// Okta signs with RS256; ES256 for orgs that choose it. Nothing else is accepted.
const ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];
/// Clock difference tolerated on `exp` and `iat`.
const LEEWAY: u64 = 60;
/// The org's keys are fetched again at most this often for a key the cache does not know.
const KEYS_REFETCH_EVERY: Duration = Duration::from_secs(60);
const KEYS_KEPT: Duration = Duration::from_secs(3600);

/// Why a Universal Logout request was not carried out; each is an HTTP status of the spec.
#[derive(Debug, thiserror::Error)]
pub enum LogoutError {
    #[error("No identity provider has this endpoint.")]
    UnknownProvider,
    /// 401: the request is not from the provider's org (or replayed, or expired).
    #[error("{0}")]
    Unauthenticated(String),
    /// 400: the body is not a request this endpoint understands.
    #[error("{0}")]
    BadRequest(String),
    /// 404: the provider does not know this person here.
    #[error("No person of this provider matches the subject.")]
    UnknownSubject,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LogoutError {
    pub fn status(&self) -> u16 {
        match self {
            LogoutError::UnknownProvider | LogoutError::UnknownSubject => 404,
            LogoutError::Unauthenticated(_) => 401,
            LogoutError::BadRequest(_) => 400,
            LogoutError::Store(_) => 500,
        }
    }

    /// The OAuth-style error code of the answer.
    pub fn code(&self) -> &'static str {
        match self {
            LogoutError::Unauthenticated(_) => "invalid_token",
            LogoutError::BadRequest(_) => "invalid_request",
            LogoutError::UnknownProvider | LogoutError::UnknownSubject => "not_found",
            LogoutError::Store(_) => "server_error",
        }
    }
}

#[derive(Deserialize)]
struct Request {
    sub_id: SubjectId,
}

#[derive(Deserialize)]
#[serde(tag = "format", rename_all = "snake_case")]
enum SubjectId {
    Email { email: String },
    IssSub { iss: String, sub: String },
}

#[derive(Deserialize)]
struct Claims {
    jti: Option<String>,
    exp: i64,
    iat: Option<i64>,
}

/// The org's keys, per provider.
#[derive(Default)]
pub(super) struct OrgKeys {
    keys: Mutex<HashMap<String, (Instant, Arc<JwkSet>)>>,
}

/// What a carried-out logout did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoggedOut {
    pub sessions_ended: u64,
}

impl SsoService {
    /// The endpoint Okta is given for a provider.
    pub fn universal_logout_url(&self, provider_id: &str) -> String {
        format!("{}/okta/universal-logout/{provider_id}", self.public_base)
    }

    /// Carries out a Universal Logout request: `bearer` is the JWT of the `Authorization`
    /// header, `body` the request's JSON.
    pub async fn universal_logout(
        &self,
        provider_id: &str,
        bearer: Option<&str>,
        body: &[u8],
        ip: Option<&str>,
    ) -> Result<LoggedOut, LogoutError> {
        let provider = self.store.provider(provider_id).await?.ok_or(LogoutError::UnknownProvider)?;
        let outcome = self.logout(&provider, bearer, body).await;
        let mut event = Event::new(Actor::System, Action::UniversalLogout)
            .ip(ip)
            .detail("provider", provider.name.clone())
            .detail("provider_id", provider.id.clone());
        match &outcome {
            Ok((who, done)) => {
                event = event.target(who.clone()).detail("sessions_ended", done.sessions_ended);
                self.audit.record_or_log(event).await;
            }
            // Anyone can post here: refusals are audited once a minute per address.
            Err(e) => {
                if let Some(more) = self.failures.admit(&["universal_logout", ip.unwrap_or(""), e.code()], now_ms()) {
                    event = event.failed().detail("error", e.to_string());
                    if more > 0 {
                        event = event.detail("and_more", more);
                    }
                    self.audit.record_or_log(event).await;
                }
            }
        }
        outcome.map(|(_, done)| done)
    }

    async fn logout(
        &self,
        provider: &ProviderRow,
        bearer: Option<&str>,
        body: &[u8],
    ) -> Result<(String, LoggedOut), LogoutError> {
        let token = bearer.ok_or_else(|| LogoutError::Unauthenticated("A signed JWT is required.".into()))?;
        let org = provider.base_url.trim_end_matches('/').to_string();
        let claims = self.verify_request(provider, &org, token).await?;
        let request: Request = serde_json::from_slice(body)
            .map_err(|e| LogoutError::BadRequest(format!("The body is not a logout request: {e}")))?;
        let (who, subject, email) = match &request.sub_id {
            SubjectId::Email { email } if email.contains('@') => (email.clone(), None, Some(email.trim())),
            SubjectId::Email { .. } => return Err(LogoutError::BadRequest("The email is not an address.".into())),
            SubjectId::IssSub { iss, sub } => {
                // The org, or the authorization server people sign in through, vouches for `sub`.
                let iss = iss.trim_end_matches('/');
                if iss != org && iss != provider.issuer.trim_end_matches('/') {
                    return Err(LogoutError::UnknownSubject);
                }
                (sub.clone(), Some(sub.as_str()), None)
            }
        };
        // Only now, authenticated and understood, the jti is spent.
        let jti = claims.jti.filter(|j| !j.is_empty() && j.len() <= 256);
        let jti = jti.ok_or_else(|| LogoutError::Unauthenticated("The JWT has no jti.".into()))?;
        if !self.store.use_logout_jti(&provider.id, &jti, claims.exp.saturating_mul(1000)).await? {
            return Err(LogoutError::Unauthenticated("This request was used already (its jti).".into()));
        }
        let identities = self.store.identities_for_logout(&provider.id, subject, email).await?;
        if identities.is_empty() && !self.store.directory_has_person(&provider.id, subject, email).await? {
            return Err(LogoutError::UnknownSubject);
        }
        let sessions_ended = self.store.end_identity_sessions(&identities).await?;
        Ok((who, LoggedOut { sessions_ended }))
    }

    /// The JWT's signature (the org's keys), `iss` (the org), `aud` (this endpoint), `exp`, `iat`.
    async fn verify_request(&self, provider: &ProviderRow, org: &str, token: &str) -> Result<Claims, LogoutError> {
        let bad = |why: String| LogoutError::Unauthenticated(why);
        let header = jsonwebtoken::decode_header(token).map_err(|e| bad(format!("The JWT does not read: {e}")))?;
        if !ALGORITHMS.contains(&header.alg) {
            return Err(bad(format!("The JWT is signed with {:?}; Okta signs with RS256.", header.alg)));
        }
        let kid = header.kid.ok_or_else(|| bad("The JWT names no key (kid).".into()))?;
        let key = match self.org_key(provider, org, &kid, false).await? {
            Some(k) => k,
            None => self
                .org_key(provider, org, &kid, true)
                .await?
                .ok_or_else(|| bad(format!("The org has no key {kid}.")))?,
        };
        let mut validation = Validation::new(header.alg);
        validation.leeway = LEEWAY;
        validation.set_issuer(&[org]);
        validation.set_audience(&[self.universal_logout_url(&provider.id)]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &key, &validation)
            .map_err(|e| bad(format!("The JWT is not valid for this endpoint: {e}")))?
            .claims;
        if claims.iat.is_some_and(|iat| iat > now_ms() / 1000 + LEEWAY as i64) {
            return Err(bad("The JWT was issued in the future (iat).".into()));
        }
        Ok(claims)
    }

    /// The org key `kid`, from the cache or (`refetch`, at most once a minute) from the org.
    async fn org_key(
        &self,
        provider: &ProviderRow,
        org: &str,
        kid: &str,
        refetch: bool,
    ) -> Result<Option<DecodingKey>, LogoutError> {
        let cached = self.org_keys.keys.lock().unwrap_or_else(|p| p.into_inner()).get(&provider.id).cloned();
        let set = match cached {
            Some((at, set)) if !refetch && at.elapsed() < KEYS_KEPT => set,
            Some((at, _)) if refetch && at.elapsed() < KEYS_REFETCH_EVERY => return Ok(None),
            _ => {
                let url = format!("{org}/oauth2/v1/keys");
                let fetched =
                    self.outbound.get(&url, SMALL_BODY).await.map_err(|e| {
                        LogoutError::Unauthenticated(format!("The org's keys could not be fetched: {e}"))
                    })?;
                if !fetched.status.is_success() {
                    return Err(LogoutError::Unauthenticated(format!(
                        "The org's keys: {url} answered {}",
                        fetched.status
                    )));
                }
                let set: JwkSet = fetched
                    .json()
                    .map_err(|e| LogoutError::Unauthenticated(format!("The org's keys do not read: {e}")))?;
                let set = Arc::new(set);
                self.org_keys
                    .keys
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(provider.id.clone(), (Instant::now(), set.clone()));
                set
            }
        };
        Ok(set.find(kid).and_then(|jwk| DecodingKey::from_jwk(jwk).ok()))
    }
}
