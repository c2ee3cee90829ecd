//! Network addresses: which client a request came from when proxies stand
//! in between, and the key rate limits count that client under.
//!
//! Behind a load balancer every TCP connection comes from the balancer, so
//! the client is read from `X-Forwarded-For` / `Forwarded`, but only when
//! the peer is a proxy the operator trusts: anybody else can write those
//! headers. Each trusted proxy appends the address it saw, so the list is
//! read from the right and the first address that is not a trusted proxy
//! is the client (anything left of it was written by the client itself).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// An address block such as `10.0.0.0/8` or `2001:db8::/32`; a bare
/// address is a block of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .parse()
            .map_err(|_| format!("{s:?} is not an address block such as 10.0.0.0/8"))?;
        let net = net.to_canonical();
        let max = if net.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("{s:?} has a prefix length outside 0..={max}")),
            },
        };
        Ok(Self { net, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.net, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.net, self.prefix)
    }
}

/// The proxies whose forwarding headers are believed
/// (`PITWALL_TRUSTED_PROXIES`); empty by default, which believes nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    /// A comma-separated list of address blocks; blank entries are skipped.
    pub fn parse(list: &str) -> Result<Self, String> {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(Cidr::parse)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|c| c.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The address a request came from, as far as it can be known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddr(IpAddr);

impl ClientAddr {
    /// A request whose peer is not an IP socket (never the case over TCP).
    pub const UNKNOWN: Self = Self(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    pub fn new(ip: IpAddr) -> Self {
        Self(ip.to_canonical())
    }

    /// The client of a request that reached us from `peer` with these
    /// header values (every `X-Forwarded-For` and every `Forwarded` line,
    /// in the order received).
    ///
    /// The headers count only when `peer` is trusted. `X-Forwarded-For`
    /// is preferred when present: it is what load balancers and ingress
    /// controllers append to, while they pass a client's own `Forwarded`
    /// through untouched.
    pub fn resolve(
        peer: Option<IpAddr>,
        x_forwarded_for: &[&str],
        forwarded: &[&str],
        trusted: &TrustedProxies,
    ) -> Self {
        let Some(peer) = peer.map(|p| p.to_canonical()) else {
            return Self::UNKNOWN;
        };
        if !trusted.contains(peer) {
            return Self(peer);
        }
        let hops: Vec<Option<IpAddr>> = if x_forwarded_for.iter().any(|h| !h.trim().is_empty()) {
            x_forwarded_for
                .iter()
                .flat_map(|h| h.split(','))
                .map(parse_hop)
                .collect()
        } else {
            forwarded
                .iter()
                .flat_map(|h| h.split(','))
                .map(|element| {
                    element.split(';').find_map(|pair| {
                        let (k, v) = pair.split_once('=')?;
                        k.trim().eq_ignore_ascii_case("for").then_some(v)
                    })
                })
                .map(|v| v.and_then(parse_hop))
                .collect()
        };
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            match hop {
                // A trusted proxy wrote "unknown" or an obfuscated name:
                // the last address known is the best there is.
                None => break,
                Some(ip) if trusted.contains(ip) => client = ip,
                Some(ip) => return Self(ip),
            }
        }
        Self(client)
    }

    pub fn ip(self) -> IpAddr {
        self.0
    }

    /// What rate limits count under: the address, or for IPv6 its /64
    /// (one subscriber gets a whole /64 and can pick any address in it).
    pub fn limiter_key(self) -> String {
        match self.0 {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => {
                let net = Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64));
                format!("{net}/64")
            }
        }
    }
}

