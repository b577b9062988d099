//! Forward-auth decisions over a real (in-memory) database: access sessions, policies,
//! and group changes seen at the next request.

use portcullis_domain::{
    assertion::Assertions,
    audit::Actor,
    crypto::SecretBox,
    forward_auth::{AccessError, Answer, ForwardAuth, OriginalRequest, SsoSession},
    policies::{Action, ApplicationInput, GroupRef, HostRule, PolicyInput, PolicyService, Rules, Selector},
    store::{new_id, now_ms, policies::PersonRow, AuditQuery, IdentityRow},
    Role, SignedIn, Store,
};

use super::support::{group_input, okta_provider};

struct World {
    store: Store,
    auth: ForwardAuth,
    assertions: Assertions,
    provider: String,
    ada: SignedIn,
    wiki: String,
}

const ISSUER: &str = "https://pc.example.test";

fn group(provider: &str, id: &str) -> Selector {
    Selector::Group(GroupRef { provider_id: provider.into(), external_id: id.into() })
}

async fn world() -> World {
    let store = Store::in_memory().await.unwrap();
    let provider = new_id();
    let now = now_ms();
    let row = okta_provider(&provider, "Okta", "https://acme.okta.example", "off", "x".into());
    let groups =
        [("00gEng", "Engineering"), ("00gCon", "Contractors")].map(|(id, name)| group_input(id, name, "OKTA_GROUP"));
    store.save_provider(&row, &groups, "sync").await.unwrap();
    let eng = store.provider_groups(&provider).await.unwrap().into_iter().find(|g| g.external_id == "00gEng").unwrap();
    let person = PersonRow {
        id: new_id(),
        provider_id: provider.clone(),
        external_id: "00uAda".into(),
        email: "ada@example.com".into(),
        display_name: "Ada Lovelace".into(),
        state: "active".into(),
        okta_status: "ACTIVE".into(),
        email_verified: true,
    };
    store.insert_directory_person_fixture(&person, now).await.unwrap();
    store.insert_membership_fixture(&eng.id, &person.id, now).await.unwrap();

    let user = store.insert_user(&new_id(), "ada@example.com", "Ada Lovelace", None, None).await.unwrap();
    let identity = IdentityRow {
        id: new_id(),
        user_id: user.id.clone(),
        provider_id: provider.clone(),
        subject: "00uAda".into(),
        email: user.email.clone(),
        groups: "[]".into(),
        created_at: now,
        last_login_at: now,
        email_verified: true,
    };
    store.insert_identity(&identity).await.unwrap();
    let ada = SignedIn {
        user_id: user.id.clone(),
        email: user.email.clone(),
        display_name: user.display_name.clone(),
        role: Role::Viewer,
        session_id: "console-session-1".into(),
        identity_id: Some(identity.id.clone()),
        refresh_due: false,
        session_expires_at: now + 8 * 3_600_000,
    };

    let policies = PolicyService::new(store.clone());
    let eng = || vec![group(&provider, "00gEng")];
    let app = application(
        &policies,
        "Wiki",
        "wiki.example.test",
        60,
        &[("No contractors", Action::Block, vec![group(&provider, "00gCon")]), ("Engineers", Action::Allow, eng())],
    )
    .await;
    application(
        &policies,
        "Status page",
        "status.example.test",
        60,
        &[("Anyone", Action::Bypass, vec![Selector::Everyone])],
    )
    .await;
    application(&policies, "Tracker", "tracker.example.test", 10, &[("Engineers", Action::Allow, eng())]).await;
    let assertions = Assertions::load(store.clone(), SecretBox::from_key(&[7u8; 32]), ISSUER).await.unwrap();
    World {
        auth: ForwardAuth::new(store.clone(), policies, assertions.clone()),
        assertions,
        store,
        provider,
        ada,
        wiki: app,
    }
}

