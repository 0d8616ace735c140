//! Upkeep: closing expired sessions in the cold store, deleting raw events
//! past their retention.

use super::*;

impl Engine {
    /// Deletes raw events older than `keep` (sessions and rollups stay);
    /// returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn apply_retention(&self, keep: std::time::Duration) -> Result<u64> {
        let cutoff = self.now().minus(keep);
        self.inner.cold.delete_events_before(cutoff).await
    }

    /// Ends, in the cold store, the sessions that expired; returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn close_expired(&self) -> Result<u64> {
        self.inner
            .cold
            .close_expired(self.now(), &self.inner.policy)
            .await
    }
}
