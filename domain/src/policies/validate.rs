//! Checks and normalisation of what admins type. Every error says what to fix.
//! Checks that need the database (names taken, groups that exist) are in the service.

use std::collections::HashSet;

pub use super::error::{
    PolicyError, DEFAULT_SESSION_MINUTES, MAX_HOSTS, MAX_POLICIES, MAX_SELECTORS, MAX_SESSION_MINUTES,
    MIN_SESSION_MINUTES,
};
use super::model::{ApplicationInput, HostRule, PolicyInput, Rules, Selector};

const MAX_NAME: usize = 100;
const MAX_PREFIX: usize = 1024;

/// A trimmed name of 1 to 100 characters without control characters.
pub fn name(input: &str) -> Result<String, PolicyError> {
    let n = input.trim();
    if n.is_empty() || n.chars().count() > MAX_NAME || n.chars().any(char::is_control) {
        return Err(PolicyError::BadName);
    }
    Ok(n.to_string())
}

/// Lower-case, without a trailing dot. `*.example.com` is allowed: one label of sub-domains.
pub fn hostname(input: &str) -> Result<String, PolicyError> {
    let bad = |why| PolicyError::BadHostname { host: input.trim().to_string(), why };
    let h = input.trim().to_ascii_lowercase();
    // A URL pasted as `https://app.example.com/` names one host unambiguously: take it. With a
    // path, port or other scheme it does not, and the checks below say what to change.
    let h = match h.strip_prefix("https://").or_else(|| h.strip_prefix("http://")) {
        Some(rest) => rest.strip_suffix('/').unwrap_or(rest),
        None => &h,
    };
    let h = h.strip_suffix('.').unwrap_or(h);
    if h.is_empty() {
        return Err(bad("enter a hostname such as app.example.com."));
    }
    if h.contains("://") {
        return Err(bad("enter the hostname only, without http:// or https://."));
    }
    if h.contains('/') {
        return Err(bad("enter the hostname only; put the path in Path prefix."));
    }
    if h.contains(':') {
        return Err(bad("enter it without a port: the port does not matter for matching."));
    }
    if !h.is_ascii() {
        return Err(bad("use the xn-- (punycode) form of an international name."));
    }
    let (wild, base) = match h.strip_prefix("*.") {
        Some(rest) => (true, rest),
        None => (false, h),
    };
    if base.contains('*') {
        return Err(bad("a wildcard can only be the whole first label, as in *.example.com."));
    }
    if wild && base.split('.').count() < 2 {
        return Err(bad("a wildcard needs at least two labels after it, as in *.example.com."));
    }
    check_dns_name(base).map_err(bad)?;
    Ok(h.to_string())
}

fn check_dns_name(name: &str) -> Result<(), &'static str> {
    if name.len() > 253 {
        return Err("a hostname has at most 253 characters.");
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("each part between dots must have 1 to 63 characters.");
        }
        if !label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
            return Err("use only letters, digits, hyphens and dots.");
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err("a part between dots cannot start or end with a hyphen.");
        }
    }
    Ok(())
}

/// Starts with '/', no trailing '/' except the root, no query, wildcard, escapes or dot segments.
pub fn path_prefix(input: &str) -> Result<String, PolicyError> {
    let p = input.trim();
    let bad = |why| PolicyError::BadPathPrefix { prefix: p.to_string(), why };
    if p.is_empty() || p == "/" {
        return Ok("/".into());
    }
    if !p.starts_with('/') {
        return Err(bad("it must start with '/', as in /admin."));
    }
    if p.len() > MAX_PREFIX {
        return Err(bad("it is too long (at most 1024 characters)."));
    }
    if p.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '?' | '#' | '*' | '%' | '\\')) {
        return Err(bad(
            "use a plain path: no spaces, query string (?), fragment (#), wildcard (*), % escapes or backslashes.",
        ));
    }
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok("/".into());
    }
    if trimmed[1..].split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(bad("it cannot contain '//', '/./' or '/../'."));
    }
    Ok(trimmed.to_string())
}

