//! Forward auth: decisions for reverse proxies (nginx `auth_request`, Caddy `forward_auth`,
//! Traefik `ForwardAuth`), and the access sessions they rest on.
//!
//! Sessions: a person's single sign-on session lives on the console's host (the console
//! session, or an application-only one); each application gets a session of its own, in a
//! cookie on its own host named after it, handed over through a one-time code at
//! `/.portcullis/callback`. A cookie for one application is worthless to every other.
//!
//! A decision must cost about as much as a bare handler: the person behind a cookie is
//! cached in memory with the store's change number, and the policies are a compiled
//! snapshot, so the usual decision runs no SQL. Any change to groups, memberships or
//! sessions bumps the change number and the next request reads the database again.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, RwLock},
};

pub use request::{HeaderError, OriginalRequest};

use crate::{
    accounts::{random_token, SignedIn},
    assertion::{AssertionError, Assertions, Claims},
    policies::{path::PathError, Outcome, PolicyError, PolicyService, Subject},
    store::{
        access::{HandoffRow, NewAccessSession},
        now_ms, Store, StoreError,
    },
};

pub mod request;
pub mod snippets;

/// The single sign-on session on the console's host, for people who signed in for the
/// applications only (a console session serves the same purpose for the others).
pub const SSO_COOKIE: &str = "portcullis_sso";
const SECURE_SSO_COOKIE: &str = "__Host-portcullis_sso";
/// Where an application's host trades a one-time code for its cookie (routed to Portcullis by the proxy).
pub const CALLBACK_PATH: &str = "/.portcullis/callback";
/// A one-time code is good for this long: the browser follows it at once.
const HANDOFF_MS: i64 = 60_000;
/// The longest return URL Portcullis keeps (a sign-in's `rd`).
pub const MAX_RETURN_URL: usize = 2048;
/// Allowed decisions are sampled for the audit log: one per person and application this often.
const ALLOW_SAMPLE_MS: i64 = 10 * 60 * 1000;
/// Bounded memory: the person cache is emptied when it grows past this.
const CACHE_LIMIT: usize = 100_000;

/// The single sign-on cookie's name: `__Host-` on https, which browsers accept only
/// host-only, `Secure` and on `/`, so a sibling subdomain cannot plant one.
pub fn sso_cookie_name(secure: bool) -> &'static str {
    if secure {
        SECURE_SSO_COOKIE
    } else {
        SSO_COOKIE
    }
}

/// An application's own cookie: named after the application, so that a cookie minted for
/// one is never even looked at for another.
pub fn app_cookie_name(application_id: &str, secure: bool) -> String {
    let id: String = application_id.chars().filter(char::is_ascii_alphanumeric).collect();
    if secure {
        format!("__Host-portcullis_app_{id}")
    } else {
        format!("portcullis_app_{id}")
    }
}

/// Whether `name` is [`app_cookie_name`]`(application_id, secure)`, without building it:
/// this runs on every request.
pub fn is_app_cookie_of(name: &str, application_id: &str, secure: bool) -> bool {
    let prefix = if secure { "__Host-portcullis_app_" } else { "portcullis_app_" };
    let Some(id) = name.strip_prefix(prefix) else { return false };
    id.bytes().eq(application_id.bytes().filter(u8::is_ascii_alphanumeric))
}

/// Whether a cookie name is one of the applications' (for signing out on an application's host).
pub fn is_app_cookie(name: &str) -> bool {
    name.starts_with("portcullis_app_") || name.starts_with("__Host-portcullis_app_")
}

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("'{0}' is not the address of an application Portcullis protects.")]
    UnknownApplication(String),
    #[error(transparent)]
    Path(#[from] PathError),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Assertion(#[from] AssertionError),
}

/// What the upstream is told about the person: header-safe (no control characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub email: String,
    /// Group names, comma-separated (commas inside names become spaces).
    pub groups: String,
    /// For the signed assertion.
    pub user_id: String,
    pub group_list: Vec<String>,
}

