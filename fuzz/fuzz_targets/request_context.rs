//! The request context: any headers and query string, never a panic, and
//! what is stored is bounded and anonymised; any referrer is checked
//! against the referrer-spam list without a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use stint_core::context::{AgentParser, MAX_FIELD_LEN, ReferrerSpam, RequestInfo};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\n');
    let mut next = || parts.next();
    let (xff, real, ua, referer, path, query, country) =
        (next(), next(), next(), next(), next(), next(), next());
    for trust_proxy in [false, true] {
        let info = RequestInfo {
            peer: Some("203.0.113.77".parse().unwrap()),
            forwarded_for: xff,
            real_ip: real,
            trust_proxy,
            user_agent: ua,
            referer,
            path: path.unwrap_or("/"),
            query,
            country,
            geo: None,
        };
        if info.is_referrer_spam(ReferrerSpam::builtin()) {
            assert!(referer.is_some(), "only a referrer can be spam");
        }
        let a = info.attributes(AgentParser::shared());
        for field in [
            &a.referrer,
            &a.landing_page,
            &a.utm_source,
            &a.utm_medium,
            &a.utm_campaign,
        ] {
            assert!(field.as_ref().is_none_or(|f| f.len() <= MAX_FIELD_LEN));
        }
        if let Some(ip) = a.ip_address {
            let ip: std::net::IpAddr = ip.parse().unwrap();
            assert_eq!(
                stint_core::context::anonymize(ip),
                ip,
                "stored addresses are anonymised"
            );
        }
    }
});
