//! Forward auth: decisions for reverse proxies (nginx `auth_request`, Caddy `forward_auth`,
//! Traefik `ForwardAuth`), and the access sessions they rest on.
//!
//! A decision must cost about as much as a bare handler: the person behind a cookie is
//! cached in memory with the store's change number, and the policies are a compiled
//! snapshot, so the usual decision runs no SQL. Any change to groups, memberships or
//! sessions bumps the change number and the next request reads the database again.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, PoisonError, RwLock},
};

use sha2::{Digest, Sha256};

use crate::{
    accounts::{random_token, SignedIn},
    policies::{Outcome, PolicyError, PolicyService, Subject},
    store::{now_ms, Store, StoreError},
};

/// The cookie that carries an access session to the applications' hosts.
pub const ACCESS_COOKIE: &str = "portcullis_access";
/// Allowed decisions are sampled for the audit log: one per person and application this often.
const ALLOW_SAMPLE_MS: i64 = 10 * 60 * 1000;
/// Bounded memory: the person cache is emptied when it grows past this.
const CACHE_LIMIT: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("'{0}' is not the address of an application Portcullis protects.")]
    UnknownApplication(String),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What the upstream is told about the person: header-safe (no control characters).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub email: String,
    /// Group names, comma-separated (commas inside names become spaces).
    pub groups: String,
}

/// Who the cookie belongs to, as decisions need them.
#[derive(Debug)]
struct Person {
    user_id: String,
    subject: Subject,
    identity: Arc<Identity>,
    expires_at: i64,
    change: u64,
}

fn header_safe(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).collect()
}

/// What the proxy is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 200 with the identity headers.
    Allow(Arc<Identity>),
    /// 200 without identity: a Bypass for everyone, no sign-in needed.
    Bypass,
    /// 401: sign in first, then come back to `back`, the URL asked for.
    SignIn { back: String },
    /// 403.
    Deny { application: String },
    /// No application has this host and path: 403, nothing to sign in to.
    NoApplication,
}

/// Forward-auth decisions. Cheap to clone; clones share the cache.
#[derive(Clone)]
pub struct ForwardAuth {
    store: Store,
    policies: PolicyService,
    people: Arc<RwLock<HashMap<String, Arc<Person>>>>,
    sampled: Arc<Mutex<HashMap<u64, i64>>>,
}

impl std::fmt::Debug for ForwardAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForwardAuth").finish_non_exhaustive()
    }
}

