//! The original request, as each kind of proxy reports it.
//!
//! One reader per proxy kind, each reading only the headers that proxy sets itself: a
//! header the client can send through one kind of proxy must not be believed from it.
//! Anything missing, repeated, unparsable or contradictory is refused, never replaced by
//! another header set.

use reqwest::header::HeaderMap;

/// The request the person made, as the proxy saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginalRequest {
    /// `http` or `https`.
    pub scheme: &'static str,
    /// Lower-case host, with the port when one was given.
    pub host: String,
    /// Path and query, as sent (not decoded or normalized: routing does that).
    pub uri: String,
    pub method: Option<String>,
}

impl OriginalRequest {
    /// The URL to come back to after signing in.
    pub fn url(&self) -> String {
        format!("{}://{}{}", self.scheme, self.host, self.uri)
    }

    /// The host without its port.
    pub fn hostname(&self) -> &str {
        split_port(&self.host).0
    }
}

/// Why the proxy's headers could not be read. Answered with 400 and this line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    #[error("{0} is missing: configure the proxy as the README's snippet shows")]
    Missing(&'static str),
    #[error("{0} was sent more than once")]
    Repeated(&'static str),
    #[error("{header} is not valid: {why}")]
    Invalid { header: &'static str, why: &'static str },
}

const ORIGINAL_URL: &str = "X-Original-URL";
const ORIGINAL_METHOD: &str = "X-Original-Method";
const FORWARDED_PROTO: &str = "X-Forwarded-Proto";
const FORWARDED_HOST: &str = "X-Forwarded-Host";
const FORWARDED_URI: &str = "X-Forwarded-Uri";
const FORWARDED_METHOD: &str = "X-Forwarded-Method";

/// nginx `auth_request` (and ingress-nginx `auth-url`): `X-Original-URL`, and
/// `X-Original-Method` when present.
pub fn from_nginx(headers: &HeaderMap) -> Result<OriginalRequest, HeaderError> {
    let url = one(headers, ORIGINAL_URL)?.ok_or(HeaderError::Missing(ORIGINAL_URL))?;
    let invalid = |why| HeaderError::Invalid { header: ORIGINAL_URL, why };
    let (scheme, rest) = match url.split_once("://") {
        Some((s, rest)) if s.eq_ignore_ascii_case("https") => ("https", rest),
        Some((s, rest)) if s.eq_ignore_ascii_case("http") => ("http", rest),
        _ => return Err(invalid("it must be an absolute http or https URL")),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, target) = rest.split_at(end);
    let host = host(authority).map_err(invalid)?;
    if target.contains('#') {
        return Err(invalid("it has a fragment"));
    }
    let uri = match target.as_bytes().first() {
        None => "/".to_string(),
        Some(b'?') => format!("/{target}"),
        _ => target.to_string(),
    };
    let method = one(headers, ORIGINAL_METHOD)?.map(|m| method(m, ORIGINAL_METHOD)).transpose()?;
    Ok(OriginalRequest { scheme, host, uri, method })
}

/// Caddy `forward_auth` and Traefik `ForwardAuth`: the four `X-Forwarded-*` headers they set.
pub fn from_forwarded(headers: &HeaderMap) -> Result<OriginalRequest, HeaderError> {
    let required = |name| one(headers, name)?.ok_or(HeaderError::Missing(name));
    let proto = required(FORWARDED_PROTO)?;
    let scheme = if proto.eq_ignore_ascii_case("https") {
        "https"
    } else if proto.eq_ignore_ascii_case("http") {
        "http"
    } else {
        return Err(HeaderError::Invalid { header: FORWARDED_PROTO, why: "it must be http or https" });
    };
    let host = host(required(FORWARDED_HOST)?).map_err(|why| HeaderError::Invalid { header: FORWARDED_HOST, why })?;
    let uri = required(FORWARDED_URI)?;
    if !uri.starts_with('/') {
        return Err(HeaderError::Invalid { header: FORWARDED_URI, why: "it must start with '/'" });
    }
    if uri.contains('#') {
        return Err(HeaderError::Invalid { header: FORWARDED_URI, why: "it has a fragment" });
    }
    let method = method(required(FORWARDED_METHOD)?, FORWARDED_METHOD)?;
    Ok(OriginalRequest { scheme, host, uri: uri.to_string(), method: Some(method) })
}

/// The header's single value; `None` when absent.
fn one<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<Option<&'h str>, HeaderError> {
    let mut values = headers.get_all(name).iter();
    let Some(first) = values.next() else { return Ok(None) };
    if values.next().is_some() {
        return Err(HeaderError::Repeated(name));
    }
    let v = first
        .to_str()
        .map_err(|_| HeaderError::Invalid { header: name, why: "it holds bytes that are not visible ASCII" })?
        .trim();
    if v.is_empty() {
        return Err(HeaderError::Missing(name));
    }
    Ok(Some(v))
}