/// Who the cookie belongs to, as decisions need them.
#[derive(Debug)]
struct Person {
    user_id: String,
    /// The one application this session is good for.
    application_id: String,
    subject: Subject,
    /// Removed, deactivated or suspended in the directory: refused whatever the policies say.
    removed: bool,
    identity: Arc<Identity>,
    expires_at: i64,
    change: u64,
    /// The last assertion: signed once per minute and host, not per request.
    assertion: Mutex<Option<CachedAssertion>>,
}

#[derive(Debug)]
struct CachedAssertion {
    minute: i64,
    host: Box<str>,
    token: Arc<str>,
}

fn header_safe(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// What the proxy is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the identity headers and the signed assertion.
    Allow { identity: Arc<Identity>, assertion: Arc<str> },
    /// 200 without identity: a Bypass for everyone, no sign-in needed.
    Bypass,
    /// Sign in first, then come back to `back`, the URL asked for.
    SignIn { back: String },
    /// 403.
    Deny { application: String },
    /// No application has this host and path: 403, nothing to sign in to.
    NoApplication,
    /// The endpoint is pinned to an application that does not serve this host: 403.
    NotPinned,
}

/// A session someone already has, from which application sessions are handed out: the
/// console session, or the single sign-on session of someone without a console role.
#[derive(Debug, Clone)]
pub struct SsoSession {
    pub user_id: String,
    pub identity_id: Option<String>,
    /// The session's row id (never the cookie token).
    pub session_id: String,
    pub expires_at: i64,
}

impl From<&SignedIn> for SsoSession {
    fn from(user: &SignedIn) -> Self {
        Self {
            user_id: user.user_id.clone(),
            identity_id: user.identity_id.clone(),
            session_id: user.session_id.clone(),
            expires_at: user.session_expires_at,
        }
    }
}

/// An application session, ready to become the application's cookie.
#[derive(Debug)]
pub struct Redeemed {
    pub token: String,
    pub cookie_name: String,
    pub max_age_secs: i64,
    pub secure: bool,
    pub return_to: String,
}

/// Forward-auth decisions. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct ForwardAuth {
    store: Store,
    policies: PolicyService,
    assertions: Assertions,
    people: Arc<RwLock<HashMap<String, Arc<Person>>>>,
    sampled: Arc<Mutex<HashMap<u64, i64>>>,
    denials: DenialLimiter,
}

/// Denials written to the audit log per person and application: the first in each minute;
/// the rest are counted and the next written row says how many there were.
type DenialLimiter = crate::audit::AuditLimiter;

/// One denial audit row per person and application this often.
#[cfg(test)]
const DENIAL_AUDIT_MS: i64 = crate::audit::LIMITED_AUDIT_MS;

impl std::fmt::Debug for ForwardAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardAuth").finish_non_exhaustive()
    }
}

fn token_id(token: &str) -> String {
    crate::crypto::sha256_hex(token)
}

/// `https://app.example.com/x?y` → (origin, host with port, path and query).
fn split_url(url: &str) -> Option<(String, String, String)> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") || !parsed.username().is_empty() || parsed.password().is_some() {
        return None;
    }
    let host = parsed.host_str()?;
    let host = match parsed.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let mut path = parsed.path().to_string();
    if let Some(q) = parsed.query() {
        path.push('?');
        path.push_str(q);
    }
    Some((format!("{}://{host}", parsed.scheme()), host, path))
}

impl ForwardAuth {
    pub fn new(store: Store, policies: PolicyService, assertions: Assertions) -> Self {
        Self {
            store,
            policies,
            assertions,
            people: Arc::default(),
            sampled: Arc::default(),
            denials: DenialLimiter::default(),
        }
    }

    /// The published keys upstreams verify assertions with.
    pub fn jwks(&self) -> Arc<str> {
        self.assertions.jwks()
    }

