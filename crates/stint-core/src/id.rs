//! Identifiers: the session id (the journey) and the visitor id (the person's browser).
//!
//! Both are UUIDs. Session ids are version 7, so they sort by creation time and
//! make a natural cursor for listings; visitor ids are version 4, as they are
//! shown to pages (the `visitor_id` cookie is readable by scripts) and should
//! not reveal when the visitor first came.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident, $new:expr) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh id.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self($new)
            }

            /// The id as a UUID.
            pub fn as_uuid(&self) -> &Uuid {
                &self.0
            }

            /// Wraps an existing UUID.
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The id's sixteen bytes (big-endian, as the UUID writes them).
            pub fn to_bytes(&self) -> [u8; 16] {
                *self.0.as_bytes()
            }

            /// The id of these sixteen bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(Uuid::from_bytes(bytes))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl FromStr for $name {
            type Err = InvalidId;

            /// Accepts the hyphenated form only, as the service prints it.
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if s.len() != 36 {
                    return Err(InvalidId);
                }
                Uuid::try_parse(s).map(Self).map_err(|_| InvalidId)
            }
        }
    };
}

uuid_id!(
    /// Names one session (one journey) for its whole life; never changes, not even at login.
    SessionId,
    Uuid::now_v7()
);

uuid_id!(
    /// Names one visitor (one browser) across sessions. A version 7 UUID, like
    /// session ids: a new visitor's id sorts after every earlier one, so the
    /// durable store's index by visitor grows at its end instead of taking a
    /// write on a random page for each new visitor. (It tells when the visitor
    /// first came, which the visitor's first session already tells.)
    VisitorId,
    Uuid::now_v7()
);

impl SessionId {
    /// A fresh id in the shard of `token` (see [`crate::TokenHash::shard`]):
    /// a version 7 UUID whose last random byte is the shard.
    pub fn for_token(token: &crate::TokenHash) -> Self {
        let mut bytes = *Uuid::now_v7().as_bytes();
        bytes[15] = token.shard();
        Self(Uuid::from_bytes(bytes))
    }

    /// The shard of the session: the last byte of its id.
    pub fn shard(&self) -> u8 {
        self.0.as_bytes()[15]
    }
}

/// A string was not a valid id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid id: expected a UUID such as 0190f1d2-5b7e-7c3a-9d1e-2a3b4c5d6e7f")]
pub struct InvalidId;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = SessionId::new();
        assert_eq!(id.to_string().parse::<SessionId>(), Ok(id));
        let v = VisitorId::new();
        assert_eq!(v.to_string().parse::<VisitorId>(), Ok(v));
    }

    #[test]
    fn a_new_visitor_id_sorts_after_earlier_ones() {
        let first = VisitorId::new();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let later = VisitorId::new();
        assert_eq!(later.as_uuid().get_version_num(), 7);
        assert!(first.to_string() < later.to_string(), "{first} then {later}");
    }

    #[test]
    fn malformed_ids_are_refused() {
        for bad in [
            "",
            "x",
            "0190f1d25b7e7c3a9d1e2a3b4c5d6e7f",
            "../etc/passwd",
            "{0190f1d2-5b7e-7c3a-9d1e-2a3b4c5d6e7f}",
        ] {
            assert_eq!(bad.parse::<SessionId>(), Err(InvalidId), "{bad}");
        }
    }

    #[test]
    fn session_ids_sort_by_creation() {
        let a = SessionId::new();
        let b = SessionId::new();
        assert!(a < b);
    }
}
