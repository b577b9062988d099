//! Console accounts: the first admin, local sign-in, server-side sessions.

use std::time::Duration;

use argon2::{
    password_hash::{rand_core::OsRng as HashRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString},
    Argon2,
};
use rand::RngCore;
use sha2::{Digest, Sha256};

pub use crate::credentials::{
    check_password_strength, fold_email, normalize_email, InputError, MAX_EMAIL_LEN, MAX_PASSWORD_CHARS,
    MIN_PASSWORD_CHARS,
};
use crate::{
    audit::{Action, Actor, Audit, Event},
    store::{new_id, now_ms, Store, StoreError, UserRow},
    throttle,
};

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    #[error("Email or password is incorrect.")]
    InvalidCredentials,
    #[error("Too many failed sign-ins. Try again in {} seconds.", .retry_after.as_secs().max(1))]
    Throttled { retry_after: Duration },
    #[error("This account is disabled. Ask another admin to enable it.")]
    Disabled,
    #[error("Sign in with your identity provider: password sign-in is kept for the break-glass account.")]
    LocalRestricted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("The setup token is not right. Copy it from the log of the server's start.")]
    BadToken,
    #[error("Setup is already done: an admin exists. Sign in instead.")]
    AlreadyDone,
    #[error(transparent)]
    Input(#[from] InputError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Debug, thiserror::Error)]
pub enum RestrictError {
    #[error("The break-glass account must be an enabled admin with a password.")]
    NotAnAdmin,
    #[error(transparent)]
    Store(#[from] StoreError),
}

const LOCAL_SIGN_IN_SETTING: &str = "local_sign_in_only";

/// argon2id with the crate's defaults (RFC 9106's second recommendation: 19 MiB, t=2, p=1).
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut HashRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).map(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false)
}

/// A hash to verify against when the account does not exist, so that an
/// unknown email takes as long as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("portcullis-decoy-password").unwrap_or_default())
}

/// A random token for cookies and one-time links: 256 bits, URL-safe.
pub fn random_token() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A session about to be issued: its token (for the cookie) and the id it is stored under.
/// The one place sessions are made, password and SSO alike: the id must be the hash
/// [`Accounts::session`] looks the cookie up by, or the session never resolves.
pub(crate) struct SessionDraft {
    pub token: String,
    pub id: String,
    pub now: i64,
    pub expires_at: i64,
    pub user_agent: Option<String>,
    max_age: Duration,
}

impl SessionDraft {
    pub(crate) fn new(policy: SessionPolicy, client: &ClientInfo) -> Self {
        let token = random_token();
        let now = now_ms();
        Self {
            id: crate::crypto::sha256_hex(&token),
            token,
            now,
            expires_at: now + policy.lifetime.as_millis() as i64,
            user_agent: client.user_agent.as_deref().map(|ua| truncate(ua, 300).to_string()),
            max_age: policy.lifetime,
        }
    }

    /// The session as the browser and the request handlers see it, once stored.
    pub(crate) fn issued(
        self,
        user_id: &str,
        email: &str,
        display_name: &str,
        role: Role,
        identity_id: Option<String>,
    ) -> NewSession {
        NewSession {
            token: self.token,
            user: SignedIn {
                user_id: user_id.to_string(),
                email: email.to_string(),
                display_name: display_name.to_string(),
                role,
                session_id: self.id,
                identity_id,
                refresh_due: false,
                session_expires_at: self.expires_at,
            },
            max_age: self.max_age,
        }
    }
}

/// Compares without leaking where the first difference is.
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter().zip(b.iter()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A console role; the wire type is shared with the browser.
pub use portcullis_types::Role;

/// The signed-in person, as every request sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    pub user_id: String,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    /// The session's database id (a hash), for sign-out.
    pub session_id: String,
    /// Signed in through an identity provider: the linked identity.
    pub identity_id: Option<String>,
    /// The provider's tokens are about to expire: refresh before serving this request.
    pub refresh_due: bool,
    /// The session's absolute end: access sessions for applications never outlive it.
    pub session_expires_at: i64,
}

/// Where a request came from, for throttling and the audit log.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// A session just created: the token goes into the cookie and nowhere else.
#[derive(Debug)]
pub struct NewSession {
    pub token: String,
    pub user: SignedIn,
    pub max_age: Duration,
}

