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
        use crate::analytics::{DEFAULT_LOOKBACK, Total, attribution_rows, credit_dimension};
        self.inner.sink.flush().await?;
        // Rolled-up days keep the credits of the default lookback; another reads raw data.
        let mut totals: HashMap<Option<String>, Total> = HashMap::new();
        let runs = if query.lookback == DEFAULT_LOOKBACK {
            let dimension = credit_dimension(query.model, query.dimension);
            for s in self
                .inner
                .cold
                .day_summaries(&from.to_string(), &to.to_string(), &dimension)
                .await?
            {
                totals.entry(s.value).or_default().add(&s.summary);
            }
            self.rolled_up(from, to).await?.1
        } else {
            vec![(from, to)]
        };
        for (start, end) in runs {
            for (value, credit) in self.raw_credits(start, end, query).await? {
                totals.entry(value).or_default().add(&credit);
            }
        }
        Ok(attribution_rows(
            totals.into_iter().map(|(v, t)| (v, t.finish())).collect(),
            query.limit,
        ))
    }

    /// What attribution credits to each value for the orders placed from
    /// the UTC day `from` to `to`, from raw data.
    async fn raw_credits(
        &self,
        from: time::Date,
        to: time::Date,
        query: &crate::analytics::AttributionQuery<'_>,
    ) -> Result<HashMap<Option<String>, crate::analytics::Summary>> {
        use crate::analytics::start_of;
        let start = start_of(from);
        let end = to.next_day().map_or(Timestamp(i64::MAX), start_of);
        let (orders, sources) = self
            .inner
            .cold
            .attribution_facts(start, end, start.minus(query.lookback))
            .await?;
        Ok(crate::analytics::credits(&orders, &sources, query))
    }

    /// The summaries of all sessions (dimension `*`) of the days from `from`
    /// to `to` that are rolled up, and the days that are not, as runs of
    /// consecutive days.
    async fn rolled_up(
        &self,
        from: time::Date,
        to: time::Date,
    ) -> Result<(Vec<crate::analytics::DaySummary>, Vec<(time::Date, time::Date)>)> {
        let all = self
            .inner
            .cold
            .day_summaries(&from.to_string(), &to.to_string(), crate::analytics::ALL)
            .await?;
        let rolled: std::collections::HashSet<&str> = all.iter().map(|s| s.date.as_str()).collect();
        let runs = missing_runs(from, to, |day| rolled.contains(day));
        Ok((all, runs))
    }

    /// Rolls up the days from `from` to `to` that are over (today is live and
    /// never rolled up): computes their daily figures and their summaries per
    /// dimension value (with the standard funnel's steps) and stores them,
    /// replacing earlier rollups of the same days. Returns the daily rows stored.
    /// A long range is read a week at a time, so that rolling up a year of
    /// history holds no more than a week of it in memory.
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time; what was stored before stays (each day is stored whole or not at all).
    pub async fn rollup(&self, from: time::Date, to: time::Date) -> Result<Vec<crate::analytics::DayRow>> {
        let Some(yesterday) = crate::analytics::day_of(self.now()).and_then(time::Date::previous_day) else {
            return Ok(Vec::new());
        };
        let to = to.min(yesterday);
        let mut rows = Vec::new();
        for start in crate::analytics::days(from, to).step_by(7) {
            let end = start.saturating_add(time::Duration::days(6)).min(to);
            rows.extend(self.rollup_days(start, end).await?);
        }
        Ok(rows)
    }

    /// [`Engine::rollup`] of days that are all over, in one read.
    async fn rollup_days(&self, from: time::Date, to: time::Date) -> Result<Vec<crate::analytics::DayRow>> {
        use crate::analytics::{
            ALL, AttributionQuery, DEFAULT_LOOKBACK, DIMENSIONS, DayRow, DaySummary, EventFact, Model,
            PRODUCT_PAGES, SOURCE_DIMENSIONS, SessionFacts, credit_dimension, credits, day_of, days,
            standard_funnel, start_of, summarize,
        };
        let (sessions, events) = self.analytics_facts(from, to, Some(PRODUCT_PAGES)).await?;
        let steps = standard_funnel(PRODUCT_PAGES);
        // Each day with its own sessions and events: every summary indexes a
        // day's events, not the range's.
        let mut by_day: HashMap<time::Date, (Vec<SessionFacts>, Vec<EventFact>)> = HashMap::new();
        let mut day_of_session: HashMap<SessionId, time::Date> = HashMap::new();
        for s in sessions {
            if let Some(d) = day_of(s.started_at) {
                day_of_session.insert(s.id, d);
                by_day.entry(d).or_default().0.push(s);
            }
        }
        for e in events {
            if let Some(d) = day_of_session.get(&e.session_id) {
                by_day.entry(*d).or_default().1.push(e);
            }
        }
        let mut daily = Vec::new();
        for day in days(from, to) {
            let (day_sessions, day_events) = by_day.remove(&day).unwrap_or_default();
            let date = day.to_string();
            let start = start_of(day);
            let end = day.next_day().map_or(Timestamp(i64::MAX), start_of);
            let (orders, sources) = self
                .inner
                .cold
                .attribution_facts(start, end, start.minus(DEFAULT_LOOKBACK))
                .await?;
            let mut all = summarize(&day_sessions, &day_events, &steps, None)
                .remove(&None)
                .unwrap_or_default();
            daily.push(DayRow {
                date: date.clone(),
                figures: all.figures(),
            });
            // A day's distinct visitors are its daily row's; a range's, per value.
            all.visitors.clear();
            let mut rows = vec![DaySummary {
                date: date.clone(),
                dimension: ALL.to_owned(),
                value: None,
                summary: all,
            }];
            for dimension in DIMENSIONS {
                for (value, summary) in summarize(&day_sessions, &day_events, &steps, Some(dimension)) {
                    rows.push(DaySummary {
                        date: date.clone(),
                        dimension: (*dimension).to_owned(),
                        value,
                        summary,
                    });
                }
            }
            for model in [Model::Last, Model::First] {
                for dimension in SOURCE_DIMENSIONS {
                    let query = AttributionQuery {
                        model,
                        dimension,
                        lookback: DEFAULT_LOOKBACK,
                        limit: usize::MAX,
                    };
                    for (value, summary) in credits(&orders, &sources, &query) {
                        rows.push(DaySummary {
                            date: date.clone(),
                            dimension: credit_dimension(model, dimension),
                            value,
                            summary,
                        });
                    }
                }
            }
            self.inner.cold.save_day_summaries(&date, &rows).await?;
        }
        self.inner.cold.save_rollups(&daily, self.now()).await?;
        Ok(daily)
    }

    /// The summaries per value of `dimension` (one, keyed `None`, without
    /// one) of the sessions that started from the UTC day `from` to `to`,
    /// with the standard funnel's steps: rolled-up days from their stored
    /// summaries, the others (today among them) from their raw facts.
    /// Without a dimension, the summary keeps no visitors (the daily figures
    /// have them, day by day). Without `funnel`, it keeps no funnel counts,
    /// and the days read raw skip their page views (most of their events).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`](crate::Error::Unavailable) when a store does not answer in
    /// time.
    pub async fn summaries(
        &self,
        from: time::Date,
        to: time::Date,
        dimension: Option<&str>,
        funnel: bool,
    ) -> Result<HashMap<Option<String>, crate::analytics::Summary>> {
        use crate::analytics::{PRODUCT_PAGES, Total, standard_funnel, summarize};
        let (all, runs) = self.rolled_up(from, to).await?;
        let stored = match dimension {
            None => all,
            Some(d) => {
                self.inner
                    .cold
                    .day_summaries(&from.to_string(), &to.to_string(), d)
                    .await?
            }
        };
        let mut totals: HashMap<Option<String>, Total> = HashMap::new();
        for s in &stored {
            totals.entry(s.value.clone()).or_default().add(&s.summary);
        }
        let steps = if funnel {
            standard_funnel(PRODUCT_PAGES)
        } else {
            Vec::new()
        };
        let pages = funnel.then_some(PRODUCT_PAGES);
        for (start, end) in runs {
            let (sessions, events) = self.analytics_facts(start, end, pages).await?;
            for (value, summary) in summarize(&sessions, &events, &steps, dimension) {
                totals.entry(value).or_default().add(&summary);
            }
        }
        Ok(totals
            .into_iter()
            .map(|(value, t)| {
                let mut s = t.finish();
                if dimension.is_none() {
                    s.visitors.clear();
                }
                if !funnel {
                    s.funnel.clear();
                }
                (value, s)
            })
            .collect())
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
        // One read per run of consecutive days without a rollup.
        for (first, last) in missing_runs(from, to, |day| stored.contains_key(day)) {
            let (sessions, events) = self.analytics_facts(first, last, None).await?;
            for row in crate::analytics::daily(&sessions, &events, first, last) {
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

/// The days from `from` to `to` that `present` (given `YYYY-MM-DD`) says
/// are missing, as runs of consecutive days, first and last of each.
fn missing_runs(
    from: time::Date,
    to: time::Date,
    present: impl Fn(&str) -> bool,
) -> Vec<(time::Date, time::Date)> {
    let mut runs: Vec<(time::Date, time::Date)> = Vec::new();
    for day in crate::analytics::days(from, to).filter(|d| !present(&d.to_string())) {
        match runs.last_mut() {
            Some((_, end)) if end.next_day() == Some(day) => *end = day,
            _ => runs.push((day, day)),
        }
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::missing_runs;

    #[test]
    fn days_fall_into_runs_of_consecutive_days() {
        let d = |n: u8| time::Date::from_calendar_date(2026, time::Month::November, n).unwrap();
        let missing = [d(1), d(2), d(3), d(5), d(7), d(8)];
        let runs = missing_runs(d(1), d(9), |day| !missing.iter().any(|m| m.to_string() == day));
        assert_eq!(runs, [(d(1), d(3)), (d(5), d(5)), (d(7), d(8))]);
        assert!(missing_runs(d(1), d(9), |_| true).is_empty());
    }
}
