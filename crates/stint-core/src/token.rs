//! Session tokens: the secret a cookie carries, and the hash under which stores keep it.
//!
//! A token is 256 bits from the operating system's CSPRNG, written as 43
//! characters of unpadded base64url. Stores never see a token, only its
//! SHA-256 ([`TokenHash`]): a dump of the hot or cold store holds nothing that
//! can be replayed as a cookie.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

/// Length of a token's text form.
pub const TOKEN_TEXT_LEN: usize = 43;

/// A session token. Its `Debug` form is redacted so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct Token([u8; 32]);

impl Token {
    /// A fresh token from the OS CSPRNG.
    ///
    /// # Panics
    /// Only if the operating system cannot provide randomness, in which case no
    /// secure session can be issued at all.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        #[allow(clippy::expect_used)]
        getrandom::fill(&mut bytes).expect("the OS random number generator failed");
        Self(bytes)
    }

    /// Parses the text form; `None` unless it is exactly 43 base64url characters.
    pub fn decode(text: &str) -> Option<Self> {
        if text.len() != TOKEN_TEXT_LEN {
            return None;
        }
        let mut bytes = [0u8; 32];
        let n = URL_SAFE_NO_PAD.decode_slice(text, &mut bytes).ok()?;
        (n == 32).then_some(Self(bytes))
    }

    /// The text form carried in the cookie.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// The hash stores key the session by.
    pub fn hash(&self) -> TokenHash {
        TokenHash(Sha256::digest(self.0).into())
    }

    /// A fresh token whose hash lies in the shard of session `id`, so that a
    /// store spread over shards keeps the session and all its tokens together
    /// (see [`TokenHash::shard`]). Draws tokens until one fits: 256 draws on
    /// average, done only at login and when a session is stored late.
    pub fn generate_for(id: &crate::SessionId) -> Self {
        loop {
            let token = Self::generate();
            if token.hash().shard() == id.shard() {
                return token;
            }
        }
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// The SHA-256 of a token.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    /// The shard of the token: its hash's first byte. A session's id and all
    /// its tokens share one shard ([`crate::SessionId::shard`]), which lets a
    /// Redis Cluster keep them in one slot and answer a request in one step.
    pub fn shard(&self) -> u8 {
        self.0[0]
    }

    /// The raw digest.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex, as stored in SQL and used in Redis keys.
    pub fn to_hex(&self) -> String {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut s = String::with_capacity(64);
        for b in self.0 {
            s.push(HEX[usize::from(b >> 4)] as char);
            s.push(HEX[usize::from(b & 15)] as char);
        }
        s
    }

    /// Parses the hex form.
    pub fn from_hex(hex: &str) -> Option<Self> {
        if hex.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
            let hi = (chunk[0] as char).to_digit(16)?;
            let lo = (chunk[1] as char).to_digit(16)?;
            out[i] = u8::try_from(hi * 16 + lo).ok()?;
        }
        Some(Self(out))
    }
}

impl fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenHash({}…)", &self.to_hex()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_differ() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a, b);
        let text = a.encode();
        assert_eq!(text.len(), TOKEN_TEXT_LEN);
        assert_eq!(Token::decode(&text), Some(a.clone()));
        assert_eq!(a.hash(), Token::decode(&text).map(|t| t.hash()).unwrap());
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn malformed_tokens_are_refused() {
        assert_eq!(Token::decode(""), None);
        assert_eq!(Token::decode(&"A".repeat(42)), None);
        assert_eq!(Token::decode(&"!".repeat(43)), None);
        assert_eq!(Token::decode(&"A".repeat(44)), None);
    }

    #[test]
    fn hash_hex_round_trips() {
        let h = Token::generate().hash();
        assert_eq!(TokenHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(TokenHash::from_hex("zz"), None);
    }

    #[test]
    fn tokens_can_be_drawn_in_a_sessions_shard() {
        for _ in 0..20 {
            let t = Token::generate();
            let id = crate::SessionId::for_token(&t.hash());
            assert_eq!(id.shard(), t.hash().shard());
            let next = Token::generate_for(&id);
            assert_eq!(next.hash().shard(), id.shard());
            assert_ne!(next, t);
        }
    }

    #[test]
    fn debug_never_shows_the_token() {
        let t = Token::generate();
        assert!(!format!("{t:?}").contains(&t.encode()));
    }
}