    /// Checks that `url` is an application's address (so sending people there is no open
    /// redirect) and returns the application's id and session duration in milliseconds.
    pub async fn application_for_url(&self, url: &str) -> Result<(String, i64), AccessError> {
        let (_, id, lifetime) = self.application_at(url).await?;
        Ok((id, lifetime))
    }

    /// The URL's origin, and its application's id and session duration in milliseconds.
    async fn application_at(&self, url: &str) -> Result<(String, String, i64), AccessError> {
        let unknown = || AccessError::UnknownApplication(url.chars().take(200).collect());
        // Return URLs are stored with one-time codes: no unbounded rows from anonymous callers.
        if url.len() > MAX_RETURN_URL {
            return Err(unknown());
        }
        let (origin, host, path) = split_url(url).ok_or_else(unknown)?;
        let snapshot = self.policies.snapshot().await?;
        let app = snapshot.find_application(&host, &path).ok_or_else(unknown)?;
        let lifetime = i64::from(app.application.session_duration_minutes.max(1)) * 60_000;
        Ok((origin, app.application.id.clone(), lifetime))
    }

    /// The same check, for callers that only need to know.
    pub async fn application_lifetime(&self, url: &str) -> Result<i64, AccessError> {
        Ok(self.application_for_url(url).await?.1)
    }

    /// A single sign-on session on the console's host for someone who signed in at the
    /// provider for the applications only. Returns the cookie token and the session.
    pub async fn start_sso(
        &self,
        user_id: &str,
        identity_id: Option<&str>,
        lifetime_ms: i64,
    ) -> Result<(String, SsoSession), StoreError> {
        let now = now_ms();
        let token = random_token();
        let id = token_id(&token);
        let expires_at = now + lifetime_ms;
        self.store
            .insert_access_session(
                &NewAccessSession { id: &id, user_id, identity_id, session_id: &id, application_id: None, expires_at },
                now,
            )
            .await?;
        let session = SsoSession {
            user_id: user_id.into(),
            identity_id: identity_id.map(Into::into),
            session_id: id,
            expires_at,
        };
        Ok((token, session))
    }

