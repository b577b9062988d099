//! Property tests: evaluation against a plain statement of the ordering rules, and routing
//! against reference readers of a path (RFC 3986, segment-wise, literal) and a brute-force
//! longest-prefix search.

use std::{borrow::Cow, collections::BTreeSet};

use proptest::prelude::*;

use super::{
    eval::{decide_in, evaluation_order, explain, Outcome, StepResult, Subject},
    model::{Action, Application, GroupRef, HostRule, Policy, Rules, Selector, UserRef},
    path::canonical_path,
    snapshot::Snapshot,
};

const PROVIDERS: [&str; 2] = ["p1", "p2"];
const GROUPS: [&str; 4] = ["00g1", "00g2", "00g3", "00g4"];
const USERS: [&str; 3] = ["00u1", "00u2", "00u3"];
const LOCALS: [&str; 3] = ["ann", "bob", "cy"];
const DOMAINS: [&str; 3] = ["a.test", "b.test", "sub.a.test"];

fn group() -> impl Strategy<Value = GroupRef> {
    (prop::sample::select(&PROVIDERS[..]), prop::sample::select(&GROUPS[..]))
        .prop_map(|(p, g)| GroupRef { provider_id: p.into(), external_id: g.into() })
}

fn selector() -> impl Strategy<Value = Selector> {
    prop_oneof![
        group().prop_map(Selector::Group),
        Just(Selector::Everyone),
        (prop::sample::select(&LOCALS[..]), prop::sample::select(&DOMAINS[..]))
            .prop_map(|(l, d)| Selector::Email { email: format!("{l}@{d}") }),
        prop::sample::select(&DOMAINS[..]).prop_map(|d| Selector::EmailDomain { domain: d.into() }),
        (prop::sample::select(&PROVIDERS[..]), prop::sample::select(&USERS[..]))
            .prop_map(|(p, u)| Selector::User(UserRef { provider_id: p.into(), external_id: u.into() })),
        prop::sample::select(&PROVIDERS[..]).prop_map(|p| Selector::IdentityProvider { provider_id: p.into() }),
    ]
}

fn rules() -> impl Strategy<Value = Rules> {
    (
        prop::collection::vec(selector(), 0..3),
        prop::collection::vec(selector(), 0..2),
        prop::collection::vec(selector(), 0..2),
    )
        .prop_map(|(include, require, exclude)| Rules { include, require, exclude })
}

fn action() -> impl Strategy<Value = Action> {
    prop_oneof![Just(Action::Allow), Just(Action::Block), Just(Action::Bypass)]
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
        prop::bool::weighted(0.8),
    )
        .prop_map(|(provider, user, local, domain, groups, verified)| {
            Subject::new(
                provider.map(String::from),
                provider.map(|_| user.to_string()),
                &format!("{local}@{domain}"),
                groups,
            )
            .with_verified_email(verified)
        })
}

/// The rules as the issue states them, written independently of the evaluator.
fn reference(policies: &[Policy], who: &Subject) -> (Outcome, Option<String>) {
    let hits = |s: &Selector| match s {
        Selector::Everyone => true,
        Selector::Group(g) => who.groups.contains(g),
        Selector::Email { email } => who.email_verified && who.email.eq_ignore_ascii_case(email),
        Selector::EmailDomain { domain } => {
            who.email_verified && who.email.to_ascii_lowercase().split('@').nth(1) == Some(domain.as_str())
        }
        Selector::User(u) => {
            who.provider_id.as_deref() == Some(&u.provider_id) && who.external_id.as_deref() == Some(&u.external_id)
        }
        Selector::IdentityProvider { provider_id } => who.provider_id.as_deref() == Some(provider_id),
    };
    let applies = |p: &&Policy| {
        p.enabled
            && p.rules.include.iter().any(hits)
            && p.rules.require.iter().all(hits)
            && !p.rules.exclude.iter().any(hits)
    };
    let first = policies.iter().filter(|p| p.action != Action::Allow).find(applies);
    let then = policies.iter().filter(|p| p.action == Action::Allow).find(applies);
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

}

