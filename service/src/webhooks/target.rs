//! Where a webhook may point: [`WebhookUrl`] (an `http(s)` URL, nothing else) and the SSRF
//! guard, which resolves the host and refuses any address that is not public, both when a
//! webhook is saved and before each delivery. The delivery then connects to the address
//! that was checked ([`Target::pinned`]), so a DNS answer that changes in between (DNS
//! rebinding) cannot send it elsewhere.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// How long resolving a webhook's host may take, on save and before each attempt.
const RESOLVE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

/// The longest URL a webhook may have.
pub const MAX_URL_CHARS: usize = 2048;

/// An absolute `http` or `https` URL with a host, without credentials or fragment. It
/// cannot hold anything else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(Url);

impl WebhookUrl {
    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.chars().count() > MAX_URL_CHARS {
            return Err(format!("must be at most {MAX_URL_CHARS} characters"));
        }
        let url = Url::parse(raw).map_err(|e| format!("is not a valid URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http or https URL".into());
        }
        if url.host().is_none() {
            return Err("must name a host".into());
        }
        // Credentials in a URL end up in logs and in the delivery log's errors.
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not contain a user name or password".into());
        }
        if url.fragment().is_some() {
            return Err("must not contain a fragment (#...)".into());
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

impl TryFrom<String> for WebhookUrl {
    type Error = String;

    fn try_from(raw: String) -> Result<Self, String> {
        Self::parse(&raw)
    }
}

impl<'de> serde::Deserialize<'de> for WebhookUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(serde::de::Error::custom)
    }
}

/// Whether webhooks may point at loopback, private and other non-public addresses
/// (`WEBHOOKS_ALLOW_PRIVATE_TARGETS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TargetPolicy {
    /// Public addresses only (the default).
    #[default]
    PublicOnly,
    /// Anything: for tests and closed networks.
    AllowPrivate,
}

/// A checked destination: the host's address to connect to, when it was resolved here.
#[derive(Debug, Clone)]
pub struct Target {
    /// `(host, address)` for a host given by name under [`TargetPolicy::PublicOnly`]: the
    /// client must connect there rather than resolve the name again.
    pub pinned: Option<(String, SocketAddr)>,
}

/// Resolves the URL's host and checks every address it has. Under
/// [`TargetPolicy::PublicOnly`] one address that is not public refuses the whole host:
/// a name that answers with a mix is not to be trusted.
pub async fn check(url: &WebhookUrl, policy: TargetPolicy) -> Result<Target, String> {
    if policy == TargetPolicy::AllowPrivate {
        return Ok(Target { pinned: None });
    }
    let port = url
        .url()
        .port_or_known_default()
        .ok_or_else(|| "has no port".to_owned())?;
    match url.url().host() {
        None => Err("must name a host".into()),
        Some(url::Host::Ipv4(ip)) => allowed(IpAddr::V4(ip)).map(|_| Target { pinned: None }),
        Some(url::Host::Ipv6(ip)) => allowed(IpAddr::V6(ip)).map(|_| Target { pinned: None }),
        Some(url::Host::Domain(host)) => {
            let addresses: Vec<SocketAddr> =
                tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host, port)))
                    .await
                    .map_err(|_| format!("host {host} did not resolve within 5 s"))?
                    .map_err(|e| format!("host {host} does not resolve: {e}"))?
                    .collect();
            let first = *addresses
                .first()
                .ok_or_else(|| format!("host {host} has no address"))?;
            for address in &addresses {
                allowed(address.ip())?;
            }
            Ok(Target {
                pinned: Some((host.to_owned(), first)),
            })
        }
    }
}

fn allowed(ip: IpAddr) -> Result<(), String> {
    if is_public(ip) {
        Ok(())
    } else {
        Err(format!(
            "resolves to {ip}, which is not a public address (loopback, private, link-local, multicast or reserved)"
        ))
    }
}

/// True for an address on the public internet. The standard library's `is_global` is
/// unstable, so the special-purpose ranges (IANA registries, RFC 6890) are listed here.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    // An IPv4 address carried in IPv6 (mapped, or NAT64's well-known prefix) is judged as
    // the IPv4 address it reaches.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    if s[0] == 0x64 && s[1] == 0xff9b && s[2..6] == [0, 0, 0, 0] {
        let v4 = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
        return is_public_v4(v4);
    }
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local
        || (s[0] & 0xffc0) == 0xfe80 // link-local
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only
        || s[0..6] == [0, 0, 0, 0, 0, 0]) // IPv4-compatible and other ::/96 forms
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_http_urls_with_a_host_parse() {
        assert!(WebhookUrl::parse("https://hooks.example.com/lorebase?x=1").is_ok());
        assert!(WebhookUrl::parse("http://203.0.114.7:8080/").is_ok());
        for bad in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "javascript:alert(1)",
            "https://user:pw@example.com/",
            "https://example.com/#frag",
            "not a url",
            "",
        ] {
            assert!(WebhookUrl::parse(bad).is_err(), "{bad} parsed");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(WebhookUrl::parse(&long).is_err());
    }

    #[test]
    fn non_public_addresses_are_refused() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "::127.0.0.1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!is_public(ip), "{ip} counted as public");
        }
        for ip in [
            "93.184.216.34",
            "8.8.8.8",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(is_public(ip), "{ip} counted as not public");
        }
    }

    #[tokio::test]
    async fn loopback_hosts_are_refused_unless_allowed() {
        for raw in [
            "http://127.0.0.1:9/",
            "http://[::1]/",
            "http://localhost:8080/",
        ] {
            let url = WebhookUrl::parse(raw).unwrap();
            assert!(
                check(&url, TargetPolicy::PublicOnly).await.is_err(),
                "{raw}"
            );
            assert!(
                check(&url, TargetPolicy::AllowPrivate).await.is_ok(),
                "{raw}"
            );
        }
    }
}
