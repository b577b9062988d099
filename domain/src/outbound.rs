//! The one HTTP client for every request to an identity provider.
//!
//! URLs come from admins and from discovery documents, so each request could
//! be aimed at the console's own network (SSRF). The guard:
//! - requires https, except for hosts in `PORTCULLIS_OUTBOUND_ALLOW`;
//! - refuses loopback, private, link-local (cloud metadata), CGNAT, unspecified,
//!   multicast and reserved addresses, including their IPv6 and IPv4-mapped forms,
//!   unless allowed; checked on IP literals after URL parsing and on every
//!   address DNS returns, which are the addresses the connector then uses, so
//!   DNS rebinding cannot slip past;
//! - follows no redirects (a 307 would resend a client secret), ignores proxy
//!   variables, times out, and caps the size of response bodies.

use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    sync::Arc,
    time::Duration,
};

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use url::Url;

/// One entry of `PORTCULLIS_OUTBOUND_ALLOW`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AllowEntry {
    Host(String),
    HostPort(String, u16),
    Net(IpNet),
}

/// Parses `PORTCULLIS_OUTBOUND_ALLOW`: comma-separated hosts, host:port or CIDRs.
pub fn parse_allow_list(text: &str) -> Result<Vec<AllowEntry>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|item| {
            if let Ok(net) = item.parse::<IpNet>() {
                return Ok(AllowEntry::Net(net));
            }
            if let Ok(ip) = item.parse::<IpAddr>() {
                return Ok(AllowEntry::Net(IpNet::from(ip)));
            }
            if let Ok(sa) = item.parse::<SocketAddr>() {
                return Ok(AllowEntry::HostPort(sa.ip().to_string(), sa.port()));
            }
            let (host, port) = match item.rsplit_once(':') {
                Some((h, p)) => (h, Some(p.parse::<u16>().map_err(|_| format!("'{item}' has a bad port"))?)),
                None => (item, None),
            };
            let valid = !host.is_empty()
                && host.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
                && !host.starts_with('.');
            if !valid {
                return Err(format!("'{item}' is not a host, host:port or CIDR"));
            }
            let host = host.to_ascii_lowercase();
            Ok(match port {
                Some(p) => AllowEntry::HostPort(host, p),
                None => AllowEntry::Host(host),
            })
        })
        .collect()
}

/// Why an outbound request was not made or did not finish. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("'{0}' is not a valid URL")]
    BadUrl(String),
    #[error("{url} uses http; identity providers must be reached over https (or add the host to PORTCULLIS_OUTBOUND_ALLOW for a local test provider)")]
    NotHttps { url: String },
    #[error("{host} is allowed in PORTCULLIS_OUTBOUND_ALLOW on port {allowed} only, not {port}: use that port, or list {host}:{port} too")]
    PortNotAllowed { host: String, port: u16, allowed: String },
    #[error("{host} is {addr}, a {kind} address; Portcullis does not connect there unless the host is listed in PORTCULLIS_OUTBOUND_ALLOW")]
    Forbidden { host: String, addr: IpAddr, kind: &'static str },
    #[error("cannot resolve {host}: check the host name")]
    Dns { host: String },
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("the TLS certificate of {host} is not trusted ({reason})")]
    Tls { host: String, reason: String },
    #[error("{url} did not answer within {seconds} seconds")]
    Timeout { url: String, seconds: u64 },
    #[error("{url} redirects to {location}; use the final URL instead")]
    Redirect { url: String, location: String },
    #[error("the answer from {url} is larger than {limit} bytes")]
    TooLarge { url: String, limit: usize },
    #[error("request to {url} failed: {reason}")]
    Other { url: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct OutboundConfig {
    pub allow: Vec<AllowEntry>,
    /// Extra trusted CAs (PEM bundle), from `PORTCULLIS_CA_FILE`.
    pub extra_ca_pem: Option<Vec<u8>>,
    pub connect_timeout: Duration,
    pub timeout: Duration,
}

impl OutboundError {
    /// What an administrator can do about it, in the words of the provider checks.
    pub fn fix(&self) -> &'static str {
        match self {
        Self::NotHttps { .. } => "Use the provider's https:// URL.",
        Self::Forbidden { .. } => {
            "Use the provider's public address. For a provider on your own network, add its host to PORTCULLIS_OUTBOUND_ALLOW."
        }
        Self::PortNotAllowed { .. } => {
            "Use the port the PORTCULLIS_OUTBOUND_ALLOW entry names, or add an entry for this port."
        }
        Self::Dns { .. } => "Check the host name for typos; the server running Portcullis must be able to resolve it.",
        Self::Connect { .. } | Self::Timeout { .. } => {
            "Check that the provider is up and that the server running Portcullis can reach it (firewall, proxy)."
        }
        Self::Redirect { .. } => "Use the URL the provider redirects to as the Base URL.",
        Self::Tls { .. } => {
            "If the provider uses a private certificate authority, put its CA certificate (PEM) in a file and set PORTCULLIS_CA_FILE to it; otherwise check the provider's certificate."
        }
        Self::TooLarge { .. } | Self::BadUrl(_) | Self::Other { .. } => {
            "Check the URL; if it is right, the provider answered unexpectedly."
        }
        }
    }
}

