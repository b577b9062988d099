//! The policy builder against an in-memory database with a small synced directory.

use std::collections::BTreeMap;

use portcullis_domain::{
    audit::Action as AuditAction,
    policies::{
        Action, ApplicationInput, ExportedProvider, GroupRef, HostRule, ImportMode, ImportTarget, Move, Outcome,
        PolicyDocument, PolicyError, PolicyInput, PolicyService, ProviderMatchKind, Rules, Selector, StepResult,
        UserRef,
    },
    store::{new_id, now_ms, policies::PersonRow, AuditQuery, ProviderRow, Store},
};

use super::support::{admin, file_store, group_input, okta_provider};

const OKTA: &str = "prov-okta";

struct Env {
    store: Store,
    svc: PolicyService,
}

fn provider(id: &str, name: &str) -> ProviderRow {
    okta_provider(id, name, &format!("https://{id}.okta.test"), "api_token", "sealed".into())
}

/// Okta with Everyone (built in), Engineering and Contractors; Ann and Bob in Engineering,
/// Cy a contractor, Dee in no group, Eve disabled (in Engineering).
async fn env() -> Env {
    env_on(Store::in_memory().await.unwrap()).await
}

async fn env_on(store: Store) -> Env {
    let groups = [
        group_input("00gEveryone", "Everyone", "BUILT_IN"),
        group_input("00gEng", "Engineering", "OKTA_GROUP"),
        group_input("00gCon", "Contractors", "OKTA_GROUP"),
    ];
    store.save_provider(&provider(OKTA, "Acme Okta"), &groups, "sync").await.unwrap();
    let e = Env { svc: PolicyService::new(store.clone()), store };
    for (ext, email, name, state, groups) in [
        ("00uAnn", "ann@example.com", "Ann", "active", &["00gEng"][..]),
        ("00uBob", "bob@example.com", "Bob", "active", &["00gEng"][..]),
        ("00uCy", "cy@partner.test", "Cy", "active", &["00gCon"][..]),
        ("00uDee", "dee@example.com", "Dee", "active", &[][..]),
        ("00uEve", "eve@example.com", "Eve", "disabled", &["00gEng"][..]),
    ] {
        e.person(ext, email, name, state, groups).await;
    }
    e
}

impl Env {
    async fn person(&self, external_id: &str, email: &str, name: &str, state: &str, groups: &[&str]) -> String {
        let id = new_id();
        let row = PersonRow {
            id: id.clone(),
            provider_id: OKTA.into(),
            external_id: external_id.into(),
            email: email.into(),
            display_name: name.into(),
            state: state.into(),
            okta_status: "ACTIVE".into(),
            email_verified: true,
        };
        self.store.insert_directory_person_fixture(&row, now_ms()).await.unwrap();
        for g in groups {
            self.store.insert_membership_fixture(&self.group_row_id(g).await, &id, now_ms()).await.unwrap();
        }
        id
    }

    async fn group_row_id(&self, external_id: &str) -> String {
        let groups = self.store.provider_groups(OKTA).await.unwrap();
        groups.into_iter().find(|g| g.external_id == external_id).map(|g| g.id).unwrap()
    }

    async fn user_id(&self, external_id: &str) -> String {
        self.store.person_by_external(OKTA, external_id).await.unwrap().map(|p| p.id).unwrap()
    }

    async fn app(&self, name: &str, hosts: &[(&str, &str)]) -> String {
        self.svc.create_application(&admin(), None, &app_input(name, hosts)).await.unwrap().id
    }

    async fn policy(&self, app: &str, name: &str, action: Action, rules: Rules) -> String {
        let input = PolicyInput { name: name.into(), action, rules, enabled: true };
        self.svc.create_policy(&admin(), Some("10.0.0.1"), app, &input).await.unwrap().id
    }

    async fn audit(&self, action: AuditAction) -> Vec<(Option<String>, serde_json::Value)> {
        let q = AuditQuery { action: Some(action.as_str().into()), limit: 500, ..Default::default() };
        let page = self.store.audit_page(&q).await.unwrap();
        page.records.into_iter().map(|r| (r.target, serde_json::from_str(&r.details).unwrap())).collect()
    }

    async fn names(&self, app: &str) -> Vec<String> {
        self.svc.policies(app).await.unwrap().into_iter().map(|p| p.name).collect()
    }
}

