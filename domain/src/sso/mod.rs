//! Signing in to the console with an identity provider: the authorization code flow
//! with PKCE, ID token verification, accounts keyed by (provider, `sub`), roles from
//! groups, refresh, and sign-out at the provider.
//!
//! Every way a sign-in can fail ends in a [`Refused`] with a stable code, an audit
//! entry, and no session.

pub mod roles;
pub mod verify;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use openidconnect::core::CoreJsonWebKeySet;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use roles::{MappingError, RoleMappingView};
use verify::{Expected, TokenError};

use crate::{
    accounts::{random_token, ClientInfo, NewSession, Role, SessionPolicy, SignedIn},
    audit::{Action, Actor, Audit, Event},
    crypto::SecretBox,
    okta::{OktaClient, OktaGroup, Patience, DIRECTORY_SCOPES},
    outbound::{Outbound, SMALL_BODY},
    providers::{
        checks::Discovery,
        service::{secret_context, stored_directory},
    },
    store::{
        new_id, now_ms, IdentityRow, LoginAttemptRow, LoginOutcomeRow, ProviderRow, ProviderSessionInput,
        RoleMappingRow, Store, StoreError, UserRow,
    },
};

/// A login attempt lives this long: enough to type a password and a second factor.
const ATTEMPT_TTL_MS: i64 = 10 * 60 * 1000;
/// A refusal or a test sign-in can be read this long.
const OUTCOME_TTL_MS: i64 = 15 * 60 * 1000;
/// One JWKS refetch per provider per this long, however many unknown `kid`s arrive. An
/// ordinary (cache-filling) fetch does not count: the first unknown `kid` after it refetches.
const JWKS_REFETCH_EVERY: Duration = Duration::from_secs(10);
/// The cookie that binds a login attempt to the browser that started it.
pub const LOGIN_COOKIE: &str = "portcullis_login";
const SECURE_LOGIN_COOKIE: &str = "__Host-portcullis_login";

/// The binding cookie's name: `__Host-` on https, which browsers accept only host-only,
/// `Secure` and on `/`, so a sibling subdomain cannot plant a binding of its choosing.
pub fn login_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_LOGIN_COOKIE
    } else {
        LOGIN_COOKIE
    }
}

/// What a login attempt is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    SignIn,
    /// Signing in to reach an application behind forward auth: any person of the provider,
    /// no console role needed, and no console session.
    Access,
    /// Test connection's test sign-in: show the claims and the role, create no session.
    DryRun {
        by: SignedIn,
    },
    /// A signed-in local account links itself to this provider (the confirmation admins need).
    Link {
        by: SignedIn,
    },
}

impl Purpose {
    fn as_str(&self) -> &'static str {
        match self {
            Purpose::SignIn => "sign_in",
            Purpose::Access => "access",
            Purpose::DryRun { .. } => "dry_run",
            Purpose::Link { .. } => "link",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("No such identity provider: it may have been deleted.")]
    NotFound,
    #[error("This identity provider is disabled.")]
    Disabled,
    #[error("This identity provider has no authorization or token endpoint on record; run Test connection.")]
    NotReady,
    #[error("The address to return to after signing in is too long.")]
    ReturnTooLong,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where to send the browser, and the binding cookie to set.
#[derive(Debug, Clone)]
pub struct Started {
    pub authorize_url: String,
    pub browser_cookie: String,
}

/// What came back to `/auth/callback`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct CallbackInput {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
    pub iss: Option<String>,
}

#[derive(Debug)]
pub enum Finished {
    SignedIn {
        session: NewSession,
        return_to: String,
    },
    DryRun {
        outcome_id: String,
        provider_id: String,
    },
    Linked {
        return_to: String,
    },
    /// Signed in for the applications: the caller issues the access session.
    Access {
        user_id: String,
        identity_id: String,
        return_to: String,
    },
}

/// A refused sign-in: `code` is stable (URLs, tests); `outcome_id` points at what the page may show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub code: &'static str,
    pub outcome_id: Option<String>,
}

impl Refused {
    fn new(code: &'static str) -> Self {
        Self { code, outcome_id: None }
    }
}

/// What the refusal page and the test sign-in page show. No token, ever.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct OutcomeView {
    pub kind: String,
    pub provider_id: String,
    pub provider_name: String,
    pub subject: String,
    pub email: String,
    pub name: String,
    pub email_verified: Option<bool>,
    pub groups: Vec<String>,
    /// Where the groups came from: the named claim, userinfo, the directory API, or nowhere.
    pub groups_source: String,
    pub role: Option<String>,
    /// Every mapping of this provider: group name → role. For the admin's test sign-in only: a
    /// refused person is told no role applies, never which groups would grant one.
    pub mappings: Vec<(String, String)>,
    /// The ID token's claims, for the test sign-in only.
    pub claims: Option<String>,
}

