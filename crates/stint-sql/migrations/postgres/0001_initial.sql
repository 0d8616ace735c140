-- Sessions: one row per journey, live or ended. Times are Unix milliseconds.
CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    visitor_id    TEXT NOT NULL,
    token_hash    BYTEA,
    kind          TEXT NOT NULL,
    customer_id   TEXT,
    page_views    BIGINT NOT NULL DEFAULT 0,
    converted     BIGINT NOT NULL DEFAULT 0,
    order_id      TEXT,
    started_at    BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    ended_at      BIGINT,
    end_reason    TEXT,
    duration_secs BIGINT,
    version       BIGINT NOT NULL DEFAULT 0,
    ip_address    TEXT,
    device        TEXT,
    browser       TEXT,
    os            TEXT,
    country       TEXT,
    city          TEXT,
    landing_page  TEXT,
    referrer      TEXT,
    utm_source    TEXT,
    utm_medium    TEXT,
    utm_campaign  TEXT,
    data          TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX sessions_token ON sessions (token_hash) WHERE token_hash IS NOT NULL;
CREATE INDEX sessions_visitor ON sessions (visitor_id, id);
CREATE INDEX sessions_customer ON sessions (customer_id, id) WHERE customer_id IS NOT NULL;
CREATE INDEX sessions_open ON sessions (last_seen_at) WHERE ended_at IS NULL;

-- Events: what happened in each session. The id makes a retried write harmless.
CREATE TABLE events (
    id         TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    kind       TEXT NOT NULL,
    page       TEXT,
    product_id TEXT,
    metadata   TEXT,
    at         BIGINT NOT NULL
);
CREATE INDEX events_session ON events (session_id, at);
CREATE INDEX events_at ON events (at);
