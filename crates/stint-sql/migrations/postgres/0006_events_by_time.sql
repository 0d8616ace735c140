-- Events are found by time alone. A session's events lie within its span:
-- every event moves the session's last_seen_at, and none comes before its
-- start, so reading them is a range of this index filtered by session. The
-- index by session, which every insert scattered over its whole tree, goes.
DROP INDEX events_session;
DROP INDEX events_at;
CREATE INDEX events_at ON events (at, session_id);
