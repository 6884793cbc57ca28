//! Which addresses the enclave may fetch a cited page from: public ones only. A search result
//! (which anyone can influence by publishing a page) must not make the enclave fetch from its
//! own machine, the host's network or a cloud metadata service — and quote the answer back.
//! Names are checked after DNS resolution (a resolver that drops non-public addresses, so a
//! name cannot point inside), literal addresses before connecting, and every redirect again.

use std::net::{IpAddr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether an address is on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link local
                || first == 0x2001 && v6.segments()[1] == 0x0db8 // documentation
                || first == 0x0064 && v6.segments()[1] == 0xff9b) // NAT64 (reaches IPv4 inside)
        }
    }
}

/// Whether the enclave may fetch `url`: https (http too when `local` is allowed, for tests),
/// and a literal address only if it is public (or `local`).
pub fn check(url: &reqwest::Url, local: bool) -> Result<(), String> {
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        other => return Err(format!("pages are fetched over https only, not {other}")),
    }
    let host = url.host_str().ok_or("the address has no host")?;
    // A literal address (IPv6 in brackets); a name is checked when it is resolved.
    match host.trim_start_matches('[').trim_end_matches(']').parse::<IpAddr>() {
        Ok(ip) if !local && !is_public(ip) => Err(format!("{ip} is not a public address")),
        _ => Ok(()),
    }
}

/// A resolver that answers only with public addresses (all of them, when `local` is allowed).
pub struct PublicResolver {
    pub local: bool,
}

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let local = self.local;
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found.into_iter().filter(|a| local || is_public(a.ip())).collect();
            if public.is_empty() {
                return Err(format!("{} has no public address", name.as_str()).into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_and_https_pass() {
        for inside in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "64:ff9b::a9fe:a9fe"] {
            assert!(!is_public(inside.parse().unwrap()), "{inside}");
        }
        for outside in ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"] {
            assert!(is_public(outside.parse().unwrap()), "{outside}");
        }
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        assert!(check(&url("https://example.com/a"), false).is_ok());
        assert!(check(&url("http://example.com/a"), false).unwrap_err().contains("https only"));
        assert!(check(&url("https://169.254.169.254/latest/meta-data/"), false).unwrap_err().contains("not a public address"));
        assert!(check(&url("https://[::1]:8788/"), false).is_err());
        assert!(check(&url("file:///etc/passwd"), false).is_err());
        assert!(check(&url("http://127.0.0.1:9/"), true).is_ok(), "tests may allow local pages");
    }

    #[tokio::test]
    async fn names_that_point_inside_are_not_resolved() {
        let r = PublicResolver { local: false };
        let e = match r.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved"),
            Err(e) => e.to_string(),
        };
        assert!(e.contains("no public address"), "{e}");
    }
}