/// The token endpoint's answer.
#[derive(Debug, Deserialize)]
struct TokenResponse {
    access_token: String,
    #[serde(default)]
    expires_in: Option<i64>,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    id_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct OAuthErrorBody {
    error: String,
    #[serde(default)]
    error_description: Option<String>,
}

/// Why a token request failed.
#[derive(Debug)]
enum TokenCallError {
    Rejected { error: String, description: String },
    Unreachable(String),
}

/// A person as the provider described them at this sign-in or refresh.
#[derive(Debug, Clone)]
struct Person {
    subject: String,
    email: String,
    email_verified: Option<bool>,
    name: String,
    /// (group id, name); an empty id: a name the provider's directory does not know.
    groups: Vec<(String, String)>,
    /// Claim names several groups of the provider share: they grant nothing.
    ambiguous: Vec<String>,
    groups_source: &'static str,
    claims: Map<String, Value>,
}

struct CachedJwks {
    uri: String,
    set: CoreJsonWebKeySet,
    fetched: Instant,
    /// Fetched again because a token named a key the cache did not know.
    refetched: bool,
}

/// Sign-in with identity providers. Cheap to clone.
#[derive(Clone)]
pub struct SsoService {
    store: Store,
    audit: Audit,
    secrets: SecretBox,
    outbound: Outbound,
    redirect_uri: String,
    public_base: String,
    policy: SessionPolicy,
    jwks: Arc<Mutex<HashMap<String, Arc<CachedJwks>>>>,
    refreshing: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
    /// Anyone can make a callback fail: one audit row per address and minute.
    failures: crate::audit::AuditLimiter,
}

impl std::fmt::Debug for SsoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoService").field("redirect_uri", &self.redirect_uri).finish_non_exhaustive()
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn pkce_challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

fn encode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn discovery_of(row: &ProviderRow) -> Option<Discovery> {
    row.discovery.as_deref().and_then(|d| serde_json::from_str(d).ok())
}

fn session_context(session_id: &str, field: &str) -> String {
    format!("session/{session_id}/{field}")
}

impl SsoService {
    pub fn new(store: Store, secrets: SecretBox, outbound: Outbound, public_base: &str, policy: SessionPolicy) -> Self {
        let public_base = public_base.trim_end_matches('/').to_string();
        Self {
            audit: Audit::new(store.clone()),
            store,
            secrets,
            outbound,
            redirect_uri: format!("{public_base}/auth/callback"),
            public_base,
            policy,
            jwks: Arc::default(),
            refreshing: Arc::default(),
            failures: Default::default(),
        }
    }

    /// Enabled providers that can sign people in, for the sign-in page: (id, name).
    pub async fn sign_in_options(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .store
            .providers()
            .await?
            .into_iter()
            .filter(|p| p.enabled && discovery_of(p).is_some_and(|d| d.authorization_endpoint.is_some()))
            .map(|p| (p.id, p.name))
            .collect())
    }

    /// Starts an authorization request: a fresh `state`, `nonce` and PKCE verifier, stored
    /// server-side and bound to this browser.
    pub async fn start(
        &self,
        provider_id: &str,
        purpose: Purpose,
        return_to: &str,
        browser_cookie: Option<&str>,
    ) -> Result<Started, StartError> {
        let row = self.store.provider(provider_id).await?.ok_or(StartError::NotFound)?;
        if !row.enabled && matches!(purpose, Purpose::SignIn | Purpose::Access) {
            return Err(StartError::Disabled);
        }
        // Stored with the attempt: anonymous callers must not store unbounded text.
        if return_to.len() > crate::forward_auth::MAX_RETURN_URL {
            return Err(StartError::ReturnTooLong);
        }
        let discovery = discovery_of(&row).ok_or(StartError::NotReady)?;
        let endpoint = discovery.authorization_endpoint.clone().ok_or(StartError::NotReady)?;
        if discovery.token_endpoint.is_none() {
            return Err(StartError::NotReady);
        }
        let browser =
            browser_cookie.filter(|c| (32..=64).contains(&c.len())).map(str::to_string).unwrap_or_else(random_token);
        let (state, nonce, verifier) = (random_token(), random_token(), random_token());
        let now = now_ms();
        let started_by = match &purpose {
            Purpose::SignIn | Purpose::Access => None,
            Purpose::DryRun { by } | Purpose::Link { by } => Some(by.user_id.clone()),
        };
        self.store
            .insert_login_attempt(&LoginAttemptRow {
                id: sha256_hex(&state),
                provider_id: row.id.clone(),
                purpose: purpose.as_str().to_string(),
                browser_hash: sha256_hex(&browser),
                nonce: nonce.clone(),
                pkce_verifier_sealed: self.secrets.seal(&format!("login_attempt/{}", sha256_hex(&state)), &verifier),
                return_to: return_to.to_string(),
                started_by,
                created_at: now,
                expires_at: now + ATTEMPT_TTL_MS,
            })
            .await?;
        let mut url = format!(
            "{endpoint}{sep}response_type=code&client_id={}&redirect_uri={}&scope={}&state={}&nonce={}\
             &code_challenge={}&code_challenge_method=S256",
            encode(&row.client_id),
            encode(&self.redirect_uri),
            encode(&row.scopes),
            encode(&state),
            encode(&nonce),
            pkce_challenge(&verifier),
            sep = if endpoint.contains('?') { '&' } else { '?' },
        );
        if matches!(purpose, Purpose::DryRun { .. } | Purpose::Link { .. }) {
            // A test sign-in is usually for someone else: ask the provider for a fresh sign-in.
            url.push_str("&prompt=login");
        }
        Ok(Started { authorize_url: url, browser_cookie: browser })
    }

