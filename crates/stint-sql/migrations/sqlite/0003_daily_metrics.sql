-- Rollups: one row of figures per past UTC day, kept after raw events expire.
CREATE TABLE daily_metrics (
    date                TEXT PRIMARY KEY,
    visitors            INTEGER NOT NULL,
    sessions            INTEGER NOT NULL,
    page_views          INTEGER NOT NULL,
    bounce_rate         REAL NOT NULL,
    avg_session_seconds REAL NOT NULL,
    logins              INTEGER NOT NULL,
    conversions         INTEGER NOT NULL,
    conversion_rate     REAL NOT NULL,
    revenue             REAL NOT NULL,
    computed_at         INTEGER NOT NULL
);
