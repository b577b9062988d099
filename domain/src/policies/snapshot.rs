//! The compiled, immutable view of every application and policy that the forward-auth
//! endpoint decides with: routing by host and path, and evaluation, without SQL and without
//! allocating for ordinary requests.
//!
//! Routing: the exact hostname first, then a `*.example.com` wildcard (one label: it covers
//! `a.example.com`, not `example.com` nor `a.b.example.com`); within a hostname the longest
//! matching path prefix wins, on segment boundaries and ignoring ASCII case (`/admin` covers
//! `/Admin/x`, not `/administrator`). Paths are compared in their canonical form
//! ([`canonical_path`]), which refuses what servers read differently. A path is then routed
//! only if every reader agrees on its application: the canonical form, an RFC 3986 resolver
//! that keeps empty segments, a reader that merges slashes then resolves dots, and a literal
//! reader that resolves nothing, each with and without percent-decoding, each with and
//! without case folding. Otherwise [`PathError::Disagreement`]: refused, never guessed.

use std::{borrow::Cow, collections::HashMap};

pub use super::path::{canonical_path, PathError};
use super::{
    eval::{decide_in, evaluation_order, explain, Decision, Facts, Outcome},
    model::{Action, Application, Policy, Selector},
    path::{read, split_query, Dots},
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
        Self { application, policies, order, anonymous_bypass }
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
        Verdict { outcome, application: &self.application, policy }
    }

    /// Whether one of the application's hosts covers `host` (as routing reads it: case,
    /// port and a trailing dot ignored; a wildcard covers one label), whatever the path.
    pub fn serves_host(&self, host: &str) -> bool {
        let host = host_key(host);
        self.application.hosts.iter().any(|rule| match rule.hostname.strip_prefix("*.") {
            Some(base) => wildcard_parent(&host).is_some_and(|p| p.eq_ignore_ascii_case(base)),
            None => rule.hostname.eq_ignore_ascii_case(&host),
        })
    }

    /// The Bypass policy that lets requests through before anyone signs in: the first
    /// Bypass or Block policy that would match anyone is a Bypass including Everyone with
    /// nothing required or excluded. `None`: sign-in is needed.
    pub fn anonymous_bypass(&self) -> Option<&Policy> {
        self.anonymous_bypass.map(|i| &self.policies[i])
    }

    /// The decision with every policy's reason. `label` names selectors.
    pub fn explain<F: Facts + ?Sized>(&self, who: &F, label: &dyn Fn(&Selector) -> String) -> Decision {
        explain(&self.application.id, &self.application.name, &self.policies, &self.order, who, label)
    }
}

