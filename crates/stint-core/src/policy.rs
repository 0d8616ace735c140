//! The rules a session lives by.

/// Timeouts and windows. One value for the whole process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Idle timeout, seconds; every request slides it (`SESSION_TTL`).
    pub idle_timeout_secs: u64,
    /// Absolute lifetime, seconds from the start (`SESSION_MAX_AGE`).
    pub max_age_secs: u64,
    /// How long a token replaced at login still finds its session (as an
    /// anonymous one), for requests that were already in flight.
    pub rotation_grace_secs: u64,
    /// What "active" means for real-time figures: seen within this many seconds.
    pub active_window_secs: u64,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            idle_timeout_secs: 1800,
            max_age_secs: 86_400,
            rotation_grace_secs: 10,
            active_window_secs: 300,
        }
    }
}
