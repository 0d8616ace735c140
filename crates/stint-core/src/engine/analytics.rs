//! The figures: the facts of a range, daily rows (rolled up for past days),
//! real time.

use super::*;

impl Engine {
    /// The analytics facts of the tracked sessions that started from the UTC
    /// day `from` to the UTC day `to`, inclusive; live sessions as the hot
    /// store has them now. Page views come only for pages under `pages` (the
    /// funnel's); the other figures need none.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time (the writer is flushed first, so a full or failing queue fails it too).
    pub async fn analytics_facts(
        &self,
        from: time::Date,
        to: time::Date,
        pages: Option<&str>,
    ) -> Result<(
        Vec<crate::analytics::SessionFacts>,
        Vec<crate::analytics::EventFact>,
    )> {
        use crate::analytics::start_of;
        self.inner.sink.flush().await?;
        let end = to.next_day().map_or(Timestamp(i64::MAX), start_of);
        let (mut sessions, events) = self
            .inner
            .cold
            .analytics_facts(start_of(from), end, pages)
            .await?;
        let live_since = self.now().minus(self.inner.policy.max_age);
        for s in sessions.iter_mut().filter(|s| s.started_at >= live_since) {
            if let Some(live) = self.inner.hot.get(&s.id).await? {
                s.page_views = live.page_views;
                s.last_seen_at = live.last_seen_at;
                s.converted = live.converted;
            }
        }
        Ok((sessions, events))
    }

    /// The orders completed from the UTC day `from` to the UTC day `to`
    /// (inclusive) and their revenue, credited as `query` says (see
    /// [`crate::analytics::attribution`]).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time (the writer is flushed first, so a full or failing queue fails it too).
    pub async fn attribution(
        &self,
        from: time::Date,
        to: time::Date,
        query: &crate::analytics::AttributionQuery<'_>,
    ) -> Result<Vec<crate::analytics::AttributionRow>> {
        use crate::analytics::start_of;
        self.inner.sink.flush().await?;
        let start = start_of(from);
        let end = to.next_day().map_or(Timestamp(i64::MAX), start_of);
        let (orders, sources) = self
            .inner
            .cold
            .attribution_facts(start, end, start.minus(query.lookback))
            .await?;
        Ok(crate::analytics::attribution(&orders, &sources, query))
    }

    /// Rolls up the days from `from` to `to` that are over (today is live and
    /// never rolled up): computes their figures and stores them, replacing
    /// earlier rollups of the same days. Returns the rows stored.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time; nothing is stored then.
    pub async fn rollup(&self, from: time::Date, to: time::Date) -> Result<Vec<crate::analytics::DayRow>> {
        let Some(yesterday) = crate::analytics::day_of(self.now()).and_then(time::Date::previous_day) else {
            return Ok(Vec::new());
        };
        let to = to.min(yesterday);
        if from > to {
            return Ok(Vec::new());
        }
        let (sessions, events) = self.analytics_facts(from, to, None).await?;
        let rows = crate::analytics::daily(&sessions, &events, from, to);
        self.inner.cold.save_rollups(&rows, self.now()).await?;
        Ok(rows)
    }

    /// One row per day from `from` to `to`: past days from their rollups
    /// where there are, other days (today among them) computed from the facts.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn daily(&self, from: time::Date, to: time::Date) -> Result<Vec<crate::analytics::DayRow>> {
        let mut stored: HashMap<String, crate::analytics::DayRow> = self
            .inner
            .cold
            .rollups(&from.to_string(), &to.to_string())
            .await?
            .into_iter()
            .map(|r| (r.date.clone(), r))
            .collect();
        let mut missing = Vec::new();
        let mut day = from;
        while day <= to {
            if !stored.contains_key(&day.to_string()) {
                missing.push(day);
            }
            match day.next_day() {
                Some(d) => day = d,
                None => break,
            }
        }
        if let (Some(first), Some(last)) = (missing.first(), missing.last()) {
            let (sessions, events) = self.analytics_facts(*first, *last, None).await?;
            for row in crate::analytics::daily(&sessions, &events, *first, *last) {
                stored.entry(row.date.clone()).or_insert(row);
            }
        }
        let mut rows: Vec<_> = stored.into_values().collect();
        rows.sort_by(|a, b| a.date.cmp(&b.date));
        Ok(rows)
    }

    /// Real-time figures over the active window.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the hot store does not answer
    /// in time.
    pub async fn realtime(&self) -> Result<Realtime> {
        self.realtime_over(self.inner.policy.active_window).await
    }

    /// Visitors, sessions and customers active over the last `window`
    /// (at most the idle timeout: sessions idle longer have left the hot store).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the hot store does not answer
    /// in time.
    pub async fn realtime_over(&self, window: std::time::Duration) -> Result<Realtime> {
        let since = self.now().minus(window);
        self.inner.hot.realtime(since).await
    }

    /// The `limit` most viewed pages over the last `window`, from the
    /// durable store (page views reach it within the writer's batching delay).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when the durable store does not answer.
    pub async fn top_pages(
        &self,
        window: std::time::Duration,
        limit: u32,
    ) -> Result<Vec<crate::analytics::PageCount>> {
        let since = self.now().minus(window);
        self.inner.cold.top_pages(since, limit).await
    }
}
