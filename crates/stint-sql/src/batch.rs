//! A batch of records folded into the statements it needs.

use std::collections::HashMap;

use stint_core::event::Event;
use stint_core::store::{EndReason, Record};
use stint_core::{SessionId, SessionRecord, Timestamp, TokenHash};

/// Activity per session in a batch: the latest time and the highest count.
pub(crate) type Activity = HashMap<SessionId, (Timestamp, u64)>;

/// One snapshot per session (the newest version, with the newest token any
/// of them carried), every event, one activity update per session, every end.
#[derive(Default)]
pub(crate) struct Folded<'a> {
    pub(crate) snapshots: HashMap<SessionId, (&'a SessionRecord, Option<TokenHash>)>,
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
                    let slot = f.snapshots.entry(session.id).or_insert((session, *token));
                    if session.version >= slot.0.version {
                        let token = token.or(slot.1);
                        *slot = (session, token);
                    } else if slot.1.is_none() {
                        slot.1 = *token;
                    }
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
