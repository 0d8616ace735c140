//! The rules a session lives by.

use std::time::Duration;

/// Timeouts and windows. One value for the whole process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Idle timeout; every request slides it (`SESSION_TTL`).
    pub idle_timeout: Duration,
    /// Absolute lifetime from the start (`SESSION_MAX_AGE`).
    pub max_age: Duration,
    /// How long a token replaced at login still finds its session (as an
    /// anonymous one), for requests that were already in flight.
    pub rotation_grace: Duration,
    /// What "active" means for real-time figures: seen within this window.
    pub active_window: Duration,
}

impl Default for Policy {
    /// 30 minutes idle, 24 hours at most, a 10-second grace window, 5
    /// minutes of activity for real time.
    fn default() -> Self {
        Self {
            idle_timeout: Duration::from_secs(1800),
            max_age: Duration::from_secs(86_400),
            rotation_grace: Duration::from_secs(10),
            active_window: Duration::from_secs(300),
        }
    }
}
