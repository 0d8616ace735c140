//! User agents: device class, browser and OS families, and bot detection.
//!
//! Browser and OS come from the uap-core regexes (`data/regexes.yaml`, shipped
//! in this crate, Apache-2.0), through the `ua-parser` crate. Bots come from
//! the `isbot` patterns, less the ones for plain HTTP clients (curl, wget,
//! HTTP libraries): those are scripts and API clients of a headless shop, not
//! crawlers, and they get sessions like any browser.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, OnceLock};

/// The uap-core regexes, version 0.18.0.
const REGEXES: &str = include_str!("../../data/regexes.yaml");

/// isbot patterns for HTTP clients that are not crawlers.
const NOT_BOTS: &[&str] = &[
    "^curl",
    "wget",
    "^java/",
    "^php-curl-class",
    "aiohttp",
    "axios",
    "go-http-client",
    "guzzlehttp",
    "http_get",
    "httpclient",
    "httpurlconnection",
    "httpx",
    "libwww-perl",
    "node-fetch/",
    "okhttp",
    "pycurl",
    "python-requests",
    "python-urllib",
];

/// The coarse class of device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum DeviceClass {
    /// A desktop or laptop browser (and anything unrecognised).
    #[default]
    Desktop,
    /// A phone.
    Mobile,
    /// A tablet.
    Tablet,
    /// A crawler or headless browser.
    Bot,
}

impl DeviceClass {
    /// `desktop`, `mobile`, `tablet` or `bot`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Desktop => "desktop",
            Self::Mobile => "mobile",
            Self::Tablet => "tablet",
            Self::Bot => "bot",
        }
    }

    /// [`DeviceClass::as_str`], as one text shared by every session's attributes.
    pub fn shared_name(self) -> Arc<str> {
        static NAMES: LazyLock<[Arc<str>; 4]> = LazyLock::new(|| {
            [
                DeviceClass::Desktop,
                DeviceClass::Mobile,
                DeviceClass::Tablet,
                DeviceClass::Bot,
            ]
            .map(|d| Arc::from(d.as_str()))
        });
        Arc::clone(&NAMES[self as usize])
    }
}

/// What a user agent string says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Agent {
    /// Device class.
    pub device: DeviceClass,
    /// Browser family (`Chrome`, `Firefox`, `Mobile Safari`, …; `Other` if unknown).
    pub browser: Arc<str>,
    /// OS family (`Windows`, `Mac OS X`, `Android`, `iOS`, …; `Other` if unknown).
    pub os: Arc<str>,
}

impl Default for Agent {
    fn default() -> Self {
        Self {
            device: DeviceClass::Desktop,
            browser: "Other".into(),
            os: "Other".into(),
        }
    }
}

/// The compiled user-agent rules. Building them takes a moment, so the
/// process keeps one ([`AgentParser::shared`]).
pub struct AgentParser {
    extractor: Option<ua_parser::Extractor<'static>>,
    bots: isbot::Bots,
    /// Recent answers by user-agent string: real traffic repeats a few
    /// hundred strings, and running the rules is the dearest part of a new
    /// session.
    cache: Mutex<HashMap<Box<str>, Arc<Agent>>>,
}

/// Most user agents remembered; past it the memory starts afresh.
const CACHE_ENTRIES: usize = 4096;
/// Longer user agents are not remembered (they are rare, and a flood of
/// unique long ones must not fill memory).
const CACHE_KEY_LEN: usize = 512;

impl std::fmt::Debug for AgentParser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentParser").finish_non_exhaustive()
    }
}