fn app_input(name: &str, hosts: &[(&str, &str)]) -> ApplicationInput {
    ApplicationInput {
        name: name.into(),
        hosts: hosts.iter().map(|(h, p)| HostRule::new(*h, *p)).collect(),
        session_duration_minutes: 480,
    }
}

fn group(external_id: &str) -> Selector {
    Selector::Group(GroupRef { provider_id: OKTA.into(), external_id: external_id.into() })
}

fn include(list: Vec<Selector>) -> Rules {
    Rules { include: list, ..Default::default() }
}

#[tokio::test]
async fn applications_are_created_checked_changed_and_deleted_with_an_audit_trail() {
    let e = env().await;
    let wiki =
        e.svc.create_application(&admin(), None, &app_input(" Wiki ", &[("Wiki.Example.com", "/")])).await.unwrap();
    assert_eq!(wiki.name, "Wiki");
    assert_eq!(wiki.hosts, vec![HostRule::new("wiki.example.com", "/")]);

    // One host and prefix belong to one application, named in the error.
    let err =
        e.svc.create_application(&admin(), None, &app_input("Other", &[("wiki.example.com", "/")])).await.unwrap_err();
    assert!(matches!(&err, PolicyError::HostTaken { application, .. } if application == "Wiki"), "{err}");
    assert!(err.to_string().contains("already belongs to the application 'Wiki'"), "{err}");
    // Another prefix on the same host is another application.
    let admin_app = e.app("Wiki admin", &[("wiki.example.com", "/admin/")]).await;
    let err =
        e.svc.create_application(&admin(), None, &app_input("Wiki", &[("x.example.com", "/")])).await.unwrap_err();
    assert!(matches!(err, PolicyError::ApplicationNameTaken(_)), "{err}");
    let err =
        e.svc.create_application(&admin(), None, &app_input("Bad", &[("x.example.com", "admin")])).await.unwrap_err();
    assert!(err.to_string().contains("must start with '/'"), "{err}");

    let changed = e
        .svc
        .update_application(
            &admin(),
            None,
            &wiki.id,
            &app_input("Wiki", &[("wiki.example.com", "/"), ("docs.example.com", "/")]),
        )
        .await
        .unwrap();
    assert_eq!(changed.hosts.len(), 2);
    // Keeping its own hosts is not a conflict with itself.
    e.svc.update_application(&admin(), None, &wiki.id, &app_input("Wiki", &[("wiki.example.com", "/")])).await.unwrap();

    e.policy(&admin_app, "Engineers", Action::Allow, include(vec![group("00gEng")])).await;
    e.svc.delete_application(&admin(), None, &admin_app).await.unwrap();
    assert!(matches!(e.svc.policies(&admin_app).await, Err(PolicyError::ApplicationNotFound)));
    assert!(e.store.all_policies().await.unwrap().is_empty(), "policies go with their application");
    assert_eq!(e.svc.applications().await.unwrap().len(), 1);

    assert_eq!(e.audit(AuditAction::ApplicationCreated).await.len(), 2);
    let updated = e.audit(AuditAction::ApplicationUpdated).await;
    assert_eq!(updated.len(), 2);
    assert_eq!(updated[1].1["after"]["hosts"], serde_json::json!(["docs.example.com", "wiki.example.com"]));
    let deleted = e.audit(AuditAction::ApplicationDeleted).await;
    assert_eq!(deleted[0].0.as_deref(), Some("Wiki admin"));
    assert_eq!(deleted[0].1["policies_deleted"], 1);
}