impl Default for OutboundConfig {
    fn default() -> Self {
        Self {
            allow: Vec::new(),
            extra_ca_pem: None,
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(20),
        }
    }
}

/// The guarded client. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Outbound {
    client: reqwest::Client,
    policy: Arc<Policy>,
    timeout: Duration,
}

#[derive(Debug)]
struct Policy {
    allow: Vec<AllowEntry>,
}

/// What kind of address, if it is one we refuse.
pub fn forbidden_kind(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let o = ip.octets();
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() || o[0] == 0 {
        Some("unspecified")
    } else if ip.is_link_local() {
        Some("link-local (cloud metadata)")
    } else if ip.is_private() {
        Some("private")
    } else if o[0] == 100 && (o[1] & 0xc0) == 64 {
        Some("shared (CGNAT)")
    } else if o[0] == 192 && o[1] == 0 && o[2] == 0 {
        Some("IETF protocol assignment")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if ip.is_broadcast() || o[0] >= 240 {
        Some("reserved")
    } else if ip.is_documentation() || (o[0] == 198 && (o[1] & 0xfe) == 18) {
        Some("documentation or benchmarking")
    } else {
        None
    }
}

fn forbidden_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let s = ip.segments();
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    // NAT64 (64:ff9b::/96) and 6to4 (2002::/16) carry an IPv4 address inside.
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        return forbidden_v4(Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8));
    }
    if s[0] == 0x2002 {
        return forbidden_v4(Ipv4Addr::new((s[1] >> 8) as u8, s[1] as u8, (s[2] >> 8) as u8, s[2] as u8));
    }
    if ip.is_loopback() {
        Some("loopback")
    } else if ip.is_unspecified() {
        Some("unspecified")
    } else if (s[0] & 0xffc0) == 0xfe80 {
        Some("link-local")
    } else if (s[0] & 0xfe00) == 0xfc00 {
        Some("private (unique local)")
    } else if ip.is_multicast() {
        Some("multicast")
    } else if s[0] == 0 {
        // ::/8 minus the cases above: IPv4-compatible and other reserved forms.
        Some("reserved")
    } else if s[0] == 0x2001 && s[1] == 0x0db8 {
        Some("documentation")
    } else {
        None
    }
}

impl Policy {
    fn host_allowed(&self, host: &str, port: Option<u16>) -> bool {
        let host = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let ip = host.parse::<IpAddr>().ok();
        self.allow.iter().any(|entry| match entry {
            AllowEntry::Host(h) => *h == host,
            AllowEntry::HostPort(h, p) => *h == host && port.is_none_or(|port| port == *p),
            AllowEntry::Net(net) => ip.is_some_and(|ip| net.contains(&ip)),
        })
    }