/// The application's input, normalised: name, hosts (sorted, without duplicates), duration.
pub fn application(input: &ApplicationInput) -> Result<ApplicationInput, PolicyError> {
    let name = name(&input.name)?;
    if input.hosts.is_empty() {
        return Err(PolicyError::NoHosts);
    }
    if input.hosts.len() > MAX_HOSTS {
        return Err(PolicyError::TooManyHosts);
    }
    let mut hosts = Vec::with_capacity(input.hosts.len());
    let mut seen = HashSet::new();
    for h in &input.hosts {
        let rule = HostRule { hostname: hostname(&h.hostname)?, path_prefix: path_prefix(&h.path_prefix)? };
        if !seen.insert(rule.clone()) {
            return Err(PolicyError::DuplicateHost(rule.display()));
        }
        hosts.push(rule);
    }
    hosts.sort();
    let minutes = input.session_duration_minutes;
    if !(MIN_SESSION_MINUTES..=MAX_SESSION_MINUTES).contains(&minutes) {
        return Err(PolicyError::SessionDuration(minutes));
    }
    Ok(ApplicationInput { name, hosts, session_duration_minutes: minutes })
}

/// An email address, lower-cased.
pub fn email(input: &str) -> Result<String, PolicyError> {
    let e = crate::accounts::fold_email(input);
    let bad = || PolicyError::BadEmail(input.trim().to_string());
    let (local, domain) = e.rsplit_once('@').ok_or_else(bad)?;
    if local.is_empty()
        || e.len() > 254
        || e.chars().any(|c| c.is_whitespace() || c.is_control())
        || domain.contains('@')
    {
        return Err(bad());
    }
    email_domain(domain).map_err(|_| bad())?;
    Ok(e)
}

/// The part after '@', lower-cased; a leading '@' is dropped.
pub fn email_domain(input: &str) -> Result<String, PolicyError> {
    let d = crate::accounts::fold_email(input.trim().trim_start_matches('@'));
    let d = d.strip_suffix('.').unwrap_or(&d);
    let bad = || PolicyError::BadEmailDomain(input.trim().to_string());
    if d.is_empty() || d.contains('*') {
        return Err(bad());
    }
    // International domains are accepted as typed (lower-cased); ASCII ones must be DNS names.
    if d.is_ascii() {
        check_dns_name(d).map_err(|_| bad())?;
    } else if d.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | '/')) {
        return Err(bad());
    }
    Ok(d.to_string())
}

/// A selector with its text normalised (emails and domains lower-cased, ids trimmed).
pub fn selector(s: &Selector) -> Result<Selector, PolicyError> {
    Ok(match s {
        Selector::Group(g) => Selector::Group(super::GroupRef {
            provider_id: g.provider_id.trim().to_string(),
            external_id: g.external_id.trim().to_string(),
        }),
        Selector::Everyone => Selector::Everyone,
        Selector::Email { email: e } => Selector::Email { email: email(e)? },
        Selector::EmailDomain { domain } => Selector::EmailDomain { domain: email_domain(domain)? },
        Selector::User(u) => Selector::User(super::UserRef {
            provider_id: u.provider_id.trim().to_string(),
            external_id: u.external_id.trim().to_string(),
        }),
        Selector::IdentityProvider { provider_id } => {
            Selector::IdentityProvider { provider_id: provider_id.trim().to_string() }
        }
    })
}

fn part(list: &[Selector], what: &'static str) -> Result<Vec<Selector>, PolicyError> {
    if list.len() > MAX_SELECTORS {
        return Err(PolicyError::TooManySelectors { part: what });
    }
    let mut out: Vec<Selector> = Vec::with_capacity(list.len());
    for s in list {
        let s = selector(s)?;
        // The same rule twice in one part changes nothing: keep the first.
        if !out.contains(&s) {
            out.push(s);
        }
    }
    Ok(out)
}

/// Rules, normalised; Include must not be empty.
pub fn rules(r: &Rules) -> Result<Rules, PolicyError> {
    let rules = Rules {
        include: part(&r.include, "Include")?,
        require: part(&r.require, "Require")?,
        exclude: part(&r.exclude, "Exclude")?,
    };
    if rules.include.is_empty() {
        return Err(PolicyError::EmptyInclude);
    }
    if rules.exclude.contains(&Selector::Everyone) {
        return Err(PolicyError::EveryoneExcluded);
    }
    Ok(rules)
}

/// Rules for a preview while editing: normalised where possible, never refused (an empty
/// Include simply matches no one).
pub fn draft_rules(r: &Rules) -> Rules {
    let keep = |list: &[Selector]| list.iter().map(|s| selector(s).unwrap_or_else(|_| s.clone())).collect();
    Rules { include: keep(&r.include), require: keep(&r.require), exclude: keep(&r.exclude) }
}

