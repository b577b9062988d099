//! Talking to Okta's Management API as an API service app (`private_key_jwt`,
//! DPoP when the app requires it) or with an SSWS API token: paging by `Link`
//! headers, waiting out rate limits by Okta's reset header, retrying 5xx.

use std::{
    collections::HashMap,
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use jsonwebtoken::{Algorithm, Header};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;

use super::keys::{DpopKey, ServiceKey};
use crate::{
    outbound::{Fetched, Outbound, OutboundError},
    settings::Secret,
};

pub const DIRECTORY_SCOPES: &str = "okta.users.read okta.groups.read";
/// Needed to list the users and groups assigned to an app (directory sync's app scope).
pub const APPS_READ_SCOPE: &str = "okta.apps.read";

/// How the console authenticates to the Management API.
#[derive(Clone, Debug)]
pub enum Credentials {
    ServiceApp { client_id: String, key: ServiceKey },
    ApiToken(Secret),
}

/// Every way a Management API call can fail, explained in Okta's terms.
#[derive(Debug, thiserror::Error)]
pub enum OktaError {
    #[error(transparent)]
    Outbound(#[from] OutboundError),
    #[error("Okta refused the service app's key: {0}")]
    InvalidClient(String),
    #[error("Okta refused the requested scopes: {0}")]
    ScopeNotGranted(String),
    #[error("The service app has no admin role or lacks a scope ({code}): {summary}")]
    Forbidden { code: String, summary: String, scope: Option<String> },
    #[error("Okta says the token is invalid ({code}: {summary})")]
    InvalidToken { code: String, summary: String },
    #[error("Okta's rate limit was reached; it resets in {reset_in_seconds} seconds")]
    RateLimited { reset_in_seconds: u64 },
    #[error("DPoP failed: {0}")]
    Dpop(String),
    #[error("Okta answered HTTP {status}: {body}")]
    Unexpected { status: u16, body: String },
    #[error("Okta's answer could not be read: {0}")]
    BadResponse(String),
    #[error("Okta's answer pointed the next page at {found}, outside the org {org}: the request was not sent, so the API credentials stay with the org")]
    ForeignOrigin { found: String, org: String },
}

impl OktaError {
    /// What the admin should do about it.
    pub fn fix(&self) -> String {
        match self {
            OktaError::Outbound(e) => e.fix().to_string(),
            OktaError::InvalidClient(_) => "Check the Directory Sync Client ID, and that the public key of this private key is registered on the API service app (Applications → the app → General → Public keys). Paste the private key Okta showed when it generated the key.".into(),
            OktaError::ScopeNotGranted(_) => "In Okta, open the API service app → Okta API Scopes, and grant okta.users.read and okta.groups.read.".into(),
            OktaError::Forbidden { scope: Some(scope), .. } => format!("In Okta, open the API service app → Okta API Scopes, and grant {scope}."),
            OktaError::Forbidden { .. } => "Grant okta.groups.read and okta.users.read in the Okta API Scopes tab, and give the service app an admin role (Admin roles tab → Read-only Administrator is enough).".into(),
            OktaError::InvalidToken { .. } => "For an API token: create a new one in Security → API → Tokens (tokens expire after 30 days unused). For a service app: check its keys and that it is active.".into(),
            OktaError::RateLimited { .. } => "Wait for the reset and try again, or raise the rate limit of the service app in Okta (Applications → the app → Application rate limits).".into(),
            OktaError::Dpop(_) => "Portcullis speaks DPoP; this means Okta and Portcullis disagree on a proof. Check that the server's clock is right (proofs expire after 5 minutes).".into(),
            OktaError::ForeignOrigin { .. } => "Check that the provider's Base URL is the Okta org's own URL (Okta builds its page links from it), and that nothing between Portcullis and Okta rewrites its answers; then sync again.".into(),
            OktaError::Unexpected { .. } | OktaError::BadResponse(_) => "Check the Base URL, then try again; if it persists, the provider answered unexpectedly.".into(),
        }
    }
}

#[derive(Deserialize)]
struct OktaErrorBody {
    #[serde(rename = "errorCode")]
    error_code: Option<String>,
    #[serde(rename = "errorSummary")]
    error_summary: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

#[derive(Clone, Debug)]
struct AccessToken {
    value: String,
    dpop_bound: bool,
}

/// Limits on waiting: the wizard's check waits briefly, a sync run longer.
#[derive(Clone, Copy, Debug)]
pub struct Patience {
    /// The longest single wait for a rate-limit reset; beyond it the call fails.
    pub max_rate_limit_wait: Duration,
    /// Attempts for 5xx and timeouts.
    pub attempts: u32,
}

impl Patience {
    pub const CHECK: Patience = Patience { max_rate_limit_wait: Duration::from_secs(5), attempts: 2 };
    pub const SYNC: Patience = Patience { max_rate_limit_wait: Duration::from_secs(120), attempts: 5 };
}

/// One page of a list, and the URL of the next.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
    /// `X-Rate-Limit-Remaining`, for pacing.
    pub rate_remaining: Option<u64>,
    /// `X-Rate-Limit-Limit`.
    pub rate_limit: Option<u64>,
    /// Okta's clock (`Date`, epoch seconds): incremental sync filters by Okta's time, not ours.
    pub server_time: Option<i64>,
}

/// Observations for progress reporting and benchmarks.
#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
pub struct CallStats {
    pub requests: u64,
    /// Waits after a 429, until Okta's reset.
    pub rate_limit_waits: u64,
    /// Waits taken before a bucket ran dry (pacing), leaving a reserve for other callers.
    pub paced_waits: u64,
    /// Retries after a 5xx, a timeout or a refused connection.
    pub retries: u64,
}

/// Why the client is about to sleep; for live progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    RateLimited,
    Paced,
    Retry,
}

pub type WaitObserver = Arc<dyn Fn(WaitKind, Duration) + Send + Sync>;

pub struct OktaClient {
    outbound: Outbound,
    /// The org URL: `https://dev-123.okta.com`.
    org: String,
    credentials: Credentials,
    patience: Patience,
    dpop: DpopKey,
    token: Mutex<Option<AccessToken>>,
    dpop_nonce: Mutex<Option<String>>,
    stats: Mutex<CallStats>,
    scopes: String,
    /// Per rate-limit bucket: no request before this instant (pacing).
    paused: std::sync::Mutex<HashMap<String, Instant>>,
    observer: Option<WaitObserver>,
}

/// Management API pages: 200 users of a few KB each fit easily.
const PAGE_BODY: usize = 16 << 20;

fn now_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

fn new_jti() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl OktaClient {
    pub fn new(outbound: Outbound, org: &str, credentials: Credentials, patience: Patience) -> Self {
        Self {
            outbound,
            org: org.trim_end_matches('/').to_string(),
            credentials,
            patience,
            dpop: DpopKey::generate(),
            token: Mutex::new(None),
            dpop_nonce: Mutex::new(None),
            stats: Mutex::new(CallStats::default()),
            scopes: DIRECTORY_SCOPES.to_string(),
            paused: std::sync::Mutex::new(HashMap::new()),
            observer: None,
        }
    }

    /// The scopes a service app asks for (default: users and groups read).
    pub fn with_scopes(mut self, scopes: &str) -> Self {
        self.scopes = scopes.to_string();
        self
    }

    /// Called before every wait, so a caller can show "waiting for the rate limit".
    pub fn with_wait_observer(mut self, observer: WaitObserver) -> Self {
        self.observer = Some(observer);
        self
    }

    async fn wait(&self, kind: WaitKind, duration: Duration) {
        if let Some(o) = &self.observer {
            o(kind, duration);
        }
        {
            let mut stats = self.stats.lock().await;
            match kind {
                WaitKind::RateLimited => stats.rate_limit_waits += 1,
                WaitKind::Paced => stats.paced_waits += 1,
                WaitKind::Retry => stats.retries += 1,
            }
        }
        tokio::time::sleep(duration).await;
    }

    /// Sleeps while the URL's bucket is paused.
    async fn pace(&self, url: &str) {
        let bucket = bucket_of(url);
        let until = self.paused.lock().map(|m| m.get(&bucket).copied()).unwrap_or(None);
        if let Some(until) = until {
            let now = Instant::now();
            if until > now {
                self.wait(WaitKind::Paced, until - now).await;
            }
        }
    }

    /// Reads the rate-limit headers: when the bucket is down to its reserve (a tenth of
    /// the limit, left to other callers of the org), pause it until Okta's reset.
    /// Buckets under 10 a minute keep no reserve.
    fn note_rate_limit(&self, url: &str, fetched: &Fetched) {
        let num = |h: &str| fetched.header(h).and_then(|v| v.trim().parse::<u64>().ok());
        let (Some(limit), Some(remaining)) = (num("x-rate-limit-limit"), num("x-rate-limit-remaining")) else {
            return;
        };
        if fetched.header("x-rate-limit-reset").is_none() || limit == 0 || remaining >= limit / 10 {
            return;
        }
        let wait = reset_in(fetched);
        if wait > self.patience.max_rate_limit_wait {
            return;
        }
        if let Ok(mut m) = self.paused.lock() {
            m.insert(bucket_of(url), Instant::now() + wait);
        }
    }

    pub fn org(&self) -> &str {
        &self.org
    }

    pub async fn stats(&self) -> CallStats {
        *self.stats.lock().await
    }

    fn token_url(&self) -> String {
        format!("{}/oauth2/v1/token", self.org)
    }

    fn client_assertion(&self, client_id: &str, key: &ServiceKey) -> Result<String, OktaError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            iss: &'a str,
            sub: &'a str,
            aud: &'a str,
            iat: u64,
            exp: u64,
            jti: String,
        }
        let now = now_secs();
        let mut header = Header::new(key.alg);
        header.kid = key.kid.clone();
        header.typ = Some("JWT".into());
        let token_url = self.token_url();
        // A fresh jti every time: Okta consumes it even when it answers use_dpop_nonce.
        let claims =
            Claims { iss: client_id, sub: client_id, aud: &token_url, iat: now, exp: now + 300, jti: new_jti() };
        jsonwebtoken::encode(&header, &claims, &key.encoding)
            .map_err(|e| OktaError::InvalidClient(format!("cannot sign: {e}")))
    }

    fn dpop_proof(
        &self,
        method: &str,
        url: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<String, OktaError> {
        #[derive(Serialize)]
        struct Claims<'a> {
            htm: &'a str,
            htu: &'a str,
            iat: u64,
            jti: String,
            #[serde(skip_serializing_if = "Option::is_none")]
            nonce: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            ath: Option<String>,
        }
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.dpop.jwk.clone());
        // htu is the URL without query or fragment, percent-decoded as Okta compares it.
        let htu = url.split(['?', '#']).next().unwrap_or(url);
        let htu = percent_decode(htu);
        let claims = Claims {
            htm: method,
            htu: &htu,
            iat: now_secs(),
            jti: new_jti(),
            nonce,
            ath: access_token.map(|t| URL_SAFE_NO_PAD.encode(Sha256::digest(t.as_bytes()))),
        };
        jsonwebtoken::encode(&header, &claims, &self.dpop.encoding)
            .map_err(|e| OktaError::Dpop(format!("cannot sign a proof: {e}")))
    }

    /// client_credentials with a `private_key_jwt` assertion, and the DPoP nonce dance when asked.
    async fn fetch_token(&self, client_id: &str, key: &ServiceKey) -> Result<AccessToken, OktaError> {
        let token_url = self.token_url();
        let mut failures = 0;
        let mut nonce_rounds = 0;
        while nonce_rounds < 3 {
            let nonce = self.dpop_nonce.lock().await.clone();
            let assertion = self.client_assertion(client_id, key)?;
            let proof = self.dpop_proof("POST", &token_url, nonce.as_deref(), None)?;
            let form = [
                ("grant_type", "client_credentials"),
                ("scope", self.scopes.as_str()),
                ("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"),
                ("client_assertion", assertion.as_str()),
            ];
            self.count_request().await;
            let fetched = match self
                .outbound
                .send(&token_url, 1 << 20, |c, u| {
                    c.post(u).header("Accept", "application/json").header("DPoP", proof.clone()).form(&form)
                })
                .await
            {
                Ok(f) if f.status.is_server_error() && failures + 1 < self.patience.attempts => {
                    failures += 1;
                    self.wait(WaitKind::Retry, backoff(failures)).await;
                    continue;
                }
                Ok(f) => f,
                Err(OutboundError::Timeout { .. } | OutboundError::Connect { .. })
                    if failures + 1 < self.patience.attempts =>
                {
                    failures += 1;
                    self.wait(WaitKind::Retry, backoff(failures)).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if fetched.status.is_success() {
                #[derive(Deserialize)]
                struct TokenResponse {
                    access_token: String,
                    token_type: String,
                }
                let t: TokenResponse = fetched.json().map_err(|e| OktaError::BadResponse(e.to_string()))?;
                return Ok(AccessToken {
                    value: t.access_token,
                    dpop_bound: t.token_type.eq_ignore_ascii_case("DPoP"),
                });
            }
            let body: Option<OktaErrorBody> = fetched.json().ok();
            let error =
                body.as_ref().and_then(|b| b.error.clone().or_else(|| b.error_code.clone())).unwrap_or_default();
            let description = body
                .as_ref()
                .and_then(|b| b.error_description.clone().or_else(|| b.error_summary.clone()))
                .unwrap_or_default();
            match (fetched.status.as_u16(), error.as_str()) {
                (_, "use_dpop_nonce") => match fetched.header("dpop-nonce") {
                    Some(n) => {
                        nonce_rounds += 1;
                        *self.dpop_nonce.lock().await = Some(n.to_string())
                    }
                    None => {
                        return Err(OktaError::Dpop(
                            "Okta asked for a nonce but sent none (no DPoP-Nonce header)".into(),
                        ))
                    }
                },
                (_, "invalid_dpop_proof") => return Err(OktaError::Dpop(description)),
                (_, "invalid_client") => return Err(OktaError::InvalidClient(description)),
                (_, "invalid_scope" | "consent_required" | "access_denied") => {
                    return Err(OktaError::ScopeNotGranted(description))
                }
                (429, _) => return Err(self.rate_limited(&fetched)),
                (status, _) => {
                    return Err(OktaError::Unexpected {
                        status,
                        body: String::from_utf8_lossy(&fetched.body).chars().take(300).collect(),
                    })
                }
            }
        }
        Err(OktaError::Dpop("Okta kept asking for a new DPoP nonce".into()))
    }

    fn rate_limited(&self, fetched: &Fetched) -> OktaError {
        OktaError::RateLimited { reset_in_seconds: reset_in(fetched).as_secs() }
    }

    async fn count_request(&self) {
        self.stats.lock().await.requests += 1;
    }

    /// Gets the service app's access token now; true when it is DPoP-bound.
    /// API tokens need no exchange.
    pub async fn authenticate(&self) -> Result<bool, OktaError> {
        match &self.credentials {
            Credentials::ApiToken(_) => Ok(false),
            Credentials::ServiceApp { client_id, key } => {
                let mut guard = self.token.lock().await;
                if guard.is_none() {
                    *guard = Some(self.fetch_token(client_id, key).await?);
                }
                Ok(guard.as_ref().is_some_and(|t| t.dpop_bound))
            }
        }
    }

    /// A GET on the Management API, with authentication, DPoP, retries and rate-limit waits.
    /// Only on the org's origin: the credentials go nowhere else.
    pub async fn get(&self, url: &str) -> Result<Fetched, OktaError> {
        same_origin(&self.org, url)?;
        let mut failures = 0;
        let mut token_refreshed = false;
        loop {
            self.pace(url).await;
            let (auth, proof) = match &self.credentials {
                Credentials::ApiToken(t) => (format!("SSWS {}", t.expose()), None),
                Credentials::ServiceApp { client_id, key } => {
                    let token = {
                        let mut guard = self.token.lock().await;
                        match guard.as_ref() {
                            Some(t) => t.clone(),
                            None => {
                                let t = self.fetch_token(client_id, key).await?;
                                *guard = Some(t.clone());
                                t
                            }
                        }
                    };
                    if token.dpop_bound {
                        let nonce = self.dpop_nonce.lock().await.clone();
                        let proof = self.dpop_proof("GET", url, nonce.as_deref(), Some(&token.value))?;
                        (format!("DPoP {}", token.value), Some(proof))
                    } else {
                        (format!("Bearer {}", token.value), None)
                    }
                }
            };
            self.count_request().await;
            let result = self
                .outbound
                .send(url, PAGE_BODY, |c, u| {
                    let req = c.get(u).header("Accept", "application/json").header("Authorization", auth.clone());
                    match proof.clone() {
                        Some(p) => req.header("DPoP", p),
                        None => req,
                    }
                })
                .await;
            let fetched = match result {
                Ok(f) => f,
                Err(e @ (OutboundError::Timeout { .. } | OutboundError::Connect { .. })) => {
                    failures += 1;
                    if failures >= self.patience.attempts {
                        return Err(e.into());
                    }
                    self.wait(WaitKind::Retry, backoff(failures)).await;
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            self.note_rate_limit(url, &fetched);
            let status = fetched.status.as_u16();
            if fetched.status.is_success() {
                return Ok(fetched);
            }
            if status == 429 {
                let wait = reset_in(&fetched);
                if wait > self.patience.max_rate_limit_wait {
                    return Err(self.rate_limited(&fetched));
                }
                tracing::info!(seconds = wait.as_secs(), "Okta rate limit reached; waiting for the reset");
                self.wait(WaitKind::RateLimited, wait).await;
                continue;
            }
            if status >= 500 {
                failures += 1;
                if failures >= self.patience.attempts {
                    return Err(OktaError::Unexpected { status, body: body_excerpt(&fetched) });
                }
                self.wait(WaitKind::Retry, backoff(failures)).await;
                continue;
            }
            // A resource server may ask for a DPoP nonce too.
            if let Some(nonce) = fetched.header("dpop-nonce") {
                let nonce = nonce.to_string();
                let mut current = self.dpop_nonce.lock().await;
                if current.as_deref() != Some(nonce.as_str()) {
                    *current = Some(nonce);
                    continue;
                }
            }
            let body: Option<OktaErrorBody> = fetched.json().ok();
            let code = body.as_ref().and_then(|b| b.error_code.clone().or_else(|| b.error.clone())).unwrap_or_default();
            let summary = body
                .as_ref()
                .and_then(|b| b.error_summary.clone().or_else(|| b.error_description.clone()))
                .unwrap_or_default();
            let challenge = fetched.header("www-authenticate").unwrap_or_default().to_string();
            match status {
                401 => {
                    // Tokens expire: get a new one once, as Okta's SDKs do.
                    if matches!(self.credentials, Credentials::ServiceApp { .. }) && !token_refreshed {
                        token_refreshed = true;
                        *self.token.lock().await = None;
                        continue;
                    }
                    return Err(OktaError::InvalidToken {
                        code: if code.is_empty() { "401".into() } else { code },
                        summary: if summary.is_empty() {
                            challenge_value(&challenge, "error_description").unwrap_or_default()
                        } else {
                            summary
                        },
                    });
                }
                403 => {
                    return Err(OktaError::Forbidden {
                        code: if code.is_empty() { "insufficient_scope".into() } else { code },
                        summary: if summary.is_empty() {
                            challenge_value(&challenge, "error_description").unwrap_or_default()
                        } else {
                            summary
                        },
                        scope: challenge_value(&challenge, "scope"),
                    })
                }
                400 if code == "invalid_dpop_proof" || challenge.contains("invalid_dpop_proof") => {
                    return Err(OktaError::Dpop(if summary.is_empty() { challenge } else { summary }))
                }
                _ => return Err(OktaError::Unexpected { status, body: body_excerpt(&fetched) }),
            }
        }
    }

    /// One page of a list endpoint.
    pub async fn page<T: serde::de::DeserializeOwned>(&self, url: &str) -> Result<Page<T>, OktaError> {
        let fetched = self.get(url).await?;
        let items: Vec<T> = fetched.json().map_err(|e| OktaError::BadResponse(format!("{url}: {e}")))?;
        let next = next_link(&fetched);
        let rate_remaining = fetched.header("x-rate-limit-remaining").and_then(|v| v.parse().ok());
        let rate_limit = fetched.header("x-rate-limit-limit").and_then(|v| v.parse().ok());
        Ok(Page { items, next, rate_remaining, rate_limit, server_time: server_time(&fetched) })
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{}", self.org, path_and_query)
    }
}

fn body_excerpt(f: &Fetched) -> String {
    String::from_utf8_lossy(&f.body).chars().take(300).collect()
}

fn backoff(failures: u32) -> Duration {
    Duration::from_millis(250 * 2u64.pow(failures.min(6)))
}

/// Okta's `Date`, in epoch seconds.
pub fn server_time(f: &Fetched) -> Option<i64> {
    f.header("date")
        .and_then(|d| time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc2822).ok())
        .map(|t| t.unix_timestamp())
}

/// Okta counts requests per bucket (okta-api.md §5); the first three path
/// segments (`/api/v1/users`, `/api/v1/groups`, `/api/v1/apps`) tell them apart.
fn bucket_of(url: &str) -> String {
    let path = url.split_once("://").map_or(url, |(_, rest)| rest);
    let path = path.find('/').map_or("", |i| &path[i..]);
    let path = path.split(['?', '#']).next().unwrap_or_default();
    path.split('/').filter(|s| !s.is_empty()).take(3).collect::<Vec<_>>().join("/")
}

/// How long until Okta's rate-limit window resets: `X-Rate-Limit-Reset` is an
/// epoch second, compared with Okta's own `Date` to be immune to clock skew.
pub fn reset_in(f: &Fetched) -> Duration {
    let reset = f.header("x-rate-limit-reset").and_then(|v| v.parse::<u64>().ok());
    let server_now = f
        .header("date")
        .and_then(|d| time::OffsetDateTime::parse(d, &time::format_description::well_known::Rfc2822).ok())
        .map(|t| t.unix_timestamp().max(0) as u64)
        .unwrap_or_else(now_secs);
    match reset {
        Some(r) if r > server_now => Duration::from_secs((r - server_now).min(3600)) + Duration::from_millis(200),
        Some(_) => Duration::from_secs(1),
        None => Duration::from_secs(60),
    }
}

/// Scheme, host and port (the default one when absent), as compared.
fn origin_of(url: &str) -> Option<(String, String, u16)> {
    let u = url::Url::parse(url).ok()?;
    Some((u.scheme().to_string(), u.host_str()?.to_ascii_lowercase(), u.port_or_known_default()?))
}

/// Refuses a URL (a `Link: rel=next` from the answer, say) that is not on the org's origin.
pub fn same_origin(org: &str, url: &str) -> Result<(), OktaError> {
    match (origin_of(org), origin_of(url)) {
        (Some(a), Some(b)) if a == b => Ok(()),
        (_, b) => Err(OktaError::ForeignOrigin {
            found: b.map_or_else(|| url.chars().take(200).collect(), |(s, h, p)| format!("{s}://{h}:{p}")),
            org: org.to_string(),
        }),
    }
}

/// The `rel="next"` URL among the `Link` header lines.
pub fn next_link(f: &Fetched) -> Option<String> {
    f.headers.get_all("link").iter().filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).find_map(|link| {
        let mut parts = link.split(';');
        let url = parts.next()?.trim().strip_prefix('<')?.strip_suffix('>')?;
        parts.any(|p| matches!(p.trim(), "rel=\"next\"" | "rel=next")).then(|| url.to_string())
    })
}

/// A value from a `WWW-Authenticate` challenge, e.g. `scope="okta.groups.read"`.
fn challenge_value(challenge: &str, name: &str) -> Option<String> {
    let needle = format!("{name}=\"");
    let start = challenge.find(&needle)? + needle.len();
    let end = challenge[start..].find('"')?;
    Some(challenge[start..start + end].to_string())
}

fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urls_on_the_orgs_origin_are_followed() {
        let org = "https://acme.okta.com";
        for ok in ["https://acme.okta.com/api/v1/users?after=00u1", "https://ACME.okta.com:443/api/v1/groups"] {
            assert!(same_origin(org, ok).is_ok(), "{ok}");
        }
        for bad in [
            "https://evil.example/api/v1/users?after=00u1",
            "http://acme.okta.com/api/v1/users",
            "https://acme.okta.com:8443/api/v1/users",
            "https://acme.okta.com.evil.example/api/v1/users",
            "https://acme.okta.com@evil.example/api/v1/users",
            "/api/v1/users",
        ] {
            assert!(matches!(same_origin(org, bad), Err(OktaError::ForeignOrigin { .. })), "{bad}");
        }
        assert!(same_origin("http://127.0.0.1:8080", "http://127.0.0.1:8080/x").is_ok());
        assert!(same_origin("http://127.0.0.1:8080", "http://127.0.0.1:8081/x").is_err());
    }

    #[test]
    fn challenge_values_are_read() {
        let c = r#"Bearer authorization_uri="http://x/oauth2/v1/authorize", realm="http://x", scope="okta.groups.read", error="insufficient_scope", error_description="The access token provided does not contain the required scopes.""#;
        assert_eq!(challenge_value(c, "scope").as_deref(), Some("okta.groups.read"));
        assert_eq!(challenge_value(c, "error").as_deref(), Some("insufficient_scope"));
        assert_eq!(challenge_value(c, "missing"), None);
    }

    #[test]
    fn buckets_are_told_apart_by_their_first_three_segments() {
        assert_eq!(bucket_of("https://x.okta.com/api/v1/users?limit=200&after=00u1"), "api/v1/users");
        assert_eq!(bucket_of("https://x.okta.com/api/v1/groups/00g1/users?limit=1000"), "api/v1/groups");
        assert_eq!(bucket_of("http://127.0.0.1:9/api/v1/apps/0oa1/users"), "api/v1/apps");
    }

    #[test]
    fn okta_dates_are_read_as_epoch_seconds() {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("date", "Mon, 02 Jan 2006 15:04:05 GMT".parse().unwrap());
        let f = Fetched {
            status: reqwest::StatusCode::OK,
            headers,
            body: vec![],
            url: url::Url::parse("https://x/").unwrap(),
        };
        assert_eq!(server_time(&f), Some(1_136_214_245));
    }

    #[test]
    fn htu_is_percent_decoded_like_okta() {
        assert_eq!(percent_decode("https://x/api/v1/users/a%40b.com/groups"), "https://x/api/v1/users/a@b.com/groups");
        assert_eq!(percent_decode("https://x/api/v1/groups"), "https://x/api/v1/groups");
    }
}
