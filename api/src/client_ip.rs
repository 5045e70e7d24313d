//! The client's address, the key of every per-address limit. Behind a reverse proxy the
//! TCP peer is the proxy, so for a peer listed in `TRUSTED_PROXIES` the address comes from
//! `X-Forwarded-For`: its rightmost entry that is not itself a trusted proxy (entries to
//! the left of it were written by the client and prove nothing). For any other peer the
//! header is ignored: anyone can send it. IPv6 clients are keyed by their /64, the
//! smallest network a single customer usually gets, so one host cannot spread its
//! attempts over 2^64 addresses.
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// One network: an address and a prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                mask_v4(ip, self.prefix) == mask_v4(net, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                mask_v6(ip, self.prefix) == mask_v6(net, self.prefix)
            }
            _ => false,
        }
    }
}

impl FromStr for Cidr {
    type Err = String;

    /// `10.0.0.0/8`, `2001:db8::/32`, or a bare address (a network of one).
    fn from_str(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        let (address, prefix) = match raw.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (raw, None),
        };
        let network = address
            .parse::<IpAddr>()
            .map(canonical)
            .map_err(|_| format!("{raw:?} is not an address or a CIDR network"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{raw:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Self { network, prefix })
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`TRUSTED_PROXIES`; none by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|cidr| cidr.contains(ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// A comma- or space-separated list of networks.
    fn from_str(raw: &str) -> Result<Self, String> {
        raw.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|part| !part.is_empty())
            .map(Cidr::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(Self)
    }
}

/// A client address as the limits count it: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    pub fn new(ip: IpAddr) -> Self {
        match canonical(ip) {
            IpAddr::V6(v6) => Self(IpAddr::V6(mask_v6(v6, 64))),
            v4 => Self(v4),
        }
    }
}

impl fmt::Display for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V6(net) => write!(f, "{net}/64"),
            IpAddr::V4(ip) => write!(f, "{ip}"),
        }
    }
}

/// The client of a request whose TCP peer is `peer` and whose `X-Forwarded-For` headers
/// (in order) are `forwarded`.
pub fn client_address<'a>(
    peer: IpAddr,
    forwarded: impl IntoIterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let peer = canonical(peer);
    if !trusted.contains(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    // From the right: each trusted proxy appended the address it received from.
    let mut client = peer;
    for hop in hops.iter().rev() {
        match parse_hop(hop) {
            Some(ip) if trusted.contains(ip) => client = ip,
            Some(ip) => return ip,
            // An entry that is no address ends what can be believed.
            None => return client,
        }
    }
    client
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5678`,
/// `[2001:db8::1]:443`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Some(rest) = hop.strip_prefix('[') {
        return rest
            .split_once(']')
            .and_then(|(ip, _)| ip.parse::<Ipv6Addr>().ok())
            .map(|ip| canonical(IpAddr::V6(ip)));
    }
    hop.rsplit_once(':')
        .and_then(|(ip, _)| ip.parse::<Ipv4Addr>().ok())
        .map(IpAddr::V4)
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, as a dual-stack socket reports IPv4
/// peers) are their IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

fn mask_v4(ip: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let bits = u32::from(ip);
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Ipv4Addr::from(bits & mask)
}

fn mask_v6(ip: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let bits = u128::from(ip);
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0);
    Ipv6Addr::from(bits & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn networks_parse_and_match() {
        let proxies: TrustedProxies = "10.0.0.0/8, 192.168.1.7 2001:db8::/32".parse().unwrap();
        assert!(proxies.contains(ip("10.200.3.4")));
        assert!(proxies.contains(ip("192.168.1.7")));
        assert!(!proxies.contains(ip("192.168.1.8")));
        assert!(proxies.contains(ip("2001:db8:ffff::1")));
        assert!(proxies.contains(ip("::ffff:10.1.1.1")));
        assert!(!proxies.contains(ip("11.0.0.1")));
        assert!("".parse::<TrustedProxies>().unwrap().is_empty());
        assert!(
            "0.0.0.0/0"
                .parse::<TrustedProxies>()
                .unwrap()
                .contains(ip("8.8.8.8"))
        );
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/x", "::/129"] {
            assert!(bad.parse::<TrustedProxies>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_a_trusted_peer() {
        let trusted: TrustedProxies = "127.0.0.1, 10.0.0.0/8".parse().unwrap();
        let none = TrustedProxies::default();
        let xff = ["6.6.6.6, 203.0.113.7, 10.0.0.2"];
        assert_eq!(client_address(ip("127.0.0.1"), xff, &none), ip("127.0.0.1"));
        assert_eq!(
            client_address(ip("198.51.100.1"), xff, &trusted),
            ip("198.51.100.1")
        );
        // The rightmost untrusted entry, never the client-supplied ones to its left.
        assert_eq!(
            client_address(ip("127.0.0.1"), xff, &trusted),
            ip("203.0.113.7")
        );
        // Several headers read as one list.
        assert_eq!(
            client_address(ip("127.0.0.1"), ["6.6.6.6", "203.0.113.9:4000"], &trusted),
            ip("203.0.113.9")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), ["[2001:db8::5]:443"], &trusted),
            ip("2001:db8::5")
        );
        // Only proxies, or nothing usable: the last believable hop.
        assert_eq!(
            client_address(ip("127.0.0.1"), ["10.0.0.3"], &trusted),
            ip("10.0.0.3")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), ["junk"], &trusted),
            ip("127.0.0.1")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), [], &trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        assert_eq!(
            ClientKey::new(ip("2001:db8:1:2:aaaa::1")).to_string(),
            "2001:db8:1:2::/64"
        );
        assert_eq!(
            ClientKey::new(ip("2001:db8:1:2:bbbb::9")),
            ClientKey::new(ip("2001:db8:1:2::1"))
        );
        assert_ne!(
            ClientKey::new(ip("2001:db8:1:3::1")),
            ClientKey::new(ip("2001:db8:1:2::1"))
        );
        assert_eq!(
            ClientKey::new(ip("::ffff:192.0.2.1")).to_string(),
            "192.0.2.1"
        );
        assert_eq!(ClientKey::new(ip("192.0.2.1")).to_string(), "192.0.2.1");
    }
}
