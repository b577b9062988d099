//! Signing in to the console through the Okta simulator, over real HTTP: the authorization
//! code flow with PKCE driven by a plain HTTP client through the simulator's sign-in page,
//! every refusal with its audit entry and without a session, refresh, and sign-out.

use std::time::Duration;

use okta_sim::{sample, ControlOp, Fixture, Options, Sim};
use portcullis_domain::{
    accounts::{Accounts, ClientInfo, NewSession, Role, SessionPolicy, SignedIn},
    audit::{Action, Actor},
    crypto::SecretBox,
    providers::{
        parse_scopes,
        service::{DirectoryInput, ProviderError, ProviderInput, ProviderService, SecretInput},
        AuthServer, ClientSettings, ProviderKind,
    },
    settings::Secret,
    sso::{roles::RoleMappings, CallbackInput, Finished, Purpose, Refused, SsoService},
    store::{new_id, AuditQuery, DirectoryQuery, Store},
};
use rand::{distributions::Alphanumeric, Rng};
use reqwest::{header::LOCATION, redirect::Policy, StatusCode};
use serde_json::Value;

/// The console's public address as the sample app registers it; never contacted: the
/// callback URL is only read from the simulator's `Location` header.
use super::support::{admin, admin_caller, editor, loopback_outbound, raw_count, raw_execute, store_with_url};

const PUBLIC_BASE: &str = "http://127.0.0.1:3000";
const SCOPES: &str = "openid profile email groups offline_access";
const ADA: &str = sample::SIGN_IN_LOGIN;
const ALAN: &str = sample::SECOND_LOGIN;
const ADMINS: &str = "Portcullis Admins";
const ADMINS_ID: &str = "00gA57E6NO34cNkPLrh1";

struct Env {
    sim: Sim,
    _dir: tempfile::TempDir,
    db_url: String,
    store: Store,
    sso: SsoService,
    accounts: Accounts,
    roles: RoleMappings,
    providers: ProviderService,
    provider_id: String,
}

/// A browser: its own cookie jar at the simulator, and the console's login-binding cookie.
struct Browser {
    http: reqwest::Client,
    cookie: String,
}

fn browser() -> Browser {
    let http = reqwest::Client::builder().cookie_store(true).redirect(Policy::none()).build().unwrap();
    let cookie: String = rand::thread_rng().sample_iter(&Alphanumeric).take(43).map(char::from).collect();
    Browser { http, cookie }
}

/// The actor who makes role mappings; not stored anywhere but in the audit log.
fn root() -> SignedIn {
    SignedIn {
        user_id: "admin-1".into(),
        email: "root@example.com".into(),
        display_name: "Root".into(),
        role: Role::Admin,
        session_id: "session-of-root".into(),
        identity_id: None,
        refresh_due: false,
        session_expires_at: i64::MAX,
    }
}

fn client() -> ClientInfo {
    ClientInfo::default()
}

async fn env() -> Env {
    env_with(|_| {}).await
}

/// A simulator (switches adjusted before the provider is created), a database file, the
/// provider created through the wizard's service so discovery is on record, and
/// "Portcullis Admins" mapped to Admin.
async fn env_with(switches: impl FnOnce(&mut okta_sim::Switches)) -> Env {
    env_full(switches, DirectoryInput::Off).await
}

async fn env_full(switches: impl FnOnce(&mut okta_sim::Switches), directory: DirectoryInput) -> Env {
    env_kind(ProviderKind::Okta, switches, directory).await
}