/// The segments paths are built from: ordinary ones, and the tricks servers read differently.
const PLAIN: &[&str] = &["a", "b", "ab", "A", "..", ".", ""];
const TRICKS: &[&str] = &[
    "%2e", "%2E%2E", ".%2e", "%2F", "%5C", ";x", "x://y", "%61", "%41", "%25", "\\", "%00", "a%20b", "%3A", "%3a/",
    "%7e", "%c3%a9", "%3f", "%25zz", "%2Ex",
];
const PREFIXES: &[&str] = &["/", "/a", "/a/b", "/ab", "/b", "/A/b"];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn a_routed_path_is_under_the_same_prefix_for_every_reader(
        prefixes in prefix_set(PREFIXES),
        uri in target(),
    ) {
        let snapshot = one_host(&prefixes);
        if let Ok(app) = snapshot.route("h.test", &uri) {
            readers_agree(&prefixes, &uri, app.map(|a| a.id()))?;
        }
    }

    #[test]
    fn the_canonical_path_is_plain_and_canonicalizing_it_again_changes_nothing(uri in target()) {
        if let Ok(canonical) = canonical_path(&uri) {
            prop_assert!(canonical.starts_with('/'));
            prop_assert!(
                canonical == "/" || canonical[1..].split('/').all(|s| !s.is_empty() && s != "." && s != ".."),
                "{} -> {}", uri, canonical
            );
            prop_assert!(
                matches!(canonical_path(&canonical), Ok(Cow::Borrowed(again)) if again == canonical),
                "{} -> {} -> {:?}", uri, canonical, canonical_path(&canonical)
            );
        }
    }

    #[test]
    fn any_string_is_routed_or_refused_without_panicking(
        prefixes in prefix_set(PREFIXES),
        chars in prop::collection::vec(prop::sample::select(&[
            '/', '/', '.', '.', '%', '2', 'e', 'E', 'f', 'F', '5', 'c', 'a', 'A', 'b', ':', ';', '\\', '?', '#', '\0', '\u{e9}',
        ][..]), 0..16),
    ) {
        let snapshot = one_host(&prefixes);
        let uri: String = chars.into_iter().collect();
        if let Err(e) = canonical_path(&uri) {
            prop_assert_eq!(snapshot.route("h.test", &uri).err(), Some(e));
        }
        let uri = format!("/{uri}");
        if let Ok(app) = snapshot.route("h.test", &uri) {
            readers_agree(&prefixes, &uri, app.map(|a| a.id()))?;
        }
    }

    #[test]
    fn plain_paths_route_to_the_longest_prefix_on_a_segment_boundary(
        prefixes in prefix_set(&["/", "/a", "/a/b", "/ab", "/b", "/a/b/c"]),
        segments in prop::collection::vec(prop::sample::select(&["a", "b", "ab", "c"][..]), 0..5),
    ) {
        let snapshot = one_host(&prefixes);
        let uri = format!("/{}", segments.join("/"));
        let expected = reference::longest_prefixes(&prefixes, &uri, false).pop();
        prop_assert_eq!(snapshot.route("h.test", &uri).map(|a| a.map(|a| a.id().to_string())), Ok(expected));
        prop_assert!(matches!(canonical_path(&uri), Ok(Cow::Borrowed(_))));
    }
}

/// Each reference reader, decoding or not, folding case or not, puts `uri` under `routed`
/// (the routed application's prefix) and no other.
fn readers_agree(prefixes: &BTreeSet<&str>, uri: &str, routed: Option<&str>) -> Result<(), TestCaseError> {
    let expected: Vec<String> = routed.map(String::from).into_iter().collect();
    let raw = uri.split('?').next().unwrap_or_default().to_string();
    for path in [raw.clone(), reference::percent_decode(&raw)] {
        for (reader, reading) in [
            ("RFC 3986", reference::remove_dot_segments(&path)),
            ("segment-wise", reference::segment_wise(&path)),
            ("literal", path.clone()),
        ] {
            for fold in [false, true] {
                prop_assert_eq!(
                    &reference::longest_prefixes(prefixes, &reading, fold),
                    &expected,
                    "{} reader ({}, fold case: {}) of {}",
                    reader,
                    reading,
                    fold,
                    uri
                );
            }
        }
    }
    Ok(())
}

