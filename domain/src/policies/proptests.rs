//! Property tests: evaluation against a plain statement of the ordering rules, and routing
//! against a brute-force longest-prefix search.

use proptest::prelude::*;

use super::{
    eval::{decide_in, evaluation_order, explain, Outcome, StepResult, Subject},
    model::{Action, Application, GroupRef, HostRule, Policy, Rules, Selector, UserRef},
    snapshot::{canonical_path, Snapshot},
};

const PROVIDERS: [&str; 2] = ["p1", "p2"];
const GROUPS: [&str; 4] = ["00g1", "00g2", "00g3", "00g4"];
const USERS: [&str; 3] = ["00u1", "00u2", "00u3"];
const LOCALS: [&str; 3] = ["ann", "bob", "cy"];
const DOMAINS: [&str; 3] = ["a.test", "b.test", "sub.a.test"];

fn group() -> impl Strategy<Value = GroupRef> {
    (
        prop::sample::select(&PROVIDERS[..]),
        prop::sample::select(&GROUPS[..]),
    )
        .prop_map(|(p, g)| GroupRef {
            provider_id: p.into(),
            external_id: g.into(),
        })
}

fn selector() -> impl Strategy<Value = Selector> {
    prop_oneof![
        group().prop_map(Selector::Group),
        Just(Selector::Everyone),
        (
            prop::sample::select(&LOCALS[..]),
            prop::sample::select(&DOMAINS[..])
        )
            .prop_map(|(l, d)| Selector::Email {
                email: format!("{l}@{d}")
            }),
        prop::sample::select(&DOMAINS[..]).prop_map(|d| Selector::EmailDomain { domain: d.into() }),
        (
            prop::sample::select(&PROVIDERS[..]),
            prop::sample::select(&USERS[..])
        )
            .prop_map(|(p, u)| Selector::User(UserRef {
                provider_id: p.into(),
                external_id: u.into()
            })),
        prop::sample::select(&PROVIDERS[..]).prop_map(|p| Selector::IdentityProvider {
            provider_id: p.into()
        }),
    ]
}

fn rules() -> impl Strategy<Value = Rules> {
    (
        prop::collection::vec(selector(), 0..3),
        prop::collection::vec(selector(), 0..2),
        prop::collection::vec(selector(), 0..2),
    )
        .prop_map(|(include, require, exclude)| Rules {
            include,
            require,
            exclude,
        })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![
        Just(Action::Allow),
        Just(Action::Block),
        Just(Action::Bypass)
    ]
}

fn policies() -> impl Strategy<Value = Vec<Policy>> {
    prop::collection::vec((action(), rules(), prop::bool::weighted(0.85)), 0..7).prop_map(|list| {
        list.into_iter()
            .enumerate()
            .map(|(i, (action, rules, enabled))| Policy {
                id: format!("p{i}"),
                application_id: "app".into(),
                position: i as u32,
                name: format!("policy {i}"),
                action,
                rules,
                enabled,
                created_at: 0,
                updated_at: 0,
            })
            .collect()
    })
}

fn subject() -> impl Strategy<Value = Subject> {
    (
        prop::option::weighted(0.8, prop::sample::select(&PROVIDERS[..])),
        prop::sample::select(&USERS[..]),
        prop::sample::select(&LOCALS[..]),
        prop::sample::select(&DOMAINS[..]),
        prop::collection::hash_set(group(), 0..4),
    )
        .prop_map(|(provider, user, local, domain, groups)| {
            Subject::new(
                provider.map(String::from),
                provider.map(|_| user.to_string()),
                &format!("{local}@{domain}"),
                groups,
            )
        })
}

/// The rules as the issue states them, written independently of the evaluator.
fn reference(policies: &[Policy], who: &Subject) -> (Outcome, Option<String>) {
    let hits = |s: &Selector| match s {
        Selector::Everyone => true,
        Selector::Group(g) => who.groups.contains(g),
        Selector::Email { email } => who.email.to_lowercase() == email.to_lowercase(),
        Selector::EmailDomain { domain } => {
            who.email.to_lowercase().split('@').nth(1) == Some(domain.as_str())
        }
        Selector::User(u) => {
            who.provider_id.as_deref() == Some(&u.provider_id)
                && who.external_id.as_deref() == Some(&u.external_id)
        }
        Selector::IdentityProvider { provider_id } => {
            who.provider_id.as_deref() == Some(provider_id)
        }
    };
    let applies = |p: &&Policy| {
        p.enabled
            && p.rules.include.iter().any(hits)
            && p.rules.require.iter().all(hits)
            && !p.rules.exclude.iter().any(hits)
    };
    let first = policies
        .iter()
        .filter(|p| p.action != Action::Allow)
        .find(applies);
    let then = policies
        .iter()
        .filter(|p| p.action == Action::Allow)
        .find(applies);
    match first.or(then) {
        Some(p) => (
            match p.action {
                Action::Allow => Outcome::Allow,
                Action::Block => Outcome::Block,
                Action::Bypass => Outcome::Bypass,
            },
            Some(p.id.clone()),
        ),
        None => (Outcome::NoMatch, None),
    }
}

