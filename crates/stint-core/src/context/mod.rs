//! The request context: what a request says about who sent it and from where.
//!
//! Built from plain strings so that it knows no HTTP library; the axum layer
//! fills [`RequestInfo`] from the request's headers.

mod agent;
mod attribution;
mod ip;
mod spam;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, LazyLock, Mutex};

pub use agent::{Agent, AgentParser, DeviceClass};
pub use attribution::{MAX_FIELD_LEN, Utm, landing_page, referrer, url_host, utm};
pub use ip::{anonymize, client_ip};
pub use spam::ReferrerSpam;

use crate::session::Attributes;

/// The raw facts of one request, as the transport saw them.
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestInfo<'a> {
    /// The TCP peer's address.
    pub peer: Option<IpAddr>,
    /// `X-Forwarded-For`, if any.
    pub forwarded_for: Option<&'a str>,
    /// `X-Real-IP`, if any.
    pub real_ip: Option<&'a str>,
    /// Whether the proxy headers (and CDN country header) may be believed.
    pub trust_proxy: bool,
    /// `User-Agent`.
    pub user_agent: Option<&'a str>,
    /// `Referer`.
    pub referer: Option<&'a str>,
    /// The request's path.
    pub path: &'a str,
    /// The request's query string, without `?`.
    pub query: Option<&'a str>,
    /// `CF-IPCountry`, if any.
    pub country: Option<&'a str>,
    /// Where addresses are located (a GeoIP database), if anywhere.
    pub geo: Option<&'a dyn Geolocate>,
}

/// Where an address is, as far as a GeoIP database knows.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    /// ISO 3166-1 alpha-2 country code, upper case.
    pub country: Option<Arc<str>>,
    /// City name (English).
    pub city: Option<Arc<str>>,
}

/// Locates client addresses: a GeoIP database (`stint-axum` reads MaxMind's
/// format), or anything else that knows. Asked once per new session, with
/// the full address before it is anonymised.
pub trait Geolocate: Send + Sync + std::fmt::Debug {
    /// Where `ip` is; [`Location::default`] when unknown.
    fn locate(&self, ip: IpAddr) -> Location;
}

impl RequestInfo<'_> {
    /// Whether the user agent belongs to a crawler or a headless browser.
    pub fn is_bot(&self, parser: &AgentParser) -> bool {
        self.user_agent.is_some_and(|ua| parser.is_bot(ua))
    }

    /// Whether the referrer is on a referrer-spam list: a fake visit,
    /// treated as a bot's.
    pub fn is_referrer_spam(&self, list: &ReferrerSpam) -> bool {
        self.referer.is_some_and(|r| list.is_spam(r))
    }

    /// The attributes a session starting with this request records: the
    /// anonymised address, the parsed user agent, and the attribution.
    pub fn attributes(&self, parser: &AgentParser) -> Attributes {
        let ip = client_ip(self.peer, self.forwarded_for, self.real_ip, self.trust_proxy);
        // Cached (the layer asked `is_bot` with the same string a moment ago),
        // and the texts shared with every session of the same browser.
        let agent = self.user_agent.map(|ua| parser.classify(ua)).unwrap_or_default();
        let utm = self.query.map(utm).unwrap_or_default();
        // The database first (it has the city too), then a trusted CDN's header.
        let located = match (self.geo, ip) {
            (Some(geo), Some(ip)) => geo.locate(ip),
            _ => Location::default(),
        };
        let header = || {
            self.country
                .filter(|_| self.trust_proxy)
                .map(str::trim)
                .filter(|c| c.len() == 2 && c.bytes().all(|b| b.is_ascii_alphabetic()))
                .filter(|c| !c.eq_ignore_ascii_case("XX"))
                .map(country_code)
        };
        let country = located.country.as_deref().map(country_code).or_else(header);
        Attributes {
            ip_address: ip.map(|ip| anonymize(ip).to_string().into()),
            device: Some(agent.device.shared_name()),
            browser: Some(Arc::clone(&agent.browser)),
            os: Some(Arc::clone(&agent.os)),
            country,
            city: located.city,
            landing_page: Some(landing_page(self.path, self.query).into()),
            referrer: self.referer.and_then(referrer).map(Into::into),
            utm_source: utm.source.map(Into::into),
            utm_medium: utm.medium.map(Into::into),
            utm_campaign: utm.campaign.map(Into::into),
        }
    }
}

