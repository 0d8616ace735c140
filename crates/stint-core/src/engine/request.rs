//! The request path: find the session of a token (reading it through from
//! the cold store when the hot store lost it), or start one.

use super::*;

impl Engine {
    /// Finds the session of `token` and counts the request: a page view of
    /// `hit.page` when given, recorded as an event if `hit.analytics`. A token the hot store does not know is looked up
    /// once in the cold store (the hot tier may have lost a live session to a
    /// restart or an eviction) and re-cached. `None`: no live session.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time; the session layer then serves the request without a session.
    pub async fn resume(&self, token: &Token, hit: Hit<'_>) -> Result<Option<Resumed>> {
        let i = &*self.inner;
        let hash = token.hash();
        let touch = Touch {
            now: i.clock.now(),
            page_view: hit.page.is_some(),
            policy: i.policy,
        };
        let mut lookup = i.hot.resume(&hash, &touch).await?;
        if lookup == Lookup::Missing {
            // The writer may still hold this session's end (a logout, a
            // revocation): the read must come after it.
            i.sink.flush().await?;
            match i.cold.session_by_token(&hash).await? {
                // A session and its tokens share a shard (see `TokenHash::shard`);
                // the engine issues no other kind, so a mismatch is not worth keeping.
                Some(s) if s.is_live(&i.policy, touch.now) && s.id.shard() == hash.shard() => {
                    i.hot.insert(&s, &hash, &i.policy).await?;
                    lookup = i.hot.resume(&hash, &touch).await?;
                }
                _ => return Ok(None),
            }
        }
        let (session, superseded) = match lookup {
            Lookup::Current(s) => (s, false),
            Lookup::Superseded(s) => (s, true),
            Lookup::Missing => return Ok(None),
        };
        if let (Some(page), true) = (hit.page, hit.analytics) {
            let event = Event::new(session.id, session.visitor_id, kinds::PAGE_VIEW, touch.now).page(page);
            // The session is found and counted: a writer that cannot take
            // the event (it counts and reports that) must not cost the
            // visitor their session.
            let _ = i
                .sink
                .send(Record::PageView {
                    event,
                    page_views: session.page_views,
                })
                .await;
        }
        Ok(Some(Resumed { session, superseded }))
    }

    /// Starts a session for `visitor_id`, counting this request as its first
    /// page view when `hit.page` is given; its start and page view are
    /// recorded as events if `hit.analytics`.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time or the writer's queue is full.
    pub async fn create(
        &self,
        visitor_id: VisitorId,
        attributes: Attributes,
        hit: Hit<'_>,
    ) -> Result<(SessionRecord, Token)> {
        let i = &*self.inner;
        let token = Token::generate();
        let hash = token.hash();
        let mut session = self.ephemeral(visitor_id, attributes, hit.page.is_some());
        session.id = SessionId::for_token(&hash);
        i.hot.insert(&session, &hash, &i.policy).await?;
        let at = session.started_at;
        let mut records = Vec::with_capacity(3);
        records.push(Record::Snapshot {
            session: session.clone(),
            token: Some(hash),
        });
        if hit.analytics {
            records.push(Record::Event(Event::new(
                session.id,
                visitor_id,
                kinds::SESSION_START,
                at,
            )));
            if let Some(page) = hit.page {
                let event = Event::new(session.id, visitor_id, kinds::PAGE_VIEW, at).page(page);
                records.push(Record::PageView { event, page_views: 1 });
            }
        }
        i.sink.send_all(records).await?;
        Ok((session, token))
    }

    /// A session that is stored nowhere and counted nowhere: what a bot, or a
    /// client over its creation limit, gets.
    pub fn ephemeral(&self, visitor_id: VisitorId, attributes: Attributes, page_view: bool) -> SessionRecord {
        let mut session = SessionRecord::new(visitor_id, attributes, self.now());
        session.page_views = u64::from(page_view);
        session
    }

    /// Stores a session that was handed out without being stored (see
    /// [`Engine::ephemeral`]) and returns its token: a bot or a client over its
    /// creation limit that signs in or orders is worth keeping.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn adopt(&self, session: &SessionRecord) -> Result<Token> {
        let i = &*self.inner;
        let token = Token::generate_for(&session.id);
        i.hot.insert(session, &token.hash(), &i.policy).await?;
        let start = Event::new(
            session.id,
            session.visitor_id,
            kinds::SESSION_START,
            session.started_at,
        );
        i.sink
            .send_all(vec![
                Record::Snapshot {
                    session: session.clone(),
                    token: Some(token.hash()),
                },
                Record::Event(start),
            ])
            .await?;
        Ok(token)
    }
}