pub fn policy(input: &PolicyInput) -> Result<PolicyInput, PolicyError> {
    Ok(PolicyInput {
        name: name(&input.name)?,
        action: input.action,
        rules: rules(&input.rules)?,
        enabled: input.enabled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostnames_are_lower_cased_and_checked() {
        assert_eq!(hostname(" App.Example.COM. ").unwrap(), "app.example.com");
        assert_eq!(hostname("*.example.com").unwrap(), "*.example.com");
        assert_eq!(hostname("localhost").unwrap(), "localhost");
        for (bad, says) in [
            ("ftp://app.example.com", "without http"),
            ("https://app.example.com/admin", "Path prefix"),
            ("https://app.example.com:8443/", "port"),
            ("https://", "enter a hostname"),
            ("app.example.com/admin", "Path prefix"),
            ("app.example.com:8443", "port"),
            ("*.com", "two labels"),
            ("a.*.example.com", "whole first label"),
            ("app_1.example.com", "letters, digits"),
            ("-app.example.com", "hyphen"),
            ("app..example.com", "1 to 63"),
            ("", "enter a hostname"),
            ("bücher.example", "punycode"),
        ] {
            let e = hostname(bad).unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn a_hostname_pasted_as_a_url_is_taken_when_it_names_only_the_host() {
        for url in ["https://app.example.com", "HTTPS://App.Example.com/", "http://app.example.com./"] {
            assert_eq!(hostname(url).unwrap(), "app.example.com", "{url}");
        }
        assert_eq!(hostname("https://*.example.com/").unwrap(), "*.example.com");
    }

    #[test]
    fn path_prefixes_start_with_a_slash_and_lose_the_trailing_one() {
        assert_eq!(path_prefix("").unwrap(), "/");
        assert_eq!(path_prefix("/").unwrap(), "/");
        assert_eq!(path_prefix("/admin/").unwrap(), "/admin");
        assert_eq!(path_prefix("/a/b").unwrap(), "/a/b");
        assert!(path_prefix("admin").unwrap_err().to_string().contains("must start with '/'"));
        for bad in ["/a?b", "/a#b", "/a*", "/a%2F", "/a b", "/a//b", "/a/../b", "/./a", "/a\\b"] {
            assert!(path_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn an_application_needs_hosts_without_duplicates_and_a_sane_session() {
        let input = |hosts: Vec<HostRule>, minutes| ApplicationInput {
            name: " Wiki ".into(),
            hosts,
            session_duration_minutes: minutes,
        };
        let ok = application(&input(
            vec![HostRule::new("Wiki.example.com", "/"), HostRule::new("wiki.example.com", "/api/")],
            60,
        ))
        .unwrap();
        assert_eq!(ok.name, "Wiki");
        assert_eq!(ok.hosts, vec![HostRule::new("wiki.example.com", "/"), HostRule::new("wiki.example.com", "/api")]);
        assert!(matches!(application(&input(vec![], 60)), Err(PolicyError::NoHosts)));
        let dup =
            application(&input(vec![HostRule::new("a.example.com", "/x"), HostRule::new("A.example.com", "/x/")], 60));
        assert!(matches!(dup, Err(PolicyError::DuplicateHost(h)) if h == "a.example.com/x"));
        assert!(matches!(
            application(&input(vec![HostRule::new("a.example.com", "/")], 1)),
            Err(PolicyError::SessionDuration(1))
        ));
        assert!(application(&input(vec![HostRule::new("a.example.com", "/")], MAX_SESSION_MINUTES + 1)).is_err());
    }

    #[test]
    fn rules_are_normalised_and_include_is_required() {
        let r = rules(&Rules {
            include: vec![
                Selector::Email { email: " Ann@Example.COM ".into() },
                Selector::Email { email: "ann@example.com".into() },
                Selector::EmailDomain { domain: "@Example.org".into() },
            ],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            r.include,
            vec![
                Selector::Email { email: "ann@example.com".into() },
                Selector::EmailDomain { domain: "example.org".into() }
            ]
        );
        assert!(matches!(rules(&Rules::default()), Err(PolicyError::EmptyInclude)));
        let everyone_out =
            Rules { include: vec![Selector::Everyone], exclude: vec![Selector::Everyone], ..Default::default() };
        assert!(matches!(rules(&everyone_out), Err(PolicyError::EveryoneExcluded)));
        for bad in ["ann", "@example.com", "ann@", "a b@example.com", "ann@exa mple.com"] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(email_domain("*.example.com").is_err());
    }
}
