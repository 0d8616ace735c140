//! The errors of the session layer.

use thiserror::Error;

/// Everything that can go wrong inside the engine or a store.
#[derive(Debug, Error)]
pub enum Error {
    /// A store could not be reached or failed to answer; the message names it.
    #[error("{store} store unavailable: {message}")]
    Unavailable {
        /// `"hot"` or `"cold"`.
        store: &'static str,
        /// What the backend reported (never contains a token or a secret).
        message: String,
    },
    /// Stored data could not be decoded.
    #[error("corrupt {what}: {message}")]
    Corrupt {
        /// What was being decoded.
        what: &'static str,
        /// Why it failed.
        message: String,
    },
    /// The session named does not exist (or has ended).
    #[error("session not found")]
    SessionNotFound,
    /// A value put into the session's data was refused.
    #[error("invalid session data: {0}")]
    InvalidData(String),
    /// The event queue to the cold store is closed (the process is shutting down).
    #[error("the event writer has stopped")]
    WriterClosed,
}

impl Error {
    /// An [`Error::Unavailable`] for the hot store.
    pub fn hot(message: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            store: "hot",
            message: message.to_string(),
        }
    }

    /// An [`Error::Unavailable`] for the cold store.
    pub fn cold(message: impl std::fmt::Display) -> Self {
        Self::Unavailable {
            store: "cold",
            message: message.to_string(),
        }
    }
}

/// The result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