#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    pub idle: Duration,
    pub lifetime: Duration,
}

/// Sign-in, setup and sessions.
#[derive(Clone, Debug)]
pub struct Accounts {
    store: Store,
    audit: Audit,
    policy: SessionPolicy,
    /// Throttled attempts cost nothing to send: one audit row per address and minute.
    throttled: crate::audit::AuditLimiter,
}

/// Writing `last_seen_at` on every request would turn each page view into a
/// write; once a minute is precise enough for idle expiry.
const TOUCH_EVERY_MS: i64 = 60_000;

/// Provider sessions refresh this long before their tokens expire, so a request never
/// runs on an expired grant.
pub const REFRESH_AHEAD_MS: i64 = 30_000;

impl Accounts {
    pub fn new(store: Store, policy: SessionPolicy) -> Self {
        let audit = Audit::new(store.clone());
        Self { store, audit, policy, throttled: Default::default() }
    }

    pub fn audit(&self) -> &Audit {
        &self.audit
    }

    pub async fn needs_setup(&self) -> Result<bool, StoreError> {
        Ok(self.store.count_admins().await? == 0)
    }

    /// Creates the first admin from `PORTCULLIS_ADMIN_*` when there is none yet.
    pub async fn ensure_admin_from_settings(&self, email: &str, password: &str) -> Result<bool, SetupError> {
        let email = normalize_email(email)?;
        check_password_strength(password)?;
        if !self.needs_setup().await? {
            return Ok(false);
        }
        let hash = hash_password(password).map_err(|_| SetupError::Input(InputError::PasswordTooLong))?;
        let id = new_id();
        let created = self.store.insert_first_admin(&id, &email, "", &hash).await?;
        if created {
            self.audit
                .record_or_log(Event::new(Actor::System, Action::AdminCreatedFromSettings).target(email.clone()))
                .await;
        }
        Ok(created)
    }

    /// `/setup`: checks the one-time token, creates the first admin and signs them in.
    pub async fn complete_setup(
        &self,
        expected_token: &str,
        form: SetupForm<'_>,
        client: &ClientInfo,
    ) -> Result<NewSession, SetupError> {
        if !self.needs_setup().await? {
            return Err(SetupError::AlreadyDone);
        }
        if expected_token.is_empty() || !constant_time_eq(form.token.trim(), expected_token) {
            return Err(SetupError::BadToken);
        }
        let email = normalize_email(form.email)?;
        let name = form.display_name.trim();
        if name.chars().count() > 200 {
            return Err(InputError::NameTooLong.into());
        }
        check_password_strength(form.password)?;
        if form.password != form.password_confirm {
            return Err(InputError::PasswordMismatch.into());
        }
        let hash = hash_password(form.password).map_err(|_| SetupError::Input(InputError::PasswordTooLong))?;
        let id = new_id();
        if !self.store.insert_first_admin(&id, &email, name, &hash).await? {
            return Err(SetupError::AlreadyDone);
        }
        let actor = Actor::User { id: id.clone(), email: email.clone() };
        self.audit
            .record_or_log(Event::new(actor, Action::SetupCompleted).target(email.clone()).ip(client.ip.as_deref()))
            .await;
        let user = self.store.user_by_id(&id).await?.ok_or(SetupError::AlreadyDone)?;
        Ok(self.start_session(&user, Role::Admin, client).await?)
    }