#[tokio::test]
async fn policies_are_validated_ordered_moved_and_deleted() {
    let e = env().await;
    let app = e.app("Wiki", &[("wiki.example.com", "/")]).await;
    let a = e.policy(&app, "A", Action::Allow, include(vec![group("00gEng")])).await;
    let b = e.policy(&app, "B", Action::Block, include(vec![group("00gCon")])).await;
    let c =
        e.policy(&app, "C", Action::Allow, include(vec![Selector::EmailDomain { domain: "Example.com".into() }])).await;
    assert_eq!(e.names(&app).await, ["A", "B", "C"]);
    assert_eq!(
        e.svc.policy(&c).await.unwrap().rules.include,
        vec![Selector::EmailDomain { domain: "example.com".into() }]
    );

    let bad = |rules: Rules| PolicyInput { name: "X".into(), action: Action::Allow, rules, enabled: true };
    let err = e.svc.create_policy(&admin(), None, &app, &bad(Rules::default())).await.unwrap_err();
    assert!(matches!(err, PolicyError::EmptyInclude), "{err}");
    let err = e.svc.create_policy(&admin(), None, &app, &bad(include(vec![group("00gNope")]))).await.unwrap_err();
    assert!(matches!(&err, PolicyError::UnknownGroup { external_id, .. } if external_id == "00gNope"), "{err}");
    let other_provider = Selector::Group(GroupRef { provider_id: "elsewhere".into(), external_id: "00gEng".into() });
    assert!(e.svc.create_policy(&admin(), None, &app, &bad(include(vec![other_provider]))).await.is_err());
    let ghost = Selector::User(UserRef { provider_id: OKTA.into(), external_id: "00uGhost".into() });
    assert!(matches!(
        e.svc.create_policy(&admin(), None, &app, &bad(include(vec![ghost]))).await,
        Err(PolicyError::UnknownUser { .. })
    ));
    let idp = Selector::IdentityProvider { provider_id: "nope".into() };
    assert!(matches!(
        e.svc.create_policy(&admin(), None, &app, &bad(include(vec![idp]))).await,
        Err(PolicyError::UnknownProvider(_))
    ));
    let dup = PolicyInput { name: "a".into(), ..bad(include(vec![Selector::Everyone])) };
    assert!(matches!(e.svc.create_policy(&admin(), None, &app, &dup).await, Err(PolicyError::PolicyNameTaken(_))));

    e.svc.move_policy(&admin(), None, &c, Move::Up).await.unwrap();
    assert_eq!(e.names(&app).await, ["A", "C", "B"]);
    // At the top, Up changes nothing.
    e.svc.move_policy(&admin(), None, &a, Move::Up).await.unwrap();
    assert_eq!(e.names(&app).await, ["A", "C", "B"]);
    let order = e.svc.reorder_policies(&admin(), None, &app, &[b.clone(), a.clone(), c.clone()]).await.unwrap();
    assert_eq!(order.iter().map(|p| p.position).collect::<Vec<_>>(), [0, 1, 2]);
    assert_eq!(e.names(&app).await, ["B", "A", "C"]);
    for wrong in
        [vec![a.clone(), b.clone()], vec![a.clone(), a.clone(), c.clone()], vec![a.clone(), b.clone(), "x".into()]]
    {
        assert!(matches!(e.svc.reorder_policies(&admin(), None, &app, &wrong).await, Err(PolicyError::BadOrder)));
    }
    e.svc.delete_policy(&admin(), None, &a).await.unwrap();
    let left = e.svc.policies(&app).await.unwrap();
    assert_eq!(left.iter().map(|p| (p.name.as_str(), p.position)).collect::<Vec<_>>(), [("B", 0), ("C", 1)]);
    let next = e.policy(&app, "D", Action::Allow, include(vec![Selector::Everyone])).await;
    assert_eq!(e.svc.policy(&next).await.unwrap().position, 2);

    let updated = PolicyInput {
        name: "C2".into(),
        action: Action::Bypass,
        rules: include(vec![Selector::Everyone]),
        enabled: false,
    };
    let after = e.svc.update_policy(&admin(), None, &c, &updated).await.unwrap();
    assert_eq!((after.name.as_str(), after.action, after.enabled, after.position), ("C2", Action::Bypass, false, 1));

    let created = e.audit(AuditAction::PolicyCreated).await;
    assert_eq!(created.len(), 4);
    let last = &created.iter().find(|(t, _)| t.as_deref() == Some("C")).unwrap().1;
    assert_eq!(last["application"], "Wiki");
    assert_eq!(
        last["policy"]["rules"]["include"][0],
        serde_json::json!({"type": "email_domain", "domain": "example.com"})
    );
    let upd = &e.audit(AuditAction::PolicyUpdated).await[0].1;
    assert_eq!((upd["before"]["action"].as_str(), upd["after"]["action"].as_str()), (Some("allow"), Some("bypass")));
    assert_eq!(e.audit(AuditAction::PoliciesReordered).await.len(), 2, "a move that changes nothing is not recorded");
    assert_eq!(e.audit(AuditAction::PolicyDeleted).await.len(), 1);
}