fn anonymous_bypass(policies: &[Policy], order: &[usize]) -> Option<usize> {
    for &i in order {
        let p = &policies[i];
        if !p.enabled || !p.action.goes_first() || !p.rules.include.contains(&Selector::Everyone) {
            continue;
        }
        let unconditional = p.rules.exclude.is_empty() && p.rules.require.iter().all(|s| *s == Selector::Everyone);
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
                let route = Route { prefix: host.path_prefix.as_str().into(), app: index };
                // Validated hostnames are lower case already; keys must be, whatever the source.
                let hostname = host.hostname.to_ascii_lowercase();
                match hostname.strip_prefix("*.") {
                    Some(base) => snap.wildcard.entry(base.into()).or_default().push(route),
                    None => snap.exact.entry(hostname.into()).or_default().push(route),
                }
            }
            let policies = per_app.remove(&application.id).unwrap_or_default();
            snap.by_id.insert(application.id.clone(), index);
            snap.apps.push(CompiledApp::new(application, policies));
        }
        for routes in snap.exact.values_mut().chain(snap.wildcard.values_mut()) {
            routes.sort_by(|a, b| b.prefix.len().cmp(&a.prefix.len()).then_with(|| a.prefix.cmp(&b.prefix)));
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

    /// The application for a request's original `Host` (a port is ignored) and request
    /// target (path with or without query string), or why it cannot be told: the path is
    /// ambiguous ([`canonical_path`]) or readers of it disagree on the application.
    pub fn route(&self, host: &str, path_and_query: &str) -> Result<Option<&CompiledApp>, PathError> {
        let path = canonical_path(path_and_query)?;
        let host = host_key(host);
        let routes = HostRoutes {
            exact: self.exact.get(host.as_ref()),
            wildcard: wildcard_parent(&host).and_then(|parent| self.wildcard.get(parent)),
        };
        let chosen = routes.pick(&path, true)?;
        // A plain path reads the same everywhere; only letter case can still differ, and a
        // prefix that matched case for case is also the longest case-sensitive match.
        let plain = matches!(path, Cow::Borrowed(_)) && !path.contains('%');
        let same_case = chosen.is_none_or(|r| path.as_bytes().starts_with(r.prefix.as_bytes()));
        if !(plain && same_case) {
            let app = chosen.map(|r| r.app);
            let agrees = |reading: &str| {
                [true, false].into_iter().all(|fold| routes.pick(reading, fold).is_ok_and(|r| r.map(|r| r.app) == app))
            };
            let decode: &[bool] = if split_query(path_and_query).0.contains('%') { &[false, true] } else { &[false] };
            let all = agrees(&path)
                && decode
                    .iter()
                    .all(|&decode| Dots::ALL.into_iter().all(|dots| agrees(&read(path_and_query, dots, decode))));
            if !all {
                return Err(PathError::Disagreement);
            }
        }
        Ok(chosen.map(|r| &self.apps[r.app]))
    }

    /// [`Snapshot::route`] for callers that only need an application (return URLs, whose
    /// paths come parsed and normalized): an ambiguous path has none.
    pub fn find_application(&self, host: &str, uri: &str) -> Option<&CompiledApp> {
        self.route(host, uri).ok().flatten()
    }

    /// The decision for a signed-in person.
    pub fn decide<'a, F: Facts + ?Sized>(&'a self, app: &'a CompiledApp, who: &F) -> Verdict<'a> {
        app.decide(who)
    }
}

/// One host's routes: its own, then its wildcard's.
struct HostRoutes<'a> {
    exact: Option<&'a Vec<Route>>,
    wildcard: Option<&'a Vec<Route>>,
}

impl<'a> HostRoutes<'a> {
    /// The longest prefix covering `path`. Two applications' prefixes of one length that
    /// both match (`/A/b` and `/a/b` when folding case) give no single answer: an error.
    fn pick(&self, path: &str, fold_case: bool) -> Result<Option<&'a Route>, PathError> {
        for routes in [self.exact, self.wildcard].into_iter().flatten() {
            let mut matching = routes.iter().filter(|r| prefix_matches(&r.prefix, path, fold_case));
            if let Some(r) = matching.next() {
                let tie = matching.take_while(|o| o.prefix.len() == r.prefix.len()).any(|o| o.app != r.app);
                return if tie { Err(PathError::Disagreement) } else { Ok(Some(r)) };
            }
        }
        Ok(None)
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

/// What a `*.` wildcard covering `host` would name: all but a non-empty first label.
fn wildcard_parent(host: &str) -> Option<&str> {
    host.split_once('.').and_then(|(label, parent)| (!label.is_empty()).then_some(parent))
}

/// `/admin` matches `/admin` and `/admin/…`; `/` matches everything.
fn prefix_matches(prefix: &str, path: &str, fold_case: bool) -> bool {
    let (p, q) = (prefix.as_bytes(), path.as_bytes());
    prefix == "/"
        || (q.len() >= p.len()
            && (q.len() == p.len() || q[p.len()] == b'/')
            && if fold_case { q[..p.len()].eq_ignore_ascii_case(p) } else { q[..p.len()] == *p })
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
            rules: Rules { include: vec![include], ..Default::default() },
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
        assert_eq!(found(&s, "example.com", "/admin/users?x=1").as_deref(), Some("admin"));
        assert_eq!(found(&s, "example.com", "/admin/api/v1").as_deref(), Some("api"));
        assert_eq!(found(&s, "example.com", "/administrator").as_deref(), Some("site"));
        assert_eq!(found(&s, "example.com", "/admin?next=/admin/api").as_deref(), Some("admin"));
        assert_eq!(found(&s, "nowhere.test", "/").as_deref(), None);
    }

    #[test]
    fn hosts_ignore_case_port_and_a_trailing_dot() {
        let s = snapshot();
        assert_eq!(found(&s, "WWW.Example.com:8443", "/").as_deref(), Some("site"));
        assert_eq!(found(&s, "example.com.", "/admin").as_deref(), Some("admin"));
    }

