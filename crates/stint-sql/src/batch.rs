//! A batch of records folded into the statements it needs.

use std::collections::HashMap;

use stint_core::event::Event;
use stint_core::store::{EndReason, Record};
use stint_core::{SessionId, SessionRecord, Timestamp, TokenHash};

/// Activity per session in a batch: the latest time and the highest count.
pub(crate) type Activity = HashMap<SessionId, (Timestamp, u64)>;

/// A session's snapshot in a batch: the newest version, the newest token
/// any of them carried, and the activity to write with it.
pub(crate) struct Snapshot<'a> {
    pub(crate) session: &'a SessionRecord,
    pub(crate) token: Option<TokenHash>,
    /// The latest `last_seen_at` and highest `page_views` of the session's
    /// records in the batch (the snapshot's own at least).
    pub(crate) activity: (Timestamp, u64),
}

/// One snapshot per session, every event, one activity update per session
/// without a snapshot in the batch, every end.
#[derive(Default)]
pub(crate) struct Folded<'a> {
    pub(crate) snapshots: HashMap<SessionId, Snapshot<'a>>,
    pub(crate) events: Vec<&'a Event>,
    pub(crate) activity: Activity,
    pub(crate) ends: Vec<(SessionId, Timestamp, EndReason)>,
}

impl<'a> Folded<'a> {
    pub(crate) fn new(batch: &'a [Record]) -> Self {
        let mut f = Folded::default();
        for r in batch {
            match r {
                Record::Snapshot { session, token } => {
                    let mine = (session.last_seen_at, session.page_views);
                    let slot = f.snapshots.entry(session.id).or_insert(Snapshot {
                        session,
                        token: *token,
                        activity: mine,
                    });
                    if session.version >= slot.session.version {
                        slot.token = token.or(slot.token);
                        slot.session = session;
                    } else if slot.token.is_none() {
                        slot.token = *token;
                    }
                    slot.activity = (slot.activity.0.max(mine.0), slot.activity.1.max(mine.1));
                }
                Record::PageView { event, page_views } => {
                    f.touch(event, *page_views);
                    f.events.push(event);
                }
                Record::Event(event) => {
                    f.touch(event, 0);
                    f.events.push(event);
                }
                Record::End { id, at, reason } => f.ends.push((*id, *at, *reason)),
            }
        }
        // The snapshot's row takes its session's activity (its upsert keeps
        // the higher `last_seen_at` and `page_views`, whatever the version):
        // a new session's first page view costs no update of its own.
        let snapshots = &mut f.snapshots;
        f.activity.retain(|id, (at, page_views)| {
            let Some(slot) = snapshots.get_mut(id) else {
                return true;
            };
            slot.activity = (slot.activity.0.max(*at), slot.activity.1.max(*page_views));
            false
        });
        f
    }

    fn touch(&mut self, event: &Event, page_views: u64) {
        let slot = self
            .activity
            .entry(event.session_id)
            .or_insert((event.at, page_views));
        slot.0 = slot.0.max(event.at);
        slot.1 = slot.1.max(page_views);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stint_core::event::kinds;
    use stint_core::{Attributes, VisitorId};

    #[test]
    fn a_sessions_snapshot_takes_its_activity_and_others_keep_an_update() {
        let new = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(1_000));
        let old = SessionRecord::new(VisitorId::new(), Attributes::default(), Timestamp(500));
        let view = |s: &SessionRecord, at: i64, n: u64| Record::PageView {
            event: Event::new(s.id, s.visitor_id, kinds::PAGE_VIEW, Timestamp(at)),
            page_views: n,
        };
        let batch = vec![
            Record::Snapshot {
                session: new.clone(),
                token: None,
            },
            view(&new, 1_200, 1),
            view(&new, 1_100, 2),
            view(&old, 900, 7),
        ];
        let f = Folded::new(&batch);
        assert_eq!(f.snapshots[&new.id].activity, (Timestamp(1_200), 2));
        assert_eq!(f.activity.len(), 1);
        assert_eq!(f.activity[&old.id], (Timestamp(900), 7));
        assert_eq!(f.events.len(), 3);
    }
}