#[tokio::test]
async fn labels_show_the_current_group_name_and_policies_survive_a_rename() {
    let e = env().await;
    let app = e.app("Wiki", &[("wiki.example.com", "/")]).await;
    let id = e.policy(&app, "Engineers", Action::Allow, include(vec![group("00gEng")])).await;
    assert_eq!(e.svc.describe(&group("00gEng")).await.unwrap(), "Engineering");

    e.store.rename_group_fixture(&e.group_row_id("00gEng").await, "Platform Engineering").await.unwrap();
    let views = e.svc.policy_views(&app).await.unwrap();
    assert_eq!(views[0].include[0].label, "Platform Engineering");
    assert!(!views[0].include[0].missing);
    let ann = e.user_id("00uAnn").await;
    assert_eq!(
        e.svc.test_user(&ann, &app).await.unwrap().outcome,
        Outcome::Allow,
        "the policy still follows the group"
    );

    let user = Selector::User(UserRef { provider_id: OKTA.into(), external_id: "00uBob".into() });
    let idp = Selector::IdentityProvider { provider_id: OKTA.into() };
    assert_eq!(e.svc.describe(&user).await.unwrap(), "Bob <bob@example.com>");
    assert_eq!(e.svc.describe(&idp).await.unwrap(), "Acme Okta");
    assert_eq!(e.svc.describe(&Selector::Everyone).await.unwrap(), "Everyone");

    // The group disappears from Okta: shown as gone, and the policy can still be edited.
    let eng = e.group_row_id("00gEng").await;
    // In-memory databases have one connection: the transaction starts after the lookup.
    let mut tx = e.store.begin_directory().await.unwrap();
    tx.delete_group(&eng).await.unwrap();
    tx.commit().await.unwrap();
    let views = e.svc.policy_views(&app).await.unwrap();
    assert_eq!(views[0].include[0].label, "(group no longer in the directory)");
    assert!(views[0].include[0].missing);
    let input = PolicyInput {
        name: "Engineers (old)".into(),
        action: Action::Allow,
        rules: include(vec![group("00gEng")]),
        enabled: false,
    };
    e.svc.update_policy(&admin(), None, &id, &input).await.unwrap();
    // A gone group cannot be added anew.
    let input = PolicyInput { rules: include(vec![group("00gEng"), group("00gGone")]), ..input };
    assert!(matches!(e.svc.update_policy(&admin(), None, &id, &input).await, Err(PolicyError::UnknownGroup { .. })));
}

#[tokio::test]
async fn the_preview_counts_active_directory_users_and_follows_directory_changes() {
    let e = env().await;
    let app = e.app("Wiki", &[("wiki.example.com", "/")]).await;
    let eng = e.svc.preview(&app, &include(vec![group("00gEng")])).await.unwrap();
    assert_eq!((eng.matched, eng.total), (2, 4), "Eve is disabled: neither matched nor counted");
    assert_eq!(eng.users.iter().map(|u| u.display_name.as_str()).collect::<Vec<_>>(), ["Ann", "Bob"]);

    let everyone_group = e.svc.preview(&app, &include(vec![group("00gEveryone")])).await.unwrap();
    assert_eq!(everyone_group.matched, 4, "Okta's built-in Everyone holds every user of its provider");
    let domain_minus_eng = Rules {
        include: vec![Selector::EmailDomain { domain: "EXAMPLE.com".into() }],
        exclude: vec![group("00gEng")],
        ..Default::default()
    };
    let p = e.svc.preview(&app, &domain_minus_eng).await.unwrap();
    assert_eq!(p.users.iter().map(|u| u.email.as_str()).collect::<Vec<_>>(), ["dee@example.com"]);
    let required = Rules { include: vec![Selector::Everyone], require: vec![group("00gCon")], ..Default::default() };
    assert_eq!(e.svc.preview(&app, &required).await.unwrap().matched, 1);
    assert_eq!(e.svc.preview(&app, &Rules::default()).await.unwrap().matched, 0, "an unfinished draft matches no one");

    // The directory changes: the next preview sees it.
    let dee = e.user_id("00uDee").await;
    e.store.insert_membership_fixture(&e.group_row_id("00gEng").await, &dee, now_ms() + 1).await.unwrap();
    for i in 0..120 {
        e.person(&format!("00uX{i:03}"), &format!("x{i:03}@example.com"), &format!("X {i:03}"), "active", &["00gEng"])
            .await;
    }
    let eng = e.svc.preview(&app, &include(vec![group("00gEng")])).await.unwrap();
    assert_eq!((eng.matched, eng.total), (123, 124));
    assert_eq!(eng.users.len(), 100, "the list stops at 100");
    assert!(matches!(e.svc.preview("nope", &Rules::default()).await, Err(PolicyError::ApplicationNotFound)));
}

