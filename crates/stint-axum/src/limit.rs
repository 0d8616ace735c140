//! The per-address limit on session creation.

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Allows `n` new sessions per client address per minute, with a burst of `n`.
/// IPv6 clients are keyed by their /64, the block one subscriber gets.
#[derive(Debug)]
pub(crate) struct CreateLimit {
    limiter: DefaultKeyedRateLimiter<IpAddr>,
}

impl CreateLimit {
    pub(crate) fn new(per_minute: u32) -> Option<Self> {
        let n = NonZeroU32::new(per_minute)?;
        Some(Self {
            limiter: RateLimiter::keyed(Quota::per_minute(n)),
        })
    }

    pub(crate) fn allow(&self, ip: IpAddr) -> bool {
        let key = match ip {
            IpAddr::V4(_) => ip,
            IpAddr::V6(v6) => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        };
        let ok = self.limiter.check_key(&key).is_ok();
        // Forget addresses whose allowance is full again, so memory follows
        // the clients of the last minute, not every client ever seen.
        if self.limiter.len() > 100_000 {
            self.limiter.retain_recent();
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_the_burst_then_refuses() {
        let limit = CreateLimit::new(3).unwrap();
        let a: IpAddr = "198.51.100.7".parse().unwrap();
        let b: IpAddr = "198.51.100.8".parse().unwrap();
        assert!((0..3).all(|_| limit.allow(a)));
        assert!(!limit.allow(a));
        assert!(limit.allow(b), "another address has its own allowance");
        let v6a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let v6b: IpAddr = "2001:db8:1:2:bbbb::1".parse().unwrap();
        assert!((0..3).all(|_| limit.allow(v6a)));
        assert!(!limit.allow(v6b), "one /64 shares an allowance");
        assert!(CreateLimit::new(0).is_none());
    }
}
