//! The compiled, immutable view of every application and policy that the forward-auth
//! endpoint decides with: routing by host and path, and evaluation, without SQL and without
//! allocating for ordinary requests.
//!
//! Routing: the exact hostname first, then a `*.example.com` wildcard (one label: it covers
//! `a.example.com`, not `example.com` nor `a.b.example.com`); within a hostname the longest
//! matching path prefix wins, on segment boundaries (`/admin` covers `/admin` and `/admin/x`,
//! not `/administrator`). Paths are compared after percent-decoding, removing dot segments
//! and repeated slashes (backslashes count as slashes), so `/%61dmin` or `/x/../admin` cannot
//! reach another application's policies than `/admin` does.

use std::{borrow::Cow, collections::HashMap};

use super::{
    eval::{decide_in, evaluation_order, explain, Decision, Facts, Outcome},
    model::{Action, Application, Policy, Selector},
};

/// An application ready for decisions.
#[derive(Debug, Clone)]
pub struct CompiledApp {
    pub application: Application,
    /// Sorted by position.
    policies: Vec<Policy>,
    order: Vec<usize>,
    anonymous_bypass: Option<usize>,
}

impl CompiledApp {
    fn new(application: Application, mut policies: Vec<Policy>) -> Self {
        policies.sort_by_key(|p| p.position);
        let order = evaluation_order(&policies);
        let anonymous_bypass = anonymous_bypass(&policies, &order);
        Self {
            application,
            policies,
            order,
            anonymous_bypass,
        }
    }

    pub fn id(&self) -> &str {
        &self.application.id
    }

    /// By position.
    pub fn policies(&self) -> &[Policy] {
        &self.policies
    }

    /// The decision for a signed-in person.
    pub fn decide<F: Facts + ?Sized>(&self, who: &F) -> Verdict<'_> {
        let (outcome, policy) = decide_in(&self.policies, &self.order, who);
        Verdict {
            outcome,
            application: &self.application,
            policy,
        }
    }

    /// The Bypass policy that lets requests through before anyone signs in: the first
    /// Bypass or Block policy that would match anyone is a Bypass including Everyone with
    /// nothing required or excluded. `None`: sign-in is needed.
    pub fn anonymous_bypass(&self) -> Option<&Policy> {
        self.anonymous_bypass.map(|i| &self.policies[i])
    }

    /// The decision with every policy's reason. `label` names selectors.
    pub fn explain<F: Facts + ?Sized>(
        &self,
        who: &F,
        label: &dyn Fn(&Selector) -> String,
    ) -> Decision {
        explain(
            &self.application.id,
            &self.application.name,
            &self.policies,
            &self.order,
            who,
            label,
        )
    }
}

fn anonymous_bypass(policies: &[Policy], order: &[usize]) -> Option<usize> {
    for &i in order {
        let p = &policies[i];
        if !p.enabled || !p.action.goes_first() || !p.rules.include.contains(&Selector::Everyone) {
            continue;
        }
        let unconditional =
            p.rules.exclude.is_empty() && p.rules.require.iter().all(|s| *s == Selector::Everyone);
        // A policy that might match a person we do not know yet decides against skipping sign-in.
        return (unconditional && p.action == Action::Bypass).then_some(i);
    }
    None
}

/// A decision, borrowing from the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub outcome: Outcome,
    pub application: &'a Application,
    /// The policy that decided; `None` when none matched.
    pub policy: Option<&'a Policy>,
}

impl Verdict<'_> {
    pub fn permits(&self) -> bool {
        self.outcome.permits()
    }
}

#[derive(Debug, Clone)]
struct Route {
    prefix: Box<str>,
    app: usize,
}

/// Every application and policy, compiled. Cheap to share (`Arc`), never changed: a change
/// builds a new one.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    apps: Vec<CompiledApp>,
    by_id: HashMap<String, usize>,
    /// Routes sorted by prefix length, longest first.
    exact: HashMap<Box<str>, Vec<Route>>,
    /// Keyed by what follows `*.`.
    wildcard: HashMap<Box<str>, Vec<Route>>,
}

impl Snapshot {
    /// Compiles applications and their policies (policies of unknown applications are dropped).
    pub fn build(applications: Vec<Application>, policies: Vec<Policy>) -> Self {
        let mut per_app: HashMap<String, Vec<Policy>> = HashMap::new();
        for p in policies {
            per_app.entry(p.application_id.clone()).or_default().push(p);
        }
        let mut snap = Snapshot::default();
        for application in applications {
            let index = snap.apps.len();
            for host in &application.hosts {
                let route = Route {
                    prefix: host.path_prefix.as_str().into(),
                    app: index,
                };
                match host.hostname.strip_prefix("*.") {
                    Some(base) => snap.wildcard.entry(base.into()).or_default().push(route),
                    None => snap
                        .exact
                        .entry(host.hostname.as_str().into())
                        .or_default()
                        .push(route),
                }
            }
            let policies = per_app.remove(&application.id).unwrap_or_default();
            snap.by_id.insert(application.id.clone(), index);
            snap.apps.push(CompiledApp::new(application, policies));
        }
        for routes in snap.exact.values_mut().chain(snap.wildcard.values_mut()) {
            routes.sort_by(|a, b| {
                b.prefix
                    .len()
                    .cmp(&a.prefix.len())
                    .then_with(|| a.prefix.cmp(&b.prefix))
            });
        }
        snap
    }