proptest! {
    #[test]
    fn decisions_follow_the_stated_ordering_rules(policies in policies(), who in subject()) {
        let (outcome, policy) = decide_in(&policies, &evaluation_order(&policies), &who);
        prop_assert_eq!((outcome, policy.map(|p| p.id.clone())), reference(&policies, &who));
    }

    #[test]
    fn the_explanation_agrees_with_the_decision(policies in policies(), who in subject()) {
        let order = evaluation_order(&policies);
        let (outcome, policy) = decide_in(&policies, &order, &who);
        let d = explain("app", "App", &policies, &order, &who, &|s| s.plain_label());
        prop_assert_eq!(d.outcome, outcome);
        prop_assert_eq!(d.policy_id, policy.map(|p| p.id.clone()));
        prop_assert_eq!(d.steps.len(), policies.len());
        let matched = d.steps.iter().filter(|s| matches!(s.result, StepResult::Matched { .. })).count();
        prop_assert_eq!(matched, usize::from(policy.is_some()));
    }

    #[test]
    fn an_allow_policy_never_overrides_bypass_or_block(policies in policies(), who in subject(), at in 0usize..8, rules in rules()) {
        let (before, _) = decide_in(&policies, &evaluation_order(&policies), &who);
        let mut more = policies.clone();
        let at = at.min(more.len());
        more.insert(at, Policy { id: "extra".into(), action: Action::Allow, rules, enabled: true, ..policies.first().cloned().unwrap_or_else(|| blank("app")) });
        for (i, p) in more.iter_mut().enumerate() {
            p.position = i as u32;
        }
        let (after, _) = decide_in(&more, &evaluation_order(&more), &who);
        if matches!(before, Outcome::Block | Outcome::Bypass) {
            prop_assert_eq!(after, before);
        }
    }

    #[test]
    fn email_case_does_not_change_a_decision(policies in policies(), who in subject()) {
        let mut shouting = who.clone();
        shouting.email = who.email.to_uppercase();
        let order = evaluation_order(&policies);
        prop_assert_eq!(decide_in(&policies, &order, &who), decide_in(&policies, &order, &shouting));
    }

    #[test]
    fn rules_survive_their_json(rules in rules()) {
        let json = serde_json::to_string(&rules).unwrap();
        prop_assert_eq!(serde_json::from_str::<Rules>(&json).unwrap(), rules);
    }

    #[test]
    fn the_longest_prefix_on_a_segment_boundary_routes(
        prefixes in prop::collection::btree_set(prop::sample::select(&["/", "/a", "/a/b", "/ab", "/b", "/a/b/c"][..]), 1..6),
        segments in prop::collection::vec(prop::sample::select(&["a", "b", "ab", "c", "..", "."][..]), 0..5),
    ) {
        let apps: Vec<Application> = prefixes.iter().map(|p| Application {
            id: p.to_string(),
            name: p.to_string(),
            hosts: vec![HostRule::new("h.test", *p)],
            session_duration_minutes: 60,
            created_at: 0,
            updated_at: 0,
        }).collect();
        let snapshot = Snapshot::build(apps, vec![]);
        let uri = format!("/{}", segments.join("/"));
        let path = canonical_path(&uri).into_owned();
        let expected = prefixes
            .iter()
            .filter(|p| **p == "/" || path == **p || path.starts_with(&format!("{p}/")))
            .max_by_key(|p| p.len())
            .map(|p| p.to_string());
        prop_assert_eq!(snapshot.find_application("h.test", &uri).map(|a| a.id().to_string()), expected);
        prop_assert!(path.starts_with('/'));
        prop_assert!(!path.split('/').skip(1).any(|s| s == "." || s == ".." || (s.is_empty() && path != "/")));
    }
}

fn blank(app: &str) -> Policy {
    Policy {
        id: String::new(),
        application_id: app.into(),
        position: 0,
        name: String::new(),
        action: Action::Allow,
        rules: Rules::default(),
        enabled: true,
        created_at: 0,
        updated_at: 0,
    }
}