    #[test]
    fn wildcards_cover_one_label_and_exact_hosts_win() {
        let s = snapshot();
        assert_eq!(found(&s, "wiki.apps.example.com", "/").as_deref(), Some("wild"));
        assert_eq!(found(&s, "apps.example.com", "/").as_deref(), None);
        assert_eq!(found(&s, "a.b.apps.example.com", "/").as_deref(), None);
        assert_eq!(found(&s, "billing.apps.example.com", "/reports/2026").as_deref(), Some("special"));
        // The exact host has no route for this path: the wildcard's applies.
        assert_eq!(found(&s, "billing.apps.example.com", "/").as_deref(), Some("wild"));
    }

    fn routed(s: &Snapshot, host: &str, uri: &str) -> Result<Option<String>, PathError> {
        s.route(host, uri).map(|a| a.map(|a| a.id().to_string()))
    }

    /// `/` lets anyone through; `/admin` does not.
    fn public_and_admin() -> Snapshot {
        Snapshot::build(
            vec![app("public", &[("example.com", "/")]), app("admin", &[("example.com", "/admin")])],
            vec![
                policy("public", 0, Action::Bypass, Selector::Everyone),
                policy("admin", 0, Action::Allow, Selector::Email { email: "root@example.com".into() }),
            ],
        )
    }

    #[test]
    fn the_reported_attack_paths_never_reach_the_public_application() {
        let s = public_and_admin();
        assert!(s.application("public").unwrap().anonymous_bypass().is_some());
        for (uri, why) in [
            ("/admin/x://y/public", PathError::EmbeddedUrl),
            ("/admin/x/..%2F..%2Fpublic", PathError::EncodedSlash),
            ("/admin/x%5C..%5C..%5Cpublic", PathError::EncodedBackslash),
            ("/admin;x/users", PathError::PathParameter),
        ] {
            assert_eq!(routed(&s, "example.com", uri), Err(why), "{uri}");
            assert!(s.find_application("example.com", uri).is_none(), "{uri}");
        }
    }

    #[test]
    fn paths_that_would_leave_a_protected_prefix_on_some_server_are_refused() {
        let s = public_and_admin();
        for uri in [
            // Resolved, this is /public; a router that does not resolve ".." serves it under /admin.
            "/admin/../public",
            "/admin/x/../../public?y",
            "/public/../admin",
            // Merged first it is /public; an RFC 3986 resolver keeps the empty segment: /admin/public.
            "/admin//../public",
            // Merged it is /admin; read as sent it is not.
            "//admin",
            // Decoded it is /admin; a server that does not decode serves /%61dmin under /.
            "/%61dmin",
            "/%41dmin/x",
            // A case-sensitive server would not serve these under /admin.
            "/ADMIN/x",
            "/Admin",
        ] {
            assert_eq!(routed(&s, "example.com", uri), Err(PathError::Disagreement), "{uri}");
        }
        // Ambiguous paths are refused before any routing, on any host.
        assert_eq!(routed(&s, "nowhere.test", "/a%2Fb"), Err(PathError::EncodedSlash));
    }

    #[test]
    fn an_rfc_3986_resolver_that_keeps_empty_segments_is_consulted_too() {
        let s = Snapshot::build(
            vec![app("public", &[("example.com", "/")]), app("users", &[("example.com", "/admin/users")])],
            vec![],
        );
        // Merged it is /users and read as sent it is not under /admin/users; an RFC 3986
        // resolver lets ".." remove the empty segment: /admin/users.
        assert_eq!(routed(&s, "example.com", "/admin//../users"), Err(PathError::Disagreement));
    }

    #[test]
    fn paths_every_reader_agrees_on_route_normally() {
        let s = snapshot();
        for (uri, app) in [
            ("/", "site"),
            ("/admin", "admin"),
            ("/admin/users?x=1", "admin"),
            ("/admin/./users", "admin"),
            ("/admin/a/../b", "admin"),
            ("/docs/./a", "site"),
            ("/docs/../x", "site"),
            ("/a%20b", "site"),
            ("/admin/a%20b", "admin"),
            ("/admin/", "admin"),
            ("/admin/%7Eu", "admin"),
            ("/admin/api/x%2d", "api"),
            ("/admin?next=/admin/api/../../x", "admin"),
        ] {
            assert_eq!(routed(&s, "example.com", uri), Ok(Some(app.to_string())), "{uri}");
        }
        assert_eq!(routed(&s, "nowhere.test", "/"), Ok(None));
        assert_eq!(routed(&s, "nowhere.test", "/x/../y"), Ok(None));
    }