fn method(m: &str, header: &'static str) -> Result<String, HeaderError> {
    if m.len() > 32 || !m.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Err(HeaderError::Invalid { header, why: "it is not an HTTP method" });
    }
    Ok(m.to_ascii_uppercase())
}

/// `host[:port]`: a DNS name, an IPv4 address or a bracketed IPv6 address. A comma means the
/// proxy appended to a value the client sent: which one is true cannot be known.
fn host(authority: &str) -> Result<String, &'static str> {
    if authority.is_empty() {
        return Err("it has no host");
    }
    if authority.contains(',') {
        return Err("it lists several hosts");
    }
    if authority.contains('@') {
        return Err("it has user information");
    }
    let (name, port) = split_port(authority);
    if let Some(port) = port {
        if port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || port.parse::<u16>().is_err()
        {
            return Err("its port is not a number from 0 to 65535");
        }
    }
    let valid = if let Some(v6) = name.strip_prefix('[').and_then(|n| n.strip_suffix(']')) {
        v6.parse::<std::net::Ipv6Addr>().is_ok()
    } else {
        !name.is_empty()
            && name.len() <= 253
            && name.split('.').enumerate().all(|(i, label)| {
                // A trailing dot (an empty last label) is a fully qualified name.
                (label.is_empty() && i > 0 && name.ends_with('.') && i == name.split('.').count() - 1)
                    || (!label.is_empty()
                        && label.len() <= 63
                        && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
            })
    };
    if !valid {
        return Err("its host is not a domain name or IP address");
    }
    Ok(authority.to_ascii_lowercase())
}

