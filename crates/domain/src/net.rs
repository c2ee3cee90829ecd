//! Network addresses: which client a request came from when proxies stand
//! in between, the key rate limits count that client under, and which
//! addresses we may call on a shop's behalf (its webhooks).
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

/// Whether `ip` is a globally routable unicast address: the only kind a
/// shop's webhook may make us connect to. Deny by default: IPv6 must be
/// global unicast (`2000::/3`), and within it, and in IPv4, every
/// special-purpose block is refused: unspecified, "this network",
/// loopback, private, shared (CGNAT), link-local, IETF protocol
/// assignments, documentation, benchmarking, 6to4 (relay and `2002::/16`),
/// Teredo and ORCHID (`2001::/23`), reserved, broadcast and multicast.
/// NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), IPv4-compatible, unique
/// local, site-local and link-local IPv6 fall outside `2000::/3`. An
/// IPv4-mapped address (`::ffff:a.b.c.d`) is judged as the IPv4 address it
/// carries.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

const DENIED_V4: &[(u32, u8)] = &[
    (0x0000_0000, 8),  // 0.0.0.0/8 "this network", unspecified
    (0x0a00_0000, 8),  // 10.0.0.0/8 private
    (0x6440_0000, 10), // 100.64.0.0/10 shared address space (CGNAT)
    (0x7f00_0000, 8),  // 127.0.0.0/8 loopback
    (0xa9fe_0000, 16), // 169.254.0.0/16 link-local
    (0xac10_0000, 12), // 172.16.0.0/12 private
    (0xc000_0000, 24), // 192.0.0.0/24 IETF protocol assignments
    (0xc000_0200, 24), // 192.0.2.0/24 documentation (TEST-NET-1)
    (0xc058_6300, 24), // 192.88.99.0/24 6to4 relay anycast
    (0xc0a8_0000, 16), // 192.168.0.0/16 private
    (0xc612_0000, 15), // 198.18.0.0/15 benchmarking
    (0xc633_6400, 24), // 198.51.100.0/24 documentation (TEST-NET-2)
    (0xcb00_7100, 24), // 203.0.113.0/24 documentation (TEST-NET-3)
    (0xe000_0000, 4),  // 224.0.0.0/4 multicast
    (0xf000_0000, 4),  // 240.0.0.0/4 reserved, and 255.255.255.255 broadcast
];

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let a = u32::from(ip);
    !DENIED_V4
        .iter()
        .any(|&(net, len)| a & (u32::MAX << (32 - u32::from(len))) == net)
}

const DENIED_V6: &[(u128, u8)] = &[
    (0x2001_0000 << 96, 23), // 2001::/23 IETF protocol assignments (Teredo, benchmarking 2001:2::/48, ORCHID)
    (0x2001_0db8 << 96, 32), // 2001:db8::/32 documentation
    (0x2002 << 112, 16),     // 2002::/16 6to4
    (0x3fff << 112, 20),     // 3fff::/20 documentation
];

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let a = u128::from(ip);
    let global_unicast = a >> 125 == 0b001;
    global_unicast
        && !DENIED_V6
            .iter()
            .any(|&(net, len)| a & (u128::MAX << (128 - u32::from(len))) == net)
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

    #[test]
    fn only_globally_routable_addresses_are_public() {
        for denied in [
            "0.0.0.0",
            "0.1.2.3",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.88.99.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.1",
            "203.0.113.1",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "64:ff9b::808:808",
            "64:ff9b:1::1",
            "100::1",
            "2001::1",
            "2001:2::1",
            "2001:10::1",
            "2001:db8::1",
            "2002:7f00:1::1",
            "2002:808:808::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
        ] {
            assert!(
                !is_public(denied.parse().expect("address")),
                "{denied} must be refused"
            );
        }
        for allowed in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.1",
            "172.32.0.1",
            "198.20.0.1",
            "223.255.255.254",
            "::ffff:8.8.8.8",
            "2606:4700:4700::1111",
            "2a00:1450:4001::1",
            "2001:4860:4860::8888",
        ] {
            assert!(
                is_public(allowed.parse().expect("address")),
                "{allowed} must be allowed"
            );
        }
    }
}
