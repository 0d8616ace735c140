//! Summaries: the figures of a group of sessions in a form that adds up.
//!
//! A past day is summarised once per dimension value and stored (a rollup);
//! a range then adds its days' summaries, and only the days not rolled up
//! (today) are read raw. Everything but the visitors is a sum; the visitors
//! are kept as the set of their ids, so that a visitor seen on several days
//! counts once over the range, exactly.

use std::collections::{HashMap, HashSet};

use super::{
    EventFact, Figures, FunnelStep, SessionFacts, StepRule, dimension_value, events_by_session, order_total,
    ratio, round,
};
use crate::event::kinds;
use crate::id::VisitorId;

/// The summable figures of a group of sessions.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    /// Sessions.
    pub sessions: u64,
    /// Their page views.
    pub page_views: u64,
    /// Sessions of one page view and no other event.
    pub bounces: u64,
    /// The sum of their durations, whole seconds each.
    pub seconds: u64,
    /// `customer_login` events.
    pub logins: u64,
    /// Converted sessions.
    pub conversions: u64,
    /// The sum of their orders' totals.
    pub revenue: f64,
    /// Sessions reaching each step of the funnel summarised with, in order.
    pub funnel: Vec<u64>,
    /// The distinct visitors, sorted (empty where not kept).
    pub visitors: Vec<VisitorId>,
}

impl Summary {
    /// The figures. `visitors` is the number of distinct visitors, which a
    /// sum of summaries cannot know without their sets.
    pub fn figures(&self) -> Figures {
        let n = self.sessions;
        Figures {
            visitors: self.visitors.len() as u64,
            sessions: n,
            page_views: self.page_views,
            bounce_rate: round(ratio(self.bounces, n), 4),
            avg_session_seconds: round(
                if n == 0 {
                    0.0
                } else {
                    self.seconds as f64 / n as f64
                },
                2,
            ),
            logins: self.logins,
            conversions: self.conversions,
            conversion_rate: round(ratio(self.conversions, n), 4),
            revenue: round(self.revenue, 2),
        }
    }

    /// The funnel: each step's sessions and the drop-off from the one before.
    pub fn funnel_steps(&self, steps: &[(String, StepRule)]) -> Vec<FunnelStep> {
        steps
            .iter()
            .enumerate()
            .map(|(i, (name, _))| {
                let reached = self.funnel.get(i).copied().unwrap_or(0);
                let before = if i == 0 {
                    0
                } else {
                    self.funnel.get(i - 1).copied().unwrap_or(0)
                };
                FunnelStep {
                    step: name.clone(),
                    sessions: reached,
                    drop_off: if i == 0 || before == 0 {
                        0.0
                    } else {
                        round(1.0 - ratio(reached, before), 4)
                    },
                }
            })
            .collect()
    }
}

/// Adds summaries up: sums, and the union of the visitor sets.
#[derive(Debug, Default)]
pub struct Total {
    pub(super) sum: Summary,
    pub(super) visitors: HashSet<VisitorId>,
}

impl Total {
    /// Adds one summary.
    pub fn add(&mut self, s: &Summary) {
        let t = &mut self.sum;
        t.sessions += s.sessions;
        t.page_views += s.page_views;
        t.bounces += s.bounces;
        t.seconds += s.seconds;
        t.logins += s.logins;
        t.conversions += s.conversions;
        t.revenue += s.revenue;
        if t.funnel.len() < s.funnel.len() {
            t.funnel.resize(s.funnel.len(), 0);
        }
        for (a, b) in t.funnel.iter_mut().zip(&s.funnel) {
            *a += b;
        }
        self.visitors.extend(s.visitors.iter().copied());
    }

    /// The sum.
    pub fn finish(self) -> Summary {
        let mut visitors: Vec<VisitorId> = self.visitors.into_iter().collect();
        visitors.sort_unstable();
        Summary { visitors, ..self.sum }
    }
}

/// How far each session went in the funnel (the number of steps it reached, in order).
pub(super) fn reached(s: &SessionFacts, list: &[&EventFact], steps: &[(String, StepRule)]) -> usize {
    let mut after = s.started_at;
    let mut position = 0usize;
    for (i, (_, rule)) in steps.iter().enumerate() {
        let found = match rule {
            StepRule::Visit => Some(position),
            StepRule::PageViewUnder(prefix) => list[position..]
                .iter()
                .position(|e| {
                    e.kind == kinds::PAGE_VIEW
                        && e.at >= after
                        && e.page.as_deref().is_some_and(|p| p.starts_with(prefix.as_str()))
                })
                .map(|k| position + k),
            StepRule::Event(kind) => list[position..]
                .iter()
                .position(|e| &e.kind == kind && e.at >= after)
                .map(|k| position + k),
        };
        match (found, rule) {
            (Some(_), StepRule::Visit) => {}
            (Some(k), _) => {
                position = k;
                after = list[k].at;
            }
            (None, _) => return i,
        }
    }
    steps.len()
}

/// The summaries of `sessions` grouped by the value of `dimension` (one
/// group, keyed `None`, without one), with `events` (of any sessions;
/// others' are ignored) and the funnel `steps`.
pub fn summarize<'a>(
    sessions: impl IntoIterator<Item = &'a SessionFacts>,
    events: &[EventFact],
    steps: &[(String, StepRule)],
    dimension: Option<&str>,
) -> HashMap<Option<String>, Summary> {
    summarize_indexed(sessions, &events_by_session(events), steps, dimension)
}

/// [`summarize`] with the events already indexed by session.
pub(super) fn summarize_indexed<'a>(
    sessions: impl IntoIterator<Item = &'a SessionFacts>,
    by_session: &HashMap<crate::id::SessionId, Vec<&EventFact>>,
    steps: &[(String, StepRule)],
    dimension: Option<&str>,
) -> HashMap<Option<String>, Summary> {
    let mut groups: HashMap<Option<String>, Total> = HashMap::new();
    for s in sessions {
        let key = dimension.and_then(|d| dimension_value(s, d));
        let total = groups.entry(key).or_insert_with(|| Total {
            sum: Summary {
                funnel: vec![0; steps.len()],
                ..Summary::default()
            },
            visitors: HashSet::new(),
        });
        total.visitors.insert(s.visitor_id);
        let g = &mut total.sum;
        let list = by_session.get(&s.id).map(Vec::as_slice).unwrap_or(&[]);
        g.sessions += 1;
        g.page_views += s.page_views;
        g.bounces += u64::from(s.page_views == 1 && s.other_events == 0);
        g.seconds += s.last_seen_at.secs_since(s.started_at);
        g.conversions += u64::from(s.converted);
        for e in list {
            match e.kind.as_str() {
                kinds::CUSTOMER_LOGIN => g.logins += 1,
                kinds::ORDER_COMPLETED => g.revenue += order_total(e),
                _ => {}
            }
        }
        for step in g.funnel.iter_mut().take(reached(s, list, steps)) {
            *step += 1;
        }
    }
    groups.into_iter().map(|(key, t)| (key, t.finish())).collect()
}
