//! The layer's settings.

use crate::cookies::CookieKeys;

/// How the layer names, signs and sends its cookies, and whom it believes.
#[derive(Clone, Debug)]
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
    pub visitor_ttl_secs: u64,
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
}

impl SessionConfig {
    /// The defaults of the contract, with these keys.
    pub fn new(keys: CookieKeys) -> Self {
        Self {
            keys,
            session_cookie: "session".to_owned(),
            visitor_cookie: "visitor_id".to_owned(),
            secure: false,
            visitor_ttl_secs: 31_536_000,
            trust_proxy: false,
            create_limit_per_minute: 600,
            count_page_views: true,
            max_cookie_header: 8 * 1024,
            honor_privacy_signals: true,
            data_max_keys: 64,
            data_max_value_bytes: 16 * 1024,
        }
    }
}