    fn addr_allowed(&self, host: &str, port: Option<u16>, ip: IpAddr) -> Result<(), &'static str> {
        match forbidden_kind(ip) {
            None => Ok(()),
            Some(kind) => {
                let in_allowed_net = self.allow.iter().any(|e| matches!(e, AllowEntry::Net(n) if n.contains(&ip)));
                if in_allowed_net || self.host_allowed(host, port) {
                    Ok(())
                } else {
                    Err(kind)
                }
            }
        }
    }

    /// A host listed only as `host:port`: its other ports are refused whatever the scheme,
    /// because the resolver, which lets the host reach private addresses, cannot see the port.
    fn port_restriction(&self, host: &str, port: Option<u16>) -> Result<(), OutboundError> {
        let name = host.trim_start_matches('[').trim_end_matches(']').to_ascii_lowercase();
        let ports: Vec<u16> = self
            .allow
            .iter()
            .filter_map(|e| match e {
                AllowEntry::HostPort(h, p) if *h == name => Some(*p),
                _ => None,
            })
            .collect();
        let unrestricted = self.allow.iter().any(|e| matches!(e, AllowEntry::Host(h) if *h == name));
        match port {
            Some(port) if !ports.is_empty() && !unrestricted && !ports.contains(&port) => {
                Err(OutboundError::PortNotAllowed {
                    host: name,
                    port,
                    allowed: ports.iter().map(u16::to_string).collect::<Vec<_>>().join(", "),
                })
            }
            _ => Ok(()),
        }
    }

    /// The checks that need no DNS: scheme, a host's allowed ports, and the address of an IP-literal URL.
    fn check_url(&self, url: &Url) -> Result<(), OutboundError> {
        let host = url.host_str().ok_or_else(|| OutboundError::BadUrl(url.to_string()))?;
        let port = url.port_or_known_default();
        self.port_restriction(host, port)?;
        match url.scheme() {
            "https" => {}
            "http" if self.host_allowed(host, port) => {}
            "http" => return Err(OutboundError::NotHttps { url: url.to_string() }),
            _ => return Err(OutboundError::BadUrl(url.to_string())),
        }
        // The url crate has already turned `0x7f000001` and friends into a plain IP.
        let ip = match url.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = ip {
            self.addr_allowed(host, port, ip).map_err(|kind| OutboundError::Forbidden {
                host: host.to_string(),
                addr: ip,
                kind,
            })?;
        }
        Ok(())
    }
}

/// Resolves with the system resolver, then refuses the whole answer if any
/// address is forbidden: the connector only ever sees checked addresses.
struct GuardedResolver {
    policy: Arc<Policy>,
}