    /// `/auth/callback`. Never returns a session unless every check passed.
    pub async fn callback(
        &self,
        input: &CallbackInput,
        browser_cookie: Option<&str>,
        current: Option<&SignedIn>,
        client: &ClientInfo,
    ) -> Result<Finished, Refused> {
        let fail = |code: &'static str, provider: Option<&str>, detail: String| {
            let audit = self.audit.clone();
            let ip = client.ip.clone();
            let provider = provider.map(str::to_string);
            // Only failures before a real attempt is found cost an attacker nothing (a forged
            // state); later ones need a sign-in started and a provider's answer.
            let admitted = if provider.is_none() {
                self.failures.admit(&["sso_failed", ip.as_deref().unwrap_or(""), code], now_ms())
            } else {
                Some(0)
            };
            async move {
                let Some(suppressed) = admitted else { return Refused::new(code) };
                let mut event = Event::new(Actor::Anonymous, Action::SsoSignInFailed)
                    .failed()
                    .ip(ip.as_deref())
                    .detail("reason", code);
                if suppressed > 0 {
                    event = event.detail(
                        "and_more",
                        format!("and {suppressed} more such failures from this address in the minute before"),
                    );
                }
                if let Some(p) = provider {
                    event = event.target(p);
                }
                if !detail.is_empty() {
                    event = event.detail("detail", detail);
                }
                audit.record_or_log(event).await;
                Refused::new(code)
            }
        };
        let Some(state) = input.state.as_deref().filter(|s| !s.is_empty() && s.len() <= 200) else {
            return Err(fail("state_missing", None, String::new()).await);
        };
        let attempt = match self.store.take_login_attempt(&sha256_hex(state)).await {
            Ok(Some(a)) => a,
            Ok(None) => return Err(fail("state_invalid", None, "no sign-in in progress has this state".into()).await),
            Err(e) => return Err(fail("server", None, e.to_string()).await),
        };
        let pid = Some(attempt.provider_id.as_str());
        if attempt.expires_at < now_ms() {
            return Err(fail("state_expired", pid, String::new()).await);
        }
        let same_browser =
            browser_cookie.is_some_and(|c| crate::accounts::constant_time_eq(&sha256_hex(c), &attempt.browser_hash));
        if !same_browser {
            return Err(fail("browser_mismatch", pid, "the sign-in was started in another browser".into()).await);
        }
        let row = match self.store.provider(&attempt.provider_id).await {
            Ok(Some(r)) => r,
            Ok(None) => return Err(fail("provider_gone", pid, String::new()).await),
            Err(e) => return Err(fail("server", pid, e.to_string()).await),
        };
        // A disabled provider signs nobody in, for the console or the applications; only an
        // admin's test sign-in (which makes no session) still runs.
        if attempt.purpose != "dry_run" && !row.enabled {
            return Err(fail("provider_disabled", pid, String::new()).await);
        }
        // Mix-up defence (RFC 9207): a callback naming another issuer is not ours.
        if let Some(iss) = input.iss.as_deref() {
            if iss != row.issuer {
                return Err(fail("issuer_mismatch", pid, format!("callback iss {iss}")).await);
            }
        }
        if let Some(error) = input.error.as_deref() {
            let code = match error {
                "access_denied" => "access_denied",
                "login_required" | "interaction_required" | "consent_required" => "login_required",
                _ => "provider_error",
            };
            let detail = format!("{error}: {}", input.error_description.as_deref().unwrap_or(""));
            return Err(fail(code, pid, detail).await);
        }
        let Some(code) = input.code.as_deref().filter(|c| !c.is_empty()) else {
            return Err(fail("code_missing", pid, String::new()).await);
        };
        let Some(discovery) = discovery_of(&row) else {
            return Err(fail("provider_not_ready", pid, String::new()).await);
        };
        let verifier = match self.secrets.open(&format!("login_attempt/{}", attempt.id), &attempt.pkce_verifier_sealed)
        {
            Ok(v) => v,
            Err(e) => return Err(fail("server", pid, e.to_string()).await),
        };
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", verifier.expose()),
        ];
        let tokens = match self.token_request(&row, &discovery, &form).await {
            Ok(t) => t,
            Err(TokenCallError::Rejected { error, description }) => {
                let code = match error.as_str() {
                    "invalid_grant" => "code_rejected",
                    "invalid_client" | "unauthorized_client" => "client_rejected",
                    _ => "token_error",
                };
                return Err(fail(code, pid, format!("{error}: {description}")).await);
            }
            Err(TokenCallError::Unreachable(e)) => return Err(fail("provider_unreachable", pid, e).await),
        };
        let Some(id_token) = tokens.id_token.as_deref() else {
            return Err(fail(
                "no_id_token",
                pid,
                "the token response has no id_token: is `openid` in the scopes?".into(),
            )
            .await);
        };
        let claims =
            match self.verify(&row, &discovery, id_token, Some(&attempt.nonce), Some(&tokens.access_token)).await {
                Ok(c) => c,
                Err(e) => return Err(fail(token_code(&e), pid, e.to_string()).await),
            };
        let person = match self.person(&row, &discovery, claims, &tokens.access_token).await {
            Ok(p) => p,
            Err((code, detail)) => return Err(fail(code, pid, detail).await),
        };
        self.audit_ambiguous(&row, &person, client).await;
        let mappings = match self.store.role_mappings().await {
            Ok(m) => m,
            Err(e) => return Err(fail("server", pid, e.to_string()).await),
        };
        let role = roles::role_for(&mappings, &row.id, &person.groups);

        match attempt.purpose.as_str() {
            "dry_run" => {
                let by = current.filter(|u| Some(&u.user_id) == attempt.started_by.as_ref());
                let Some(by) = by else {
                    return Err(fail("browser_mismatch", pid, "the test sign-in belongs to another admin".into()).await);
                };
                let id = self
                    .save_outcome(
                        &row,
                        "dry_run",
                        Some(&by.user_id),
                        &attempt.browser_hash,
                        &person,
                        role,
                        &mappings,
                        true,
                    )
                    .await
                    .map_err(|e| Refused { code: "server", outcome_id: Some(e.to_string()) })?;
                self.audit
                    .record_or_log(
                        Event::new(actor_of(by), Action::SsoDryRun)
                            .target(row.name.clone())
                            .ip(client.ip.as_deref())
                            .detail("subject", person.subject.clone())
                            .detail("groups", person.groups.len())
                            .detail("role", role.map(Role::as_str)),
                    )
                    .await;
                Ok(Finished::DryRun { outcome_id: id, provider_id: row.id.clone() })
            }
            "link" => {
                let by = current.filter(|u| Some(&u.user_id) == attempt.started_by.as_ref());
                let Some(by) = by else {
                    return Err(fail("browser_mismatch", pid, "the link was started by another account".into()).await);
                };
                match self.store.identity_by_subject(&row.id, &person.subject).await {
                    Ok(Some(existing)) if existing.user_id != by.user_id => {
                        return Err(fail("identity_taken", pid, format!("sub {}", person.subject)).await)
                    }
                    Ok(Some(_)) => {}
                    Ok(None) => {
                        if let Err(e) = self.store.insert_identity(&new_identity(&by.user_id, &row.id, &person)).await {
                            return Err(fail("server", pid, e.to_string()).await);
                        }
                    }
                    Err(e) => return Err(fail("server", pid, e.to_string()).await),
                }
                self.audit
                    .record_or_log(
                        Event::new(actor_of(by), Action::AccountLinked)
                            .target(by.email.clone())
                            .ip(client.ip.as_deref())
                            .detail("provider", row.name.clone())
                            .detail("subject", person.subject.clone()),
                    )
                    .await;
                Ok(Finished::Linked { return_to: attempt.return_to })
            }
            "access" => self.finish_sign_in(&row, &attempt, person, role, &mappings, tokens, client, true).await,
            _ => self.finish_sign_in(&row, &attempt, person, role, &mappings, tokens, client, false).await,
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn finish_sign_in(
        &self,
        row: &ProviderRow,
        attempt: &LoginAttemptRow,
        person: Person,
        role: Option<Role>,
        mappings: &[RoleMappingRow],
        tokens: TokenResponse,
        client: &ClientInfo,
        access: bool,
    ) -> Result<Finished, Refused> {
        let refuse = |code: &'static str, user: Option<&UserRow>, detail: String, outcome: Option<String>| {
            let audit = self.audit.clone();
            let ip = client.ip.clone();
            let actor =
                user.map(|u| Actor::User { id: u.id.clone(), email: u.email.clone() }).unwrap_or(Actor::Anonymous);
            let action = if code == "no_role" { Action::SsoNoRole } else { Action::SsoSignInFailed };
            let (provider, email) = (row.name.clone(), person.email.clone());
            async move {
                let mut event = Event::new(actor, action)
                    .failed()
                    .target(email)
                    .ip(ip.as_deref())
                    .detail("reason", code)
                    .detail("provider", provider);
                if !detail.is_empty() {
                    event = event.detail("detail", detail);
                }
                audit.record_or_log(event).await;
                Refused { code, outcome_id: outcome }
            }
        };
        let server = |e: StoreError| Refused { code: "server", outcome_id: Some(e.to_string()) };

        let (user, identity) = match self.store.identity_by_subject(&row.id, &person.subject).await.map_err(server)? {
            Some(identity) => match self.store.user_by_id(&identity.user_id).await.map_err(server)? {
                Some(user) => (user, identity),
                None => return Err(refuse("server", None, "identity without account".into(), None).await),
            },
            None => match self.store.user_by_email(&person.email).await.map_err(server)? {
                Some(existing) => {
                    // Linking by email hands an existing account to whoever controls that address at the
                    // provider: both sides must have proved the address (an account made from an
                    // unverified claim proves nothing).
                    if person.email_verified != Some(true) || !existing.email_verified {
                        return Err(refuse("email_unverified", Some(&existing), String::new(), None).await);
                    }
                    if existing.role.as_deref() == Some("admin") {
                        return Err(refuse("link_admin", Some(&existing), String::new(), None).await);
                    }
                    let identity = new_identity(&existing.id, &row.id, &person);
                    self.store.insert_identity(&identity).await.map_err(server)?;
                    self.audit
                        .record_or_log(
                            Event::new(
                                Actor::User { id: existing.id.clone(), email: existing.email.clone() },
                                Action::AccountLinked,
                            )
                            .target(existing.email.clone())
                            .ip(client.ip.as_deref())
                            .detail("provider", row.name.clone())
                            .detail("by", "verified email"),
                        )
                        .await;
                    (existing, identity)
                }
                None => {
                    if role.is_none() && !access {
                        // No account for people who may not enter.
                        let outcome = self
                            .save_outcome(row, "no_role", None, &attempt.browser_hash, &person, None, mappings, false)
                            .await
                            .ok();
                        return Err(refuse("no_role", None, groups_detail(&person), outcome).await);
                    }
                    let now = now_ms();
                    let user = UserRow {
                        id: new_id(),
                        email: person.email.clone(),
                        display_name: person.name.clone(),
                        password_hash: None,
                        role: None,
                        disabled_at: None,
                        created_at: now,
                        updated_at: now,
                        email_verified: email_vouched(row, &person),
                    };
                    let identity = new_identity(&user.id, &row.id, &person);
                    self.store.insert_user_with_identity(&user, &identity).await.map_err(server)?;
                    (user, identity)
                }
            },
        };
        if user.disabled_at.is_some() {
            return Err(refuse("account_disabled", Some(&user), String::new(), None).await);
        }
        if access {
            self.remember(row, &identity.id, &user.id, &person).await;
            self.audit
                .record_or_log(
                    Event::new(Actor::User { id: user.id.clone(), email: person.email.clone() }, Action::SignIn)
                        .target(person.email.clone())
                        .ip(client.ip.as_deref())
                        .detail("method", "sso")
                        .detail("for", "applications")
                        .detail("provider", row.name.clone()),
                )
                .await;
            return Ok(Finished::Access {
                user_id: user.id,
                identity_id: identity.id,
                return_to: attempt.return_to.clone(),
            });
        }
        let Some(role) = role else {
            let outcome = self
                .save_outcome(row, "no_role", None, &attempt.browser_hash, &person, None, mappings, false)
                .await
                .ok();
            return Err(refuse("no_role", Some(&user), groups_detail(&person), outcome).await);
        };
        self.remember(row, &identity.id, &user.id, &person).await;

        let token = random_token();
        let session_id = hex::encode(Sha256::digest(token.as_bytes()));
        let now = now_ms();
        let refresh_sealed = tokens
            .refresh_token
            .as_deref()
            .map(|t| self.secrets.seal(&session_context(&session_id, "refresh_token"), t));
        let id_token_sealed =
            tokens.id_token.as_deref().map(|t| self.secrets.seal(&session_context(&session_id, "id_token"), t));
        // Without a refresh token there is nothing to renew: groups are read again at the next sign-in.
        let tokens_expire_at =
            tokens.refresh_token.as_ref().map(|_| now + tokens.expires_in.unwrap_or(3600).max(1) * 1000);
        let expires_at = now + self.policy.lifetime.as_millis() as i64;
        let user_agent = client.user_agent.as_deref().map(|ua| ua.chars().take(300).collect::<String>());
        self.store
            .insert_provider_session(
                &session_id,
                &user.id,
                now,
                expires_at,
                client.ip.as_deref(),
                user_agent.as_deref(),
                &ProviderSessionInput {
                    identity_id: &identity.id,
                    refresh_token_sealed: refresh_sealed.as_deref(),
                    id_token_sealed: id_token_sealed.as_deref(),
                    tokens_expire_at,
                    role: role.as_str(),
                },
            )
            .await
            .map_err(server)?;
        self.audit
            .record_or_log(
                Event::new(Actor::User { id: user.id.clone(), email: person.email.clone() }, Action::SignIn)
                    .target(person.email.clone())
                    .ip(client.ip.as_deref())
                    .detail("method", "sso")
                    .detail("provider", row.name.clone())
                    .detail("role", role.as_str())
                    .detail("groups_source", person.groups_source),
            )
            .await;
        Ok(Finished::SignedIn {
            session: NewSession {
                token,
                user: SignedIn {
                    user_id: user.id.clone(),
                    email: person.email.clone(),
                    display_name: person.name.clone(),
                    role,
                    session_id,
                    identity_id: Some(identity.id.clone()),
                    refresh_due: false,
                    session_expires_at: expires_at,
                },
                max_age: self.policy.lifetime,
            },
            return_to: attempt.return_to.clone(),
        })
    }

    /// Renews a provider session's tokens and re-reads the person's groups. `Ok(None)`: the
    /// session has ended (the refresh failed, or the groups no longer grant a role).
    pub async fn refresh(&self, user: &SignedIn, client: &ClientInfo) -> Result<Option<SignedIn>, StoreError> {
        // One refresh per session at a time: a rotated refresh token works once.
        let lock = {
            let mut map = self.refreshing.lock().unwrap_or_else(|p| p.into_inner());
            map.retain(|_, l| Arc::strong_count(l) > 1);
            map.entry(user.session_id.clone()).or_default().clone()
        };
        let _guard = lock.lock().await;
        let Some(session) = self.store.session_tokens(&user.session_id).await? else {
            return Ok(None);
        };
        let due = session.tokens_expire_at.is_some_and(|at| now_ms() >= at - crate::accounts::REFRESH_AHEAD_MS);
        let current_role = session.role.as_deref().and_then(Role::parse).unwrap_or(user.role);
        if !due {
            return Ok(Some(SignedIn { refresh_due: false, role: current_role, ..user.clone() }));
        }
        match self.try_refresh(&session).await {
            Ok((person, role, provider_name)) => {
                let changed = role != current_role;
                let mut event = Event::new(actor_of(user), Action::SessionRefreshed)
                    .target(user.email.clone())
                    .ip(client.ip.as_deref())
                    .detail("provider", provider_name)
                    .detail("role", role.as_str())
                    .detail("groups", person.groups.len());
                if changed {
                    event = event.detail("role_before", current_role.as_str());
                }
                self.audit.record_or_log(event).await;
                Ok(Some(SignedIn {
                    role,
                    refresh_due: false,
                    email: person.email,
                    display_name: person.name,
                    ..user.clone()
                }))
            }
            Err(reason) => {
                self.store.delete_access_sessions_of_user(&user.user_id).await?;
                self.store.delete_session(&user.session_id).await?;
                self.audit
                    .record_or_log(
                        Event::new(actor_of(user), Action::SessionRefreshFailed)
                            .target(user.email.clone())
                            .failed()
                            .ip(client.ip.as_deref())
                            .detail("reason", reason),
                    )
                    .await;
                Ok(None)
            }
        }
    }

    async fn try_refresh(&self, session: &crate::store::SessionTokensRow) -> Result<(Person, Role, String), String> {
        let (Some(identity_id), Some(provider_id), Some(sealed)) =
            (&session.identity_id, &session.provider_id, &session.refresh_token_sealed)
        else {
            return Err("no refresh token".into());
        };
        let row =
            self.store.provider(provider_id).await.map_err(|e| e.to_string())?.ok_or("the provider was deleted")?;
        if !row.enabled {
            return Err("the provider is disabled".into());
        }
        let discovery = discovery_of(&row).ok_or("the provider has no discovery on record")?;
        let refresh_token =
            self.secrets.open(&session_context(&session.id, "refresh_token"), sealed).map_err(|e| e.to_string())?;
        let form = [("grant_type", "refresh_token"), ("refresh_token", refresh_token.expose())];
        let tokens = self.token_request(&row, &discovery, &form).await.map_err(|e| match e {
            TokenCallError::Rejected { error, description } => format!("{error}: {description}"),
            TokenCallError::Unreachable(e) => e,
        })?;
        let identity =
            self.store.identity(identity_id).await.map_err(|e| e.to_string())?.ok_or("the identity was removed")?;
        let claims = match tokens.id_token.as_deref() {
            Some(id_token) => {
                let claims = self
                    .verify(&row, &discovery, id_token, None, Some(&tokens.access_token))
                    .await
                    .map_err(|e| format!("{}: {e}", token_code(&e)))?;
                // On refresh the subject must stay the same person (iss and aud are verified already).
                if claims.get("sub").and_then(Value::as_str) != Some(identity.subject.as_str()) {
                    return Err("the refreshed ID token names another subject".into());
                }
                claims
            }
            None => {
                let mut c = Map::new();
                c.insert("sub".into(), Value::from(identity.subject.clone()));
                c
            }
        };
        let person =
            self.person(&row, &discovery, claims, &tokens.access_token).await.map_err(|(c, d)| format!("{c}: {d}"))?;
        self.audit_ambiguous(&row, &person, &ClientInfo::default()).await;
        let mappings = self.store.role_mappings().await.map_err(|e| e.to_string())?;
        let role =
            roles::role_for(&mappings, &row.id, &person.groups).ok_or("the person's groups no longer map to a role")?;
        self.remember(&row, &identity.id, &identity.user_id, &person).await;
        let now = now_ms();
        let refresh_sealed = tokens
            .refresh_token
            .as_deref()
            .map(|t| self.secrets.seal(&session_context(&session.id, "refresh_token"), t));
        let id_token_sealed =
            tokens.id_token.as_deref().map(|t| self.secrets.seal(&session_context(&session.id, "id_token"), t));
        let expires = Some(now + tokens.expires_in.unwrap_or(3600).max(1) * 1000);
        self.store
            .update_session_tokens(
                &session.id,
                refresh_sealed.as_deref(),
                id_token_sealed.as_deref(),
                expires,
                role.as_str(),
            )
            .await
            .map_err(|e| e.to_string())?;
        Ok((person, role, row.name))
    }

    /// The provider's sign-out URL for this session (RP-initiated logout), when it has one.
    pub async fn end_session_url(&self, user: &SignedIn) -> Option<String> {
        let session = self.store.session_tokens(&user.session_id).await.ok()??;
        let provider_id = session.provider_id.as_deref()?;
        let row = self.store.provider(provider_id).await.ok()??;
        let end = discovery_of(&row)?.end_session_endpoint?;
        self.outbound.check(&end).ok()?;
        let id_token = session
            .id_token_sealed
            .as_deref()
            .and_then(|s| self.secrets.open(&session_context(&session.id, "id_token"), s).ok())?;
        Some(format!(
            "{end}{sep}id_token_hint={}&post_logout_redirect_uri={}&state=signed_out",
            encode(id_token.expose()),
            encode(&format!("{}/login", self.public_base)),
            sep = if end.contains('?') { '&' } else { '?' },
        ))
    }

    /// A refusal or test sign-in, for the browser or admin that produced it.
    pub async fn outcome(
        &self,
        id: &str,
        viewer: Option<&SignedIn>,
        browser_cookie: Option<&str>,
    ) -> Result<Option<OutcomeView>, StoreError> {
        let Some(row) = self.store.login_outcome(id).await? else {
            return Ok(None);
        };
        let allowed = match &row.viewer {
            Some(v) => viewer.is_some_and(|u| &u.user_id == v),
            None => {
                browser_cookie.is_some_and(|c| crate::accounts::constant_time_eq(&sha256_hex(c), &row.browser_hash))
            }
        };
        if !allowed {
            return Ok(None);
        }
        let mut view: Option<OutcomeView> = serde_json::from_str(&row.details).ok();
        // A refusal is read by whoever holds the browser: no mapped group names, even from an
        // outcome stored before they were left out.
        if row.viewer.is_none() {
            if let Some(v) = view.as_mut() {
                v.mappings.clear();
            }
        }
        Ok(view)
    }

    /// Groups of a provider that Portcullis knows, for the role mapping picker: (id, name).
    pub async fn known_groups(&self, provider_id: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self.store.provider_groups(provider_id).await?.into_iter().map(|g| (g.external_id, g.name)).collect())
    }

    #[allow(clippy::too_many_arguments)]
    async fn save_outcome(
        &self,
        row: &ProviderRow,
        kind: &str,
        viewer: Option<&str>,
        browser_hash: &str,
        person: &Person,
        role: Option<Role>,
        mappings: &[RoleMappingRow],
        with_claims: bool,
    ) -> Result<String, StoreError> {
        let view = OutcomeView {
            kind: kind.to_string(),
            provider_id: row.id.clone(),
            provider_name: row.name.clone(),
            subject: person.subject.clone(),
            email: person.email.clone(),
            name: person.name.clone(),
            email_verified: person.email_verified,
            groups: person.groups.iter().map(|(_, name)| name.clone()).collect(),
            groups_source: person.groups_source.to_string(),
            role: role.map(|r| r.label().to_string()),
            mappings: mappings
                .iter()
                .filter(|m| viewer.is_some() && m.provider_id == row.id)
                .map(|m| {
                    (
                        m.current_name.clone().unwrap_or_else(|| m.group_name.clone()),
                        Role::parse(&m.role).map(Role::label).unwrap_or("?").to_string(),
                    )
                })
                .collect(),
            claims: with_claims
                .then(|| serde_json::to_string_pretty(&Value::Object(person.claims.clone())).unwrap_or_default()),
        };
        let now = now_ms();
        let id = random_token();
        self.store
            .insert_login_outcome(&LoginOutcomeRow {
                id: id.clone(),
                provider_id: row.id.clone(),
                kind: kind.to_string(),
                viewer: viewer.map(str::to_string),
                browser_hash: browser_hash.to_string(),
                details: serde_json::to_string(&view).unwrap_or_default(),
                created_at: now,
                expires_at: now + OUTCOME_TTL_MS,
            })
            .await?;
        Ok(id)
    }

    /// Keeps the account and the directory as the provider described the person. A failure
    /// here is logged, not fatal: the sign-in itself was sound.
    async fn remember(&self, row: &ProviderRow, identity_id: &str, user_id: &str, person: &Person) {
        let groups_json =
            serde_json::to_string(&person.groups.iter().map(|(_, n)| n).collect::<Vec<_>>()).unwrap_or_default();
        let claimed = person.email_verified == Some(true);
        let vouched = email_vouched(row, person);
        if let Err(e) = self
            .store
            .update_identity_claims(identity_id, user_id, &person.email, claimed, vouched, &person.name, &groups_json)
            .await
        {
            tracing::warn!(error = %e, "could not update the account from the provider's claims");
        }
        if person.groups_source != "none" {
            if let Err(e) = self
                .store
                .record_sign_in_directory(&row.id, &person.subject, &person.email, &person.name, &person.groups)
                .await
            {
                tracing::warn!(error = %e, "could not record the sign-in's groups in the directory");
            }
        }
    }

    async fn token_request(
        &self,
        row: &ProviderRow,
        d: &Discovery,
        form: &[(&str, &str)],
    ) -> Result<TokenResponse, TokenCallError> {
        let endpoint =
            d.token_endpoint.as_deref().ok_or_else(|| TokenCallError::Unreachable("no token endpoint".into()))?;
        let secret = self
            .secrets
            .open(&secret_context(&row.id, "client_secret"), &row.client_secret_sealed)
            .map_err(|e| TokenCallError::Unreachable(e.to_string()))?;
        // client_secret_basic unless the provider only takes client_secret_post.
        let post_only = !d.token_endpoint_auth_methods_supported.is_empty()
            && !d.token_endpoint_auth_methods_supported.iter().any(|m| m == "client_secret_basic")
            && d.token_endpoint_auth_methods_supported.iter().any(|m| m == "client_secret_post");
        let mut body: Vec<(&str, &str)> = form.to_vec();
        if post_only {
            body.push(("client_id", row.client_id.as_str()));
            body.push(("client_secret", secret.expose()));
        }
        let client_id = row.client_id.clone();
        let fetched = self
            .outbound
            .send(endpoint, SMALL_BODY, |c, u| {
                let req = c.post(u).header(reqwest::header::ACCEPT, "application/json").form(&body);
                if post_only {
                    req
                } else {
                    // RFC 6749 2.3.1: both parts form-encoded before Basic.
                    req.basic_auth(encode(&client_id), Some(encode(secret.expose())))
                }
            })
            .await
            .map_err(|e| TokenCallError::Unreachable(e.to_string()))?;
        if fetched.status.is_success() {
            return fetched
                .json()
                .map_err(|e| TokenCallError::Unreachable(format!("the token response is not valid: {e}")));
        }
        match fetched.json::<OAuthErrorBody>() {
            Ok(b) => {
                Err(TokenCallError::Rejected { error: b.error, description: b.error_description.unwrap_or_default() })
            }
            Err(_) => Err(TokenCallError::Unreachable(format!("the token endpoint answered {}", fetched.status))),
        }
    }

    /// Verifies an ID token; an unknown key fetches the JWKS again once (key rotation).
    async fn verify(
        &self,
        row: &ProviderRow,
        d: &Discovery,
        id_token: &str,
        nonce: Option<&str>,
        access_token: Option<&str>,
    ) -> Result<Map<String, Value>, TokenError> {
        let jwks_uri = d.jwks_uri.as_deref().ok_or_else(|| TokenError::Other("the provider has no jwks_uri".into()))?;
        let expected =
            Expected { issuer: &row.issuer, client_id: &row.client_id, nonce, access_token, now: now_ms() / 1000 };
        let cached = self.jwks_for(&row.id, jwks_uri, false).await?;
        match verify::verify_id_token(id_token, &expected, &cached.set) {
            Err(TokenError::UnknownKey(kid)) => {
                if cached.refetched && cached.fetched.elapsed() < JWKS_REFETCH_EVERY && cached.uri == jwks_uri {
                    // Refetched for an unknown key moments ago: another fetch would not know this key either.
                    return Err(TokenError::UnknownKey(kid));
                }
                let fresh = self.jwks_for(&row.id, jwks_uri, true).await?;
                verify::verify_id_token(id_token, &expected, &fresh.set)
            }
            other => other,
        }
    }

    async fn jwks_for(&self, provider_id: &str, uri: &str, refetch: bool) -> Result<Arc<CachedJwks>, TokenError> {
        if !refetch {
            let cached = self.jwks.lock().unwrap_or_else(|p| p.into_inner()).get(provider_id).cloned();
            if let Some(c) = cached.filter(|c| c.uri == uri) {
                return Ok(c);
            }
        }
        let fetched = self.outbound.get(uri, SMALL_BODY).await.map_err(|e| TokenError::Other(format!("JWKS: {e}")))?;
        if !fetched.status.is_success() {
            return Err(TokenError::Other(format!("JWKS: {uri} answered {}", fetched.status)));
        }
        let set = verify::parse_jwks(&fetched.body).map_err(|e| TokenError::Other(format!("JWKS: {e}")))?;
        let entry = Arc::new(CachedJwks { uri: uri.to_string(), set, fetched: Instant::now(), refetched: refetch });
        self.jwks.lock().unwrap_or_else(|p| p.into_inner()).insert(provider_id.to_string(), entry.clone());
        Ok(entry)
    }

    /// The person from the claims, completed by userinfo, with groups from the claim or,
    /// when it is missing, from the directory API.
    async fn person(
        &self,
        row: &ProviderRow,
        d: &Discovery,
        mut claims: Map<String, Value>,
        access_token: &str,
    ) -> Result<Person, (&'static str, String)> {
        let subject = claims.get("sub").and_then(Value::as_str).unwrap_or_default().to_string();
        let lacks = |c: &Map<String, Value>| !c.contains_key("email") || !c.contains_key(&row.groups_claim);
        if lacks(&claims) {
            if let Some(endpoint) = d.userinfo_endpoint.as_deref() {
                match self
                    .outbound
                    .send(endpoint, SMALL_BODY, |c, u| {
                        c.get(u).bearer_auth(access_token).header(reqwest::header::ACCEPT, "application/json")
                    })
                    .await
                {
                    Ok(f) if f.status.is_success() => {
                        let info: Map<String, Value> = f.json().map_err(|e| ("userinfo_invalid", e.to_string()))?;
                        if info.get("sub").and_then(Value::as_str) != Some(subject.as_str()) {
                            return Err((
                                "userinfo_subject",
                                "userinfo names another subject than the ID token".into(),
                            ));
                        }
                        for (k, v) in info {
                            claims.entry(k).or_insert(v);
                        }
                    }
                    Ok(f) => tracing::info!(status = %f.status, "userinfo refused; using the ID token's claims"),
                    Err(e) => tracing::info!(error = %e, "userinfo unreachable; using the ID token's claims"),
                }
            }
        }
        let email = claims
            .get("email")
            .and_then(Value::as_str)
            .or_else(|| claims.get("preferred_username").and_then(Value::as_str).filter(|u| u.contains('@')))
            .map(crate::accounts::fold_email)
            .unwrap_or_default();
        if email.is_empty() {
            return Err(("no_email", "neither the ID token nor userinfo has an email: add the `email` scope".into()));
        }
        let email_verified = match claims.get("email_verified") {
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) => Some(s == "true"),
            _ => None,
        };
        let name = claims.get("name").and_then(Value::as_str).map(str::to_string).unwrap_or_else(|| email.clone());

        let claim_groups: Option<Vec<String>> = match claims.get(&row.groups_claim) {
            Some(Value::Array(items)) => Some(items.iter().filter_map(Value::as_str).map(str::to_string).collect()),
            Some(Value::String(one)) => Some(vec![one.clone()]),
            _ => None,
        };
        // Azure-style overage markers: the claim was left out because there were too many.
        let overage = claims.contains_key("_claim_names") || claims.contains_key("hasgroups");
        // The directory API's ids come first when the provider has directory credentials: a
        // claim carries names, and names can be shared or chosen to look like another group.
        let has_directory = row.directory_mode != "off";
        let mut ambiguous = Vec::new();
        let (groups, source) = match claim_groups {
            Some(names) if !overage => {
                let api = if has_directory { self.groups_from_directory(row, &subject).await } else { None };
                match api {
                    Some(api) => (api, "directory"),
                    None => {
                        let known = match self.store.directory_groups_by_names(&row.id, &names).await {
                            Ok(k) => k,
                            Err(e) => return Err(("server", e.to_string())),
                        };
                        let mut groups = Vec::with_capacity(names.len());
                        for name in names {
                            if known.ambiguous.contains(&name) {
                                continue;
                            }
                            match known.resolved.iter().find(|(v, _, _)| *v == name) {
                                Some((_, id, n)) => groups.push((id.clone(), n.clone())),
                                // Unknown to the directory: a name, never an id (see roles::covers).
                                None => groups.push((String::new(), name)),
                            }
                        }
                        ambiguous = known.ambiguous;
                        (groups, "claim")
                    }
                }
            }
            _ => match self.groups_from_directory(row, &subject).await {
                Some(groups) => (groups, "directory"),
                None => (Vec::new(), "none"),
            },
        };
        Ok(Person { subject, email, email_verified, name, groups, ambiguous, groups_source: source, claims })
    }

    /// A claim named groups that several of the provider's groups share: granted nothing, said so.
    async fn audit_ambiguous(&self, row: &ProviderRow, person: &Person, client: &ClientInfo) {
        if person.ambiguous.is_empty() {
            return;
        }
        let names: Vec<&str> = person.ambiguous.iter().map(String::as_str).take(20).collect();
        self.audit
            .record_or_log(
                Event::new(Actor::Anonymous, Action::SsoSignInFailed)
                    .failed()
                    .target(person.email.clone())
                    .ip(client.ip.as_deref())
                    .detail("reason", "ambiguous group name")
                    .detail("provider", row.name.clone())
                    .detail("subject", person.subject.clone())
                    .detail(
                        "detail",
                        format!(
                            "ambiguous group name: several groups of this provider are named {}; the name grants no role and no group. Rename the groups at the provider or give the provider directory credentials.",
                            names.join(", ")
                        ),
                    ),
            )
            .await;
    }

    /// The person's groups through the Okta API, when directory credentials exist.
    async fn groups_from_directory(&self, row: &ProviderRow, subject: &str) -> Option<Vec<(String, String)>> {
        let auth = stored_directory(row, &self.secrets).ok()??;
        let credentials = auth.credentials().ok()?;
        let client = OktaClient::new(self.outbound.clone(), &row.base_url, credentials, Patience::CHECK)
            .with_scopes(DIRECTORY_SCOPES);
        let path = format!("/api/v1/users/{}/groups", encode(subject));
        let mut url = client.url(&path);
        let mut groups = Vec::new();
        for _ in 0..50 {
            let page = match client.page::<OktaGroup>(&url).await {
                Ok(p) => p,
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the person's groups from the directory API");
                    return None;
                }
            };
            groups.extend(page.items.into_iter().map(|g| (g.id, g.profile.name)));
            match page.next {
                Some(next) => url = next,
                None => break,
            }
        }
        Some(groups)
    }
}

