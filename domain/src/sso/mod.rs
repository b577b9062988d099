//! Signing in to the console with an identity provider: the authorization code flow
//! with PKCE, ID token verification, accounts keyed by (provider, `sub`), roles from
//! groups, refresh, and sign-out at the provider.
//!
//! Every way a sign-in can fail ends in a [`Refused`] with a stable code, an audit
//! entry, and no session.

mod account;
mod callback;
mod outcome;
mod person;
mod refresh;
pub mod roles;
mod start;
mod tokens;
mod universal_logout;
pub mod verify;

use tokens::token_code;

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use base64::{engine::general_purpose::URL_SAFE_NO_PAD, Engine};
use openidconnect::core::CoreJsonWebKeySet;
pub use portcullis_types::codes::SsoCode;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

pub use account::{MappingChoices, SignInMethods};
pub use roles::{MappingError, RoleMappingView};
pub use universal_logout::{LoggedOut, LogoutError};
use verify::{Expected, TokenError};

use crate::{
    accounts::{random_token, ClientInfo, NewSession, Role, SessionDraft, SessionPolicy, SignedIn},
    audit::{Action, Actor, Audit, Event},
    crypto::{sha256_hex, SecretBox},
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
    pub code: SsoCode,
    pub outcome_id: Option<String>,
}

impl Refused {
    fn new(code: SsoCode) -> Self {
        Self { code, outcome_id: None }
    }
}

/// What the refusal page and the test sign-in page show; the wire type.
pub use portcullis_types::sso::SignInOutcome as OutcomeView;

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
    org_keys: Arc<universal_logout::OrgKeys>,
}

impl std::fmt::Debug for SsoService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoService").field("redirect_uri", &self.redirect_uri).finish_non_exhaustive()
    }
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
            org_keys: Arc::default(),
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