#[tokio::test]
async fn testing_a_user_says_which_policy_and_rule_decided_or_why_none_did() {
    let e = env().await;
    let app = e.app("Wiki", &[("wiki.example.com", "/")]).await;
    e.policy(&app, "Engineers", Action::Allow, include(vec![group("00gEng")])).await;
    e.policy(&app, "No contractors", Action::Block, include(vec![group("00gCon")])).await;
    e.policy(
        &app,
        "Staff",
        Action::Allow,
        Rules {
            include: vec![Selector::EmailDomain { domain: "example.com".into() }],
            exclude: vec![Selector::User(UserRef { provider_id: OKTA.into(), external_id: "00uDee".into() })],
            ..Default::default()
        },
    )
    .await;

    let ann = e.svc.test_user(&e.user_id("00uAnn").await, &app).await.unwrap();
    assert_eq!(ann.outcome, Outcome::Allow);
    assert_eq!(ann.policy_name.as_deref(), Some("Engineers"));
    assert!(ann.summary.contains("group 'Engineering'"), "{}", ann.summary);
    // Block goes first even though it is second.
    assert_eq!(
        ann.steps.iter().map(|s| s.policy_name.as_str()).collect::<Vec<_>>(),
        ["No contractors", "Engineers", "Staff"]
    );
    assert_eq!(ann.steps[2].result, StepResult::NotReached);

    let cy = e.svc.test_user(&e.user_id("00uCy").await, &app).await.unwrap();
    assert_eq!((cy.outcome, cy.policy_name.as_deref()), (Outcome::Block, Some("No contractors")));

    let dee = e.svc.test_user(&e.user_id("00uDee").await, &app).await.unwrap();
    assert_eq!(dee.outcome, Outcome::NoMatch);
    assert!(!dee.outcome.permits());
    assert!(dee.steps[2].reason.contains("excluded by user 'Dee <dee@example.com>'"), "{}", dee.steps[2].reason);
    assert_eq!(dee.steps[1].result, StepResult::NotIncluded);

    let eve = e.svc.test_user(&e.user_id("00uEve").await, &app).await.unwrap();
    assert!(eve.summary.contains("disabled in the directory"), "{}", eve.summary);
    assert!(matches!(e.svc.test_user("nobody", &app).await, Err(PolicyError::UserNotFound)));
}

#[tokio::test]
async fn the_snapshot_routes_and_decides_and_follows_every_change() {
    let e = env().await;
    let wiki = e.app("Wiki", &[("wiki.example.com", "/")]).await;
    let admin_app = e.app("Wiki admin", &[("wiki.example.com", "/admin")]).await;
    e.policy(&wiki, "Staff", Action::Allow, include(vec![Selector::EmailDomain { domain: "example.com".into() }]))
        .await;
    e.policy(&admin_app, "Engineers", Action::Allow, include(vec![group("00gEng")])).await;

    let ann = e.svc.subject_for(OKTA, "00uAnn").await.unwrap().unwrap();
    let dee = e.svc.subject_for(OKTA, "00uDee").await.unwrap().unwrap();
    assert!(ann.groups.contains(&GroupRef { provider_id: OKTA.into(), external_id: "00gEveryone".into() }));
    assert!(e.svc.subject_for(OKTA, "00uNobody").await.unwrap().is_none());

    let snap = e.svc.snapshot().await.unwrap();
    let page = snap.find_application("Wiki.example.com:443", "/page?x=1").unwrap();
    let console = snap.find_application("wiki.example.com", "/admin/settings").unwrap();
    assert_eq!(page.id(), wiki);
    assert_eq!(console.id(), admin_app);
    assert!(snap.decide(page, &dee).permits());
    assert!(snap.decide(console, &ann).permits());
    let v = snap.decide(console, &dee);
    assert_eq!((v.outcome, v.policy), (Outcome::NoMatch, None));
    assert!(snap.find_application("other.example.com", "/").is_none());
    assert!(std::sync::Arc::ptr_eq(&snap, &e.svc.snapshot().await.unwrap()), "cached between changes");

    // A change, even through a clone of the service, gives the next caller a new snapshot.
    let clone = e.svc.clone();
    let dee_only = PolicyInput {
        name: "Dee".into(),
        action: Action::Allow,
        rules: include(vec![Selector::Email { email: "DEE@example.com".into() }]),
        enabled: true,
    };
    clone.create_policy(&admin(), None, &admin_app, &dee_only).await.unwrap();
    let snap = e.svc.snapshot().await.unwrap();
    let console = snap.find_application("wiki.example.com", "/admin").unwrap();
    assert_eq!(snap.decide(console, &dee).policy.map(|p| p.name.as_str()), Some("Dee"));
    clone.delete_application(&admin(), None, &admin_app).await.unwrap();
    let snap = e.svc.snapshot().await.unwrap();
    assert_eq!(snap.find_application("wiki.example.com", "/admin").map(|a| a.id().to_string()), Some(wiki));
}

