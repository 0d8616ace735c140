//! Upkeep: closing expired sessions in the cold store, deleting raw events
//! past their retention.

use super::*;

impl Engine {
    /// Deletes raw events older than `days` days (sessions stay); returns how many.
    pub async fn apply_retention(&self, days: u64) -> Result<u64> {
        let cutoff = Timestamp(
            self.now().millis().saturating_sub(
                i64::try_from(days)
                    .unwrap_or(i64::MAX / 86_400_000)
                    .saturating_mul(86_400_000),
            ),
        );
        self.inner.cold.delete_events_before(cutoff).await
    }

    /// Ends, in the cold store, the sessions that expired; returns how many.
    pub async fn close_expired(&self) -> Result<u64> {
        self.inner
            .cold
            .close_expired(self.now(), &self.inner.policy)
            .await
    }
}
