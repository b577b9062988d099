//! Which peers may tell us the client's address (`X-Forwarded-For`), and reading it.
//!
//! Believing the header from anyone would let every client pick its own address for the
//! audit log and for sign-in throttling; ignoring it puts every client behind the proxy
//! into one throttle bucket. So it is believed only from the proxies an admin names.

use std::net::IpAddr;

use ipnet::IpNet;

/// `PORTCULLIS_TRUSTED_PROXIES`: addresses and CIDRs. Default: loopback only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl Default for TrustedProxies {
    fn default() -> Self {
        Self::parse("127.0.0.0/8, ::1").unwrap_or(Self(Vec::new()))
    }
}

impl TrustedProxies {
    /// Comma-separated addresses or CIDRs; `none` trusts no one.
    pub fn parse(list: &str) -> Result<Self, String> {
        if list.trim().eq_ignore_ascii_case("none") {
            return Ok(Self(Vec::new()));
        }
        let mut nets = Vec::new();
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net.trunc(),
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(IpNet::from)
                    .map_err(|_| format!("'{item}' is not an address or CIDR such as 10.0.0.0/8 (or 'none')"))?,
            };
            nets.push(net);
        }
        if nets.is_empty() {
            return Err("lists no address; use 'none' to trust no proxy".into());
        }
        Ok(Self(nets))
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: the peer, or, when the peer is a trusted proxy, the nearest
    /// address in `X-Forwarded-For` (all its values, in order) that is not a trusted proxy.
    /// Entries to the left of an untrusted one were written by the client and are ignored.
    pub fn client_ip<'a>(&self, peer: IpAddr, forwarded_for: impl IntoIterator<Item = &'a str>) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = forwarded_for.into_iter().flat_map(|v| v.split(',')).map(str::trim).collect();
        let mut client = peer;
        for hop in hops.iter().rev() {
            let Some(ip) = parse_hop(hop) else {
                // Garbage: stop at the last hop we could vouch for.
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }

    pub fn display(&self) -> String {
        if self.0.is_empty() {
            return "none".into();
        }
        self.0.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
    }
}

/// An IPv4 address written as IPv6 (`::ffff:127.0.0.1`) is that IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// `203.0.113.7`, `2001:db8::1`, `[2001:db8::1]:443` or `203.0.113.7:5000`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sock) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sock.ip()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_trusts_loopback_only() {
        let t = TrustedProxies::default();
        assert!(t.trusts(ip("127.0.0.1")) && t.trusts(ip("127.9.9.9")) && t.trusts(ip("::1")));
        assert!(t.trusts(ip("::ffff:127.0.0.1")));
        assert!(!t.trusts(ip("10.0.0.1")) && !t.trusts(ip("2001:db8::1")));
    }

    #[test]
    fn forwarded_for_is_ignored_from_an_untrusted_peer() {
        let t = TrustedProxies::default();
        assert_eq!(t.client_ip(ip("198.51.100.9"), ["203.0.113.7"]), ip("198.51.100.9"));
    }

    #[test]
    fn the_nearest_untrusted_hop_is_the_client_and_client_written_entries_are_ignored() {
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        // The client wrote "6.6.6.6"; the edge proxy appended the real address.
        assert_eq!(t.client_ip(ip("127.0.0.1"), ["6.6.6.6, 203.0.113.7", "10.1.2.3"]), ip("203.0.113.7"));
        assert_eq!(t.client_ip(ip("127.0.0.1"), []), ip("127.0.0.1"));
        assert_eq!(t.client_ip(ip("127.0.0.1"), ["10.0.0.5"]), ip("10.0.0.5"));
        assert_eq!(t.client_ip(ip("127.0.0.1"), ["[2001:db8::1]:443"]), ip("2001:db8::1"));
    }

    #[test]
    fn garbage_in_forwarded_for_stops_at_the_last_trusted_hop() {
        let t = TrustedProxies::parse("127.0.0.1, 10.0.0.0/8").unwrap();
        assert_eq!(t.client_ip(ip("127.0.0.1"), ["203.0.113.7, not-an-ip, 10.0.0.2"]), ip("10.0.0.2"));
    }

    #[test]
    fn the_setting_takes_addresses_cidrs_or_none() {
        assert!(TrustedProxies::parse("10.0.0.0/8, 192.0.2.1, fd00::/8").is_ok());
        assert!(TrustedProxies::parse("none").unwrap().display() == "none");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example.com").unwrap_err().contains("not an address"));
        assert!(TrustedProxies::parse(" , ").is_err());
    }
}
