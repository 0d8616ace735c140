-- Rollups: one row of figures per past UTC day, kept after raw events expire.
CREATE TABLE daily_metrics (
    date                TEXT PRIMARY KEY,
    visitors            BIGINT NOT NULL,
    sessions            BIGINT NOT NULL,
    page_views          BIGINT NOT NULL,
    bounce_rate         DOUBLE PRECISION NOT NULL,
    avg_session_seconds DOUBLE PRECISION NOT NULL,
    logins              BIGINT NOT NULL,
    conversions         BIGINT NOT NULL,
    conversion_rate     DOUBLE PRECISION NOT NULL,
    revenue             DOUBLE PRECISION NOT NULL,
    computed_at         BIGINT NOT NULL
);