fn token_code(e: &TokenError) -> &'static str {
    match e.code() {
        "malformed" => "token_malformed",
        "algorithm" => "token_algorithm",
        "signature" => "token_signature",
        "unknown_key" => "token_unknown_key",
        "ambiguous_key" => "token_unknown_key",
        "issuer" => "token_issuer",
        "audience" => "token_audience",
        "azp" => "token_audience",
        "nonce" => "token_nonce",
        "expired" => "token_expired",
        "iat_future" => "token_iat_future",
        "nbf" => "token_iat_future",
        "at_hash" => "token_at_hash",
        _ => "token_invalid",
    }
}

fn actor_of(u: &SignedIn) -> Actor {
    Actor::User { id: u.user_id.clone(), email: u.email.clone() }
}

fn groups_detail(p: &Person) -> String {
    let names: Vec<&str> = p.groups.iter().map(|(_, n)| n.as_str()).take(20).collect();
    format!("groups ({}): {}", p.groups_source, names.join(", "))
}

fn new_identity(user_id: &str, provider_id: &str, p: &Person) -> IdentityRow {
    let now = now_ms();
    IdentityRow {
        id: new_id(),
        user_id: user_id.to_string(),
        provider_id: provider_id.to_string(),
        subject: p.subject.clone(),
        email: p.email.clone(),
        groups: "[]".into(),
        created_at: now,
        last_login_at: now,
        email_verified: p.email_verified == Some(true),
    }
}

/// Whether the provider vouches for the person's email: an `email_verified: true` claim, or a
/// provider the admin marked as asserting verified emails.
fn email_vouched(row: &ProviderRow, p: &Person) -> bool {
    p.email_verified == Some(true) || row.asserts_verified_email
}