    /// By name.
    pub fn applications(&self) -> &[CompiledApp] {
        &self.apps
    }

    pub fn application(&self, id: &str) -> Option<&CompiledApp> {
        self.by_id.get(id).map(|&i| &self.apps[i])
    }

    /// The application for a request's original `Host` (a port is ignored) and URI (path,
    /// with or without query string; an absolute URI's path is used).
    pub fn find_application(&self, host: &str, uri: &str) -> Option<&CompiledApp> {
        let host = host_key(host);
        let path = canonical_path(uri);
        let pick = |routes: Option<&Vec<Route>>| {
            routes?
                .iter()
                .find(|r| prefix_matches(&r.prefix, &path))
                .map(|r| &self.apps[r.app])
        };
        pick(self.exact.get(host.as_ref())).or_else(|| {
            host.split_once('.')
                .and_then(|(_, parent)| pick(self.wildcard.get(parent)))
        })
    }

    /// The decision for a signed-in person.
    pub fn decide<'a, F: Facts + ?Sized>(&'a self, app: &'a CompiledApp, who: &F) -> Verdict<'a> {
        app.decide(who)
    }
}

/// Lower-case, without port or trailing dot; borrowed when already so.
fn host_key(host: &str) -> Cow<'_, str> {
    let h = host.trim();
    let h = if h.starts_with('[') {
        h.find(']').map_or(h, |end| &h[..=end])
    } else {
        h.rsplit_once(':').map_or(h, |(name, _)| name)
    };
    let h = h.strip_suffix('.').unwrap_or(h);
    if h.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(h.to_ascii_lowercase())
    } else {
        Cow::Borrowed(h)
    }
}

/// `/admin` matches `/admin` and `/admin/…`; `/` matches everything.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || (path.starts_with(prefix)
            && (path.len() == prefix.len() || path.as_bytes()[prefix.len()] == b'/'))
}