    /// Local sign-in with email and password.
    pub async fn sign_in(&self, email: &str, password: &str, client: &ClientInfo) -> Result<NewSession, SignInError> {
        let now = now_ms();
        // Whatever was typed is what gets throttled: no lookup needed to refuse. Longer than any
        // address can be, it is no account: refused before it becomes a throttle key or audit target.
        let email = fold_email(email);
        if email.len() > MAX_EMAIL_LEN {
            return Err(SignInError::InvalidCredentials);
        }
        let account_key = throttle::account_key(&email);
        let address_key = client.ip.as_deref().map(throttle::address_key);

        let mut wait = throttle::wait_ms(&self.store, &account_key, now).await?;
        if let Some(key) = &address_key {
            wait = wait.max(throttle::wait_ms(&self.store, key, now).await?);
        }
        if wait > 0 {
            if let Some(suppressed) = self.throttled.admit(&["throttled", client.ip.as_deref().unwrap_or("")], now) {
                let mut event = Event::new(Actor::Anonymous, Action::SignInThrottled)
                    .target(email.clone())
                    .failed()
                    .ip(client.ip.as_deref())
                    .detail("retry_after_seconds", (wait + 999) / 1000);
                if suppressed > 0 {
                    event = event.detail(
                        "and_more",
                        format!("and {suppressed} more throttled attempts from this address in the minute before"),
                    );
                }
                self.audit.record_or_log(event).await;
            }
            return Err(SignInError::Throttled { retry_after: Duration::from_millis(wait as u64) });
        }

        let user = self.store.user_by_email(&email).await?;
        let verified = match &user {
            Some(UserRow { password_hash: Some(hash), .. }) => verify_password(password, hash),
            _ => {
                verify_password(password, decoy_hash());
                false
            }
        };
        let role = user.as_ref().and_then(|u| u.role.as_deref()).and_then(Role::parse);

        let (user, role) = match (user, role, verified) {
            (Some(user), Some(role), true) => (user, role),
            (user, _, _) => {
                // A right password without a console role still counts as a failure.
                let reason = match (&user, verified) {
                    (None, _) => "unknown account",
                    (Some(_), false) => "wrong password",
                    (Some(_), true) => "no console role",
                };
                throttle::record_failure(&self.store, &account_key, throttle::ACCOUNT, now).await?;
                if let Some(key) = &address_key {
                    throttle::record_failure(&self.store, key, throttle::ADDRESS, now).await?;
                }
                self.audit
                    .record_or_log(
                        Event::new(Actor::Anonymous, Action::SignInFailed)
                            .target(email.clone())
                            .failed()
                            .ip(client.ip.as_deref())
                            .detail("reason", reason)
                            .detail("method", "password"),
                    )
                    .await;
                return Err(SignInError::InvalidCredentials);
            }
        };
        if user.disabled_at.is_some() {
            self.audit
                .record_or_log(
                    Event::new(Actor::User { id: user.id.clone(), email: user.email.clone() }, Action::SignInFailed)
                        .target(user.email.clone())
                        .failed()
                        .ip(client.ip.as_deref())
                        .detail("reason", "account disabled"),
                )
                .await;
            return Err(SignInError::Disabled);
        }
        if let Some(only) = self.break_glass_account().await? {
            if only != user.email {
                self.audit
                    .record_or_log(
                        Event::new(
                            Actor::User { id: user.id.clone(), email: user.email.clone() },
                            Action::SignInFailed,
                        )
                        .target(user.email.clone())
                        .failed()
                        .ip(client.ip.as_deref())
                        .detail("reason", "password sign-in is limited to the break-glass account"),
                    )
                    .await;
                return Err(SignInError::LocalRestricted);
            }
        }
        self.store.throttle_clear(&account_key).await?;
        let session = self.start_session(&user, role, client).await?;
        self.audit
            .record_or_log(
                Event::new(Actor::User { id: user.id.clone(), email: user.email.clone() }, Action::SignIn)
                    .target(user.email.clone())
                    .ip(client.ip.as_deref())
                    .detail("method", "password"),
            )
            .await;
        Ok(session)
    }

