//! Shared server state: the directory, issued tokens and sessions, keys, switches, clock.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::keys::KeyRing;
use crate::ratelimit::RateLimiter;
use crate::store::Store;
use crate::switches::Switches;
use crate::util::random_token;

/// Which authorization server a request or token belongs to.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Server {
    Org,
    Custom(String),
}

#[derive(Clone, Debug)]
pub(crate) struct AccessRecord {
    pub server: Server,
    pub client_id: String,
    pub user_id: Option<String>,
    pub scopes: Vec<String>,
    pub exp: i64,
    pub jkt: Option<String>,
    pub revoked: bool,
    pub jti: String,
    pub iat: i64,
    pub aud: String,
    pub iss: String,
}

#[derive(Clone, Debug)]
pub(crate) struct RefreshRecord {
    pub server: Server,
    pub client_id: String,
    pub user_id: String,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub exp: i64,
    pub jkt: Option<String>,
}

#[derive(Clone, Debug)]
pub(crate) struct CodeRecord {
    pub server: Server,
    pub client_id: String,
    pub redirect_uri: String,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub user_id: String,
    pub auth_time: i64,
    pub exp: i64,
}

#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub user_id: String,
    pub auth_time: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    Query,
    Fragment,
    FormPost,
}

/// A validated `/authorize` request, kept while the sign-in form is answered.
#[derive(Clone, Debug)]
pub(crate) struct AuthRequest {
    pub server: Server,
    pub client_id: String,
    pub app_label: String,
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub scopes: Vec<String>,
    pub state: String,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub prompt_login: bool,
    pub prompt_none: bool,
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
}

/// An `/authorize` request waiting for the sign-in form.
#[derive(Clone, Debug)]
pub(crate) struct AuthorizeTx {
    pub request: AuthRequest,
    pub exp: i64,
}

#[derive(Default)]
pub(crate) struct Tokens {
    pub access: HashMap<String, AccessRecord>,
    pub refresh: HashMap<String, RefreshRecord>,
    pub codes: HashMap<String, CodeRecord>,
    /// `client_id` + `jti` of used client assertions → expiry.
    pub assertion_jtis: HashMap<String, i64>,
    /// `jti` of used DPoP proofs → expiry.
    pub dpop_jtis: HashMap<String, i64>,
    pub sessions: HashMap<String, Session>,
    pub transactions: HashMap<String, AuthorizeTx>,
    inserts: u64,
}

impl Tokens {
    /// Drops expired entries now and then, so long benchmarks do not grow without bound.
    pub fn maybe_prune(&mut self, now_secs: i64) {
        self.inserts += 1;
        if !self.inserts.is_multiple_of(4096) {
            return;
        }
        self.access.retain(|_, r| r.exp > now_secs);
        self.refresh.retain(|_, r| r.exp > now_secs);
        self.codes.retain(|_, r| r.exp > now_secs);
        self.assertion_jtis.retain(|_, exp| *exp > now_secs);
        self.dpop_jtis.retain(|_, exp| *exp > now_secs);
        self.transactions.retain(|_, t| t.exp > now_secs);
    }

    /// Ends every session and token of a user (Okta does this on deactivation).
    pub fn revoke_user(&mut self, user_id: &str) {
        self.sessions.retain(|_, s| s.user_id != user_id);
        self.refresh.retain(|_, r| r.user_id != user_id);
        self.codes.retain(|_, c| c.user_id != user_id);
        for r in self.access.values_mut() {
            if r.user_id.as_deref() == Some(user_id) {
                r.revoked = true;
            }
        }
    }
}

/// Wall clock plus an offset that tests can advance.
#[derive(Default)]
pub(crate) struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        real + self.offset_ms.load(Ordering::Relaxed)
    }
    pub fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
    pub fn offset_ms(&self) -> i64 {
        self.offset_ms.load(Ordering::Relaxed)
    }
}

/// The server's DPoP nonce; the previous one stays valid (Okta keeps old nonces for days).
pub(crate) struct DpopNonces {
    pub current: String,
    pub previous: Option<String>,
}

