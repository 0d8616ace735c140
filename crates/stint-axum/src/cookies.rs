//! Signed session cookies, with key rotation.
//!
//! The `session` cookie's value is `TOKEN.ISSUED.MAC`: the 43-character token,
//! the Unix second the cookie was issued, and the base64url HMAC-SHA256 of
//! `session=TOKEN.ISSUED` under a key. The first key signs; every key
//! verifies, so a secret can be rotated without signing anybody out. The MAC
//! is compared in constant time. The issue time lets the layer re-send the
//! cookie once half of its `Max-Age` has passed, without any server state.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use stint_core::Token;

type HmacSha256 = Hmac<Sha256>;

/// Shortest accepted secret, in bytes.
pub const MIN_SECRET_LEN: usize = 32;

/// Longest session cookie value considered; anything longer is ignored
/// without being parsed.
pub const MAX_COOKIE_LEN: usize = 128;

/// The keys cookies are signed with: the first signs, all verify.
#[derive(Clone)]
pub struct CookieKeys {
    keys: Vec<HmacSha256>,
}

impl std::fmt::Debug for CookieKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CookieKeys({} keys)", self.keys.len())
    }
}

/// A secret was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// No key was given.
    #[error("no cookie key given")]
    Empty,
    /// A key is shorter than [`MIN_SECRET_LEN`].
    #[error("cookie key {index} is {len} bytes; at least {MIN_SECRET_LEN} are required")]
    TooShort {
        /// Which key (0 = the signing key).
        index: usize,
        /// Its length.
        len: usize,
    },
}

/// A verified cookie.
#[derive(Debug, PartialEq, Eq)]
pub struct Verified {
    /// The session token.
    pub token: Token,
    /// When the cookie was issued (Unix seconds).
    pub issued_at: i64,
    /// Which key verified it (0 = the current signing key).
    pub key_index: usize,
}

impl CookieKeys {
    /// Keys from secrets, the signing one first.
    ///
    /// # Errors
    ///
    /// [`KeyError`] if no key is given or one is shorter than 32 bytes.
    pub fn new<I, S>(secrets: I) -> Result<Self, KeyError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<[u8]>,
    {
        let mut keys = Vec::new();
        for (index, secret) in secrets.into_iter().enumerate() {
            let secret = secret.as_ref();
            if secret.len() < MIN_SECRET_LEN {
                return Err(KeyError::TooShort {
                    index,
                    len: secret.len(),
                });
            }
            // HMAC accepts keys of any length; this cannot fail.
            let mac = HmacSha256::new_from_slice(secret).map_err(|_| KeyError::Empty)?;
            keys.push(mac);
        }
        if keys.is_empty() {
            return Err(KeyError::Empty);
        }
        Ok(Self { keys })
    }

    /// Keys from a `COOKIE_SECRET` value: comma-separated secrets.
    ///
    /// # Errors
    ///
    /// As [`CookieKeys::new`].
    pub fn from_env_value(value: &str) -> Result<Self, KeyError> {
        Self::new(value.split(',').map(str::trim).filter(|s| !s.is_empty()))
    }

    fn mac(key: &HmacSha256, name: &str, payload: &str) -> HmacSha256 {
        let mut mac = key.clone();
        mac.update(name.as_bytes());
        mac.update(b"=");
        mac.update(payload.as_bytes());
        mac
    }

    /// The cookie value for `token`, issued at `issued_at` (Unix seconds).
    pub fn sign(&self, name: &str, token: &Token, issued_at: i64) -> String {
        let payload = format!("{}.{issued_at}", token.encode());
        let tag = Self::mac(&self.keys[0], name, &payload).finalize().into_bytes();
        let mut out = payload;
        out.push('.');
        URL_SAFE_NO_PAD.encode_string(tag, &mut out);
        out
    }

    /// Checks a cookie value; `None` for anything malformed, oversized or
    /// signed by no known key.
    pub fn verify(&self, name: &str, value: &str) -> Option<Verified> {
        if value.len() > MAX_COOKIE_LEN {
            return None;
        }
        let (payload, tag) = value.rsplit_once('.')?;
        let (token, issued) = payload.split_once('.')?;
        let token = Token::decode(token)?;
        if issued.is_empty() || issued.len() > 12 || !issued.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let issued_at: i64 = issued.parse().ok()?;
        let mut tag_bytes = [0u8; 32];
        if tag.len() != 43 || URL_SAFE_NO_PAD.decode_slice(tag, &mut tag_bytes).ok()? != 32 {
            return None;
        }
        let key_index = self
            .keys
            .iter()
            .position(|key| Self::mac(key, name, payload).verify_slice(&tag_bytes).is_ok())?;
        Some(Verified {
            token,
            issued_at,
            key_index,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const A: &[u8] = b"an-old-secret-of-at-least-32-bytes!!";
    const B: &[u8] = b"the-new-secret-of-at-least-32-bytes!";

    #[test]
    fn first_key_signs_all_verify() {
        let old = CookieKeys::new([A]).unwrap();
        let rotated = CookieKeys::new([B, A]).unwrap();
        let t = Token::generate();
        let v = old.sign("session", &t, 1_795_000_000);
        let got = rotated.verify("session", &v).unwrap();
        assert_eq!(
            (got.token, got.issued_at, got.key_index),
            (t.clone(), 1_795_000_000, 1)
        );
        let fresh = rotated.sign("session", &t, 1);
        assert_eq!(rotated.verify("session", &fresh).unwrap().key_index, 0);
        assert_eq!(
            old.verify("session", &fresh),
            None,
            "a removed key no longer verifies"
        );
    }

    #[test]
    fn a_value_signed_for_another_cookie_name_fails() {
        let keys = CookieKeys::new([A]).unwrap();
        let v = keys.sign("other", &Token::generate(), 1);
        assert_eq!(keys.verify("session", &v), None);
    }

    #[test]
    fn short_or_missing_secrets_are_refused() {
        assert_eq!(CookieKeys::new(Vec::<&[u8]>::new()).unwrap_err(), KeyError::Empty);
        assert_eq!(
            CookieKeys::from_env_value(&format!("{},short", String::from_utf8_lossy(A))).unwrap_err(),
            KeyError::TooShort { index: 1, len: 5 }
        );
        assert_eq!(CookieKeys::from_env_value(" , ").unwrap_err(), KeyError::Empty);
    }

    #[test]
    fn garbage_is_refused() {
        let keys = CookieKeys::new([A]).unwrap();
        for v in ["", ".", "..", "a.b.c", &"x".repeat(10_000), "é.é.é"] {
            assert_eq!(keys.verify("session", v), None, "{v}");
        }
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(issued in 0i64..100_000_000_000) {
            let keys = CookieKeys::new([A, B]).unwrap();
            let t = Token::generate();
            let v = keys.sign("session", &t, issued);
            let got = keys.verify("session", &v).unwrap();
            prop_assert_eq!(got.token, t);
            prop_assert_eq!(got.issued_at, issued);
        }

        #[test]
        fn any_changed_byte_fails(pos in 0usize..100, byte in 0u8..128) {
            let keys = CookieKeys::new([A]).unwrap();
            let v = keys.sign("session", &Token::generate(), 1_795_000_000);
            let mut bytes = v.clone().into_bytes();
            let pos = pos % bytes.len();
            prop_assume!(bytes[pos] != byte);
            bytes[pos] = byte;
            if let Ok(changed) = String::from_utf8(bytes) {
                prop_assert!(keys.verify("session", &changed).is_none(), "{} verified", changed);
            }
        }
    }
}