#[tokio::test]
async fn export_and_import_round_trip_and_a_bad_file_changes_nothing() {
    let e = env().await;
    let wiki = e.app("Wiki", &[("wiki.example.com", "/")]).await;
    e.policy(&wiki, "No contractors", Action::Block, include(vec![group("00gCon")])).await;
    e.policy(
        &wiki,
        "Engineers",
        Action::Allow,
        Rules {
            include: vec![group("00gEng")],
            require: vec![Selector::IdentityProvider { provider_id: OKTA.into() }],
            ..Default::default()
        },
    )
    .await;

    let doc = e.svc.export(&wiki).await.unwrap();
    let json = doc.to_json();
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(value["format"], "portcullis.policies");
    assert_eq!(value["version"], 1);
    assert_eq!(
        value["application"]["hosts"][0],
        serde_json::json!({"hostname": "wiki.example.com", "path_prefix": "/"})
    );
    assert_eq!(
        value["policies"][1]["rules"]["include"][0],
        serde_json::json!({"type": "group", "provider_id": OKTA, "external_id": "00gEng"})
    );
    assert!(value["references"].as_array().unwrap().iter().any(|r| r["label"] == "Engineering"));

    // As a new application: the same policies, under another name and host.
    let mut parsed = PolicyDocument::from_json(&json).unwrap();
    assert_eq!(parsed, doc);
    let err = e
        .svc
        .import(&admin(), None, &ImportTarget::New, &parsed, ImportMode::Replace, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("already"), "same name and host as the original: {err}");
    if let Some(app) = parsed.application.as_mut() {
        app.name = "Wiki staging".into();
        app.hosts = vec![HostRule::new("wiki.staging.example.com", "/")];
    }
    let result =
        e.svc.import(&admin(), None, &ImportTarget::New, &parsed, ImportMode::Replace, &BTreeMap::new()).await.unwrap();
    assert!(result.created_application);
    assert_eq!(result.imported, 2);
    let copy = e.svc.export(&result.application_id).await.unwrap();
    assert_eq!(copy.policies, doc.policies);

    // Replace an existing application's policies; Append adds after them.
    let other = e.app("Grafana", &[("grafana.example.com", "/")]).await;
    e.policy(&other, "Old", Action::Allow, include(vec![Selector::Everyone])).await;
    let r = e
        .svc
        .import(&admin(), None, &ImportTarget::Existing(other.clone()), &parsed, ImportMode::Replace, &BTreeMap::new())
        .await
        .unwrap();
    assert_eq!((r.imported, r.replaced, r.created_application), (2, 1, false));
    assert_eq!(e.names(&other).await, ["No contractors", "Engineers"]);
    assert_eq!(e.svc.application(&other).await.unwrap().name, "Grafana", "settings of an existing application stay");
    let err = e
        .svc
        .import(&admin(), None, &ImportTarget::Existing(other.clone()), &parsed, ImportMode::Append, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, PolicyError::ImportPolicy { index: 0, source, .. } if matches!(**source, PolicyError::PolicyNameTaken(_))),
        "{err}"
    );

    // A file whose third policy names an unknown group: refused whole, nothing replaced.
    let mut bad = parsed.clone();
    bad.policies.push(PolicyInput {
        name: "Ghosts".into(),
        action: Action::Allow,
        rules: include(vec![group("00gGhost")]),
        enabled: true,
    });
    bad.references
        .push(portcullis_domain::policies::Reference { selector: group("00gGhost"), label: "Ghost team".into() });
    let err = e
        .svc
        .import(&admin(), None, &ImportTarget::Existing(other.clone()), &bad, ImportMode::Replace, &BTreeMap::new())
        .await
        .unwrap_err();
    assert!(matches!(&err, PolicyError::ImportPolicy { index: 2, .. }), "{err}");
    assert!(
        err.to_string().contains("Policy 3 ('Ghosts')") && err.to_string().contains("it was 'Ghost team'"),
        "{err}"
    );
    assert_eq!(e.names(&other).await, ["No contractors", "Engineers"]);
    let mut empty_include = parsed.clone();
    empty_include.policies[1].rules.include.clear();
    assert!(e
        .svc
        .import(
            &admin(),
            None,
            &ImportTarget::Existing(other.clone()),
            &empty_include,
            ImportMode::Replace,
            &BTreeMap::new()
        )
        .await
        .is_err());
    assert_eq!(e.names(&other).await, ["No contractors", "Engineers"]);

    let future = json.replace("\"version\": 1", "\"version\": 2");
    assert!(matches!(PolicyDocument::from_json(&future), Err(PolicyError::UnsupportedVersion(2))));
    let no_app = PolicyDocument::new(None, vec![]);
    assert!(matches!(
        e.svc.import(&admin(), None, &ImportTarget::New, &no_app, ImportMode::Replace, &BTreeMap::new()).await,
        Err(PolicyError::ImportNeedsApplication)
    ));

    let imports = e.audit(AuditAction::PoliciesImported).await;
    assert_eq!(imports.len(), 2, "only the imports that happened");
    assert!(imports.iter().any(|(t, d)| t.as_deref() == Some("Grafana") && d["mode"] == "replace"));
    // A new application by import is one audited change: no separate ApplicationCreated row.
    assert_eq!(e.audit(AuditAction::ApplicationCreated).await.len(), 2);
}