    async fn start_session(&self, user: &UserRow, role: Role, client: &ClientInfo) -> Result<NewSession, StoreError> {
        let draft = SessionDraft::new(self.policy, client);
        self.store
            .insert_session(
                &draft.id,
                &user.id,
                draft.now,
                draft.expires_at,
                client.ip.as_deref(),
                draft.user_agent.as_deref(),
                None,
            )
            .await?;
        Ok(draft.issued(&user.id, &user.email, &user.display_name, role, None))
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// The signed-in user behind a cookie token, if the session is still valid.
    pub async fn session(&self, token: &str) -> Result<Option<SignedIn>, StoreError> {
        if token.is_empty() || token.len() > 100 {
            return Ok(None);
        }
        let id = crate::crypto::sha256_hex(token);
        let Some((session, user)) = self.store.session_with_user(&id).await? else {
            return Ok(None);
        };
        let now = now_ms();
        let idle_ms = self.policy.idle.as_millis() as i64;
        let role = session.role.as_deref().or(user.role.as_deref()).and_then(Role::parse);
        let expired = now >= session.expires_at || now - session.last_seen_at >= idle_ms;
        if expired || user.disabled_at.is_some() || role.is_none() {
            self.store.delete_session(&id).await?;
            return Ok(None);
        }
        if now - session.last_seen_at >= TOUCH_EVERY_MS {
            self.store.touch_session(&id, now).await?;
        }
        let refresh_due = session.tokens_expire_at.is_some_and(|at| now >= at - REFRESH_AHEAD_MS);
        Ok(role.map(|role| SignedIn {
            user_id: user.id,
            email: user.email,
            display_name: user.display_name,
            role,
            session_id: id,
            identity_id: session.identity_id,
            refresh_due,
            session_expires_at: session.expires_at,
        }))
    }

    pub async fn sign_out(&self, user: &SignedIn, client: &ClientInfo) -> Result<(), StoreError> {
        // Out of the console is out of the applications behind it too.
        self.store.delete_access_sessions_of_user(&user.user_id).await?;
        self.store.delete_session(&user.session_id).await?;
        self.audit
            .record_or_log(
                Event::new(Actor::User { id: user.user_id.clone(), email: user.email.clone() }, Action::SignOut)
                    .target(user.email.clone())
                    .ip(client.ip.as_deref()),
            )
            .await;
        Ok(())
    }

    /// When set, password sign-in is open to this one account (an admin) only.
    pub async fn break_glass_account(&self) -> Result<Option<String>, StoreError> {
        Ok(self.store.console_setting(LOCAL_SIGN_IN_SETTING).await?.filter(|v| !v.is_empty()))
    }

    /// Limits password sign-in to one admin account, or (with `None`) opens it to every account again.
    pub async fn restrict_local_sign_in(&self, by: &SignedIn, only: Option<&str>) -> Result<(), RestrictError> {
        let value = match only {
            Some(email) => {
                let email = normalize_email(email).map_err(|_| RestrictError::NotAnAdmin)?;
                let user = self.store.user_by_email(&email).await?.ok_or(RestrictError::NotAnAdmin)?;
                let usable =
                    user.role.as_deref() == Some("admin") && user.password_hash.is_some() && user.disabled_at.is_none();
                if !usable {
                    return Err(RestrictError::NotAnAdmin);
                }
                email
            }
            None => String::new(),
        };
        self.store.set_console_setting(LOCAL_SIGN_IN_SETTING, &value).await?;
        self.audit
            .record_or_log(
                Event::new(
                    Actor::User { id: by.user_id.clone(), email: by.email.clone() },
                    Action::LocalSignInRestricted,
                )
                .detail(
                    "break_glass_account",
                    if value.is_empty() { serde_json::Value::Null } else { value.clone().into() },
                ),
            )
            .await;
        Ok(())
    }

    /// Housekeeping: forget expired sessions.
    pub async fn purge_expired_sessions(&self) -> Result<u64, StoreError> {
        // Throttle rows too: writes purge them, this catches a quiet database.
        throttle::purge(&self.store, now_ms()).await?;
        self.store.delete_expired_sessions(now_ms(), self.policy.idle.as_millis() as i64).await
    }
}

/// The `/setup` form as typed.
#[derive(Debug, Clone, Copy)]
pub struct SetupForm<'a> {
    pub token: &'a str,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password: &'a str,
    pub password_confirm: &'a str,
}