/// The path as a server would resolve it: without query or fragment, percent-decoded once,
/// without dot segments or empty segments. Borrowed when nothing needs doing.
pub fn canonical_path(uri: &str) -> Cow<'_, str> {
    let mut path = uri.split(['?', '#']).next().unwrap_or_default();
    // An absolute URI ("https://host/path"): its path.
    if let Some(i) = path.find("://") {
        let rest = &path[i + 3..];
        path = rest.find('/').map_or("/", |j| &rest[j..]);
    }
    let plain = path.starts_with('/')
        && !path.contains(['%', '\\'])
        && !path.contains("//")
        && !path.contains("/.");
    if plain {
        return Cow::Borrowed(path);
    }
    let decoded = percent_encoding::percent_decode_str(path).decode_utf8_lossy();
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split(['/', '\\']) {
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if out.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{
        eval::Subject,
        model::{HostRule, Rules},
    };

    fn app(id: &str, hosts: &[(&str, &str)]) -> Application {
        Application {
            id: id.into(),
            name: id.into(),
            hosts: hosts.iter().map(|(h, p)| HostRule::new(*h, *p)).collect(),
            session_duration_minutes: 60,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn policy(app: &str, pos: u32, action: Action, include: Selector) -> Policy {
        Policy {
            id: format!("{app}-{pos}"),
            application_id: app.into(),
            position: pos,
            name: format!("{app} {pos}"),
            action,
            rules: Rules {
                include: vec![include],
                ..Default::default()
            },
            enabled: true,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn snapshot() -> Snapshot {
        Snapshot::build(
            vec![
                app("site", &[("example.com", "/"), ("www.example.com", "/")]),
                app("admin", &[("example.com", "/admin")]),
                app("api", &[("example.com", "/admin/api")]),
                app("wild", &[("*.apps.example.com", "/")]),
                app("special", &[("billing.apps.example.com", "/reports")]),
            ],
            vec![],
        )
    }

    fn found(s: &Snapshot, host: &str, uri: &str) -> Option<String> {
        s.find_application(host, uri).map(|a| a.id().to_string())
    }

    #[test]
    fn the_longest_path_prefix_wins_on_segment_boundaries() {
        let s = snapshot();
        assert_eq!(found(&s, "example.com", "/").as_deref(), Some("site"));
        assert_eq!(found(&s, "example.com", "/admin").as_deref(), Some("admin"));
        assert_eq!(
            found(&s, "example.com", "/admin/users?x=1").as_deref(),
            Some("admin")
        );
        assert_eq!(
            found(&s, "example.com", "/admin/api/v1").as_deref(),
            Some("api")
        );
        assert_eq!(
            found(&s, "example.com", "/administrator").as_deref(),
            Some("site")
        );
        assert_eq!(
            found(&s, "example.com", "/admin?next=/admin/api").as_deref(),
            Some("admin")
        );
        assert_eq!(found(&s, "nowhere.test", "/").as_deref(), None);
    }

    #[test]
    fn hosts_ignore_case_port_and_a_trailing_dot() {
        let s = snapshot();
        assert_eq!(
            found(&s, "WWW.Example.com:8443", "/").as_deref(),
            Some("site")
        );
        assert_eq!(
            found(&s, "example.com.", "/admin").as_deref(),
            Some("admin")
        );
    }

    #[test]
    fn wildcards_cover_one_label_and_exact_hosts_win() {
        let s = snapshot();
        assert_eq!(
            found(&s, "wiki.apps.example.com", "/").as_deref(),
            Some("wild")
        );
        assert_eq!(found(&s, "apps.example.com", "/").as_deref(), None);
        assert_eq!(found(&s, "a.b.apps.example.com", "/").as_deref(), None);
        assert_eq!(
            found(&s, "billing.apps.example.com", "/reports/2026").as_deref(),
            Some("special")
        );
        // The exact host has no route for this path: the wildcard's applies.
        assert_eq!(
            found(&s, "billing.apps.example.com", "/").as_deref(),
            Some("wild")
        );
    }

    #[test]
    fn encoded_and_dotted_paths_reach_the_application_the_server_would_serve() {
        let s = snapshot();
        for uri in [
            "/%61dmin",
            "/public/../admin",
            "//admin",
            "/./admin/",
            "/x/..%2Fadmin",
            "\\admin",
            "/admin%2Fapi%2Fv1",
        ] {
            assert!(
                matches!(
                    found(&s, "example.com", uri).as_deref(),
                    Some("admin") | Some("api")
                ),
                "{uri} -> {:?}",
                found(&s, "example.com", uri)
            );
        }
        assert_eq!(
            found(&s, "example.com", "https://example.com/admin/x").as_deref(),
            Some("admin")
        );
        assert_eq!(canonical_path("/a/b?c"), "/a/b");
        assert!(matches!(canonical_path("/a/b"), Cow::Borrowed(_)));
        assert_eq!(canonical_path("/../../"), "/");
        assert_eq!(canonical_path(""), "/");
    }

    #[test]
    fn decisions_come_from_the_applications_own_policies() {
        let s = Snapshot::build(
            vec![
                app("site", &[("example.com", "/")]),
                app("admin", &[("example.com", "/admin")]),
            ],
            vec![
                policy("site", 0, Action::Allow, Selector::Everyone),
                policy(
                    "admin",
                    0,
                    Action::Allow,
                    Selector::Email {
                        email: "root@example.com".into(),
                    },
                ),
            ],
        );
        let ann = Subject::new(None, None, "ann@example.com", []);
        let site = s.find_application("example.com", "/").unwrap();
        let admin = s.find_application("example.com", "/admin/").unwrap();
        assert!(s.decide(site, &ann).permits());
        let v = s.decide(admin, &ann);
        assert_eq!((v.outcome, v.policy), (Outcome::NoMatch, None));
        assert_eq!(v.application.id, "admin");
        assert_eq!(s.application("admin").map(|a| a.policies().len()), Some(1));
    }

    #[test]
    fn only_an_unconditional_bypass_for_everyone_skips_sign_in() {
        let bypass = |exclude: Vec<Selector>| Policy {
            rules: Rules {
                include: vec![Selector::Everyone],
                exclude,
                ..Default::default()
            },
            ..policy("a", 1, Action::Bypass, Selector::Everyone)
        };
        let compiled =
            |policies: Vec<Policy>| CompiledApp::new(app("a", &[("a.test", "/")]), policies);
        assert_eq!(
            compiled(vec![bypass(vec![])])
                .anonymous_bypass()
                .map(|p| p.position),
            Some(1)
        );
        let email = Selector::Email {
            email: "x@y.z".into(),
        };
        assert!(compiled(vec![bypass(vec![email.clone()])])
            .anonymous_bypass()
            .is_none());
        // A Block for everyone before it wins.
        assert!(compiled(vec![
            policy("a", 0, Action::Block, Selector::Everyone),
            bypass(vec![])
        ])
        .anonymous_bypass()
        .is_none());
        // Policies that cannot match someone unknown do not stand in the way; Allow never counts.
        let ok = compiled(vec![
            policy("a", 0, Action::Block, email),
            bypass(vec![]),
            policy("a", 2, Action::Allow, Selector::Everyone),
        ]);
        assert!(ok.anonymous_bypass().is_some());
        assert!(
            compiled(vec![policy("a", 0, Action::Allow, Selector::Everyone)])
                .anonymous_bypass()
                .is_none()
        );
    }
}
