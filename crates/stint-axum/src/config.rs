//! The layer's settings.

use stint_core::context::ReferrerSpam;

use crate::cookies::CookieKeys;

/// How the layer names, signs and sends its cookies, and whom it believes.
///
/// Made with [`SessionConfig::new`] (the contract's defaults) and changed
/// with the `with_*` methods:
///
/// ```
/// use stint_axum::{CookieKeys, SessionConfig};
///
/// let keys = CookieKeys::new(["a secret of at least thirty-two bytes"]).unwrap();
/// let config = SessionConfig::new(keys)
///     .with_secure(true)
///     .with_trust_proxy(true)
///     .with_create_limit_per_minute(120);
/// assert!(config.secure && config.trust_proxy);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Keys for the session cookie.
    pub keys: CookieKeys,
    /// Name of the session cookie (`session`).
    pub session_cookie: String,
    /// Name of the visitor cookie (`visitor_id`).
    pub visitor_cookie: String,
    /// Adds `Secure` to both cookies (production).
    pub secure: bool,
    /// `Max-Age` of the visitor cookie, seconds.
    pub visitor_ttl: std::time::Duration,
    /// Believe `X-Forwarded-For`, `X-Real-IP` and `CF-IPCountry`.
    pub trust_proxy: bool,
    /// New sessions stored per client address per minute (burst of the same
    /// size); over it the request is served with a session that is not
    /// stored. `0`: no limit.
    pub create_limit_per_minute: u32,
    /// Count every `GET` as a page view of its session.
    pub count_page_views: bool,
    /// Longest `Cookie` header read; a longer one is ignored as a whole.
    pub max_cookie_header: usize,
    /// Most keys in a session's data.
    pub data_max_keys: usize,
    /// Largest value of one key, serialised as JSON, bytes.
    pub data_max_value_bytes: usize,
    /// Honour `DNT: 1` and `Sec-GPC: 1`: the session works, but nothing of it
    /// is stored for analytics (no events, no device, no attribution).
    pub honor_privacy_signals: bool,
    /// Locates new sessions' addresses (country and city), before they are
    /// anonymised; without it, only a trusted CDN's `CF-IPCountry` gives a country.
    pub geoip: Option<std::sync::Arc<crate::GeoIp>>,
    /// Referrer-spam hosts: a new visit referred by one is a bot's (served,
    /// not stored, counted nowhere). Matomo's list by default; `None`: no filter.
    pub referrer_spam: Option<std::sync::Arc<ReferrerSpam>>,
}

/// The built-in referrer-spam list, shared by every configuration.
fn builtin_referrer_spam() -> std::sync::Arc<ReferrerSpam> {
    static LIST: std::sync::LazyLock<std::sync::Arc<ReferrerSpam>> =
        std::sync::LazyLock::new(|| std::sync::Arc::new(ReferrerSpam::builtin().clone()));
    std::sync::Arc::clone(&LIST)
}

impl SessionConfig {
    /// The defaults of the contract, with these keys.
    pub fn new(keys: CookieKeys) -> Self {
        Self {
            keys,
            session_cookie: "session".to_owned(),
            visitor_cookie: "visitor_id".to_owned(),
            secure: false,
            visitor_ttl: std::time::Duration::from_secs(31_536_000),
            trust_proxy: false,
            create_limit_per_minute: 600,
            count_page_views: true,
            max_cookie_header: 8 * 1024,
            honor_privacy_signals: true,
            data_max_keys: 64,
            data_max_value_bytes: 16 * 1024,
            geoip: None,
            referrer_spam: Some(builtin_referrer_spam()),
        }
    }

    /// Sets the signing keys.
    #[must_use]
    pub fn with_keys(mut self, keys: CookieKeys) -> Self {
        self.keys = keys;
        self
    }

    /// Sets the names of the session and visitor cookies.
    #[must_use]
    pub fn with_cookie_names(mut self, session: impl Into<String>, visitor: impl Into<String>) -> Self {
        self.session_cookie = session.into();
        self.visitor_cookie = visitor.into();
        self
    }

    /// Adds `Secure` to both cookies (production, behind HTTPS).
    #[must_use]
    pub fn with_secure(mut self, secure: bool) -> Self {
        self.secure = secure;
        self
    }

    /// Sets the visitor cookie's lifetime.
    #[must_use]
    pub fn with_visitor_ttl(mut self, ttl: std::time::Duration) -> Self {
        self.visitor_ttl = ttl;
        self
    }

    /// Believe `X-Forwarded-For`, `X-Real-IP` and `CF-IPCountry`: only
    /// behind a proxy that sets them.
    #[must_use]
    pub fn with_trust_proxy(mut self, trust: bool) -> Self {
        self.trust_proxy = trust;
        self
    }

    /// Locates new sessions with this GeoIP database.
    #[must_use]
    pub fn with_geoip(mut self, geoip: std::sync::Arc<crate::GeoIp>) -> Self {
        self.geoip = Some(geoip);
        self
    }

    /// Replaces the referrer-spam list (`None`: no filter).
    #[must_use]
    pub fn with_referrer_spam(mut self, list: Option<std::sync::Arc<ReferrerSpam>>) -> Self {
        self.referrer_spam = list;
        self
    }

    /// New sessions stored per client address per minute; `0`: no limit.
    #[must_use]
    pub fn with_create_limit_per_minute(mut self, limit: u32) -> Self {
        self.create_limit_per_minute = limit;
        self
    }

    /// Whether every `GET` counts as a page view.
    #[must_use]
    pub fn with_page_views(mut self, count: bool) -> Self {
        self.count_page_views = count;
        self
    }

    /// Honour `DNT: 1` and `Sec-GPC: 1`.
    #[must_use]
    pub fn with_privacy_signals(mut self, honor: bool) -> Self {
        self.honor_privacy_signals = honor;
        self
    }

    /// Checks that setting `set` in `data` (taken: the check fills it in)
    /// keeps within the data's bounds (key length, number of keys, size of
    /// a value), as
    /// [`Session::insert`](crate::Session::insert) does; the message says
    /// which bound a change breaks.
    ///
    /// # Errors
    ///
    /// The first bound broken, in words.
    pub fn check_data<'a>(
        &self,
        mut data: serde_json::Map<String, serde_json::Value>,
        set: impl IntoIterator<Item = (&'a String, &'a serde_json::Value)>,
    ) -> Result<(), String> {
        let limits = crate::session::DataLimits {
            max_keys: self.data_max_keys,
            max_value_bytes: self.data_max_value_bytes,
        };
        for (key, value) in set {
            limits.check(&data, key, value)?;
            data.insert(key.clone(), serde_json::Value::Null);
        }
        Ok(())
    }

    /// Bounds a session's data: at most `max_keys` keys, each value at most
    /// `max_value_bytes` as JSON.
    #[must_use]
    pub fn with_data_limits(mut self, max_keys: usize, max_value_bytes: usize) -> Self {
        self.data_max_keys = max_keys;
        self.data_max_value_bytes = max_value_bytes;
        self
    }
}