fn truncate(s: &str, max_chars: usize) -> &str {
    match s.char_indices().nth(max_chars) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AuditQuery;

    const PASSWORD: &str = "correct horse battery staple";

    async fn accounts() -> (Accounts, Store) {
        let store = Store::in_memory().await.unwrap();
        let policy = SessionPolicy { idle: Duration::from_secs(600), lifetime: Duration::from_secs(3600) };
        (Accounts::new(store.clone(), policy), store)
    }

    fn client() -> ClientInfo {
        ClientInfo { ip: Some("192.0.2.7".into()), user_agent: Some("test".into()) }
    }

    fn setup_form<'a>(token: &'a str, email: &'a str) -> SetupForm<'a> {
        SetupForm { token, email, display_name: "Ada", password: PASSWORD, password_confirm: PASSWORD }
    }

    async fn actions(store: &Store) -> Vec<(String, String)> {
        let page = store.audit_page(&AuditQuery { limit: 100, ..Default::default() }).await.unwrap();
        page.records.into_iter().rev().map(|r| (r.action, r.outcome)).collect()
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(normalize_email("  Ada@Example.COM ").unwrap(), "ada@example.com");
        for bad in ["", "ada", "ada@", "@example.com", "ada@example", "a b@example.com", "ada@.com", "a@b@c.com"] {
            assert_eq!(normalize_email(bad), Err(InputError::InvalidEmail), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password(PASSWORD).unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password(PASSWORD, &hash));
        assert!(!verify_password("wrong", &hash));
        assert!(!verify_password(PASSWORD, "not a hash"));
    }

    #[tokio::test]
    async fn setup_needs_the_token_and_happens_once() {
        let (accounts, store) = accounts().await;
        assert!(accounts.needs_setup().await.unwrap());
        let err = accounts.complete_setup("tok", setup_form("wrong", "ada@example.com"), &client()).await.unwrap_err();
        assert!(matches!(err, SetupError::BadToken));
        let session = accounts.complete_setup("tok", setup_form("tok", "Ada@Example.com"), &client()).await.unwrap();
        assert_eq!(session.user.email, "ada@example.com");
        assert_eq!(session.user.role, Role::Admin);
        assert!(!accounts.needs_setup().await.unwrap());
        let err = accounts.complete_setup("tok", setup_form("tok", "eve@example.com"), &client()).await.unwrap_err();
        assert!(matches!(err, SetupError::AlreadyDone));
        assert_eq!(actions(&store).await, vec![("setup.completed".into(), "success".into())]);
    }

    #[tokio::test]
    async fn setup_refuses_mismatched_passwords() {
        let (accounts, _) = accounts().await;
        let mut form = setup_form("tok", "ada@example.com");
        form.password_confirm = "something else entirely";
        let err = accounts.complete_setup("tok", form, &client()).await.unwrap_err();
        assert!(matches!(err, SetupError::Input(InputError::PasswordMismatch)));
        assert!(accounts.needs_setup().await.unwrap(), "nothing was created");
    }

    #[tokio::test]
    async fn sign_in_creates_a_session_that_resolves_and_signs_out() {
        let (accounts, store) = accounts().await;
        accounts.ensure_admin_from_settings("ada@example.com", PASSWORD).await.unwrap();
        let session = accounts.sign_in("ADA@example.com", PASSWORD, &client()).await.unwrap();
        let me = accounts.session(&session.token).await.unwrap().expect("session is valid");
        assert_eq!(me.email, "ada@example.com");
        assert_ne!(me.session_id, session.token, "the database keeps a hash, not the token");
        accounts.sign_out(&me, &client()).await.unwrap();
        assert!(accounts.session(&session.token).await.unwrap().is_none());
        assert_eq!(
            actions(&store).await,
            vec![
                ("setup.admin_from_settings".into(), "success".into()),
                ("auth.sign_in".into(), "success".into()),
                ("auth.sign_out".into(), "success".into()),
            ]
        );
    }

    #[tokio::test]
    async fn a_wrong_password_fails_and_is_audited_without_the_password() {
        let (accounts, store) = accounts().await;
        accounts.ensure_admin_from_settings("ada@example.com", PASSWORD).await.unwrap();
        let err = accounts.sign_in("ada@example.com", "guess-number-one", &client()).await.unwrap_err();
        assert!(matches!(err, SignInError::InvalidCredentials));
        let page = store.audit_page(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
        let failed = &page.records[0];
        assert_eq!(failed.action, "auth.sign_in_failed");
        assert_eq!(failed.target.as_deref(), Some("ada@example.com"));
        assert_eq!(failed.ip.as_deref(), Some("192.0.2.7"));
        assert!(!failed.details.contains("guess-number-one"));
    }

    #[tokio::test]
    async fn repeated_failures_are_slowed_down_even_with_the_right_password() {
        let (accounts, _) = accounts().await;
        accounts.ensure_admin_from_settings("ada@example.com", PASSWORD).await.unwrap();
        for _ in 0..throttle::ACCOUNT.free_failures + 1 {
            let _ = accounts.sign_in("ada@example.com", "wrong password!", &client()).await;
        }
        let err = accounts.sign_in("ada@example.com", PASSWORD, &client()).await.unwrap_err();
        assert!(matches!(err, SignInError::Throttled { .. }), "{err:?}");
    }

    #[tokio::test]
    async fn an_over_long_sign_in_email_is_refused_before_it_is_stored_anywhere() {
        let (accounts, store) = accounts().await;
        let long = format!("{}@example.com", "a".repeat(10_000));
        let err = accounts.sign_in(&long, PASSWORD, &client()).await.unwrap_err();
        assert!(matches!(err, SignInError::InvalidCredentials));
        assert!(store.throttle_get(&throttle::account_key(&long)).await.unwrap().is_none());
        let page = store.audit_page(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
        assert!(page.records.iter().all(|r| r.target.as_deref().is_none_or(|t| t.len() <= MAX_EMAIL_LEN)));
    }

    #[test]
    fn email_folding_lower_cases_ascii_only() {
        assert_eq!(fold_email("  Ann.Lee@Corp.COM "), "ann.lee@corp.com");
        // The Kelvin sign is not 'k': the address stays distinct from kim@corp.com.
        assert_eq!(fold_email("\u{212A}im@corp.com"), "\u{212A}im@corp.com");
        assert_ne!(fold_email("\u{212A}im@corp.com"), fold_email("kim@corp.com"));
        // Nor does any other non-ASCII capital fold (no 'İ' → "i̇").
        assert_eq!(fold_email("\u{130}@corp.com"), "\u{130}@corp.com");
        assert_eq!(normalize_email("\u{212A}IM@Corp.com").unwrap(), "\u{212A}im@corp.com");
    }

    #[tokio::test]
    async fn unknown_accounts_fail_like_wrong_passwords() {
        let (accounts, _) = accounts().await;
        let err = accounts.sign_in("nobody@example.com", PASSWORD, &client()).await.unwrap_err();
        assert!(matches!(err, SignInError::InvalidCredentials));
    }

    #[tokio::test]
    async fn idle_and_expired_sessions_are_refused() {
        let store = Store::in_memory().await.unwrap();
        let policy = SessionPolicy { idle: Duration::from_millis(1), lifetime: Duration::from_secs(3600) };
        let accounts = Accounts::new(store.clone(), policy);
        accounts.ensure_admin_from_settings("ada@example.com", PASSWORD).await.unwrap();
        let session = accounts.sign_in("ada@example.com", PASSWORD, &client()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(accounts.session(&session.token).await.unwrap().is_none(), "idle too long");

        let policy = SessionPolicy { idle: Duration::from_secs(600), lifetime: Duration::from_millis(1) };
        let accounts = Accounts::new(store, policy);
        let session = accounts.sign_in("ada@example.com", PASSWORD, &client()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
        assert!(accounts.session(&session.token).await.unwrap().is_none(), "past its lifetime");
    }

    #[tokio::test]
    async fn disabled_accounts_lose_their_sessions() {
        let (accounts, store) = accounts().await;
        accounts.ensure_admin_from_settings("ada@example.com", PASSWORD).await.unwrap();
        let session = accounts.sign_in("ada@example.com", PASSWORD, &client()).await.unwrap();
        store.set_user_disabled(&session.user.user_id, true).await.unwrap();
        assert!(accounts.session(&session.token).await.unwrap().is_none());
        let err = accounts.sign_in("ada@example.com", PASSWORD, &client()).await.unwrap_err();
        assert!(matches!(err, SignInError::Disabled));
    }

    #[tokio::test]
    async fn the_admin_from_settings_is_created_once() {
        let (accounts, _) = accounts().await;
        assert!(accounts.ensure_admin_from_settings("ada@example.com", PASSWORD).await.unwrap());
        assert!(!accounts.ensure_admin_from_settings("bob@example.com", PASSWORD).await.unwrap());
    }
}
