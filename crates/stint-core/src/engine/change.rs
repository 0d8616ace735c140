//! Changes to a session: login, logout and revocation, conversion, data,
//! events; and the read-through by id that keeps a change from being lost.

use super::*;

impl Engine {
    /// Signs `customer_id` in to the session: same session id, type
    /// `CUSTOMER`, a fresh token (returned). The old token finds the session
    /// as an anonymous one for the grace window, then nothing.
    ///
    /// # Errors
    ///
    /// [`Error::SessionNotFound`](crate::Error::SessionNotFound) if the session has ended
    /// or is unknown; [`Error::Unavailable`](crate::Error::Unavailable) when a store does
    /// not answer in time or the writer's queue is full.
    pub async fn login(&self, id: &SessionId, customer_id: &str) -> Result<(SessionRecord, Token)> {
        let i = &*self.inner;
        let now = i.clock.now();
        let token = Token::generate_for(id);
        let update = Update {
            customer_id: Some(customer_id.to_owned()),
            new_token: Some((token.hash(), now.plus(i.policy.rotation_grace))),
            ..Update::default()
        };
        let session = self
            .read_through(id, || i.hot.update(id, &update))
            .await?
            .ok_or(Error::SessionNotFound)?;
        let event = Event::new(session.id, session.visitor_id, kinds::CUSTOMER_LOGIN, now)
            .metadata(json!({ "customerId": customer_id }));
        i.sink
            .send_all(vec![
                Record::Snapshot {
                    session: session.clone(),
                    token: Some(token.hash()),
                },
                Record::Event(event),
            ])
            .await?;
        Ok((session, token))
    }

    /// Signs out: the session ends (its token stops working everywhere at
    /// once) and its history is kept. Returns the ended session, if it was live.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time, or when the end cannot be committed to the durable store (the session is then
    /// already gone from the hot store; its token is refused).
    pub async fn logout(&self, id: &SessionId) -> Result<Option<SessionRecord>> {
        self.end(id, EndReason::Logout).await
    }

    /// Revokes a session (an administrator, the customer, a password change):
    /// like a logout. Returns whether a live session was ended.
    ///
    /// # Errors
    ///
    /// As [`Engine::logout`].
    pub async fn revoke(&self, id: &SessionId) -> Result<bool> {
        Ok(self.end(id, EndReason::Revoked).await?.is_some())
    }

    async fn end(&self, id: &SessionId, reason: EndReason) -> Result<Option<SessionRecord>> {
        let i = &*self.inner;
        let now = i.clock.now();
        let removed = i.hot.remove(id).await?;
        let session = match removed {
            Some(s) => Some(s),
            // Not in the hot tier (a restart): it may still be open in the cold store.
            None => i.cold.session(id).await?.filter(|s| s.is_live(&i.policy, now)),
        };
        let Some(mut session) = session else {
            return Ok(None);
        };
        if reason == EndReason::Logout {
            let event = Event::new(session.id, session.visitor_id, kinds::CUSTOMER_LOGOUT, now);
            i.sink.send(Record::Event(event)).await?;
        }
        // Waits for the commit: until the end is durable, a read-through could
        // bring the token back.
        i.sink
            .commit(Record::End {
                id: *id,
                at: now,
                reason,
            })
            .await?;
        session.ended_at = Some(now);
        Ok(Some(session))
    }

    /// Marks the session converted by `order_id` and records
    /// `order_completed` with `metadata` (the order's total, items, …).
    ///
    /// # Errors
    ///
    /// [`Error::SessionNotFound`](crate::Error::SessionNotFound) if the session has ended
    /// or is unknown; [`Error::Unavailable`](crate::Error::Unavailable) when a store does
    /// not answer in time.
    pub async fn convert(
        &self,
        id: &SessionId,
        order_id: &str,
        metadata: serde_json::Value,
    ) -> Result<SessionRecord> {
        let update = Update {
            order_id: Some(order_id.to_owned()),
            ..Update::default()
        };
        let session = self.apply(id, &update).await?.ok_or(Error::SessionNotFound)?;
        let event =
            Event::new(session.id, session.visitor_id, kinds::ORDER_COMPLETED, self.now()).metadata(metadata);
        self.inner.sink.send(Record::Event(event)).await?;
        Ok(session)
    }

    /// Saves data changes (key by key; other keys changed in parallel survive).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time; a change the store refuses is
    /// [`Error::InvalidData`](crate::Error::InvalidData).
    pub async fn save(&self, id: &SessionId, ops: Vec<DataOp>) -> Result<Option<SessionRecord>> {
        let update = Update {
            data: ops,
            ..Update::default()
        };
        self.apply(id, &update).await
    }

    /// Read-modify-write of one data key, atomic against parallel requests.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidData`](crate::Error::InvalidData) when `f` refuses (nothing
    /// changes); [`Error::Unavailable`](crate::Error::Unavailable) when a store does not
    /// answer in time.
    pub async fn modify(&self, id: &SessionId, key: &str, f: &Modify<'_>) -> Result<Option<SessionRecord>> {
        let hot = &self.inner.hot;
        let session = self.read_through(id, || hot.modify(id, key, f)).await?;
        if let Some(s) = &session {
            self.snapshot(s).await?;
        }
        Ok(session)
    }

    async fn apply(&self, id: &SessionId, update: &Update) -> Result<Option<SessionRecord>> {
        let hot = &self.inner.hot;
        let session = self.read_through(id, || hot.update(id, update)).await?;
        if let Some(s) = &session {
            self.snapshot(s).await?;
        }
        Ok(session)
    }

    /// Runs `op`, a change of session `id` in the hot store. If the hot
    /// store does not hold the session (a restart, an eviction, a failover
    /// tier serving locally while its primary is down) and the cold store
    /// has it open and live, the session is read through once and `op` runs
    /// again: a change by id is never lost for want of a cached copy. The
    /// by-token read-through of [`Engine::resume`] is the other half of the
    /// same rule.
    async fn read_through<'a, F, Fut>(&self, id: &SessionId, op: F) -> Result<Option<SessionRecord>>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Option<SessionRecord>>> + 'a,
    {
        if let Some(s) = op().await? {
            return Ok(Some(s));
        }
        let i = &*self.inner;
        // The writer may still hold this session's end: read after it.
        i.sink.flush().await?;
        match i.cold.open_session(id).await? {
            Some((s, token)) if s.is_live(&i.policy, i.clock.now()) && s.id.shard() == token.shard() => {
                // A request may have re-cached it meanwhile, with newer counts.
                if i.hot.get(id).await?.is_none() {
                    i.hot.insert(&s, &token, &i.policy).await?;
                }
                op().await
            }
            _ => Ok(None),
        }
    }

    async fn snapshot(&self, session: &SessionRecord) -> Result<()> {
        self.inner
            .sink
            .send(Record::Snapshot {
                session: session.clone(),
                token: None,
            })
            .await
    }

    /// Records an event of the application's own.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the writer's queue stays full
    /// while the durable store fails; [`Error::WriterClosed`](crate::Error::WriterClosed)
    /// once the writer has stopped.
    pub async fn track(&self, event: Event) -> Result<()> {
        self.inner.sink.send(Record::Event(event)).await
    }
}