fn prefix_set(from: &'static [&'static str]) -> impl Strategy<Value = BTreeSet<&'static str>> {
    prop::collection::btree_set(prop::sample::select(from), 1..6)
}

/// A request target of mostly plain segments, with or without a query.
fn target() -> impl Strategy<Value = String> {
    let segment = prop_oneof![4 => prop::sample::select(PLAIN), 1 => prop::sample::select(TRICKS)];
    (
        prop::collection::vec(segment, 0..7),
        prop::option::of(prop::sample::select(&["x=1", "next=/a/../b", "%zz", "a;b"][..])),
    )
        .prop_map(|(segments, query)| match query {
            Some(q) => format!("/{}?{q}", segments.join("/")),
            None => format!("/{}", segments.join("/")),
        })
}

/// One application per prefix on one host, its id the prefix.
fn one_host(prefixes: &BTreeSet<&str>) -> Snapshot {
    let apps = prefixes
        .iter()
        .map(|p| Application {
            id: p.to_string(),
            name: p.to_string(),
            hosts: vec![HostRule::new("h.test", *p)],
            session_duration_minutes: 60,
            created_at: 0,
            updated_at: 0,
        })
        .collect();
    Snapshot::build(apps, vec![])
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

/// Plain statements of how upstream servers read a path, written from the RFC, not from
/// the code under test.
mod reference {
    use std::collections::BTreeSet;

    /// Every valid escape decoded once (a decoding upstream); others left as they are.
    pub fn percent_decode(path: &str) -> String {
        let b = path.as_bytes();
        let mut out = Vec::with_capacity(b.len());
        let mut i = 0;
        while i < b.len() {
            let hex = b
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
            match (b[i], hex) {
                (b'%', Some(v)) => {
                    out.push(v);
                    i += 3;
                }
                (c, _) => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    /// RFC 3986 §5.2.4, rule by rule.
    pub fn remove_dot_segments(path: &str) -> String {
        let mut input = path.to_string();
        let mut output = String::new();
        let drop_last = |output: &mut String| match output.rfind('/') {
            Some(i) => output.truncate(i),
            None => output.clear(),
        };
        while !input.is_empty() {
            // A
            if let Some(rest) = input.strip_prefix("../").or_else(|| input.strip_prefix("./")) {
                input = rest.to_string();
            // B
            } else if input.starts_with("/./") {
                input = input[2..].to_string();
            } else if input == "/." {
                input = "/".into();
            // C
            } else if input.starts_with("/../") {
                input = input[3..].to_string();
                drop_last(&mut output);
            } else if input == "/.." {
                input = "/".into();
                drop_last(&mut output);
            // D
            } else if input == "." || input == ".." {
                input.clear();
            // E
            } else {
                let start = usize::from(input.starts_with('/'));
                let end = input[start..].find('/').map_or(input.len(), |i| i + start);
                output.push_str(&input[..end]);
                input = input[end..].to_string();
            }
        }
        output
    }

    /// Split on '/', drop empty segments, then resolve dots (nginx with merge_slashes).
    pub fn segment_wise(path: &str) -> String {
        let mut out: Vec<&str> = Vec::new();
        for s in path.split('/') {
            match s {
                "" | "." => {}
                ".." => {
                    out.pop();
                }
                s => out.push(s),
            }
        }
        format!("/{}", out.join("/"))
    }

    /// Every prefix of greatest length that covers `path` on a segment boundary.
    pub fn longest_prefixes(prefixes: &BTreeSet<&str>, path: &str, fold_case: bool) -> Vec<String> {
        let norm = |s: &str| {
            if fold_case {
                s.to_ascii_lowercase()
            } else {
                s.to_string()
            }
        };
        let path = norm(path);
        let hits: Vec<&str> = prefixes
            .iter()
            .copied()
            .filter(|p| {
                let p = norm(p);
                p == "/" || path == p || path.starts_with(&format!("{p}/"))
            })
            .collect();
        let longest = hits.iter().map(|p| p.len()).max();
        hits.into_iter().filter(|p| Some(p.len()) == longest).map(String::from).collect()
    }
}
