-- Summaries of past days per dimension value (dimension '*': all sessions),
-- so that a range adds its days up instead of reading its raw events. The
-- visitors are kept as their ids (16 bytes each, sorted), so that a visitor
-- of several days counts once over a range. A day rolled up has a '*' row.
CREATE TABLE day_summaries (
    date        TEXT NOT NULL,
    dimension   TEXT NOT NULL,
    value       TEXT,
    sessions    BIGINT NOT NULL,
    page_views  BIGINT NOT NULL,
    bounces     BIGINT NOT NULL,
    seconds     BIGINT NOT NULL,
    logins      BIGINT NOT NULL,
    conversions BIGINT NOT NULL,
    revenue     DOUBLE PRECISION NOT NULL,
    funnel      TEXT NOT NULL,
    visitors    BYTEA NOT NULL
);
CREATE INDEX day_summaries_by_dimension ON day_summaries (dimension, date);

-- The live days of a range are read by the start of their sessions.
CREATE INDEX sessions_started ON sessions (started_at);

-- Attribution reads the orders of a range, a small part of its events.
CREATE INDEX events_orders ON events (at) WHERE kind = 'order_completed';
