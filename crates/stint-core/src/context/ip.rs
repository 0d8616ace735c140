//! The client address: which one to believe, and how it is anonymised.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The client's address. Behind a trusted proxy, the left-most valid address
/// of `X-Forwarded-For` (the client as the first proxy saw it), else
/// `X-Real-IP`, else the peer; otherwise the peer alone, since anybody can
/// send those headers.
pub fn client_ip(
    peer: Option<IpAddr>,
    forwarded_for: Option<&str>,
    real_ip: Option<&str>,
    trust_proxy: bool,
) -> Option<IpAddr> {
    if trust_proxy {
        let forwarded = forwarded_for
            .and_then(|v| v.split(',').next())
            .and_then(|s| s.trim().parse::<IpAddr>().ok());
        let real = real_ip.and_then(|s| s.trim().parse::<IpAddr>().ok());
        if let Some(ip) = forwarded.or(real) {
            return Some(ip);
        }
    }
    peer
}

/// The address as it may be stored: IPv4 with the last octet zeroed, IPv6
/// reduced to its /48 prefix. An IPv4-mapped IPv6 address is treated as IPv4.
pub fn anonymize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(anonymize_v4(v4)),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(anonymize_v4(v4)),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
            }
        },
    }
}

fn anonymize_v4(ip: Ipv4Addr) -> Ipv4Addr {
    let [a, b, c, _] = ip.octets();
    Ipv4Addr::new(a, b, c, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn anonymises_both_families() {
        assert_eq!(anonymize(ip("203.0.113.77")), ip("203.0.113.0"));
        assert_eq!(anonymize(ip("2001:db8:abcd:12:1:2:3:4")), ip("2001:db8:abcd::"));
        assert_eq!(anonymize(ip("::ffff:198.51.100.9")), ip("198.51.100.0"));
    }

    #[test]
    fn proxy_headers_only_when_trusted() {
        let peer = Some(ip("10.0.0.1"));
        let xff = Some("198.51.100.9, 10.0.0.2");
        assert_eq!(client_ip(peer, xff, None, false), peer);
        assert_eq!(client_ip(peer, xff, None, true), Some(ip("198.51.100.9")));
        assert_eq!(
            client_ip(peer, Some("garbage"), Some("192.0.2.5"), true),
            Some(ip("192.0.2.5"))
        );
        assert_eq!(client_ip(peer, Some("garbage"), None, true), peer);
    }
}