/// An application on one host with its policies, each including `include`; returns its id.
async fn application(
    policies: &PolicyService,
    name: &str,
    host: &str,
    minutes: u32,
    rules: &[(&str, Action, Vec<Selector>)],
) -> String {
    let app = policies
        .create_application(
            &Actor::System,
            None,
            &ApplicationInput {
                name: name.into(),
                hosts: vec![HostRule { hostname: host.into(), path_prefix: "/".into() }],
                session_duration_minutes: minutes,
            },
        )
        .await
        .unwrap();
    for (policy, action, include) in rules {
        let rules = Rules { include: include.clone(), require: vec![], exclude: vec![] };
        let input = PolicyInput { name: (*policy).into(), action: *action, rules, enabled: true };
        policies.create_policy(&Actor::System, None, &app.id, &input).await.unwrap();
    }
    app.id
}

fn request(host: &str, uri: &str) -> OriginalRequest {
    OriginalRequest { scheme: "https", host: host.into(), uri: uri.into(), method: Some("GET".into()) }
}

/// The cookies a browser holds: (name, value).
type Jar = Vec<(String, String)>;

async fn decide_at(w: &World, jar: &Jar, host: &str, uri: &str) -> Result<Answer, AccessError> {
    let cookie = |is: &dyn Fn(&str) -> bool| jar.iter().find(|(n, _)| is(n)).map(|(_, v)| v.as_str());
    w.auth.decide(&request(host, uri), cookie, Some("192.0.2.1"), None).await
}

async fn decide(w: &World, jar: &Jar, host: &str) -> Answer {
    decide_at(w, jar, host, "/page?x=1").await.unwrap()
}

/// What a browser does: the console hands a code to the application's host, which trades
/// it for the application's cookie.
async fn sign_in_to(w: &World, from: &SsoSession, url: &str) -> (String, String, i64) {
    let callback = w.auth.hand_off(from, url).await.unwrap();
    let code = callback.split("code=").nth(1).unwrap();
    assert!(callback
        .starts_with(&format!("{}/.portcullis/callback?code=", url.split('/').take(3).collect::<Vec<_>>().join("/"))));
    let s = w.auth.redeem(code).await.unwrap().expect("a fresh code is good once");
    assert_eq!(s.return_to, url);
    (s.cookie_name, s.token, s.max_age_secs)
}

/// Ada's console session, as the console would have it.
async fn console(w: &World) -> SsoSession {
    w.store
        .insert_session(&w.ada.session_id, &w.ada.user_id, now_ms(), w.ada.session_expires_at, None, None, None)
        .await
        .unwrap();
    SsoSession::from(&w.ada)
}

#[tokio::test]
async fn without_an_access_session_the_answer_is_sign_in_and_come_back() {
    let w = world().await;
    let back = Answer::SignIn { back: "https://wiki.example.test/page?x=1".into() };
    assert_eq!(decide(&w, &vec![], "wiki.example.test").await, back);
    let name = portcullis_domain::forward_auth::app_cookie_name(&w.wiki, true);
    assert_eq!(decide(&w, &vec![(name, "forged-token".into())], "wiki.example.test").await, back);
}

#[tokio::test]
async fn a_member_of_an_allowed_group_is_let_through_with_identity_headers_and_a_signed_assertion() {
    let w = world().await;
    let from = console(&w).await;
    let (name, token, max_age) = sign_in_to(&w, &from, "https://wiki.example.test/page").await;
    assert!((3500..=3600).contains(&max_age), "the application's session duration: {max_age}");
    let Answer::Allow { identity, assertion } = decide(&w, &vec![(name, token)], "wiki.example.test").await else {
        panic!("not allowed")
    };
    assert_eq!(
        (identity.user.as_str(), identity.email.as_str(), identity.groups.as_str()),
        ("Ada Lovelace", "ada@example.com", "Engineering")
    );

    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&w.assertions.jwks()).unwrap();
    let kid = jsonwebtoken::decode_header(&*assertion).unwrap().kid.unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(jwks.find(&kid).unwrap()).unwrap();
    let mut check = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::ES256);
    check.set_issuer(&[ISSUER]);
    check.set_audience(&[w.wiki.as_str()]);
    let claims = jsonwebtoken::decode::<serde_json::Value>(&*assertion, &key, &check).unwrap().claims;
    assert_eq!(claims["sub"], w.ada.user_id.as_str());
    assert_eq!(claims["email"], "ada@example.com");
    assert_eq!(claims["groups"], serde_json::json!(["Engineering"]));
    assert_eq!(claims["aud"], serde_json::json!([w.wiki, "wiki.example.test"]));
    assert!(claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap() <= 300);
}

