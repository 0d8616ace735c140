//! The rights of access and erasure: everything of one person, found and
//! deleted in every store.

use super::*;

impl Engine {
    /// Every session of a visitor or a customer, oldest first, as stored now
    /// (live ones as the hot store has them), with their events.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn person(&self, who: &Person) -> Result<Vec<(SessionRecord, Vec<Event>)>> {
        let mut out = Vec::new();
        for session in self.sessions_of(who).await? {
            let events = self.inner.cold.events(&session.id).await?;
            out.push((session, events));
        }
        Ok(out)
    }

    /// Erases a visitor or a customer: every session of theirs leaves the hot
    /// store (its tokens stop working) and, with its events, the cold store.
    /// Returns how many sessions were erased.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time; what was erased before the failure stays erased, and erasing again finishes
    /// the job.
    pub async fn erase(&self, who: &Person) -> Result<u64> {
        let sessions = self.sessions_of(who).await?;
        let ids: Vec<SessionId> = sessions.iter().map(|s| s.id).collect();
        for id in &ids {
            self.inner.hot.remove(id).await?;
        }
        // Whatever the writer still held for them is written before the delete.
        self.inner.sink.flush().await?;
        self.inner.cold.erase(&ids).await
    }

    async fn sessions_of(&self, who: &Person) -> Result<Vec<SessionRecord>> {
        let mut all = Vec::new();
        let mut before = None;
        loop {
            let query = SessionQuery {
                visitor_id: match who {
                    Person::Visitor(v) => Some(*v),
                    Person::Customer(_) => None,
                },
                customer_id: match who {
                    Person::Customer(c) => Some(c.clone()),
                    Person::Visitor(_) => None,
                },
                limit: 1000,
                before,
                ..SessionQuery::default()
            };
            let page = self.list(query).await?;
            let done = page.len() < 1000;
            before = page.last().map(|s| s.id);
            all.extend(page);
            if done {
                break;
            }
        }
        all.reverse();
        Ok(all)
    }
}