async fn env_kind(
    kind: ProviderKind,
    switches: impl FnOnce(&mut okta_sim::Switches),
    directory: DirectoryInput,
) -> Env {
    let mut sw = Fixture::sample().switches.clone();
    switches(&mut sw);
    let sim = Sim::start_local(Fixture::sample(), Options { switches: Some(sw), ..Options::default() }).await.unwrap();
    let (dir, store, db_url) = store_with_url().await;
    let secrets = SecretBox::from_key(&[7u8; 32]);
    let outbound = loopback_outbound(None);
    let providers =
        ProviderService::new(store.clone(), secrets.clone(), outbound.clone(), format!("{PUBLIC_BASE}/auth/callback"));
    let saved = providers
        .create(
            &admin(),
            Role::Admin,
            None,
            ProviderInput {
                kind,
                name: "Acme Okta".into(),
                base_url: sim.base_url().to_string(),
                client_id: sample::OIDC_CLIENT_ID.into(),
                client_secret: SecretInput::Replace(Secret::new(sample::OIDC_CLIENT_SECRET)),
                auth_server: AuthServer::Org,
                scopes: SCOPES.into(),
                groups_claim: "groups".into(),
                pkce: true,
                asserts_verified_email: None,
                directory,
                connect_again: false,
                dry_run: false,
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the provider is not created: {e:?}"));
    let policy = SessionPolicy { idle: Duration::from_secs(600), lifetime: Duration::from_secs(3600) };
    let sso = SsoService::new(store.clone(), secrets, outbound, PUBLIC_BASE, policy);
    let roles = RoleMappings::new(store.clone());
    roles.add(&admin_caller(), &saved.id, ADMINS, "admin", false).await.unwrap();
    Env {
        sim,
        _dir: dir,
        db_url,
        accounts: Accounts::new(store.clone(), policy),
        store,
        sso,
        roles,
        providers,
        provider_id: saved.id,
    }
}

fn location(r: &reqwest::Response) -> String {
    r.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string()
}

/// A hidden input's value on the sign-in page.
fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

/// The form's action on the sign-in page.
fn form_action(html: &str) -> String {
    let marker = "action=\"";
    let start = html.find(marker).unwrap_or_else(|| panic!("no form in {html}")) + marker.len();
    html[start..].split('"').next().unwrap().replace("&amp;", "&")
}

/// What the browser brings back to `/auth/callback`.
fn callback_of(redirect: &str) -> CallbackInput {
    assert!(redirect.starts_with(&format!("{PUBLIC_BASE}/auth/callback?")), "not our callback: {redirect}");
    let url = url::Url::parse(redirect).unwrap();
    let get = |k: &str| url.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    CallbackInput {
        code: get("code"),
        state: get("state"),
        error: get("error"),
        error_description: get("error_description"),
        iss: get("iss"),
    }
}

impl Browser {
    /// Follows an authorization URL at the simulator: signs in on its page when it shows one
    /// (a browser already signed in there is sent straight back). Returns the callback URL.
    async fn at_provider(&self, authorize_url: &str, login: &str) -> String {
        let r = self.http.get(authorize_url).send().await.unwrap();
        if r.status() == StatusCode::FOUND {
            return location(&r);
        }
        assert_eq!(r.status(), StatusCode::OK, "the sign-in page: {}", r.text().await.unwrap_or_default());
        let html = r.text().await.unwrap();
        let tx = hidden(&html, "tx");
        let r = self
            .http
            .post(form_action(&html))
            .form(&[("tx", tx.as_str()), ("username", login), ("password", sample::SIGN_IN_PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::FOUND, "signing in as {login}: {}", r.text().await.unwrap_or_default());
        location(&r)
    }
}

impl Env {
    fn control(&self) -> okta_sim::Control {
        self.sim.control()
    }

    fn okta_user(&self, login: &str) -> String {
        self.control().user_id(login).unwrap()
    }

    fn okta_group(&self, name: &str) -> String {
        self.control().group_id(name).unwrap()
    }

    /// Starts a sign-in in this browser and goes through the simulator: the callback it comes back with.
    async fn authorize(&self, b: &Browser, login: &str) -> CallbackInput {
        let started = self.sso.start(&self.provider_id, Purpose::SignIn, "/policies", Some(&b.cookie)).await.unwrap();
        assert_eq!(started.browser_cookie, b.cookie, "the browser keeps its binding cookie");
        callback_of(&b.at_provider(&started.authorize_url, login).await)
    }

    async fn callback(&self, b: &Browser, input: &CallbackInput) -> Result<Finished, Refused> {
        self.sso.callback(input, Some(&b.cookie), None, &client()).await
    }

    async fn sign_in(&self, b: &Browser, login: &str) -> Result<Finished, Refused> {
        let input = self.authorize(b, login).await;
        self.callback(b, &input).await
    }

    async fn signed_in(&self, b: &Browser, login: &str) -> NewSession {
        session_of(self.sign_in(b, login).await)
    }

    async fn refused(&self, b: &Browser, login: &str) -> Refused {
        match self.sign_in(b, login).await {
            Err(r) => r,
            Ok(f) => panic!("{login} was let in: {f:?}"),
        }
    }

    /// Audit entries of this action, newest first: (target, actor, outcome, details).
    async fn audit(&self, action: Action) -> Vec<(Option<String>, String, String, Value)> {
        let q = AuditQuery { action: Some(action.as_str().into()), limit: 500, ..Default::default() };
        let page = self.store.audit_page(&q).await.unwrap();
        page.records
            .into_iter()
            .map(|r| (r.target, r.actor, r.outcome, serde_json::from_str(&r.details).unwrap()))
            .collect()
    }

    /// A refusal left its audit entry, a failure with the reason code.
    async fn assert_audited(&self, action: Action, reason: &str) {
        let entries = self.audit(action).await;
        assert!(
            entries.iter().any(|(_, _, outcome, d)| outcome == "failure" && d["reason"] == reason),
            "no {} entry with reason {reason}: {entries:#?}",
            action.as_str()
        );
    }

    /// Rows of a table, read past the store as an auditor would.
    async fn count(&self, table: &str) -> i64 {
        raw_count(&self.db_url, table).await
    }

    async fn sessions(&self) -> i64 {
        self.count("sessions").await
    }

    /// Names of the directory groups the sign-in recorded for this Okta user.
    async fn directory_groups_of(&self, okta_user_id: &str) -> Vec<String> {
        let q = DirectoryQuery { provider_id: Some(self.provider_id.clone()), limit: 500, ..Default::default() };
        let user =
            self.store.directory_users(&q).await.unwrap().items.into_iter().find(|u| u.external_id == okta_user_id);
        let user = user.unwrap_or_else(|| panic!("{okta_user_id} is not in the directory"));
        assert_eq!(user.source, "sign_in");
        self.store.directory_user_groups(&user.id).await.unwrap().into_iter().map(|g| g.name).collect()
    }
}

fn session_of(result: Result<Finished, Refused>) -> NewSession {
    match result {
        Ok(Finished::SignedIn { session, .. }) => session,
        other => panic!("not signed in: {other:?}"),
    }
}

fn code_of(result: &Result<Finished, Refused>) -> &'static str {
    match result {
        Err(r) => r.code.as_str(),
        Ok(f) => panic!("expected a refusal, got {f:?}"),
    }
}

#[tokio::test]
async fn a_full_sign_in_creates_an_account_keyed_by_subject_a_session_with_the_mapped_role_and_records_the_groups() {
    let e = env().await;
    let b = browser();
    let finished = e.sign_in(&b, ADA).await;
    let Ok(Finished::SignedIn { session, return_to }) = finished else { panic!("not signed in: {finished:?}") };
    assert_eq!(return_to, "/policies");
    assert_eq!(session.user.role, Role::Admin);
    assert_eq!(session.user.email, ADA);
    assert_eq!(session.user.display_name, "Ada Lovelace");

    // The account is keyed by (provider, sub), sub being Okta's user id, not the email.
    let sub = e.okta_user(ADA);
    let identity =
        e.store.identity_by_subject(&e.provider_id, &sub).await.unwrap().expect("an identity for (provider, sub)");
    assert_eq!(identity.user_id, session.user.user_id);
    assert_eq!(session.user.identity_id.as_deref(), Some(identity.id.as_str()));
    let account = e.store.user_by_id(&identity.user_id).await.unwrap().unwrap();
    assert_eq!(account.email, ADA);
    assert!(account.password_hash.is_none(), "no password for an account of the provider");
    assert!(account.role.is_none(), "the role comes from the groups, per session");

    // The session cookie's token opens a session with the mapped role.
    let current = e.accounts.session(&session.token).await.unwrap().expect("the session");
    assert_eq!(current.role, Role::Admin);
    assert_eq!(current.user_id, identity.user_id);
    assert!(!current.refresh_due, "hour-long tokens are not due yet");
    assert_eq!(e.sessions().await, 1);

    // The groups the claim named are in the directory, as seen at sign-in.
    let groups = e.directory_groups_of(&sub).await;
    for g in [ADMINS, "IT", "Everyone"] {
        assert!(groups.iter().any(|n| n == g), "{g} missing from {groups:?}");
    }
    let signed = e.audit(Action::SignIn).await;
    assert_eq!(signed.len(), 1);
    assert_eq!(signed[0].3["method"], "sso");
    assert_eq!(signed[0].3["role"], "admin");
    assert_eq!(signed[0].3["groups_source"], "claim");

    // A second sign-in is the same account and identity, not a new one.
    let again = e.signed_in(&b, ADA).await;
    assert_eq!(again.user.user_id, session.user.user_id);
    assert_eq!(e.count("users").await, 1);
    assert_eq!(e.count("user_identities").await, 1);
    assert_eq!(e.sessions().await, 2);
}

#[tokio::test]
async fn a_person_whose_groups_map_to_no_role_is_refused_with_an_outcome_only_their_browser_sees_and_no_mapped_group_names(
) {
    let e = env().await;
    let b = browser();
    let refused = e.refused(&b, ALAN).await;
    assert_eq!(refused.code, "no_role");
    e.assert_audited(Action::SsoNoRole, "no_role").await;
    assert_eq!(e.sessions().await, 0);
    assert_eq!(e.count("users").await, 0, "no account for people who may not enter");
    assert_eq!(e.count("user_identities").await, 0);

    let id = refused.outcome_id.expect("an outcome to show");
    let view = e.sso.outcome(&id, None, Some(&b.cookie)).await.unwrap().expect("the browser that signed in sees it");
    assert_eq!(view.kind, "no_role");
    assert_eq!(view.email, ALAN);
    assert_eq!(view.subject, e.okta_user(ALAN));
    assert_eq!(view.groups_source, "claim");
    for g in ["Engineering", "VPN Users", "Everyone"] {
        assert!(view.groups.iter().any(|n| n == g), "{g} missing from {:?}", view.groups);
    }
    assert!(!view.groups.iter().any(|n| n == ADMINS));
    // Whoever is refused learns that no role applies, not which groups would grant Admin.
    assert!(view.mappings.is_empty(), "the refusal names no mapped group: {:?}", view.mappings);
    let stored = e.store.login_outcome(&id).await.unwrap().expect("the stored outcome");
    for text in [serde_json::to_string(&view).unwrap(), stored.details] {
        assert!(!text.contains(ADMINS), "a mapped group name reaches the refused person: {text}");
    }
    assert_eq!(view.role, None);
    assert!(view.claims.is_none(), "claims are for test sign-ins only");

    let other = browser();
    assert_eq!(e.sso.outcome(&id, None, Some(&other.cookie)).await.unwrap(), None, "another browser sees nothing");
    assert_eq!(e.sso.outcome(&id, None, None).await.unwrap(), None, "no cookie, nothing");
    assert_eq!(e.sso.outcome(&id, Some(&root()), None).await.unwrap(), None, "nor a signed-in admin");
}

#[tokio::test]
async fn a_replayed_or_unknown_state_is_state_invalid_and_another_browser_is_browser_mismatch() {
    let e = env().await;
    let b = browser();
    let input = e.authorize(&b, ADA).await;
    session_of(e.callback(&b, &input).await);
    assert_eq!(e.sessions().await, 1);

    // The same callback again: the state was single use.
    assert_eq!(code_of(&e.callback(&b, &input).await), "state_invalid");
    e.assert_audited(Action::SsoSignInFailed, "state_invalid").await;

    // A state nobody issued, with a fresh code from the provider.
    let fresh = e.authorize(&b, ADA).await;
    let tampered = CallbackInput { state: Some(format!("{}x", fresh.state.clone().unwrap())), ..fresh.clone() };
    assert_eq!(code_of(&e.callback(&b, &tampered).await), "state_invalid");
    let missing = CallbackInput { state: None, ..fresh.clone() };
    assert_eq!(code_of(&e.callback(&b, &missing).await), "state_missing");
    e.assert_audited(Action::SsoSignInFailed, "state_missing").await;

    // The genuine state, delivered to another browser (a login CSRF or a stolen link).
    let other = browser();
    assert_eq!(code_of(&e.callback(&other, &fresh).await), "browser_mismatch");
    e.assert_audited(Action::SsoSignInFailed, "browser_mismatch").await;
    // Without the cookie at all, likewise.
    let next = e.authorize(&b, ADA).await;
    assert_eq!(code_of(&e.sso.callback(&next, None, None, &client()).await), "browser_mismatch");
    // The attempt is spent either way: the right browser cannot finish it afterwards.
    assert_eq!(code_of(&e.callback(&b, &fresh).await), "state_invalid");

    assert_eq!(e.sessions().await, 1, "only the first sign-in made a session");
}

#[tokio::test]
async fn an_authorization_code_used_once_already_is_code_rejected() {
    let e = env().await;
    let b = browser();
    let first = e.authorize(&b, ADA).await;
    session_of(e.callback(&b, &first).await);

    // A fresh attempt with its own state, finished with the spent code.
    let started = e.sso.start(&e.provider_id, Purpose::SignIn, "/", Some(&b.cookie)).await.unwrap();
    let state = url::Url::parse(&started.authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    let replay = CallbackInput { state: Some(state), ..first };
    assert_eq!(code_of(&e.callback(&b, &replay).await), "code_rejected");
    e.assert_audited(Action::SsoSignInFailed, "code_rejected").await;
    assert_eq!(e.sessions().await, 1);
}

#[tokio::test]
async fn a_code_delivered_with_another_attempts_state_fails_pkce_and_is_code_rejected() {
    let e = env().await;
    let b = browser();
    // Attempt A goes through the provider; attempt B (same browser) is only started.
    let a = e.authorize(&b, ADA).await;
    let b_started = e.sso.start(&e.provider_id, Purpose::SignIn, "/", Some(&b.cookie)).await.unwrap();
    let b_state = url::Url::parse(&b_started.authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    // A's code redeemed with B's verifier: the simulator binds the code to A's challenge.
    let swapped = CallbackInput { state: Some(b_state), ..a.clone() };
    assert_eq!(code_of(&e.callback(&b, &swapped).await), "code_rejected");
    let entries = e.audit(Action::SsoSignInFailed).await;
    assert!(
        entries
            .iter()
            .any(|(_, _, _, d)| d["reason"] == "code_rejected" && d["detail"].as_str().unwrap_or("").contains("PKCE")),
        "{entries:#?}"
    );
    // The code was spent by the failed redemption: attempt A cannot use it either.
    assert_eq!(code_of(&e.callback(&b, &a).await), "code_rejected");
    assert_eq!(e.sessions().await, 0);
}

#[tokio::test]
async fn access_denied_at_the_provider_is_access_denied() {
    let e = env().await;
    // Only Portcullis Admins are assigned to the app: Okta then refuses Alan itself.
    let everyone = e.okta_group("Everyone");
    e.control()
        .apply(ControlOp::UnassignApp {
            app_id: sample::OIDC_CLIENT_ID.into(),
            user_ids: vec![],
            group_ids: vec![everyone],
        })
        .unwrap();
    e.control()
        .apply(ControlOp::AssignApp {
            app_id: sample::OIDC_CLIENT_ID.into(),
            user_ids: vec![],
            group_ids: vec![ADMINS_ID.into()],
        })
        .unwrap();
    let b = browser();
    let input = e.authorize(&b, ALAN).await;
    assert_eq!(input.error.as_deref(), Some("access_denied"), "{input:?}");
    assert!(input.code.is_none());
    assert_eq!(code_of(&e.callback(&b, &input).await), "access_denied");
    e.assert_audited(Action::SsoSignInFailed, "access_denied").await;
    assert_eq!(e.sessions().await, 0);
    assert_eq!(e.count("users").await, 0);

    // Ada is assigned through her group and gets in.
    assert_eq!(e.signed_in(&browser(), ADA).await.user.role, Role::Admin);
}

#[tokio::test]
async fn an_id_token_from_the_wrong_issuer_is_token_issuer() {
    let e = env().await;
    e.control().set_wrong_token_issuer(true);
    let b = browser();
    assert_eq!(e.refused(&b, ADA).await.code, "token_issuer");
    e.assert_audited(Action::SsoSignInFailed, "token_issuer").await;
    assert_eq!(e.sessions().await, 0);
    assert_eq!(e.count("users").await, 0);
}

/// Each ID-token defect the simulator injects (`idTokenDefect`), the refusal it must produce,
/// and words of the audit entry's detail that say it was refused for that very reason.
const TOKEN_DEFECTS: [(&str, &str, &str); 11] = [
    ("badSignature", "token_signature", "signature does not verify"),
    ("unknownKey", "token_unknown_key", "not in the provider's JWKS"),
    ("algNone", "token_algorithm", "signed with 'none'"),
    ("hmacWithPublicKey", "token_algorithm", "signed with 'HS256'"),
    ("wrongAudience", "token_audience", "must contain"),
    ("extraAudience", "token_audience", "is not a trusted audience"),
    ("foreignAzp", "token_audience", "authorized party (azp)"),
    ("wrongNonce", "token_nonce", "nonce mismatch"),
    ("missingNonce", "token_nonce", "missing nonce"),
    ("expired", "token_expired", "has expired"),
    ("issuedInFuture", "token_iat_future", "issued in the future"),
];
impl Env {
    /// Sets the simulator's ID-token defect at run time, as the control endpoint's `set_switches` does.
    fn set_id_token_defect(&self, defect: &str) {
        let switches = serde_json::json!({ "idTokenDefect": defect });
        self.control().apply(ControlOp::SetSwitches { switches }).unwrap_or_else(|e| panic!("{defect}: {e}"));
    }
}

#[tokio::test]
async fn each_defective_id_token_is_refused_with_its_code_and_audit_entry_and_creates_no_session() {
    let e = env().await;
    let b = browser();
    // A test sign-in (no session) caches the JWKS: from then on only an unknown kid fetches it again.
    let by = root();
    let started = e.sso.start(&e.provider_id, Purpose::DryRun { by: by.clone() }, "/", Some(&b.cookie)).await.unwrap();
    let input = callback_of(&b.at_provider(&started.authorize_url, ADA).await);
    let dry = e.sso.callback(&input, Some(&b.cookie), Some(&by), &client()).await;
    assert!(matches!(dry, Ok(Finished::DryRun { .. })), "{dry:?}");

    for (n, (defect, code, why)) in TOKEN_DEFECTS.into_iter().enumerate() {
        e.set_id_token_defect(defect);
        let input = e.authorize(&b, ADA).await;
        assert!(input.code.is_some(), "{defect}: the provider issued a code: {input:?}");
        let before = e.control().request_count();
        let result = e.callback(&b, &input).await;
        let requests = e.control().request_count() - before;
        assert_eq!(code_of(&result), code, "{defect}");

        let entries = e.audit(Action::SsoSignInFailed).await;
        assert_eq!(entries.len(), n + 1, "{defect}: one audit entry per refusal: {entries:#?}");
        let (target, _, outcome, details) = &entries[0];
        assert_eq!(outcome, "failure", "{defect}");
        assert_eq!(details["reason"], code, "{defect}: {details}");
        assert_eq!(target.as_deref(), Some(e.provider_id.as_str()), "{defect}");
        assert!(details["detail"].as_str().is_some_and(|d| d.contains(why)), "{defect}: says why: {details}");

        // The token request, plus for an unknown kid one JWKS refetch, which does not know it either.
        let expected = if defect == "unknownKey" { 2 } else { 1 };
        assert_eq!(requests, expected, "{defect}: requests to the provider during the callback");

        assert_eq!(e.sessions().await, 0, "{defect}: no session");
        assert_eq!(e.count("users").await, 0, "{defect}: no account");
        assert_eq!(e.count("user_identities").await, 0, "{defect}: no identity");
    }
    assert!(e.audit(Action::SignIn).await.is_empty());

    // The same browser and provider sign in once the tokens are sound again.
    e.set_id_token_defect("none");
    assert_eq!(e.signed_in(&b, ADA).await.user.role, Role::Admin);
    assert_eq!(e.sessions().await, 1);
}

#[tokio::test]
async fn a_defective_id_token_at_refresh_ends_the_session_with_the_token_code() {
    // Tokens of 30 s are due for refresh at once. A refreshed ID token is checked without a nonce
    // (Okta's carry none), so the nonce defects are for sign-in only.
    let e = env_with(|sw| sw.access_token_seconds = 30).await;
    let refresh_defects = TOKEN_DEFECTS.iter().filter(|(_, code, _)| *code != "token_nonce");
    for (n, (defect, code, why)) in refresh_defects.enumerate() {
        e.set_id_token_defect("none");
        let session = e.signed_in(&browser(), ADA).await;
        let current = e.accounts.session(&session.token).await.unwrap().unwrap();
        assert!(current.refresh_due, "{defect}");
        e.set_id_token_defect(defect);
        assert!(e.sso.refresh(&current, &client()).await.unwrap().is_none(), "{defect}: the session survived");
        assert!(e.accounts.session(&session.token).await.unwrap().is_none(), "{defect}");
        let failed = e.audit(Action::SessionRefreshFailed).await;
        assert_eq!(failed.len(), n + 1, "{defect}: {failed:#?}");
        assert_eq!(failed[0].2, "failure");
        let reason = failed[0].3["reason"].as_str().unwrap();
        assert!(reason.starts_with(&format!("{code}: ")) && reason.contains(why), "{defect}: {reason}");
        assert_eq!(e.sessions().await, 0, "{defect}");
    }
}

#[tokio::test]
async fn a_key_rotation_after_the_jwks_was_cached_is_followed_by_one_refetch() {
    // Okta pre-publishes the next key; without that, the rotated key is unknown to the cache.
    let e = env_with(|sw| sw.publish_next_key = false).await;
    let b = browser();
    e.signed_in(&b, ADA).await;
    let first = e.control().active_kid();
    let second = e.control().rotate_keys().unwrap();
    assert_ne!(first, second);
    // Right after the JWKS was cached: the unknown kid makes the service fetch it again.
    let again = e.signed_in(&b, ADA).await;
    assert_eq!(again.user.role, Role::Admin, "signed with kid {second}, not in the cached JWKS");
    assert_eq!(e.sessions().await, 2);

    // Once: another unknown kid moments after that refetch does not fetch again.
    let third = e.control().rotate_keys().unwrap();
    assert_eq!(e.refused(&b, ADA).await.code, "token_unknown_key", "kid {third}");
    e.assert_audited(Action::SsoSignInFailed, "token_unknown_key").await;
    assert_eq!(e.sessions().await, 2);
}

#[tokio::test]
async fn a_test_sign_in_shows_claims_to_the_admin_who_started_it_and_creates_no_session() {
    let e = env().await;
    let b = browser();
    let by = root();
    let started = e.sso.start(&e.provider_id, Purpose::DryRun { by: by.clone() }, "/", Some(&b.cookie)).await.unwrap();
    assert!(started.authorize_url.contains("prompt=login"), "a fresh sign-in at the provider");
    let input = callback_of(&b.at_provider(&started.authorize_url, ALAN).await);
    let finished = e.sso.callback(&input, Some(&b.cookie), Some(&by), &client()).await;
    let Ok(Finished::DryRun { outcome_id, provider_id }) = finished else { panic!("not a test sign-in: {finished:?}") };
    assert_eq!(provider_id, e.provider_id);
    assert_eq!(e.sessions().await, 0);
    assert_eq!(e.count("users").await, 0);
    let view = e.sso.outcome(&outcome_id, Some(&by), None).await.unwrap().expect("the admin sees it");
    assert_eq!(view.kind, "dry_run");
    assert_eq!(view.email, ALAN);
    assert_eq!(view.role, None);
    let claims: Value = serde_json::from_str(view.claims.as_deref().expect("claims")).unwrap();
    assert_eq!(claims["sub"], e.okta_user(ALAN));
    assert!(!view.claims.unwrap().contains(&input.code.unwrap()), "no code or token in what is shown");
    let other = SignedIn { user_id: "admin-2".into(), ..root() };
    assert_eq!(e.sso.outcome(&outcome_id, Some(&other), Some(&b.cookie)).await.unwrap(), None, "only its admin");
    assert_eq!(e.audit(Action::SsoDryRun).await.len(), 1);
}

#[tokio::test]
async fn refresh_follows_group_changes_and_ends_the_session_when_no_group_maps_any_more() {
    // Tokens of 30 s are within REFRESH_AHEAD_MS of expiry as soon as they are issued.
    let e = env_with(|sw| sw.access_token_seconds = 30).await;
    let vpn = e.okta_group("VPN Users");
    e.roles.add(&admin_caller(), &e.provider_id, "VPN Users", "editor", true).await.unwrap();
    let b = browser();
    let session = e.signed_in(&b, ADA).await;
    assert_eq!(session.user.role, Role::Admin);

    let current = e.accounts.session(&session.token).await.unwrap().unwrap();
    assert!(current.refresh_due, "30 s tokens are due for refresh");

    // Ada moves from Portcullis Admins to VPN Users at Okta.
    let ada = e.okta_user(ADA);
    e.control().remove_membership(ADMINS_ID, &ada).unwrap();
    e.control().add_membership(&vpn, &ada).unwrap();
    let refreshed = e.sso.refresh(&current, &client()).await.unwrap().expect("still signed in");
    assert_eq!(refreshed.role, Role::Editor);
    assert!(!refreshed.refresh_due);
    let current = e.accounts.session(&session.token).await.unwrap().unwrap();
    assert_eq!(current.role, Role::Editor, "the session row carries the new role");
    let refreshes = e.audit(Action::SessionRefreshed).await;
    assert_eq!(refreshes.len(), 1);
    assert_eq!(refreshes[0].3["role"], "editor");
    assert_eq!(refreshes[0].3["role_before"], "admin");
    let groups = e.directory_groups_of(&ada).await;
    assert!(groups.iter().any(|g| g == "VPN Users") && !groups.iter().any(|g| g == ADMINS), "{groups:?}");

    // Ada leaves every mapped group: the session ends at the next refresh.
    e.control().remove_membership(&vpn, &ada).unwrap();
    assert!(current.refresh_due);
    assert!(e.sso.refresh(&current, &client()).await.unwrap().is_none());
    assert!(e.accounts.session(&session.token).await.unwrap().is_none());
    assert_eq!(e.sessions().await, 0, "the session row is gone");
    let failed = e.audit(Action::SessionRefreshFailed).await;
    assert_eq!(failed.len(), 1, "{failed:#?}");
    assert_eq!(failed[0].2, "failure");
    assert!(failed[0].3["reason"].as_str().unwrap().contains("no longer map"), "{failed:#?}");
}

#[tokio::test]
async fn a_refresh_before_the_tokens_are_due_asks_nothing_of_the_provider() {
    let e = env().await;
    let session = e.signed_in(&browser(), ADA).await;
    let current = e.accounts.session(&session.token).await.unwrap().unwrap();
    let before = e.control().request_count();
    let same = e.sso.refresh(&current, &client()).await.unwrap().unwrap();
    assert_eq!(same.role, Role::Admin);
    assert_eq!(e.control().request_count(), before);
    assert!(e.audit(Action::SessionRefreshed).await.is_empty());
}

#[tokio::test]
async fn a_group_change_at_the_provider_is_seen_at_the_next_sign_in() {
    let e = env().await;
    let b = browser();
    e.signed_in(&b, ADA).await;
    let ada = e.okta_user(ADA);
    e.control().remove_membership(ADMINS_ID, &ada).unwrap();
    // Still signed in at the simulator: it sends the browser straight back with a code.
    let refused = e.refused(&b, ADA).await;
    assert_eq!(refused.code, "no_role");
    e.assert_audited(Action::SsoNoRole, "no_role").await;
    let view = e.sso.outcome(&refused.outcome_id.unwrap(), None, Some(&b.cookie)).await.unwrap().unwrap();
    assert!(!view.groups.iter().any(|g| g == ADMINS), "{:?}", view.groups);
    assert_eq!(e.sessions().await, 1, "only the first sign-in's session");
}

#[tokio::test]
async fn sign_out_at_the_provider_uses_the_id_token_hint_and_returns_to_the_login_page() {
    let e = env().await;
    let b = browser();
    let session = e.signed_in(&b, ADA).await;
    let url = e.sso.end_session_url(&session.user).await.expect("an end-session URL");
    assert!(url.starts_with(&format!("{}/oauth2/v1/logout?", e.sim.base_url())), "{url}");
    let parsed = url::Url::parse(&url).unwrap();
    let get = |k: &str| parsed.query_pairs().find(|(n, _)| n == k).map(|(_, v)| v.into_owned());
    assert_eq!(get("id_token_hint").map(|t| t.split('.').count()), Some(3), "a JWT");
    assert_eq!(get("post_logout_redirect_uri").as_deref(), Some("http://127.0.0.1:3000/login"));

    let r = b.http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FOUND, "{}", r.text().await.unwrap_or_default());
    assert_eq!(location(&r), "http://127.0.0.1:3000/login?state=signed_out");

    // Signed out at the simulator too: the next sign-in shows its page again.
    let started = e.sso.start(&e.provider_id, Purpose::SignIn, "/", Some(&b.cookie)).await.unwrap();
    let page = b.http.get(&started.authorize_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_local_account_with_the_same_verified_email_is_linked() {
    let e = env().await;
    let local = e.store.insert_user(&new_id(), ADA, "Ada (local)", None, Some("viewer")).await.unwrap();
    let session = e.signed_in(&browser(), ADA).await;
    assert_eq!(session.user.user_id, local.id, "the existing account, not a new one");
    assert_eq!(session.user.role, Role::Admin, "the session's role comes from the groups");
    let identity = e.store.identity_by_subject(&e.provider_id, &e.okta_user(ADA)).await.unwrap().unwrap();
    assert_eq!(identity.user_id, local.id);
    assert_eq!(e.count("users").await, 1);
    let linked = e.audit(Action::AccountLinked).await;
    assert_eq!(linked.len(), 1);
    assert_eq!(linked[0].3["by"], "verified email");
}

#[tokio::test]
async fn a_local_admin_with_the_same_email_is_not_linked_by_email() {
    let e = env().await;
    let local = e.store.insert_user(&new_id(), ADA, "Ada (local admin)", None, Some("admin")).await.unwrap();
    let b = browser();
    assert_eq!(e.refused(&b, ADA).await.code, "link_admin");
    e.assert_audited(Action::SsoSignInFailed, "link_admin").await;
    assert_eq!(e.sessions().await, 0);
    assert!(e.store.identities_of_user(&local.id).await.unwrap().is_empty(), "nothing linked");
    assert!(e.audit(Action::AccountLinked).await.is_empty());
}

#[tokio::test]
async fn with_a_directory_the_mapping_follows_the_group_id_through_a_rename() {
    let e = env_full(|_| {}, DirectoryInput::ApiToken(SecretInput::Replace(Secret::new(sample::API_TOKEN)))).await;
    let mapping = e.roles.list().await.unwrap().pop().unwrap();
    assert_eq!(mapping.group_id, ADMINS_ID, "picked from the directory: keyed by the group's id");
    assert_eq!(e.signed_in(&browser(), ADA).await.user.role, Role::Admin);
    // Renamed at Okta; the claim now carries the new name, the directory still the old one.
    e.control().rename_group(ADMINS_ID, "Console Admins").unwrap();
    assert_eq!(e.signed_in(&browser(), ADA).await.user.role, Role::Admin);
    let sign_ins = e.audit(Action::SignIn).await;
    // With directory credentials the directory API's ids are used, never the claim's names.
    assert_eq!(sign_ins[0].3["groups_source"], "directory");
    assert_eq!(sign_ins[1].3["groups_source"], "directory");
}

#[tokio::test]
async fn an_expired_attempt_or_a_disabled_provider_is_refused_at_the_callback() {
    let e = env().await;
    let b = browser();
    let input = e.authorize(&b, ADA).await;
    // Ten minutes later (the attempt's lifetime), as the database sees it.
    raw_execute(&e.db_url, "UPDATE login_attempts SET expires_at = expires_at - 600001").await;
    assert_eq!(code_of(&e.callback(&b, &input).await), "state_expired");
    e.assert_audited(Action::SsoSignInFailed, "state_expired").await;

    let input = e.authorize(&b, ADA).await;
    e.store.set_provider_enabled(&e.provider_id, false).await.unwrap();
    assert_eq!(code_of(&e.callback(&b, &input).await), "provider_disabled");
    e.assert_audited(Action::SsoSignInFailed, "provider_disabled").await;
    assert!(e.sso.start(&e.provider_id, Purpose::SignIn, "/", Some(&b.cookie)).await.is_err());
    assert_eq!(e.sessions().await, 0);
}

#[tokio::test]
async fn a_person_deactivated_at_the_provider_loses_the_session_at_the_next_refresh() {
    let e = env_with(|sw| sw.access_token_seconds = 30).await;
    let session = e.signed_in(&browser(), ADA).await;
    let current = e.accounts.session(&session.token).await.unwrap().unwrap();
    e.control().deactivate_user(&e.okta_user(ADA)).unwrap();
    assert!(e.sso.refresh(&current, &client()).await.unwrap().is_none());
    assert!(e.accounts.session(&session.token).await.unwrap().is_none());
    assert_eq!(e.sessions().await, 0);
    let failed = e.audit(Action::SessionRefreshFailed).await;
    assert!(failed[0].3["reason"].as_str().unwrap().contains("invalid_grant"), "{failed:#?}");
}

// ---- Issue 12: group names, verified email, directory removals -------------------------------

mod trust {
    use super::*;
    use portcullis_domain::{
        assertion::Assertions,
        forward_auth::{Answer, ForwardAuth, OriginalRequest},
        policies::{Action as PolicyAction, ApplicationInput, HostRule, PolicyInput, PolicyService, Rules, Selector},
        store::{GroupInput, ProviderRow},
        sync::{RunKind, SyncService, Trigger},
    };

    const APP_URL: &str = "https://wiki.example.test/page";

    /// Forward auth over the env's database, with one application whose only policy includes `who`.
    struct Gate {
        auth: ForwardAuth,
    }

    async fn gate(e: &Env, who: Selector) -> Gate {
        let policies = PolicyService::new(e.store.clone());
        let app = policies
            .create_application(
                &Actor::System,
                None,
                &ApplicationInput {
                    name: "Wiki".into(),
                    hosts: vec![HostRule { hostname: "wiki.example.test".into(), path_prefix: "/".into() }],
                    session_duration_minutes: 60,
                },
            )
            .await
            .unwrap();
        let rules = Rules { include: vec![who], require: vec![], exclude: vec![] };
        let input = PolicyInput { name: "Allow".into(), action: PolicyAction::Allow, rules, enabled: true };
        policies.create_policy(&Actor::System, None, &app.id, &input).await.unwrap();
        let assertions = Assertions::load(e.store.clone(), SecretBox::from_key(&[7u8; 32]), PUBLIC_BASE).await.unwrap();
        Gate { auth: ForwardAuth::new(e.store.clone(), policies, assertions) }
    }

    impl Gate {
        /// Signs `login` in at the simulator for the applications and trades the hand-off for
        /// the application's cookie: (cookie name, token).
        async fn enter(&self, e: &Env, login: &str) -> (String, String) {
            let b = browser();
            let started = e.sso.start(&e.provider_id, Purpose::Access, APP_URL, Some(&b.cookie)).await.unwrap();
            let input = callback_of(&b.at_provider(&started.authorize_url, login).await);
            let Ok(Finished::Access { user_id, identity_id, .. }) = e.callback(&b, &input).await else {
                panic!("{login} was not signed in for the applications")
            };
            let (_, sso) = self.auth.start_sso(&user_id, Some(&identity_id), 3_600_000).await.unwrap();
            let url = self.auth.hand_off(&sso, APP_URL).await.unwrap();
            let code = url.split("code=").nth(1).unwrap();
            let r = self.auth.redeem(code).await.unwrap().expect("a fresh code");
            (r.cookie_name, r.token)
        }

        async fn decide(&self, cookie: &(String, String)) -> Answer {
            let request = OriginalRequest {
                scheme: "https",
                host: "wiki.example.test".into(),
                uri: "/page".into(),
                method: Some("GET".into()),
            };
            let jar = |is: &dyn Fn(&str) -> bool| is(&cookie.0).then_some(cookie.1.as_str());
            self.auth.decide(&request, jar, None, None).await.unwrap()
        }
    }

    /// Stores groups for the env's provider as a sync would have seen them.
    async fn directory_has(e: &Env, groups: &[(&str, &str)]) {
        let row: ProviderRow = e.store.provider(&e.provider_id).await.unwrap().unwrap();
        let groups: Vec<GroupInput> = groups
            .iter()
            .map(|(id, name)| GroupInput {
                external_id: (*id).into(),
                name: (*name).into(),
                description: None,
                kind: "OKTA_GROUP".into(),
                last_updated: None,
            })
            .collect();
        e.store.save_provider(&row, &groups, "sync").await.unwrap();
    }

    #[tokio::test]
    async fn two_groups_with_the_mapped_name_grant_no_role_and_are_audited_as_ambiguous() {
        let e = env().await;
        // Ada is in "IT" too; renamed at Okta, it now shares the mapped group's name.
        let it = e.okta_group("IT");
        e.control().rename_group(&it, ADMINS).unwrap();
        directory_has(&e, &[(ADMINS_ID, ADMINS), (&it, ADMINS)]).await;
        let refused = e.refused(&browser(), ADA).await;
        assert_eq!(refused.code, "no_role", "a shared name must not grant the Admin mapping");
        assert_eq!(e.sessions().await, 0);
        let entries = e.audit(Action::SsoSignInFailed).await;
        assert!(
            entries.iter().any(|(_, _, _, d)| d["reason"] == "ambiguous group name"
                && d["detail"].as_str().unwrap_or_default().contains(ADMINS)),
            "no ambiguous-group audit entry: {entries:#?}"
        );
        // Nor does the shared name give a group membership for policies.
        let gate = gate(
            &e,
            Selector::Group(portcullis_domain::policies::GroupRef {
                provider_id: e.provider_id.clone(),
                external_id: ADMINS_ID.into(),
            }),
        )
        .await;
        let cookie = gate.enter(&e, ADA).await;
        assert!(matches!(gate.decide(&cookie).await, Answer::Deny { .. }));
        let groups = e.directory_groups_of(&e.okta_user(ADA)).await;
        assert!(!groups.iter().any(|g| g == ADMINS), "no membership from an ambiguous name: {groups:?}");
    }

    #[tokio::test]
    async fn a_claim_value_equal_to_another_groups_id_grants_nothing() {
        let e = env().await;
        let ada = e.okta_user(ADA);
        // The Admin group is in the directory and mapped by its id.
        directory_has(&e, &[(ADMINS_ID, ADMINS)]).await;
        e.roles.add(&admin_caller(), &e.provider_id, ADMINS_ID, "admin", false).await.unwrap();
        e.control().remove_membership(ADMINS_ID, &ada).unwrap();
        // A group Ada is in, named like the Admin group's id.
        e.control().rename_group(&e.okta_group("IT"), ADMINS_ID).unwrap();
        let refused = e.refused(&browser(), ADA).await;
        assert_eq!(refused.code, "no_role", "a name equal to a group id is not that group");
        let gate = gate(
            &e,
            Selector::Group(portcullis_domain::policies::GroupRef {
                provider_id: e.provider_id.clone(),
                external_id: ADMINS_ID.into(),
            }),
        )
        .await;
        let cookie = gate.enter(&e, ADA).await;
        assert!(matches!(gate.decide(&cookie).await, Answer::Deny { .. }), "no membership of the Admin group");
    }

    #[tokio::test]
    async fn a_mapping_for_a_name_no_synced_group_has_is_refused_with_the_closest_names_unless_added_anyway() {
        let e = env().await;
        directory_has(&e, &[(ADMINS_ID, ADMINS)]).await;
        let err = e.roles.add(&admin_caller(), &e.provider_id, "Portcullis Admin", "viewer", false).await.unwrap_err();
        assert!(
            matches!(&err, portcullis_domain::sso::roles::MappingError::UnknownGroup { closest, .. } if closest[0] == ADMINS),
            "{err}"
        );
        assert!(err.to_string().contains("(closest: 'Portcullis Admins')"), "{err}");
        assert!(e.roles.list().await.unwrap().iter().all(|m| m.group_name != "Portcullis Admin"), "nothing saved");
        let added = e.roles.add(&admin_caller(), &e.provider_id, "Portcullis Admin", "viewer", true).await.unwrap();
        assert!(!added.in_directory, "matched by name, as the admin chose");
    }

    #[tokio::test]
    async fn a_group_of_the_same_name_at_another_provider_grants_nothing() {
        let e = env().await;
        e.control().remove_membership(ADMINS_ID, &e.okta_user(ADA)).unwrap();
        // Another provider whose "IT" group is mapped to Admin; Ada is in this provider's "IT".
        let other = ProviderRow::new_okta("other-idp", "Other", "https://other.okta.test", "c", "x".into());
        let it = GroupInput {
            external_id: "00gOtherIT".into(),
            name: "IT".into(),
            description: None,
            kind: "OKTA_GROUP".into(),
            last_updated: None,
        };
        e.store.save_provider(&other, &[it], "sync").await.unwrap();
        e.roles.add(&admin_caller(), "other-idp", "IT", "admin", false).await.unwrap();
        assert_eq!(e.refused(&browser(), ADA).await.code, "no_role");
    }

    #[tokio::test]
    async fn an_unverified_email_at_a_generic_provider_does_not_pass_an_email_domain_rule() {
        let e = env_kind(ProviderKind::Oidc, |sw| sw.email_unverified = true, DirectoryInput::Off).await;
        let row = e.store.provider(&e.provider_id).await.unwrap().unwrap();
        assert!(!row.asserts_verified_email, "generic OIDC providers are not trusted for emails by default");
        let gate = gate(&e, Selector::EmailDomain { domain: "example.com".into() }).await;
        let cookie = gate.enter(&e, ADA).await;
        assert!(
            matches!(gate.decide(&cookie).await, Answer::Deny { .. }),
            "self-asserted ada.lovelace@example.com passed \"Allow @example.com\""
        );
        let identity = e.store.identity_by_subject(&e.provider_id, &e.okta_user(ADA)).await.unwrap().unwrap();
        assert!(!identity.email_verified);

        // The same person, once the provider vouches for the email, passes.
        e.control().set_switches(okta_sim::Switches { email_unverified: false, ..e.control().switches() });
        let cookie = gate.enter(&e, ADA).await;
        assert!(matches!(gate.decide(&cookie).await, Answer::Allow { .. }), "a verified email passes");
    }

    async fn synced_env() -> (Env, SyncService) {
        let directory = DirectoryInput::ApiToken(SecretInput::Replace(Secret::new(sample::API_TOKEN)));
        let e = env_full(|_| {}, directory).await;
        let sync = SyncService::new(e.store.clone(), SecretBox::from_key(&[7u8; 32]), loopback_outbound(None));
        sync.sync_now(&e.provider_id, RunKind::Full, Trigger::Schedule).await.unwrap();
        (e, sync)
    }

    async fn sync_approved(sync: &SyncService, e: &Env) {
        let mut run = sync.sync_now(&e.provider_id, RunKind::Full, Trigger::Schedule).await.unwrap();
        if run.run.status == "awaiting_approval" {
            // A small directory trips the removal breaker: an admin approves.
            run = sync.approve(&run.run.id, &admin_caller()).await.unwrap();
        }
        assert!(matches!(run.run.status.as_str(), "succeeded" | "approved"), "{:?}", run.run);
    }

    #[tokio::test]
    async fn a_person_suspended_in_the_directory_is_refused_at_the_next_decision_after_sync() {
        let (e, sync) = synced_env().await;
        let gate = gate(&e, Selector::EmailDomain { domain: "example.com".into() }).await;
        let cookie = gate.enter(&e, ADA).await;
        assert!(matches!(gate.decide(&cookie).await, Answer::Allow { .. }), "active: let in");
        // Suspended: the console account stays, so only the decision path can refuse.
        e.control().set_user_status(&e.okta_user(ADA), okta_sim::fixture::UserStatus::Suspended).unwrap();
        sync_approved(&sync, &e).await;
        let answer = gate.decide(&cookie).await;
        assert!(matches!(answer, Answer::Deny { .. }), "suspended: refused at once, not {answer:?}");
    }

    #[tokio::test]
    async fn a_person_deactivated_in_the_directory_and_kept_is_refused_at_the_next_decision_after_sync() {
        let (e, sync) = synced_env().await;
        let mut settings = sync.settings(&e.provider_id).await.unwrap();
        settings.deprovision = portcullis_domain::sync::DeprovisionAction::Keep;
        settings.admin_deprovision = portcullis_domain::sync::DeprovisionAction::Keep;
        sync.save_settings(&e.provider_id, settings, &admin_caller()).await.unwrap();
        let gate = gate(&e, Selector::EmailDomain { domain: "example.com".into() }).await;
        let cookie = gate.enter(&e, ADA).await;
        assert!(matches!(gate.decide(&cookie).await, Answer::Allow { .. }), "active: let in");

        e.control().deactivate_user(&e.okta_user(ADA)).unwrap();
        sync_approved(&sync, &e).await;
        let q = DirectoryQuery { provider_id: Some(e.provider_id.clone()), limit: 500, ..Default::default() };
        let ada = e.store.directory_users(&q).await.unwrap().items.into_iter().find(|u| u.email == ADA).unwrap();
        assert_ne!(
            (ada.state.as_str(), ada.okta_status.as_str()),
            ("active", "ACTIVE"),
            "the sync saw the deactivation"
        );
        let answer = gate.decide(&cookie).await;
        assert!(matches!(answer, Answer::Deny { .. }), "deactivated: refused at once, not {answer:?}");
        // The denial's audit row is written in the background.
        let mut found = false;
        for _ in 0..50 {
            let blocked = e.audit(Action::AccessBlocked).await;
            if blocked.iter().any(|(_, _, _, d)| d["reason"].as_str().is_some_and(|r| r.contains("directory"))) {
                found = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(found, "no audit row for the refusal");
    }
}

/// Who may point a provider somewhere else, and what that does to the people it signed in.
mod provider_trust {
    use super::*;

    /// The env's provider as the edit form submits it, pointed at `base_url`.
    fn edit(base_url: &str, client_secret: SecretInput) -> ProviderInput {
        ProviderInput {
            kind: ProviderKind::Okta,
            name: "Acme Okta".into(),
            base_url: base_url.into(),
            client_id: sample::OIDC_CLIENT_ID.into(),
            client_secret,
            auth_server: AuthServer::Org,
            scopes: SCOPES.into(),
            groups_claim: "groups".into(),
            pkce: true,
            asserts_verified_email: None,
            directory: DirectoryInput::Off,
            connect_again: false,
            dry_run: false,
        }
    }

    #[tokio::test]
    async fn the_same_app_connected_again_is_a_warning_at_continue_and_refused_at_finish_unless_confirmed() {
        let e = env().await;
        let settings = ClientSettings {
            kind: ProviderKind::Okta,
            name: "Acme Okta again".into(),
            base_url: e.sim.base_url().into(),
            client_id: sample::OIDC_CLIENT_ID.into(),
            client_secret: Secret::new(sample::OIDC_CLIENT_SECRET),
            auth_server: AuthServer::Org,
            scopes: parse_scopes(SCOPES),
            groups_claim: "groups".into(),
            pkce: true,
        };
        let report = e.providers.check_client(&settings, None).await.report;
        assert!(report.ok(), "a warning, not a failure: {report:?}");
        let duplicate = report.get("duplicate").expect("the same app is named at Continue");
        assert_eq!(duplicate.status, portcullis_domain::providers::report::Status::Warning);
        assert!(duplicate.detail.contains("'Acme Okta' is connected already"), "{}", duplicate.detail);
        // Editing the provider itself is not a second connection.
        let report = e.providers.check_client(&settings, Some(&e.provider_id)).await.report;
        assert!(report.get("duplicate").is_none());

        let again = ProviderInput {
            name: "Acme Okta again".into(),
            ..edit(e.sim.base_url(), SecretInput::Replace(Secret::new(sample::OIDC_CLIENT_SECRET)))
        };
        let refused = e.providers.create(&admin(), Role::Admin, None, again.clone()).await;
        assert!(matches!(&refused, Err(ProviderError::AlreadyConnected(name)) if name == "Acme Okta"), "{refused:?}");
        assert_eq!(e.providers.list().await.unwrap().len(), 1, "nothing saved");
        let confirmed = ProviderInput { connect_again: true, ..again };
        e.providers.create(&admin(), Role::Admin, None, confirmed).await.unwrap();
        assert_eq!(e.providers.list().await.unwrap().len(), 2);
    }

    /// A host that counts who connects to it: stands for an IdP an attacker runs.
    async fn listener() -> (String, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        let hits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = hits.clone();
        tokio::spawn(async move {
            while let Ok((_socket, _)) = l.accept().await {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        (url, hits)
    }

    #[tokio::test]
    async fn an_editor_can_neither_connect_nor_re_point_enable_or_delete_a_provider() {
        let e = env().await;
        let (elsewhere, hits) = listener().await;
        let before = e.store.provider(&e.provider_id).await.unwrap().unwrap();
        let new = e
            .providers
            .create(&editor(), Role::Editor, None, edit(&elsewhere, SecretInput::Replace(Secret::new("x"))))
            .await;
        assert!(matches!(new, Err(ProviderError::AdminOnly(_))), "{new:?}");
        let moved = e
            .providers
            .update(&editor(), Role::Editor, None, &e.provider_id, edit(&elsewhere, SecretInput::Keep))
            .await;
        assert!(matches!(moved, Err(ProviderError::AdminOnly(_))), "{moved:?}");
        let mut other_client = edit(e.sim.base_url(), SecretInput::Keep);
        other_client.client_id = "0oaSomeoneElse".into();
        let moved = e.providers.update(&editor(), Role::Editor, None, &e.provider_id, other_client).await;
        assert!(matches!(moved, Err(ProviderError::AdminOnly(_))), "{moved:?}");
        let deleted = e.providers.delete(&editor(), Role::Editor, None, &e.provider_id).await;
        assert!(matches!(deleted, Err(ProviderError::AdminOnly(_))), "{deleted:?}");
        e.providers
            .set_enabled(&editor(), Role::Editor, None, &e.provider_id, false)
            .await
            .expect("an Editor may switch a provider off");
        let enabled = e.providers.set_enabled(&editor(), Role::Editor, None, &e.provider_id, true).await;
        assert!(matches!(enabled, Err(ProviderError::AdminOnly(_))), "{enabled:?}");
        let after = e.store.provider(&e.provider_id).await.unwrap().unwrap();
        assert_eq!((after.base_url, after.client_id), (before.base_url, before.client_id));
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "nothing was sent to the other host");
        // Where groups come from decides roles: a claim people set themselves would make anyone an Admin.
        let mut claim = edit(e.sim.base_url(), SecretInput::Keep);
        claim.groups_claim = "nickname".into();
        let r = e.providers.update(&editor(), Role::Editor, None, &e.provider_id, claim).await;
        assert!(matches!(r, Err(ProviderError::AdminOnly(_))), "{r:?}");
        let mut scopes = edit(e.sim.base_url(), SecretInput::Keep);
        scopes.scopes = "openid profile email".into();
        let r = e.providers.update(&editor(), Role::Editor, None, &e.provider_id, scopes).await;
        assert!(matches!(r, Err(ProviderError::AdminOnly(_))), "{r:?}");
        // Other fields stay an Editor's to change.
        let mut renamed = edit(e.sim.base_url(), SecretInput::Keep);
        renamed.name = "Acme Okta (prod)".into();
        e.providers
            .update(&editor(), Role::Editor, None, &e.provider_id, renamed)
            .await
            .expect("a rename is an Editor's");
    }

    #[tokio::test]
    async fn re_pointing_with_the_stored_secret_is_refused_and_the_new_host_hears_nothing() {
        let e = env().await;
        let (elsewhere, hits) = listener().await;
        let moved =
            e.providers.update(&editor(), Role::Admin, None, &e.provider_id, edit(&elsewhere, SecretInput::Keep)).await;
        assert!(matches!(moved, Err(ProviderError::SecretsRequired(_))), "{moved:?}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0, "the stored secret never left for the new host");
        let with_dir = ProviderInput {
            directory: DirectoryInput::ApiToken(SecretInput::Keep),
            ..edit(&elsewhere, SecretInput::Replace(Secret::new(sample::OIDC_CLIENT_SECRET)))
        };
        let moved = e.providers.update(&editor(), Role::Admin, None, &e.provider_id, with_dir).await;
        assert!(matches!(moved, Err(ProviderError::SecretsRequired(_))), "directory credentials too: {moved:?}");
        assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 0);
        // The same Base URL typed differently is not a change.
        let same = edit(&format!("{}/", e.sim.base_url()), SecretInput::Keep);
        e.providers
            .update(&editor(), Role::Admin, None, &e.provider_id, same)
            .await
            .expect("same endpoint, stored secret");
    }

    #[tokio::test]
    async fn re_pointing_with_secrets_typed_again_detaches_everyone_it_signed_in() {
        let e = env().await;
        let b = browser();
        e.signed_in(&b, ADA).await;
        assert_eq!((e.count("user_identities").await, e.sessions().await), (1, 1));
        let other = Sim::start_local(Fixture::sample(), Options::default()).await.unwrap();
        let input = edit(other.base_url(), SecretInput::Replace(Secret::new(sample::OIDC_CLIENT_SECRET)));
        e.providers
            .update(&editor(), Role::Admin, None, &e.provider_id, input)
            .await
            .expect("an Admin re-points with the secret");
        assert_eq!(e.count("user_identities").await, 0, "identities are detached");
        assert_eq!(e.sessions().await, 0, "and their sessions ended");
        let entries = e.audit(Action::ProviderUpdated).await;
        let (_, _, _, details) = entries.first().expect("an audit entry");
        assert_eq!(details["endpoint_changed"], true);
        assert_eq!(details["identities_detached"], 1);
    }

    #[tokio::test]
    async fn only_an_admin_decides_that_a_providers_emails_count_as_verified() {
        let e = env_kind(ProviderKind::Oidc, |_| {}, DirectoryInput::Off).await;
        assert!(
            !e.store.provider(&e.provider_id).await.unwrap().unwrap().asserts_verified_email,
            "off for a generic provider"
        );
        let trusted = ProviderInput {
            kind: ProviderKind::Oidc,
            asserts_verified_email: Some(true),
            ..edit(e.sim.base_url(), SecretInput::Keep)
        };
        let r = e.providers.update(&editor(), Role::Editor, None, &e.provider_id, trusted.clone()).await;
        assert!(matches!(r, Err(ProviderError::AdminOnly(_))), "{r:?}");
        e.providers.update(&editor(), Role::Admin, None, &e.provider_id, trusted).await.unwrap();
        assert!(e.store.provider(&e.provider_id).await.unwrap().unwrap().asserts_verified_email);
    }

    #[tokio::test]
    async fn an_application_sign_in_in_flight_when_the_provider_is_disabled_is_refused() {
        let e = env().await;
        let b = browser();
        let started =
            e.sso.start(&e.provider_id, Purpose::Access, "https://wiki.example.test/", Some(&b.cookie)).await.unwrap();
        let input = callback_of(&b.at_provider(&started.authorize_url, ADA).await);
        e.store.set_provider_enabled(&e.provider_id, false).await.unwrap();
        assert_eq!(code_of(&e.callback(&b, &input).await), "provider_disabled");
        // Through the service, the attempts in flight are dropped as well.
        e.store.set_provider_enabled(&e.provider_id, true).await.unwrap();
        let b = browser();
        let started =
            e.sso.start(&e.provider_id, Purpose::Access, "https://wiki.example.test/", Some(&b.cookie)).await.unwrap();
        let input = callback_of(&b.at_provider(&started.authorize_url, ADA).await);
        e.providers.set_enabled(&editor(), Role::Editor, None, &e.provider_id, false).await.unwrap();
        assert!(e.callback(&b, &input).await.is_err(), "no application session from a disabled provider");
        assert_eq!(e.count("access_sessions").await, 0);
    }

    #[tokio::test]
    async fn a_flood_of_forged_callbacks_writes_one_audit_row_a_minute_and_counts_the_rest() {
        let e = env().await;
        let from = ClientInfo { ip: Some("203.0.113.9".into()), ..ClientInfo::default() };
        for i in 0..50 {
            let forged = CallbackInput {
                code: Some("x".into()),
                state: Some(format!("forged-{i}")),
                error: None,
                error_description: None,
                iss: None,
            };
            assert!(e.sso.callback(&forged, None, None, &from).await.is_err());
        }
        let rows = e.audit(Action::SsoSignInFailed).await;
        assert_eq!(rows.len(), 1, "one row for the minute: {rows:#?}");
    }

    #[tokio::test]
    async fn disabling_a_provider_ends_the_sessions_it_granted() {
        let e = env().await;
        e.signed_in(&browser(), ADA).await;
        assert_eq!(e.sessions().await, 1);
        e.providers.set_enabled(&editor(), Role::Editor, None, &e.provider_id, false).await.unwrap();
        assert_eq!(e.sessions().await, 0);
        let (_, _, _, details) = e.audit(Action::ProviderDisabled).await.into_iter().next().unwrap();
        assert_eq!(details["sessions_ended"], 1);
    }

    #[tokio::test]
    async fn lowering_or_removing_the_mapping_that_granted_a_role_ends_those_sessions() {
        let e = env().await;
        let session = e.signed_in(&browser(), ADA).await;
        assert_eq!(e.accounts.session(&session.token).await.unwrap().map(|u| u.role), Some(Role::Admin));
        let mapping = e.roles.list().await.unwrap().into_iter().next().unwrap();
        e.roles.set_role(&admin_caller(), &mapping.id, "viewer").await.unwrap();
        assert_eq!(e.sessions().await, 0, "the Admin session ends when the mapping is lowered");
        let session = e.signed_in(&browser(), ADA).await;
        assert_eq!(e.accounts.session(&session.token).await.unwrap().map(|u| u.role), Some(Role::Viewer));
        e.roles.remove(&admin_caller(), &mapping.id).await.unwrap();
        assert_eq!(e.sessions().await, 0, "and when it is removed");
        // Each change is audited with where it came from.
        for action in [Action::RoleMappingCreated, Action::RoleMappingUpdated, Action::RoleMappingDeleted] {
            let q = AuditQuery { action: Some(action.as_str().into()), limit: 5, ..Default::default() };
            let records = e.store.audit_page(&q).await.unwrap().records;
            assert_eq!(records[0].ip.as_deref(), Some("192.0.2.10"), "{}", action.as_str());
        }
    }
}

/// Replicas share sign-in attempts through the database: the callback may reach another
/// replica than the one that sent the browser to the provider, and the state is still one-time.
#[tokio::test]
async fn a_sign_in_started_on_one_replica_finishes_on_another_and_its_state_works_once() {
    let e = env().await;
    let b = browser();
    // Replica B: its own pool and in-memory state, on the same database and secret key.
    let store_b = Store::open(&e.db_url).await.unwrap();
    let policy = SessionPolicy { idle: Duration::from_secs(600), lifetime: Duration::from_secs(3600) };
    let sso_b = SsoService::new(store_b, SecretBox::from_key(&[7u8; 32]), loopback_outbound(None), PUBLIC_BASE, policy);
    let input = e.authorize(&b, ADA).await;
    let session = session_of(sso_b.callback(&input, Some(&b.cookie), None, &client()).await);
    let on_a = e.accounts.session(&session.token).await.unwrap().expect("the session, on replica A");
    assert_eq!(on_a.role, Role::Admin);
    assert!(e.callback(&b, &input).await.is_err(), "the state was used on replica B");
}