#[tokio::test]
async fn a_cookie_for_one_application_is_refused_by_another() {
    let w = world().await;
    let from = console(&w).await;
    let (_, wiki_token, _) = sign_in_to(&w, &from, "https://wiki.example.test/").await;
    let (tracker_name, _, max_age) = sign_in_to(&w, &from, "https://tracker.example.test/").await;
    assert!(max_age <= 600, "the tracker's own, shorter session duration: {max_age}");
    // The wiki's token under the tracker's cookie name: worthless there.
    let replay = vec![(tracker_name, wiki_token)];
    assert!(matches!(decide(&w, &replay, "tracker.example.test").await, Answer::SignIn { .. }));
}

#[tokio::test]
async fn a_one_time_code_works_once_and_not_after_sign_out() {
    let w = world().await;
    let from = console(&w).await;
    let callback = w.auth.hand_off(&from, "https://wiki.example.test/").await.unwrap();
    let code = callback.split("code=").nth(1).unwrap();
    assert!(w.auth.redeem(code).await.unwrap().is_some());
    assert!(w.auth.redeem(code).await.unwrap().is_none(), "replayed code");
    assert!(w.auth.redeem("made-up").await.unwrap().is_none());
    let callback = w.auth.hand_off(&from, "https://wiki.example.test/").await.unwrap();
    w.auth.sign_out_user(&w.ada.user_id).await.unwrap();
    assert!(w.auth.redeem(callback.split("code=").nth(1).unwrap()).await.unwrap().is_none(), "after sign-out");
}

#[tokio::test]
async fn a_single_sign_on_session_hands_out_every_application_and_signing_out_on_one_ends_all() {
    let w = world().await;
    let (sso_token, sso) = w.auth.start_sso(&w.ada.user_id, w.ada.identity_id.as_deref(), 3_600_000).await.unwrap();
    let from = w.auth.sso_session(&sso_token).await.unwrap().expect("the single sign-on session");
    assert_eq!(from.session_id, sso.session_id);
    let wiki = sign_in_to(&w, &from, "https://wiki.example.test/").await;
    let tracker = sign_in_to(&w, &from, "https://tracker.example.test/").await;
    let jar = vec![(wiki.0.clone(), wiki.1.clone()), (tracker.0.clone(), tracker.1.clone())];
    assert!(matches!(decide(&w, &jar, "wiki.example.test").await, Answer::Allow { .. }));
    assert!(matches!(decide(&w, &jar, "tracker.example.test").await, Answer::Allow { .. }));
    // The single sign-on cookie is no application's cookie.
    let name = portcullis_domain::forward_auth::app_cookie_name(&w.wiki, true);
    assert!(matches!(decide(&w, &vec![(name, sso_token.clone())], "wiki.example.test").await, Answer::SignIn { .. }));

    let users = w.auth.sign_out_tokens(&[wiki.1.as_str()]).await.unwrap();
    assert_eq!(users, vec![w.ada.user_id.clone()]);
    assert!(matches!(decide(&w, &jar, "wiki.example.test").await, Answer::SignIn { .. }));
    assert!(matches!(decide(&w, &jar, "tracker.example.test").await, Answer::SignIn { .. }));
    assert!(w.auth.sso_session(&sso_token).await.unwrap().is_none());
}