    /// The single sign-on session behind a cookie, if it is still good.
    pub async fn sso_session(&self, token: &str) -> Result<Option<SsoSession>, StoreError> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let Some(row) = self.store.access_session(&token_id(token)).await? else { return Ok(None) };
        if row.application_id.is_some() || row.expires_at <= now_ms() || row.disabled_at.is_some() {
            return Ok(None);
        }
        Ok(Some(SsoSession {
            user_id: row.user_id,
            identity_id: row.identity_id,
            session_id: row.id,
            expires_at: row.expires_at,
        }))
    }

    /// A one-time code for the application at `return_to`, and the URL on the application's
    /// own host that trades it for the application's cookie. The application session lasts
    /// the application's session duration, within the session it comes from.
    pub async fn hand_off(&self, from: &SsoSession, return_to: &str) -> Result<String, AccessError> {
        let (origin, application_id, lifetime) = self.application_at(return_to).await?;
        let now = now_ms();
        let session_expires_at = (now + lifetime).min(from.expires_at.max(now + 60_000));
        let code = random_token();
        let row = HandoffRow {
            user_id: from.user_id.clone(),
            identity_id: from.identity_id.clone(),
            session_id: from.session_id.clone(),
            application_id,
            return_to: return_to.to_string(),
            session_expires_at,
        };
        self.store.insert_handoff(&token_id(&code), &row, now, now + HANDOFF_MS).await?;
        Ok(format!("{origin}{CALLBACK_PATH}?code={code}"))
    }

    /// Trades a one-time code for an application session. `None`: unknown, used, expired,
    /// or the session it came from ended in the meantime.
    pub async fn redeem(&self, code: &str) -> Result<Option<Redeemed>, AccessError> {
        if code.is_empty() || code.len() > 100 {
            return Ok(None);
        }
        let now = now_ms();
        let Some(h) = self.store.take_handoff(&token_id(code), now).await? else { return Ok(None) };
        if !self.store.parent_session_alive(&h.session_id, now).await? {
            return Ok(None);
        }
        if self.policies.snapshot().await?.application(&h.application_id).is_none() {
            return Ok(None);
        }
        let token = random_token();
        self.store
            .insert_access_session(
                &NewAccessSession {
                    id: &token_id(&token),
                    user_id: &h.user_id,
                    identity_id: h.identity_id.as_deref(),
                    session_id: &h.session_id,
                    application_id: Some(&h.application_id),
                    expires_at: h.session_expires_at,
                },
                now,
            )
            .await?;
        let secure = h.return_to.starts_with("https://");
        Ok(Some(Redeemed {
            cookie_name: app_cookie_name(&h.application_id, secure),
            token,
            max_age_secs: ((h.session_expires_at - now) / 1000).max(1),
            secure,
            return_to: h.return_to,
        }))
    }

    /// Signing out on an application's host: every session of the people these cookies
    /// belong to ends, on every application and on the console. Returns their user ids.
    pub async fn sign_out_tokens(&self, tokens: &[&str]) -> Result<Vec<String>, StoreError> {
        let mut users = Vec::new();
        for token in tokens.iter().filter(|t| !t.is_empty() && t.len() <= 100) {
            if let Some(row) = self.store.access_session(&token_id(token)).await? {
                if !users.contains(&row.user_id) {
                    users.push(row.user_id);
                }
            }
        }
        for user in &users {
            self.sign_out_user(user).await?;
        }
        Ok(users)
    }

    /// Ends every application session and single sign-on session of a person, and their
    /// console sessions.
    pub async fn sign_out_user(&self, user_id: &str) -> Result<(), StoreError> {
        self.store.delete_user_sessions(user_id).await?;
        Ok(())
    }

    /// The decision for a request the proxy forwards. `cookie` finds the first cookie whose
    /// name passes the test it is given;
    /// `pinned` is the application the endpoint is pinned to, if any.
    pub async fn decide<'c>(
        &self,
        request: &OriginalRequest,
        cookie: impl Fn(&dyn Fn(&str) -> bool) -> Option<&'c str>,
        ip: Option<&str>,
        pinned: Option<&str>,
    ) -> Result<Answer, AccessError> {
        let snapshot = self.policies.snapshot().await?;
        if let Some(pin) = pinned {
            if !snapshot.application(pin).is_some_and(|app| app.serves_host(&request.host)) {
                return Ok(Answer::NotPinned);
            }
        }
        let Some(app) = snapshot.route(&request.host, &request.uri)? else {
            return Ok(Answer::NoApplication);
        };
        let secure = request.scheme == "https";
        let token = cookie(&|name: &str| is_app_cookie_of(name, app.id(), secure));
        let person = match token {
            Some(t) if !t.is_empty() && t.len() <= 100 => self.person(t).await?,
            _ => None,
        };
        // A session is good for its own application only.
        let Some(person) = person.filter(|p| p.application_id == app.application.id) else {
            if app.anonymous_bypass().is_some() {
                return Ok(Answer::Bypass);
            }
            return Ok(Answer::SignIn { back: request.url() });
        };
        if person.removed {
            // No more than anyone without a session gets.
            if app.anonymous_bypass().is_some() {
                return Ok(Answer::Bypass);
            }
            if let Some(suppressed) = self.denials.admit(&[&person.user_id, &app.application.id], now_ms()) {
                let (policies, subject, app_id, app_name) = (
                    self.policies.clone(),
                    person.subject.clone(),
                    app.application.id.clone(),
                    app.application.name.clone(),
                );
                let (host, uri, ip) = (request.host.clone(), request.uri.clone(), ip.map(str::to_string));
                tokio::spawn(async move {
                    policies
                        .record_removed_access(&subject, &app_id, &app_name, &host, &uri, ip.as_deref(), suppressed)
                        .await;
                });
            }
            return Ok(Answer::Deny { application: app.application.name.clone() });
        }
        let verdict = app.decide(&person.subject);
        let record = match verdict.outcome {
            Outcome::Allow | Outcome::Bypass => self.sample(&person.user_id, &app.application.id).then_some(0),
            // Refusals are all counted; at most one a minute per person and application is
            // written, carrying how many were not (anonymous callers cannot fill the log).
            Outcome::Block | Outcome::NoMatch => self.denials.admit(&[&person.user_id, &app.application.id], now_ms()),
        };
        if let Some(suppressed) = record {
            // The audit write must not slow the answer: it goes in the background.
            let (policies, subject) = (self.policies.clone(), person.subject.clone());
            let (snapshot, app_id, host, uri) =
                (snapshot.clone(), app.application.id.clone(), request.host.clone(), request.uri.clone());
            let ip = ip.map(str::to_string);
            tokio::spawn(async move {
                if let Some(app) = snapshot.application(&app_id) {
                    let verdict = app.decide(&subject);
                    policies.record_access(&verdict, &subject, &host, &uri, ip.as_deref(), suppressed).await;
                }
            });
        }
        if !verdict.permits() {
            return Ok(Answer::Deny { application: app.application.name.clone() });
        }
        let assertion = self.assertion(&person, app.id(), request.hostname())?;
        Ok(Answer::Allow { identity: person.identity.clone(), assertion })
    }

    /// The signed identity for the upstream: one per person, application, host and minute.
    fn assertion(&self, person: &Person, application_id: &str, host: &str) -> Result<Arc<str>, AccessError> {
        let host = host.strip_suffix('.').unwrap_or(host);
        let now = now_ms() / 1000;
        let minute = now / 60;
        let mut cached = person.assertion.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(c) = cached.as_ref().filter(|c| c.minute == minute && *c.host == *host) {
            return Ok(c.token.clone());
        }
        let who = &person.identity;
        let token: Arc<str> = self
            .assertions
            .sign(&Claims {
                application_id,
                host,
                sub: &who.user_id,
                email: &who.email,
                name: &who.user,
                groups: &who.group_list,
                issued_at: now,
            })?
            .into();
        *cached = Some(CachedAssertion { minute, host: host.into(), token: token.clone() });
        Ok(token)
    }

    fn sample(&self, user_id: &str, app_id: &str) -> bool {
        let now = now_ms();
        let mut sampled = self.sampled.lock().unwrap_or_else(PoisonError::into_inner);
        if sampled.len() > CACHE_LIMIT {
            sampled.clear();
        }
        let key = {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (user_id, app_id).hash(&mut h);
            h.finish()
        };
        match sampled.get(&key) {
            Some(at) if now - at < ALLOW_SAMPLE_MS => false,
            _ => {
                sampled.insert(key, now);
                true
            }
        }
    }

    /// The person behind an application token: from the cache while nothing changed, else
    /// from the database.
    async fn person(&self, token: &str) -> Result<Option<Arc<Person>>, AccessError> {
        let change = self.store.change_number();
        let now = now_ms();
        // Keyed by the token itself: the hot path hashes nothing. Only the database keeps hashes.
        let cached = self.people.read().unwrap_or_else(PoisonError::into_inner).get(token).cloned();
        if let Some(p) = cached {
            if p.change == change && now < p.expires_at {
                return Ok(Some(p));
            }
        }
        let Some(row) = self.store.access_session(&token_id(token)).await? else {
            self.people.write().unwrap_or_else(PoisonError::into_inner).remove(token);
            return Ok(None);
        };
        // The single sign-on session is no application's cookie.
        let Some(application_id) = row.application_id else { return Ok(None) };
        if row.expires_at <= now || row.disabled_at.is_some() {
            return Ok(None);
        }
        let (subject, groups, removed) = match (&row.provider_id, &row.subject) {
            (Some(provider), Some(sub)) => {
                // The directory person tied to this identity by (provider, sub), never by email:
                // removed, deactivated or suspended there, they lose access at once.
                let found = self.policies.directory_subject(provider, sub).await?;
                let removed = found.as_ref().is_some_and(|(_, good)| !good);
                let groups = if removed { Vec::new() } else { self.store.group_names_of(provider, sub).await? };
                let subject = match found {
                    Some((subject, _)) => subject,
                    None => Subject::new(Some(provider.clone()), Some(sub.clone()), &row.email, [])
                        .with_verified_email(row.email_verified),
                };
                (subject, groups, removed)
            }
            // A local console account: only email and Everyone selectors can match it.
            _ => (Subject::new(None, None, &row.email, []).with_verified_email(row.email_verified), Vec::new(), false),
        };
        let identity = Identity {
            user: header_safe(&row.display_name),
            email: header_safe(&row.email),
            groups: header_safe(&groups.iter().map(|g| g.replace(',', " ")).collect::<Vec<_>>().join(",")),
            user_id: row.user_id.clone(),
            group_list: groups,
        };
        let person = Arc::new(Person {
            user_id: row.user_id,
            application_id,
            subject,
            removed,
            identity: Arc::new(identity),
            expires_at: row.expires_at,
            change,
            assertion: Mutex::new(None),
        });
        let mut people = self.people.write().unwrap_or_else(PoisonError::into_inner);
        if people.len() > CACHE_LIMIT {
            people.clear();
        }
        people.insert(token.to_string(), person.clone());
        Ok(Some(person))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn denials_are_written_once_a_minute_per_person_and_application_and_the_rest_counted() {
        let d = DenialLimiter::default();
        assert_eq!(d.admit(&["ann", "wiki"], 0), Some(0));
        for t in 1..=5 {
            assert_eq!(d.admit(&["ann", "wiki"], t * 1000), None);
        }
        // Another application, another person: their own windows.
        assert_eq!(d.admit(&["ann", "git"], 1000), Some(0));
        assert_eq!(d.admit(&["bob", "wiki"], 1000), Some(0));
        // The next minute's first denial says how many were not written.
        assert_eq!(d.admit(&["ann", "wiki"], DENIAL_AUDIT_MS), Some(5));
        assert_eq!(d.admit(&["ann", "wiki"], DENIAL_AUDIT_MS + 1), None);
    }

    #[test]
    fn return_urls_split_into_host_and_path() {
        assert_eq!(
            split_url("https://wiki.example.com/a?b=1"),
            Some(("https://wiki.example.com".into(), "wiki.example.com".into(), "/a?b=1".into()))
        );
        assert_eq!(
            split_url("http://127.0.0.1:8080/"),
            Some(("http://127.0.0.1:8080".into(), "127.0.0.1:8080".into(), "/".into()))
        );
        assert_eq!(split_url("https://user:pw@wiki.example.com/"), None);
        assert_eq!(split_url("javascript:alert(1)"), None);
        assert_eq!(split_url("/relative"), None);
    }

    #[test]
    fn each_application_has_its_own_cookie_and_https_ones_are_host_only() {
        let a = app_cookie_name("0190-aaaa", false);
        assert_eq!(a, "portcullis_app_0190aaaa");
        assert_ne!(a, app_cookie_name("0190-bbbb", false));
        assert_eq!(app_cookie_name("0190-aaaa", true), "__Host-portcullis_app_0190aaaa");
        assert!(is_app_cookie(&a) && is_app_cookie("__Host-portcullis_app_x") && !is_app_cookie(SSO_COOKIE));
        assert!(is_app_cookie_of(&a, "0190-aaaa", false));
        assert!(!is_app_cookie_of(&a, "0190-aaaa", true) && !is_app_cookie_of(&a, "0190-bbbb", false));
        assert!(!is_app_cookie_of("portcullis_app_0190aaaax", "0190-aaaa", false));
        assert!(is_app_cookie_of("__Host-portcullis_app_0190aaaa", "0190-aaaa", true));
        assert_eq!(sso_cookie_name(true), "__Host-portcullis_sso");
    }
}