pub(crate) struct AppState {
    pub base_url: String,
    pub store: RwLock<Store>,
    pub tokens: Mutex<Tokens>,
    pub keys: RwLock<KeyRing>,
    pub switches: RwLock<Switches>,
    pub limiter: RateLimiter,
    pub clock: Clock,
    pub request_count: AtomicU64,
    pub rng: Mutex<ChaCha8Rng>,
    pub dpop_nonce: RwLock<DpopNonces>,
    pub tls: bool,
    /// Session cookie name; per port, since browsers share cookies across ports of one host.
    pub cookie_name: String,
}

// Lock helpers: a panic while holding a lock must not take the whole simulator down.
impl AppState {
    pub fn new(base_url: String, store: Store, keys: KeyRing, switches: Switches, seed: u64, tls: bool) -> AppState {
        AppState {
            base_url: base_url.clone(),
            store: RwLock::new(store),
            tokens: Mutex::new(Tokens::default()),
            keys: RwLock::new(keys),
            switches: RwLock::new(switches),
            limiter: RateLimiter::default(),
            clock: Clock::default(),
            request_count: AtomicU64::new(0),
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
            dpop_nonce: RwLock::new(DpopNonces { current: random_token(24), previous: None }),
            tls,
            cookie_name: format!(
                "okta_sim_sid_{}",
                base_url.rsplit(':').next().filter(|p| p.chars().all(|c| c.is_ascii_digit())).unwrap_or("0")
            ),
        }
    }

    pub fn store(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn store_mut(&self) -> RwLockWriteGuard<'_, Store> {
        self.store.write().unwrap_or_else(|e| e.into_inner())
    }
    pub fn tokens(&self) -> MutexGuard<'_, Tokens> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn keys(&self) -> RwLockReadGuard<'_, KeyRing> {
        self.keys.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn keys_mut(&self) -> RwLockWriteGuard<'_, KeyRing> {
        self.keys.write().unwrap_or_else(|e| e.into_inner())
    }
    pub fn switches(&self) -> Switches {
        self.switches.read().unwrap_or_else(|e| e.into_inner()).clone()
    }
    pub fn switches_mut(&self) -> RwLockWriteGuard<'_, Switches> {
        self.switches.write().unwrap_or_else(|e| e.into_inner())
    }
    pub fn rng(&self) -> MutexGuard<'_, ChaCha8Rng> {
        self.rng.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn nonces(&self) -> RwLockReadGuard<'_, DpopNonces> {
        self.dpop_nonce.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn rotate_dpop_nonce(&self) {
        let mut n = self.dpop_nonce.write().unwrap_or_else(|e| e.into_inner());
        let fresh = random_token(24);
        let old = std::mem::replace(&mut n.current, fresh);
        n.previous = Some(old);
    }

    /// The issuer of a server: `{base}` for the org, `{base}/oauth2/{id}` for custom servers.
    pub fn issuer(&self, server: &Server) -> String {
        match server {
            Server::Org => self.base_url.clone(),
            Server::Custom(id) => format!("{}/oauth2/{id}", self.base_url),
        }
    }

    /// The issuer as discovery advertises it (wrong when `wrong_issuer` is on).
    pub fn discovery_issuer(&self, server: &Server, sw: &Switches) -> String {
        let iss = self.issuer(server);
        if sw.wrong_issuer {
            wrong(&iss)
        } else {
            iss
        }
    }

    /// The issuer put into tokens.
    pub fn token_issuer(&self, server: &Server, sw: &Switches) -> String {
        let iss = self.issuer(server);
        if sw.wrong_issuer || sw.wrong_token_issuer {
            wrong(&iss)
        } else {
            iss
        }
    }

    /// `{base}/oauth2/v1` or `{base}/oauth2/{id}/v1`.
    pub fn endpoint_base(&self, server: &Server) -> String {
        match server {
            Server::Org => format!("{}/oauth2/v1", self.base_url),
            Server::Custom(id) => format!("{}/oauth2/{id}/v1", self.base_url),
        }
    }

    /// `http://host:port` for `WWW-Authenticate` realms (Okta writes `http://` there, okta-api.md §3.3).
    pub fn realm(&self) -> String {
        let host = self.base_url.split_once("://").map_or(self.base_url.as_str(), |(_, h)| h);
        format!("http://{host}")
    }
}

fn wrong(iss: &str) -> String {
    format!("{iss}/not-this-issuer")
}