#[tokio::test]
async fn a_group_change_takes_effect_on_the_next_request() {
    let w = world().await;
    let from = console(&w).await;
    let (name, token, _) = sign_in_to(&w, &from, "https://wiki.example.test/").await;
    let jar = vec![(name, token)];
    assert!(matches!(decide(&w, &jar, "wiki.example.test").await, Answer::Allow { .. }));
    // A sign-in (as sync and SCIM do) records Ada in Contractors: blocked at once, no restart.
    w.store
        .record_sign_in_directory(
            &w.provider,
            "00uAda",
            "ada@example.com",
            "Ada Lovelace",
            &[("00gEng".into(), "Engineering".into()), ("00gCon".into(), "Contractors".into())],
        )
        .await
        .unwrap();
    assert_eq!(decide(&w, &jar, "wiki.example.test").await, Answer::Deny { application: "Wiki".into() });
    // Every block is in the audit log (written in the background).
    let mut found = false;
    for _ in 0..50 {
        let page = w
            .store
            .audit_page(&AuditQuery { action: Some("access.blocked".into()), limit: 10, ..Default::default() })
            .await
            .unwrap();
        if let Some(e) = page.records.first() {
            assert_eq!(e.target.as_deref(), Some("ada@example.com"));
            assert!(e.details.contains("No contractors"));
            found = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(found, "access.blocked recorded");
}

#[tokio::test]
async fn signing_out_of_the_console_ends_access_to_the_applications() {
    let w = world().await;
    let from = console(&w).await;
    let (name, token, _) = sign_in_to(&w, &from, "https://wiki.example.test/").await;
    let jar = vec![(name, token)];
    assert!(matches!(decide(&w, &jar, "wiki.example.test").await, Answer::Allow { .. }));
    w.store.delete_access_sessions_of_user(&w.ada.user_id).await.unwrap();
    assert!(matches!(decide(&w, &jar, "wiki.example.test").await, Answer::SignIn { .. }));
}

#[tokio::test]
async fn access_is_only_handed_out_for_an_application_address() {
    let w = world().await;
    let from = console(&w).await;
    let long = format!("https://wiki.example.test/{}", "a".repeat(3000));
    for url in
        ["https://evil.example.com/", "javascript:alert(1)", "/relative", "https://user@wiki.example.test/", &long]
    {
        assert!(matches!(w.auth.hand_off(&from, url).await, Err(AccessError::UnknownApplication(_))), "{url}");
    }
}

#[tokio::test]
async fn unknown_hosts_are_refused_and_bypass_needs_no_sign_in() {
    let w = world().await;
    assert_eq!(decide(&w, &vec![], "other.example.test").await, Answer::NoApplication);
    assert_eq!(decide(&w, &vec![], "status.example.test").await, Answer::Bypass);
}

#[tokio::test]
async fn ambiguous_paths_are_an_error_not_a_decision() {
    let w = world().await;
    for uri in ["/x/..%2Fpage", "/x%5Cpage", "/a;x/b", "/a/x://y/b"] {
        assert!(matches!(decide_at(&w, &vec![], "wiki.example.test", uri).await, Err(AccessError::Path(_))), "{uri}");
    }
}

#[tokio::test]
async fn a_pinned_endpoint_refuses_hosts_of_other_applications() {
    let w = world().await;
    let pinned = |host: &str| {
        let req = request(host, "/");
        let auth = w.auth.clone();
        let wiki = w.wiki.clone();
        async move { auth.decide(&req, |_: &dyn Fn(&str) -> bool| None, None, Some(&wiki)).await.unwrap() }
    };
    assert!(matches!(pinned("wiki.example.test").await, Answer::SignIn { .. }));
    assert_eq!(pinned("status.example.test").await, Answer::NotPinned);
    assert_eq!(pinned("tracker.example.test").await, Answer::NotPinned);
}

#[tokio::test]
async fn a_disabled_account_loses_access_at_its_next_request() {
    let w = world().await;
    let from = console(&w).await;
    let (name, token, _) = sign_in_to(&w, &from, "https://wiki.example.test/").await;
    let jar = vec![(name, token)];
    assert!(matches!(decide(&w, &jar, "wiki.example.test").await, Answer::Allow { .. }));
    w.store.set_user_disabled(&w.ada.user_id, true).await.unwrap();
    assert!(matches!(decide(&w, &jar, "wiki.example.test").await, Answer::SignIn { .. }));
}