/// The upper-case form of a two-letter country code, one shared text per
/// country (there are at most 26 × 26).
fn country_code(code: &str) -> Arc<str> {
    static CODES: LazyLock<Mutex<HashMap<[u8; 2], Arc<str>>>> = LazyLock::new(Mutex::default);
    let &[a, b] = code.as_bytes() else {
        return code.to_ascii_uppercase().into();
    };
    let key = [a.to_ascii_uppercase(), b.to_ascii_uppercase()];
    let text = || key.iter().copied().map(char::from).collect::<String>();
    match CODES.lock() {
        Ok(mut codes) => Arc::clone(codes.entry(key).or_insert_with(|| text().into())),
        Err(_) => text().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_of_a_first_request() {
        let parser = AgentParser::shared();
        let info = RequestInfo {
            peer: Some("203.0.113.77".parse().unwrap()),
            user_agent: Some(
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
            ),
            referer: Some("https://www.google.com/search?q=shoes"),
            path: "/api/storefront/products",
            query: Some("utm_source=news&utm_medium=email"),
            country: Some("DE"),
            ..RequestInfo::default()
        };
        let a = info.attributes(parser);
        assert_eq!(a.ip_address.as_deref(), Some("203.0.113.0"));
        assert_eq!(a.device.as_deref(), Some("desktop"));
        assert_eq!(a.browser.as_deref(), Some("Chrome"));
        assert_eq!(a.os.as_deref(), Some("Windows"));
        assert_eq!(
            a.landing_page.as_deref(),
            Some("/api/storefront/products?utm_source=news&utm_medium=email")
        );
        assert_eq!(
            a.referrer.as_deref(),
            Some("https://www.google.com/search?q=shoes")
        );
        assert_eq!(a.utm_source.as_deref(), Some("news"));
        assert_eq!(a.utm_medium.as_deref(), Some("email"));
        assert_eq!(a.utm_campaign, None);
        assert_eq!(
            a.country, None,
            "the CDN header is believed only behind a trusted proxy"
        );
        let trusted = RequestInfo {
            trust_proxy: true,
            ..info
        };
        assert_eq!(trusted.attributes(parser).country.as_deref(), Some("DE"));
    }

    /// A database of two networks.
    #[derive(Debug)]
    struct Atlas;

    impl Geolocate for Atlas {
        fn locate(&self, ip: IpAddr) -> Location {
            match ip.to_string().as_str() {
                "203.0.113.77" => Location {
                    country: Some("de".into()),
                    city: Some("Berlin".into()),
                },
                "2001:db8::1" => Location {
                    country: Some("NO".into()),
                    city: None,
                },
                _ => Location::default(),
            }
        }
    }

    #[test]
    fn a_geoip_database_locates_the_full_address_before_the_cdn_header() {
        let parser = AgentParser::shared();
        let info = |peer: &str, country| RequestInfo {
            peer: Some(peer.parse().unwrap()),
            path: "/",
            country,
            trust_proxy: true,
            geo: Some(&Atlas),
            ..RequestInfo::default()
        };
        let a = info("203.0.113.77", Some("FR")).attributes(parser);
        assert_eq!(
            (a.country.as_deref(), a.city.as_deref()),
            (Some("DE"), Some("Berlin"))
        );
        assert_eq!(a.ip_address.as_deref(), Some("203.0.113.0"), "stored anonymised");
        let b = info("2001:db8::1", None).attributes(parser);
        assert_eq!((b.country.as_deref(), b.city.as_deref()), (Some("NO"), None));
        let c = info("198.51.100.1", Some("FR")).attributes(parser);
        assert_eq!(
            (c.country.as_deref(), c.city.as_deref()),
            (Some("FR"), None),
            "unknown to the database: the CDN's header"
        );
        let d = info("198.51.100.1", None).attributes(parser);
        assert_eq!((d.country, d.city), (None, None));
    }

    #[test]
    fn sessions_of_one_browser_share_its_texts() {
        let parser = AgentParser::shared();
        let info = |ip: &'static str, country: &'static str| RequestInfo {
            peer: Some(ip.parse().unwrap()),
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"),
            path: "/",
            country: Some(country),
            trust_proxy: true,
            ..RequestInfo::default()
        };
        let (a, b) = (
            info("198.51.100.1", "fr").attributes(parser),
            info("203.0.113.9", "FR").attributes(parser),
        );
        for (x, y) in [
            (&a.device, &b.device),
            (&a.browser, &b.browser),
            (&a.os, &b.os),
            (&a.country, &b.country),
        ] {
            let (x, y) = (x.as_ref().unwrap(), y.as_ref().unwrap());
            assert!(Arc::ptr_eq(x, y), "{x} is copied");
        }
        assert_eq!(a.country.as_deref(), Some("FR"));
        assert_ne!(a.ip_address, b.ip_address);
    }

    #[test]
    fn each_device_class_has_its_own_shared_name() {
        for d in [
            DeviceClass::Desktop,
            DeviceClass::Mobile,
            DeviceClass::Tablet,
            DeviceClass::Bot,
        ] {
            assert_eq!(&*d.shared_name(), d.as_str());
            assert!(Arc::ptr_eq(&d.shared_name(), &d.shared_name()));
        }
    }
}