impl AgentParser {
    /// The process-wide parser, built on first use.
    pub fn shared() -> &'static AgentParser {
        static PARSER: OnceLock<AgentParser> = OnceLock::new();
        PARSER.get_or_init(AgentParser::build)
    }

    fn build() -> Self {
        let extractor = serde_yaml_ng::from_str::<ua_parser::Regexes<'static>>(REGEXES)
            .map_err(|e| e.to_string())
            .and_then(|r| ua_parser::Extractor::try_from(r).map_err(|e| e.to_string()));
        let extractor = match extractor {
            Ok(x) => Some(x),
            Err(e) => {
                // The data is compiled in and tested; this is unreachable in a
                // released build, but a broken file must not take the service down.
                tracing::error!(error = %e, "user-agent rules failed to load; browsers and OSes will read `Other`");
                None
            }
        };
        let mut bots = isbot::Bots::default();
        bots.remove(NOT_BOTS);
        Self {
            extractor,
            bots,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Whether `ua` is a crawler or a headless browser.
    pub fn is_bot(&self, ua: &str) -> bool {
        self.classify(ua).device == DeviceClass::Bot
    }

    /// Parses `ua`.
    pub fn parse(&self, ua: &str) -> Agent {
        Agent::clone(&self.classify(ua))
    }

    /// Parses `ua`, from the cache when it was seen recently.
    pub fn classify(&self, ua: &str) -> Arc<Agent> {
        if ua.len() > CACHE_KEY_LEN {
            return Arc::new(self.run_rules(ua));
        }
        if let Some(hit) = self.cache.lock().ok().and_then(|c| c.get(ua).cloned()) {
            return hit;
        }
        let agent = Arc::new(self.run_rules(ua));
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= CACHE_ENTRIES {
                cache.clear();
            }
            cache.insert(ua.into(), Arc::clone(&agent));
        }
        agent
    }

    fn run_rules(&self, ua: &str) -> Agent {
        let mut agent = Agent::default();
        if let Some(x) = &self.extractor {
            if let Some(b) = x.ua.extract(ua) {
                agent.browser = b.family.as_ref().into();
            }
            if let Some(o) = x.os.extract(ua) {
                agent.os = o.os.as_ref().into();
            }
        }
        agent.device = if self.bots.is_bot(ua) {
            DeviceClass::Bot
        } else {
            device_class(ua)
        };
        agent
    }
}

/// Tablet and phone markers, in the spirit of the browsers' own advice
/// ("Mobi" means a phone; an Android without it is a tablet).
fn device_class(ua: &str) -> DeviceClass {
    const TABLET: &[&str] = &["iPad", "Tablet", "Kindle", "Silk/", "PlayBook"];
    const MOBILE: &[&str] = &[
        "Mobi",
        "iPhone",
        "iPod",
        "Windows Phone",
        "BlackBerry",
        "Opera Mini",
    ];
    if TABLET.iter().any(|m| ua.contains(m)) {
        return DeviceClass::Tablet;
    }
    if MOBILE.iter().any(|m| ua.contains(m)) {
        return DeviceClass::Mobile;
    }
    if ua.contains("Android") {
        return DeviceClass::Tablet;
    }
    DeviceClass::Desktop
}

#[cfg(test)]
mod tests {
    use super::*;

    const CHROME_WIN: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
    const SAFARI_IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const SAFARI_IPAD: &str = "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
    const FIREFOX_LINUX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0";
    const CHROME_ANDROID: &str = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36";
    const GOOGLEBOT: &str = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)";
    const BINGBOT: &str = "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)";
    const HEADLESS: &str = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36";

    #[test]
    fn parses_common_browsers() {
        let p = AgentParser::shared();
        let a = p.parse(CHROME_WIN);
        assert_eq!(
            (a.device, &*a.browser, &*a.os),
            (DeviceClass::Desktop, "Chrome", "Windows")
        );
        let a = p.parse(SAFARI_IPHONE);
        assert_eq!(
            (a.device, &*a.browser, &*a.os),
            (DeviceClass::Mobile, "Mobile Safari", "iOS")
        );
        let a = p.parse(SAFARI_IPAD);
        assert_eq!(a.device, DeviceClass::Tablet);
        let a = p.parse(FIREFOX_LINUX);
        assert_eq!(
            (a.device, &*a.browser, &*a.os),
            (DeviceClass::Desktop, "Firefox", "Linux")
        );
        let a = p.parse(CHROME_ANDROID);
        assert_eq!(
            (a.device, &*a.browser, &*a.os),
            (DeviceClass::Mobile, "Chrome Mobile", "Android")
        );
    }

    #[test]
    fn crawlers_and_headless_browsers_are_bots_but_http_clients_are_not() {
        let p = AgentParser::shared();
        for ua in [GOOGLEBOT, BINGBOT, HEADLESS] {
            assert!(p.is_bot(ua), "{ua}");
            assert_eq!(p.parse(ua).device, DeviceClass::Bot);
        }
        for ua in [
            CHROME_WIN,
            SAFARI_IPHONE,
            "curl/8.5.0",
            "python-requests/2.32",
            "Wget/1.21",
        ] {
            assert!(!p.is_bot(ua), "{ua}");
        }
    }

    #[test]
    fn garbage_is_harmless() {
        let p = AgentParser::shared();
        let a = p.parse("\u{0}\u{ffff}((((");
        assert_eq!(&*a.browser, "Other");
        assert_eq!(p.parse(&"x".repeat(10_000)).device, DeviceClass::Desktop);
    }
}