fn token_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// `https://app.example.com/x?y` → (host with port, path and query).
fn split_url(url: &str) -> Option<(String, String)> {
    let parsed = url::Url::parse(url).ok()?;
    if !matches!(parsed.scheme(), "http" | "https") {
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
    Some((host, path))
}

impl ForwardAuth {
    pub fn new(store: Store, policies: PolicyService) -> Self {
        Self { store, policies, people: Arc::default(), sampled: Arc::default() }
    }

    /// An access session for a signed-in person on their way to `return_to`, an application's
    /// URL (anything else would make this an open redirect). Returns the cookie token and its
    /// lifetime in seconds: the application's session duration, within the console session's.
    pub async fn issue(&self, user: &SignedIn, return_to: &str) -> Result<(String, i64), AccessError> {
        let until = user.session_expires_at;
        self.issue_for(&user.user_id, user.identity_id.as_deref(), Some(&user.session_id), Some(until), return_to).await
    }

    /// The same for someone who signed in at the provider for the applications only (no console session).
    pub async fn issue_for(
        &self,
        user_id: &str,
        identity_id: Option<&str>,
        console_session: Option<&str>,
        not_after: Option<i64>,
        return_to: &str,
    ) -> Result<(String, i64), AccessError> {
        let lifetime = self.application_lifetime(return_to).await?;
        let now = now_ms();
        let expires_at = match not_after {
            Some(until) => (now + lifetime).min(until.max(now + 60_000)),
            None => now + lifetime,
        };
        let token = random_token();
        self.store
            .insert_access_session(&token_id(&token), user_id, identity_id, console_session.unwrap_or(""), now, expires_at)
            .await?;
        Ok((token, (expires_at - now) / 1000))
    }

    /// Checks that `url` is an application's address (so sending people there is no open
    /// redirect) and returns its session duration in milliseconds.
    pub async fn application_lifetime(&self, url: &str) -> Result<i64, AccessError> {
        let (host, path) = split_url(url).ok_or_else(|| AccessError::UnknownApplication(url.to_string()))?;
        let snapshot = self.policies.snapshot().await?;
        let app = snapshot.find_application(&host, &path).ok_or_else(|| AccessError::UnknownApplication(url.to_string()))?;
        Ok(i64::from(app.application.session_duration_minutes.max(1)) * 60_000)
    }

    /// The decision for a request the proxy forwards: `host` and `uri` as the person asked for
    /// them, `token` from the access cookie.
    pub async fn decide(
        &self,
        token: Option<&str>,
        scheme: &str,
        host: &str,
        uri: &str,
        ip: Option<&str>,
    ) -> Result<Answer, AccessError> {
        let snapshot = self.policies.snapshot().await?;
        let Some(app) = snapshot.find_application(host, uri) else {
            return Ok(Answer::NoApplication);
        };
        let person = match token {
            Some(t) if !t.is_empty() && t.len() <= 100 => self.person(t).await?,
            _ => None,
        };
        let Some(person) = person else {
            if app.anonymous_bypass().is_some() {
                return Ok(Answer::Bypass);
            }
            return Ok(Answer::SignIn { back: format!("{scheme}://{host}{uri}") });
        };
        let verdict = app.decide(&person.subject);
        let record = match verdict.outcome {
            Outcome::Allow | Outcome::Bypass => self.sample(&person.user_id, &app.application.id),
            // Every refusal is kept.
            Outcome::Block | Outcome::NoMatch => true,
        };
        if record {
            // The audit write must not slow the answer: it goes in the background.
            let (policies, subject) = (self.policies.clone(), person.subject.clone());
            let (snapshot, host, uri, ip) = (snapshot.clone(), host.to_string(), uri.to_string(), ip.map(str::to_string));
            tokio::spawn(async move {
                if let Some(app) = snapshot.find_application(&host, &uri) {
                    let verdict = app.decide(&subject);
                    policies.record_access(&verdict, &subject, &host, &uri, ip.as_deref()).await;
                }
            });
        }
        Ok(if verdict.permits() {
            Answer::Allow(person.identity.clone())
        } else {
            Answer::Deny { application: app.application.name.clone() }
        })
    }

    /// Ends the access sessions issued from a console session (sign-out).
    pub async fn sign_out(&self, console_session_id: &str) -> Result<(), StoreError> {
        self.store.delete_access_sessions_of(console_session_id).await
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

    /// The person behind a token: from the cache while nothing changed, else from the database.
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
        if row.expires_at <= now || row.disabled_at.is_some() {
            return Ok(None);
        }
        let (subject, groups) = match (&row.provider_id, &row.subject) {
            (Some(provider), Some(sub)) => {
                let subject = self.policies.subject_for(provider, sub).await?;
                let groups = self.store.group_names_of(provider, sub).await?;
                (subject.unwrap_or_else(|| Subject::new(Some(provider.clone()), Some(sub.clone()), &row.email, [])), groups)
            }
            // A local console account: only email and Everyone selectors can match it.
            _ => (Subject::new(None, None, &row.email, []), Vec::new()),
        };
        let identity = Identity {
            user: header_safe(&row.display_name),
            email: header_safe(&row.email),
            groups: header_safe(&groups.iter().map(|g| g.replace(',', " ")).collect::<Vec<_>>().join(",")),
        };
        let person = Arc::new(Person { user_id: row.user_id, subject, identity: Arc::new(identity), expires_at: row.expires_at, change });
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
    fn return_urls_split_into_host_and_path() {
        assert_eq!(split_url("https://wiki.example.com/a?b=1"), Some(("wiki.example.com".into(), "/a?b=1".into())));
        assert_eq!(split_url("http://127.0.0.1:8080/"), Some(("127.0.0.1:8080".into(), "/".into())));
        assert_eq!(split_url("javascript:alert(1)"), None);
        assert_eq!(split_url("/relative"), None);
    }
}