/// Two consoles connected to the same Okta app know its provider under different ids: an
/// import finds the file's provider by issuer and client ID, and asks when several match.
#[tokio::test]
async fn policies_move_between_consoles_connected_to_the_same_okta_app() {
    /// A console with the same Okta app under `ids` and Engineering synced.
    async fn console(ids: &[&str]) -> PolicyService {
        let store = Store::in_memory().await.unwrap();
        for id in ids {
            let row =
                okta_provider(id, &format!("Okta {id}"), "https://prov-okta.okta.test", "api_token", "sealed".into());
            store.save_provider(&row, &[group_input("00gEng", "Engineering", "OKTA_GROUP")], "sync").await.unwrap();
        }
        PolicyService::new(store)
    }

    let first = env().await;
    let wiki = first.app("Wiki", &[("wiki.example.com", "/")]).await;
    let rules = Rules {
        include: vec![group("00gEng")],
        require: vec![Selector::IdentityProvider { provider_id: OKTA.into() }],
        ..Default::default()
    };
    first.policy(&wiki, "Engineers", Action::Allow, rules).await;
    let doc = PolicyDocument::from_json(&first.svc.export(&wiki).await.unwrap().to_json()).unwrap();
    assert_eq!(
        doc.providers,
        [ExportedProvider {
            id: OKTA.into(),
            name: "Acme Okta".into(),
            issuer: "https://prov-okta.okta.test".into(),
            client_id: "0oaclient".into(),
        }]
    );

    // The second console: the same Okta app under its own id, the same groups synced.
    let none = BTreeMap::new();
    let second = console(&["second-okta"]).await;
    let plan = second.import_plan(&doc, &none).await.unwrap();
    assert_eq!((plan[0].kind, plan[0].chosen.as_deref()), (ProviderMatchKind::SameApp, Some("second-okta")));
    let r = second.import(&admin(), None, &ImportTarget::New, &doc, ImportMode::Replace, &none).await.unwrap();
    let imported = second.policies(&r.application_id).await.unwrap();
    assert_eq!(
        imported[0].rules.include,
        [Selector::Group(GroupRef { provider_id: "second-okta".into(), external_id: "00gEng".into() })]
    );
    assert_eq!(imported[0].rules.require, [Selector::IdentityProvider { provider_id: "second-okta".into() }]);

    // Without the providers section (as exports were before) the first console's id is unknown here.
    let legacy = PolicyDocument { providers: vec![], ..doc.clone() };
    let err = console(&["third-okta"])
        .await
        .import(&admin(), None, &ImportTarget::New, &legacy, ImportMode::Replace, &none)
        .await
        .unwrap_err();
    assert!(matches!(&err, PolicyError::ImportPolicy { .. }), "{err}");

    // The same app connected twice: the administrator chooses, and only an existing provider.
    let twice = console(&["okta-a", "okta-b"]).await;
    let err = twice.import(&admin(), None, &ImportTarget::New, &doc, ImportMode::Replace, &none).await.unwrap_err();
    assert!(matches!(&err, PolicyError::ProviderChoiceNeeded { name, .. } if name == "Acme Okta"), "{err}");
    let plan = twice.import_plan(&doc, &none).await.unwrap();
    assert_eq!(plan[0].kind, ProviderMatchKind::Several);
    assert_eq!(plan[0].candidates.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["okta-a", "okta-b"]);
    let wrong = BTreeMap::from([(OKTA.to_string(), "nope".to_string())]);
    let err = twice.import(&admin(), None, &ImportTarget::New, &doc, ImportMode::Replace, &wrong).await.unwrap_err();
    assert!(matches!(err, PolicyError::UnknownProvider(_)), "{err}");
    let pick_b = BTreeMap::from([(OKTA.to_string(), "okta-b".to_string())]);
    let r = twice.import(&admin(), None, &ImportTarget::New, &doc, ImportMode::Replace, &pick_b).await.unwrap();
    assert_eq!(
        twice.policies(&r.application_id).await.unwrap()[0].rules.require,
        [Selector::IdentityProvider { provider_id: "okta-b".into() }]
    );

    // Another org entirely: not connected, and every provider is offered.
    let store = Store::in_memory().await.unwrap();
    store.save_provider(&provider("elsewhere", "Other Okta"), &[], "sync").await.unwrap();
    let other = PolicyService::new(store);
    let err = other.import(&admin(), None, &ImportTarget::New, &doc, ImportMode::Replace, &none).await.unwrap_err();
    assert!(matches!(err, PolicyError::ProviderNotConnected { .. }), "{err}");
    let plan = other.import_plan(&doc, &none).await.unwrap();
    assert_eq!((plan[0].kind, plan[0].candidates.len()), (ProviderMatchKind::NotConnected, 1));
}