    #[test]
    fn letter_case_routes_only_when_the_case_sensitive_reading_agrees() {
        let s = snapshot();
        // No other prefix could take it: every reading gives the same application.
        assert_eq!(routed(&s, "www.example.com", "/ADMIN/x"), Ok(Some("site".into())));
        assert_eq!(routed(&s, "billing.apps.example.com", "/Reports/2026"), Err(PathError::Disagreement));
        assert_eq!(routed(&s, "example.com", "/admin/API/v1"), Err(PathError::Disagreement));
        // An application alone on its host: case-insensitively it is the application's,
        // case-sensitively no application's.
        let alone = Snapshot::build(vec![app("admin", &[("admin.test", "/admin")])], vec![]);
        assert_eq!(routed(&alone, "admin.test", "/admin/x"), Ok(Some("admin".into())));
        assert_eq!(routed(&alone, "admin.test", "/Admin/x"), Err(PathError::Disagreement));
        // Two applications whose prefixes differ only in case: no single answer.
        let twins =
            Snapshot::build(vec![app("upper", &[("t.test", "/A/b")]), app("lower", &[("t.test", "/a/b")])], vec![]);
        for uri in ["/a/b", "/A/b/x", "/A/B"] {
            assert_eq!(routed(&twins, "t.test", uri), Err(PathError::Disagreement), "{uri}");
        }
    }

    #[test]
    fn an_application_serves_its_own_hosts_only() {
        let s = snapshot();
        let wild = s.application("wild").unwrap();
        assert!(wild.serves_host("wiki.apps.example.com:8443"));
        assert!(wild.serves_host("WIKI.apps.example.com."));
        assert!(!wild.serves_host("apps.example.com"));
        assert!(!wild.serves_host(".apps.example.com"));
        assert!(!wild.serves_host("a.b.apps.example.com"));
        let admin = s.application("admin").unwrap();
        assert!(admin.serves_host("Example.COM:443"));
        assert!(!admin.serves_host("www.example.com"));
        assert!(!admin.serves_host("x.example.com"));
    }

    #[test]
    fn decisions_come_from_the_applications_own_policies() {
        let s = Snapshot::build(
            vec![app("site", &[("example.com", "/")]), app("admin", &[("example.com", "/admin")])],
            vec![
                policy("site", 0, Action::Allow, Selector::Everyone),
                policy("admin", 0, Action::Allow, Selector::Email { email: "root@example.com".into() }),
            ],
        );
        let ann = Subject::new(None, None, "ann@example.com", []).with_verified_email(true);
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
            rules: Rules { include: vec![Selector::Everyone], exclude, ..Default::default() },
            ..policy("a", 1, Action::Bypass, Selector::Everyone)
        };
        let compiled = |policies: Vec<Policy>| CompiledApp::new(app("a", &[("a.test", "/")]), policies);
        assert_eq!(compiled(vec![bypass(vec![])]).anonymous_bypass().map(|p| p.position), Some(1));
        let email = Selector::Email { email: "x@y.z".into() };
        assert!(compiled(vec![bypass(vec![email.clone()])]).anonymous_bypass().is_none());
        // A Block for everyone before it wins.
        assert!(compiled(vec![policy("a", 0, Action::Block, Selector::Everyone), bypass(vec![])])
            .anonymous_bypass()
            .is_none());
        // Policies that cannot match someone unknown do not stand in the way; Allow never counts.
        let ok = compiled(vec![
            policy("a", 0, Action::Block, email),
            bypass(vec![]),
            policy("a", 2, Action::Allow, Selector::Everyone),
        ]);
        assert!(ok.anonymous_bypass().is_some());
        assert!(compiled(vec![policy("a", 0, Action::Allow, Selector::Everyone)]).anonymous_bypass().is_none());
    }
}
