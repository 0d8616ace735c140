//! Reads of history for the admin and the customer: a session, listings,
//! events, a customer's sessions and their revocation.

use super::*;

impl Engine {
    /// The session `id`: live from the hot store, else from history.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn get(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        if let Some(s) = self.inner.hot.get(id).await? {
            return Ok(Some(s));
        }
        self.inner.sink.flush().await?;
        self.inner.cold.session(id).await
    }

    /// Sessions matching `query`, newest first, live ones as the hot store
    /// has them now. Sees every request answered before the call.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn list(&self, mut query: SessionQuery) -> Result<Vec<SessionRecord>> {
        self.inner.sink.flush().await?;
        query.now = self.now();
        query.policy = self.inner.policy;
        let mut sessions = self.inner.cold.sessions(&query).await?;
        for s in &mut sessions {
            if s.ended_at.is_none()
                && let Some(live) = self.inner.hot.get(&s.id).await?
            {
                *s = live;
            }
        }
        Ok(sessions)
    }

    /// The events of a session, oldest first, up to the last request answered.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn events(&self, id: &SessionId) -> Result<Vec<Event>> {
        self.inner.sink.flush().await?;
        self.inner.cold.events(id).await
    }

    /// A customer's live sessions, most recently seen first: those in the hot
    /// store, and those only the cold store still knows (after a restart).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn customer_sessions(&self, customer_id: &str) -> Result<Vec<SessionRecord>> {
        let i = &*self.inner;
        let now = i.clock.now();
        let mut by_id: HashMap<SessionId, SessionRecord> = HashMap::new();
        let since = now.minus(i.policy.idle_timeout);
        for s in i.cold.customer_sessions(customer_id, since).await? {
            if s.is_live(&i.policy, now) {
                by_id.insert(s.id, s);
            }
        }
        for s in i.hot.customer_sessions(customer_id).await? {
            by_id.insert(s.id, s);
        }
        let mut out: Vec<SessionRecord> = by_id.into_values().collect();
        out.sort_by(|a, b| b.last_seen_at.cmp(&a.last_seen_at).then(b.id.cmp(&a.id)));
        Ok(out)
    }

    /// Revokes every live session of a customer except `keep`; returns how many.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time; sessions revoked before the failure stay revoked.
    pub async fn revoke_customer(&self, customer_id: &str, keep: Option<&SessionId>) -> Result<u64> {
        let mut n = 0;
        for s in self.customer_sessions(customer_id).await? {
            if Some(&s.id) != keep && self.revoke(&s.id).await? {
                n += 1;
            }
        }
        Ok(n)
    }
}
