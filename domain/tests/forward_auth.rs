//! Forward-auth decisions over a real (in-memory) database: access sessions, policies,
//! and group changes seen at the next request.

use portcullis_domain::{
    audit::Actor,
    forward_auth::{AccessError, Answer, ForwardAuth, Identity},
    policies::{Action, ApplicationInput, GroupRef, HostRule, PolicyInput, PolicyService, Rules, Selector},
    store::{new_id, now_ms, policies::PersonRow, AuditQuery, GroupInput, IdentityRow, ProviderRow},
    Role, SignedIn, Store,
};


struct World {
    store: Store,
    auth: ForwardAuth,
    provider: String,
    ada: SignedIn,
}

fn group(provider: &str, id: &str) -> Selector {
    Selector::Group(GroupRef { provider_id: provider.into(), external_id: id.into() })
}

async fn world() -> World {
    let store = Store::in_memory().await.unwrap();
    let provider = new_id();
    let now = now_ms();
    let row = ProviderRow { directory_mode: "off".into(), ..ProviderRow::new_okta(&provider, "Okta", "https://acme.okta.example", "c", "x".into()) };
    let groups = [("00gEng", "Engineering"), ("00gCon", "Contractors")]
        .map(|(id, name)| GroupInput { external_id: id.into(), name: name.into(), description: None, kind: "OKTA_GROUP".into(), last_updated: None });
    store.save_provider(&row, &groups, "sync").await.unwrap();
    let eng = store.provider_groups(&provider).await.unwrap().into_iter().find(|g| g.external_id == "00gEng").unwrap();
    let person = PersonRow {
        id: new_id(),
        provider_id: provider.clone(),
        external_id: "00uAda".into(),
        email: "ada@example.com".into(),
        display_name: "Ada Lovelace".into(),
        state: "active".into(),
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
    for (name, action, include) in [("No contractors", Action::Block, "00gCon"), ("Engineers", Action::Allow, "00gEng")] {
        policies
            .create_policy(
                &Actor::System,
                None,
                &app.id,
                &PolicyInput {
                    name: name.into(),
                    action,
                    rules: Rules { include: vec![group(&provider, include)], require: vec![], exclude: vec![] },
                    enabled: true,
                },
            )
            .await
            .unwrap();
    }
    let public = policies
        .create_application(
            &Actor::System,
            None,
            &ApplicationInput {
                name: "Status page".into(),
                hosts: vec![HostRule { hostname: "status.example.test".into(), path_prefix: "/".into() }],
                session_duration_minutes: 60,
            },
        )
        .await
        .unwrap();
    policies
        .create_policy(
            &Actor::System,
            None,
            &public.id,
            &PolicyInput {
                name: "Anyone".into(),
                action: Action::Bypass,
                rules: Rules { include: vec![Selector::Everyone], require: vec![], exclude: vec![] },
                enabled: true,
            },
        )
        .await
        .unwrap();
    World { auth: ForwardAuth::new(store.clone(), policies), store, provider, ada }
}

async fn decide(w: &World, token: Option<&str>, host: &str) -> Answer {
    w.auth.decide(token, "https", host, "/page?x=1", Some("192.0.2.1")).await.unwrap()
}

#[tokio::test]
async fn without_an_access_session_the_answer_is_sign_in_and_come_back() {
    let w = world().await;
    let back = Answer::SignIn { back: "https://wiki.example.test/page?x=1".into() };
    assert_eq!(decide(&w, None, "wiki.example.test").await, back);
    assert_eq!(decide(&w, Some("forged-token"), "wiki.example.test").await, back);
}

#[tokio::test]
async fn a_member_of_an_allowed_group_is_let_through_with_identity_headers() {
    let w = world().await;
    let (token, max_age) = w.auth.issue(&w.ada, "https://wiki.example.test/page").await.unwrap();
    assert!((3500..=3600).contains(&max_age), "the application's session duration: {max_age}");
    let Answer::Allow(who) = decide(&w, Some(&token), "wiki.example.test").await else { panic!("not allowed") };
    assert_eq!(*who, Identity { user: "Ada Lovelace".into(), email: "ada@example.com".into(), groups: "Engineering".into() });
}

#[tokio::test]
async fn a_group_change_takes_effect_on_the_next_request() {
    let w = world().await;
    let (token, _) = w.auth.issue(&w.ada, "https://wiki.example.test/").await.unwrap();
    assert!(matches!(decide(&w, Some(&token), "wiki.example.test").await, Answer::Allow(_)));
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
    assert_eq!(decide(&w, Some(&token), "wiki.example.test").await, Answer::Deny { application: "Wiki".into() });
    // Every block is in the audit log (written in the background).
    let mut found = false;
    for _ in 0..50 {
        let page = w.store.audit_page(&AuditQuery { before: None, action: Some("access.blocked".into()), limit: 10 }).await.unwrap();
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
    let (token, _) = w.auth.issue(&w.ada, "https://wiki.example.test/").await.unwrap();
    assert!(matches!(decide(&w, Some(&token), "wiki.example.test").await, Answer::Allow(_)));
    w.auth.sign_out(&w.ada.session_id).await.unwrap();
    assert!(matches!(decide(&w, Some(&token), "wiki.example.test").await, Answer::SignIn { .. }));
}

#[tokio::test]
async fn access_is_only_issued_for_an_application_address() {
    let w = world().await;
    for url in ["https://evil.example.com/", "javascript:alert(1)", "/relative"] {
        assert!(matches!(w.auth.issue(&w.ada, url).await, Err(AccessError::UnknownApplication(_))), "{url}");
    }
}

#[tokio::test]
async fn unknown_hosts_are_refused_and_bypass_needs_no_sign_in() {
    let w = world().await;
    assert_eq!(decide(&w, None, "other.example.test").await, Answer::NoApplication);
    assert_eq!(decide(&w, None, "status.example.test").await, Answer::Bypass);
}

#[tokio::test]
async fn a_disabled_account_loses_access_at_its_next_request() {
    let w = world().await;
    let (token, _) = w.auth.issue(&w.ada, "https://wiki.example.test/").await.unwrap();
    assert!(matches!(decide(&w, Some(&token), "wiki.example.test").await, Answer::Allow(_)));
    w.store.set_user_disabled(&w.ada.user_id, true).await.unwrap();
    assert!(matches!(decide(&w, Some(&token), "wiki.example.test").await, Answer::SignIn { .. }));
}