/// `example.com:8443` → (`example.com`, Some(`8443`)); IPv6 in brackets keeps its colons.
fn split_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        return match authority.find(']') {
            Some(end) => {
                let (name, rest) = authority.split_at(end + 1);
                (name, rest.strip_prefix(':'))
            }
            None => (authority, None),
        };
    }
    match authority.split_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (authority, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    fn req(scheme: &'static str, host: &str, uri: &str, method: Option<&str>) -> OriginalRequest {
        OriginalRequest { scheme, host: host.into(), uri: uri.into(), method: method.map(Into::into) }
    }

    #[test]
    fn nginx_reads_x_original_url_and_method() {
        let h = headers(&[("x-original-url", "https://Wiki.Example.com:8443/a/b?c=1"), ("x-original-method", "post")]);
        assert_eq!(from_nginx(&h), Ok(req("https", "wiki.example.com:8443", "/a/b?c=1", Some("POST"))));
        assert_eq!(
            from_nginx(&headers(&[("x-original-url", "http://wiki.test")])),
            Ok(req("http", "wiki.test", "/", None))
        );
        assert_eq!(from_nginx(&headers(&[("x-original-url", "http://wiki.test?x")])).unwrap().uri, "/?x");
        assert_eq!(from_nginx(&headers(&[("x-original-url", "http://[::1]:80/")])).unwrap().host, "[::1]:80");
    }

    #[test]
    fn nginx_never_falls_back_to_the_forwarded_headers() {
        // The client sent these through nginx; only X-Original-URL counts there.
        let h = headers(&[
            ("x-forwarded-host", "public.example.com"),
            ("x-forwarded-uri", "/"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(from_nginx(&h), Err(HeaderError::Missing("X-Original-URL")));
        // An unparsable URL (nginx built it from `Host: x%y`) is refused, not replaced.
        let h = headers(&[("x-original-url", "http://x%y/secret"), ("x-forwarded-host", "public.example.com")]);
        assert!(matches!(from_nginx(&h), Err(HeaderError::Invalid { header: "X-Original-URL", .. })));
    }

    #[test]
    fn the_forwarded_reader_ignores_x_original_url() {
        // Caddy passes a client's X-Original-URL through: it must not decide anything.
        let h = headers(&[
            ("x-original-url", "http://public.example.com/"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "wiki.example.com"),
            ("x-forwarded-uri", "/secret"),
            ("x-forwarded-method", "GET"),
        ]);
        assert_eq!(from_forwarded(&h), Ok(req("https", "wiki.example.com", "/secret", Some("GET"))));
    }

    #[test]
    fn missing_repeated_and_conflicting_headers_are_refused() {
        let full = [
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "wiki.example.com"),
            ("x-forwarded-uri", "/"),
            ("x-forwarded-method", "GET"),
        ];
        for skip in 0..full.len() {
            let h: Vec<_> = full.iter().enumerate().filter(|(i, _)| *i != skip).map(|(_, p)| *p).collect();
            assert!(matches!(from_forwarded(&headers(&h)), Err(HeaderError::Missing(_))), "without {}", full[skip].0);
        }
        let mut twice = full.to_vec();
        twice.push(("x-forwarded-host", "public.example.com"));
        assert_eq!(from_forwarded(&headers(&twice)), Err(HeaderError::Repeated("X-Forwarded-Host")));
        let mut listed = full.to_vec();
        listed[1] = ("x-forwarded-host", "public.example.com, wiki.example.com");
        assert!(matches!(
            from_forwarded(&headers(&listed)),
            Err(HeaderError::Invalid { header: "X-Forwarded-Host", .. })
        ));
        let mut proto = full.to_vec();
        proto[0] = ("x-forwarded-proto", "https, http");
        assert!(matches!(
            from_forwarded(&headers(&proto)),
            Err(HeaderError::Invalid { header: "X-Forwarded-Proto", .. })
        ));
        let twice_url = headers(&[("x-original-url", "http://a.test/"), ("x-original-url", "http://b.test/")]);
        assert_eq!(from_nginx(&twice_url), Err(HeaderError::Repeated("X-Original-URL")));
        assert_eq!(from_nginx(&headers(&[("x-original-url", " ")])), Err(HeaderError::Missing("X-Original-URL")));
    }

    #[test]
    fn hosts_must_be_names_or_addresses() {
        for bad in [
            "http://x%y/",
            "http://user@wiki.test/",
            "http://wiki.test:99999/",
            "http://wiki.test:/",
            "http:///path",
            "http://wi ki.test/",
            "http://[zz]/",
            "ftp://wiki.test/",
            "/relative",
            "http://wiki.test/#frag",
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-original-url", HeaderValue::from_str(bad).unwrap());
            assert!(from_nginx(&h).is_err(), "{bad}");
        }
        let bad_uri = headers(&[
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "wiki.test"),
            ("x-forwarded-uri", "secret"),
            ("x-forwarded-method", "GET"),
        ]);
        assert!(matches!(from_forwarded(&bad_uri), Err(HeaderError::Invalid { header: "X-Forwarded-Uri", .. })));
        assert_eq!(from_nginx(&headers(&[("x-original-url", "http://wiki.test./")])).unwrap().hostname(), "wiki.test.");
    }

    #[test]
    fn the_return_url_and_hostname_come_from_the_parts() {
        let r = req("https", "wiki.test:8443", "/a?b", None);
        assert_eq!(r.url(), "https://wiki.test:8443/a?b");
        assert_eq!(r.hostname(), "wiki.test");
        assert_eq!(req("http", "[::1]:80", "/", None).hostname(), "[::1]");
    }
}