/// axum handlers need `Send` futures: no lock guard may be held across an await.
#[allow(dead_code)]
fn service_futures_are_send(svc: &PolicyService, doc: &PolicyDocument, rules: &Rules, input: &PolicyInput) {
    fn send<T: Send>(_: T) {}
    let who = admin();
    send(svc.snapshot());
    send(svc.preview("a", rules));
    send(svc.test_user("u", "a"));
    send(svc.policy_views("a"));
    send(svc.create_policy(&who, None, "a", input));
    send(svc.import(&who, None, &ImportTarget::New, doc, ImportMode::Replace, &BTreeMap::new()));
    send(svc.export("a"));
    send(svc.subject_for("p", "u"));
}

/// Two administrators reordering at once on the file database the console runs on: each move
/// reads the order and then writes it. A deferred SQLite transaction fails such a write at once
/// ("database is locked") when another connection wrote in between; seen as a 500 in the console.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_moves_on_a_file_database_all_succeed() {
    let (_dir, store) = file_store().await;
    let e = env_on(store).await;
    let app = e.app("Wiki", &[("wiki.example.test", "/")]).await;
    let first = e.policy(&app, "First", Action::Allow, include(vec![group("00gEng")])).await;
    let second = e.policy(&app, "Second", Action::Allow, include(vec![group("00gCon")])).await;
    let svc = std::sync::Arc::new(e.svc.clone());
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (svc, id) = (svc.clone(), if worker % 2 == 0 { first.clone() } else { second.clone() });
        tasks.push(tokio::spawn(async move {
            for round in 0..10 {
                let to = if round % 2 == 0 { Move::Down } else { Move::Up };
                svc.move_policy(&admin(), None, &id, to).await?;
            }
            Ok::<_, portcullis_domain::policies::PolicyError>(())
        }));
    }
    for task in tasks {
        task.await.unwrap().expect("every concurrent move is applied or waits its turn");
    }
    assert_eq!(e.names(&app).await.len(), 2);
}