#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {addr}, a {kind} address")]
struct ResolveRefused {
    host: String,
    addr: IpAddr,
    kind: &'static str,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            for addr in &addrs {
                // The port is checked on the URL; here any allowed entry for the host counts.
                if let Err(kind) = policy.addr_allowed(&host, None, addr.ip()) {
                    return Err(Box::new(ResolveRefused { host: host.clone(), addr: addr.ip(), kind }) as _);
                }
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// A successful answer, body read within the size cap.
#[derive(Debug)]
pub struct Fetched {
    pub status: reqwest::StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
    pub url: Url,
}

impl Fetched {
    pub fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_slice(&self.body)
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Discovery, JWKS and token answers are small; 1 MiB is generous.
pub const SMALL_BODY: usize = 1 << 20;

impl Outbound {
    pub fn new(config: OutboundConfig) -> Result<Self, String> {
        let policy = Arc::new(Policy { allow: config.allow });
        let mut builder = reqwest::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(config.connect_timeout)
            .timeout(config.timeout)
            .user_agent(concat!("Portcullis/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(Arc::new(GuardedResolver { policy: policy.clone() }));
        if let Some(pem) = &config.extra_ca_pem {
            let certs = reqwest::Certificate::from_pem_bundle(pem).map_err(|e| format!("not a PEM bundle: {e}"))?;
            if certs.is_empty() {
                return Err("no certificate in the file".into());
            }
            for cert in certs {
                builder = builder.add_root_certificate(cert);
            }
        }
        let client = builder.build().map_err(|e| e.to_string())?;
        Ok(Self { client, policy, timeout: config.timeout })
    }

    /// Checks a URL against the guard without sending anything.
    pub fn check(&self, url: &str) -> Result<Url, OutboundError> {
        let parsed = Url::parse(url).map_err(|_| OutboundError::BadUrl(url.to_string()))?;
        self.policy.check_url(&parsed)?;
        Ok(parsed)
    }

    /// Sends a request built by `build` from the underlying client, after the guard's checks.
    pub async fn send(
        &self,
        url: &str,
        limit: usize,
        build: impl FnOnce(&reqwest::Client, Url) -> reqwest::RequestBuilder,
    ) -> Result<Fetched, OutboundError> {
        let parsed = self.check(url)?;
        let host = parsed.host_str().unwrap_or_default().to_string();
        let response =
            build(&self.client, parsed.clone()).send().await.map_err(|e| self.map_error(&parsed, &host, e))?;
        let status = response.status();
        if status.is_redirection() {
            let location = response
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no location)")
                .to_string();
            return Err(OutboundError::Redirect { url: parsed.to_string(), location });
        }
        let headers = response.headers().clone();
        if response.content_length().is_some_and(|n| n as usize > limit) {
            return Err(OutboundError::TooLarge { url: parsed.to_string(), limit });
        }
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(|e| self.map_error(&parsed, &host, e))? {
            if body.len() + chunk.len() > limit {
                return Err(OutboundError::TooLarge { url: parsed.to_string(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched { status, headers, body, url: parsed })
    }

    /// GET with `Accept: application/json`.
    pub async fn get(&self, url: &str, limit: usize) -> Result<Fetched, OutboundError> {
        self.send(url, limit, |c, u| c.get(u).header(reqwest::header::ACCEPT, "application/json")).await
    }

    fn map_error(&self, url: &Url, host: &str, e: reqwest::Error) -> OutboundError {
        if e.is_timeout() {
            return OutboundError::Timeout { url: url.to_string(), seconds: self.timeout.as_secs() };
        }
        // Walk the source chain: the resolver's refusal sits deep inside hyper's error.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
        while let Some(err) = source {
            if let Some(refused) = err.downcast_ref::<ResolveRefused>() {
                return OutboundError::Forbidden { host: refused.host.clone(), addr: refused.addr, kind: refused.kind };
            }
            if let Some(io) = err.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return OutboundError::Connect { host: host.to_string(), reason: "connection refused".into() };
                }
            }
            source = err.source();
        }
        let text = error_chain(&e);
        if text.contains("certificate") || text.contains("UnknownIssuer") {
            return OutboundError::Tls {
                host: host.to_string(),
                reason: text.rsplit(": ").next().unwrap_or(&text).to_string(),
            };
        }
        if text.contains("failed to lookup address")
            || text.contains("Name or service not known")
            || text.contains("dns error")
        {
            return OutboundError::Dns { host: host.to_string() };
        }
        if e.is_connect() {
            return OutboundError::Connect { host: host.to_string(), reason: text };
        }
        OutboundError::Other { url: url.to_string(), reason: text }
    }
}

/// `a: b: c` from an error and its sources, for messages that must say why.
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn guard(allow: &str) -> Outbound {
        Outbound::new(OutboundConfig { allow: parse_allow_list(allow).unwrap(), ..Default::default() }).unwrap()
    }

    #[test]
    fn forbidden_ranges_cover_ipv4_ipv6_and_embedded_forms() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.0.8",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::",
        ] {
            assert!(forbidden_kind(ip.parse().unwrap()).is_some(), "{ip} must be refused");
        }
        for ip in ["93.184.216.34", "2606:4700::6810:84e5", "64:ff9b::5db8:d822"] {
            assert_eq!(forbidden_kind(ip.parse().unwrap()), None, "{ip} is public");
        }
    }