impl fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One hop of a forwarding header: `1.2.3.4`, `1.2.3.4:80`, `2001:db8::1`,
/// `[2001:db8::1]:443`, optionally quoted (`Forwarded`).
fn parse_hop(raw: &str) -> Option<IpAddr> {
    let s = raw.trim().trim_matches('"');
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (host, port) = s.rsplit_once(':')?;
    if port.chars().all(|c| c.is_ascii_digit()) {
        host.parse::<Ipv4Addr>().ok().map(IpAddr::V4)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::V4(Ipv4Addr::BROADCAST))
    }

    fn trusted(list: &str) -> TrustedProxies {
        TrustedProxies::parse(list).unwrap_or_default()
    }

    #[test]
    fn address_blocks_parse_and_match() {
        let c = Cidr::parse("10.0.0.0/8").unwrap();
        assert!(c.contains(ip("10.200.1.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        assert!(c.contains(ip("::ffff:10.0.0.1")), "IPv4-mapped peers match");
        let c = Cidr::parse("2001:db8::/32").unwrap();
        assert!(c.contains(ip("2001:db8:ffff::1")));
        assert!(!c.contains(ip("2001:db9::1")));
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
        assert!(Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.1")));
        assert!(!Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.2")));
        for bad in ["10.0.0.0/33", "::/129", "10.0.0/8", "proxy", "10.0.0.0/x"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(TrustedProxies::parse("10.0.0.0/8, ,fd00::/8").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/8,nope").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let peer = Some(ip("198.51.100.7"));
        for t in [trusted(""), trusted("10.0.0.0/8")] {
            let got = ClientAddr::resolve(peer, &["203.0.113.9"], &["for=203.0.113.10"], &t);
            assert_eq!(got.ip(), ip("198.51.100.7"));
        }
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins() {
        let t = trusted("10.0.0.0/8");
        let peer = Some(ip("10.0.0.2"));
        // The client forged the first entry; our proxies appended the rest.
        let got = ClientAddr::resolve(peer, &["6.6.6.6, 203.0.113.9, 10.0.0.5"], &[], &t);
        assert_eq!(got.ip(), ip("203.0.113.9"));
        // Several header lines read as one list.
        let got = ClientAddr::resolve(peer, &["6.6.6.6", "203.0.113.9:5555"], &[], &t);
        assert_eq!(got.ip(), ip("203.0.113.9"));
        // Only proxies: the farthest one.
        let got = ClientAddr::resolve(peer, &["10.0.0.9, 10.0.0.5"], &[], &t);
        assert_eq!(got.ip(), ip("10.0.0.9"));
        // No header: the peer.
        let got = ClientAddr::resolve(peer, &[], &[], &t);
        assert_eq!(got.ip(), ip("10.0.0.2"));
        // A proxy that did not know: the last address known.
        let got = ClientAddr::resolve(peer, &["6.6.6.6, unknown, 10.0.0.5"], &[], &t);
        assert_eq!(got.ip(), ip("10.0.0.5"));
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let t = trusted("10.0.0.0/8");
        let peer = Some(ip("10.0.0.2"));
        let got = ClientAddr::resolve(
            peer,
            &[],
            &[
                r#"for=6.6.6.6, for="[2001:db8:cafe::17]:4711";proto=https, For=10.1.1.1;by=10.0.0.2"#,
            ],
            &t,
        );
        assert_eq!(got.ip(), ip("2001:db8:cafe::17"));
        // X-Forwarded-For wins when both came.
        let got = ClientAddr::resolve(peer, &["203.0.113.9"], &["for=6.6.6.6"], &t);
        assert_eq!(got.ip(), ip("203.0.113.9"));
    }

    #[test]
    fn ipv6_clients_are_limited_per_64() {
        let a = ClientAddr::new(ip("2001:db8:1:2:aaaa::1"));
        let b = ClientAddr::new(ip("2001:db8:1:2:bbbb::9"));
        let c = ClientAddr::new(ip("2001:db8:1:3::1"));
        assert_eq!(a.limiter_key(), "2001:db8:1:2::/64");
        assert_eq!(a.limiter_key(), b.limiter_key());
        assert_ne!(a.limiter_key(), c.limiter_key());
        assert_eq!(
            a.to_string(),
            "2001:db8:1:2:aaaa::1",
            "evidence keeps the address"
        );
        let v4 = ClientAddr::new(ip("::ffff:203.0.113.9"));
        assert_eq!(v4.limiter_key(), "203.0.113.9");
    }
}