    #[test]
    fn plain_http_is_refused_unless_the_host_is_allowed() {
        let g = guard("");
        assert!(matches!(g.check("http://example.com/x"), Err(OutboundError::NotHttps { .. })));
        assert!(g.check("https://example.com/x").is_ok());
        let g = guard("example.com");
        assert!(g.check("http://example.com/x").is_ok());
    }

    #[test]
    fn ip_literals_are_checked_after_parsing() {
        let g = guard("");
        for url in [
            "https://127.0.0.1/",
            "https://0x7f000001/",
            "https://2130706433/",
            "https://[::1]/",
            "https://169.254.169.254/latest",
        ] {
            assert!(matches!(g.check(url), Err(OutboundError::Forbidden { .. })), "{url}");
        }
    }

    #[test]
    fn the_allow_list_takes_hosts_ports_and_cidrs() {
        let list = parse_allow_list(" localhost:8443, 127.0.0.0/8 ,okta.internal,::1").unwrap();
        assert_eq!(list[0], AllowEntry::HostPort("localhost".into(), 8443));
        assert!(matches!(list[1], AllowEntry::Net(_)));
        assert_eq!(list[2], AllowEntry::Host("okta.internal".into()));
        assert!(parse_allow_list("bad host!").is_err());
        assert!(parse_allow_list("host:99999").is_err());

        let g = guard("127.0.0.1:9000");
        assert!(g.check("http://127.0.0.1:9000/").is_ok());
        assert!(g.check("http://127.0.0.1:9001/").is_err(), "another port is not allowed");
        let g = guard("127.0.0.0/8");
        assert!(g.check("http://127.0.0.1:9001/").is_ok());
    }

    #[test]
    fn a_host_port_entry_restricts_the_port_for_https_too() {
        let g = guard("okta.internal:8443");
        assert!(g.check("https://okta.internal:8443/api/v1/users").is_ok());
        assert!(g.check("http://okta.internal:8443/").is_ok());
        for url in ["https://okta.internal:22/", "https://okta.internal/", "http://okta.internal:9000/"] {
            assert!(g.check(url).is_err(), "{url} is on a port the entry does not allow");
        }
        assert!(matches!(
            g.check("https://okta.internal:6379/"),
            Err(OutboundError::PortNotAllowed { port: 6379, .. })
        ));
        // A plain host entry beside it allows every port; other hosts are untouched.
        assert!(guard("okta.internal:8443,okta.internal").check("https://okta.internal:9443/").is_ok());
        assert!(g.check("https://example.com:8080/").is_ok());
    }

    #[tokio::test]
    async fn a_host_name_resolving_to_loopback_is_refused_at_connect_time() {
        let g = guard("");
        let err = g.get("https://localhost:9/", SMALL_BODY).await.unwrap_err();
        assert!(matches!(err, OutboundError::Forbidden { .. }), "{err}");
        assert!(err.to_string().contains("loopback"), "{err}");
    }

    #[tokio::test]
    async fn bodies_are_capped_and_redirects_are_not_followed() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            for response in [
                "HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n"
                    .to_string(),
                format!("HTTP/1.1 200 OK\r\nContent-Length: 2048\r\n\r\n{}", "x".repeat(2048)),
            ] {
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                s.write_all(response.as_bytes()).await.unwrap();
            }
        });
        let g = guard(&addr.to_string());
        let url = format!("http://{addr}/");
        assert!(matches!(g.get(&url, SMALL_BODY).await, Err(OutboundError::Redirect { .. })));
        assert!(matches!(g.get(&url, 1024).await, Err(OutboundError::TooLarge { .. })));
    }

    #[tokio::test]
    async fn a_closed_port_is_a_clear_connect_error_not_a_hang() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let g = guard("127.0.0.1");
        let err = g.get(&format!("http://{addr}/"), SMALL_BODY).await.unwrap_err();
        assert!(matches!(err, OutboundError::Connect { .. }), "{err}");
    }
}
