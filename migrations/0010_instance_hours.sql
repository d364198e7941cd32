-- Per-instance figures as hourly rollups instead of one row per (item, instance) pair: a purge of
-- 100 URLs to 60 instances wrote 6,000 purge_results rows, and the Instances page read them all.
-- Now a purge upserts one row per instance and hour (its counts, its request times as a
-- histogram whose buckets are core::stats::BUCKET_BOUNDS_MS, and the instance's last purge in
-- that hour), in one statement. The newest row of an instance holds its last purge.
CREATE TABLE instance_hours (
    instance      TEXT NOT NULL,
    hour          INTEGER NOT NULL,            -- hours since the epoch
    requests      INTEGER NOT NULL,
    failed        INTEGER NOT NULL,
    timed         INTEGER NOT NULL,            -- requests with a time
    elapsed_sum   INTEGER NOT NULL,            -- their sum, ms
    max_ms        INTEGER,
    h0            INTEGER NOT NULL DEFAULT 0,  -- <= 1 ms
    h1            INTEGER NOT NULL DEFAULT 0,  -- <= 2 ms
    h2            INTEGER NOT NULL DEFAULT 0,  -- <= 3 ms
    h3            INTEGER NOT NULL DEFAULT 0,  -- <= 5 ms
    h4            INTEGER NOT NULL DEFAULT 0,  -- <= 7 ms
    h5            INTEGER NOT NULL DEFAULT 0,  -- <= 10 ms
    h6            INTEGER NOT NULL DEFAULT 0,  -- <= 15 ms
    h7            INTEGER NOT NULL DEFAULT 0,  -- <= 20 ms
    h8            INTEGER NOT NULL DEFAULT 0,  -- <= 30 ms
    h9            INTEGER NOT NULL DEFAULT 0,  -- <= 50 ms
    h10           INTEGER NOT NULL DEFAULT 0,  -- <= 70 ms
    h11           INTEGER NOT NULL DEFAULT 0,  -- <= 100 ms
    h12           INTEGER NOT NULL DEFAULT 0,  -- <= 150 ms
    h13           INTEGER NOT NULL DEFAULT 0,  -- <= 200 ms
    h14           INTEGER NOT NULL DEFAULT 0,  -- <= 300 ms
    h15           INTEGER NOT NULL DEFAULT 0,  -- <= 500 ms
    h16           INTEGER NOT NULL DEFAULT 0,  -- <= 700 ms
    h17           INTEGER NOT NULL DEFAULT 0,  -- <= 1000 ms
    h18           INTEGER NOT NULL DEFAULT 0,  -- <= 1500 ms
    h19           INTEGER NOT NULL DEFAULT 0,  -- <= 2000 ms
    h20           INTEGER NOT NULL DEFAULT 0,  -- <= 3000 ms
    h21           INTEGER NOT NULL DEFAULT 0,  -- <= 5000 ms
    h22           INTEGER NOT NULL DEFAULT 0,  -- <= 10000 ms
    h23           INTEGER NOT NULL DEFAULT 0,  -- <= 30000 ms
    h24           INTEGER NOT NULL DEFAULT 0,  -- > 30000 ms
    last_purge_id INTEGER NOT NULL,
    last_at       INTEGER NOT NULL,
    last_url      TEXT NOT NULL,
    last_outcome  TEXT NOT NULL,
    PRIMARY KEY (instance, hour)
) WITHOUT ROWID;
-- The typical times (the last minutes) and the cron's pruning read by hour, for every instance.
CREATE INDEX instance_hours_hour ON instance_hours(hour);

-- What was recorded so far, rolled up the same way (the row written last in each hour is its
-- last purge).
INSERT INTO instance_hours
SELECT g.instance, g.hour, g.requests, g.failed, g.timed, g.elapsed_sum, g.max_ms,
       g.h0, g.h1, g.h2, g.h3, g.h4, g.h5, g.h6, g.h7, g.h8, g.h9, g.h10, g.h11, g.h12,
       g.h13, g.h14, g.h15, g.h16, g.h17, g.h18, g.h19, g.h20, g.h21, g.h22, g.h23, g.h24,
       r.purge_id, r.at, r.url, r.outcome
FROM (SELECT instance, at / 3600000 AS hour, count(*) AS requests,
              coalesce(sum(outcome NOT IN ('purged', 'not_cached', 'unconfirmed')), 0) AS failed,
              count(elapsed_ms) AS timed, coalesce(sum(elapsed_ms), 0) AS elapsed_sum, max(elapsed_ms) AS max_ms,
              coalesce(sum(elapsed_ms <= 1), 0) AS h0,
              coalesce(sum(elapsed_ms > 1 AND elapsed_ms <= 2), 0) AS h1,
              coalesce(sum(elapsed_ms > 2 AND elapsed_ms <= 3), 0) AS h2,
              coalesce(sum(elapsed_ms > 3 AND elapsed_ms <= 5), 0) AS h3,
              coalesce(sum(elapsed_ms > 5 AND elapsed_ms <= 7), 0) AS h4,
              coalesce(sum(elapsed_ms > 7 AND elapsed_ms <= 10), 0) AS h5,
              coalesce(sum(elapsed_ms > 10 AND elapsed_ms <= 15), 0) AS h6,
              coalesce(sum(elapsed_ms > 15 AND elapsed_ms <= 20), 0) AS h7,
              coalesce(sum(elapsed_ms > 20 AND elapsed_ms <= 30), 0) AS h8,
              coalesce(sum(elapsed_ms > 30 AND elapsed_ms <= 50), 0) AS h9,
              coalesce(sum(elapsed_ms > 50 AND elapsed_ms <= 70), 0) AS h10,
              coalesce(sum(elapsed_ms > 70 AND elapsed_ms <= 100), 0) AS h11,
              coalesce(sum(elapsed_ms > 100 AND elapsed_ms <= 150), 0) AS h12,
              coalesce(sum(elapsed_ms > 150 AND elapsed_ms <= 200), 0) AS h13,
              coalesce(sum(elapsed_ms > 200 AND elapsed_ms <= 300), 0) AS h14,
              coalesce(sum(elapsed_ms > 300 AND elapsed_ms <= 500), 0) AS h15,
              coalesce(sum(elapsed_ms > 500 AND elapsed_ms <= 700), 0) AS h16,
              coalesce(sum(elapsed_ms > 700 AND elapsed_ms <= 1000), 0) AS h17,
              coalesce(sum(elapsed_ms > 1000 AND elapsed_ms <= 1500), 0) AS h18,
              coalesce(sum(elapsed_ms > 1500 AND elapsed_ms <= 2000), 0) AS h19,
              coalesce(sum(elapsed_ms > 2000 AND elapsed_ms <= 3000), 0) AS h20,
              coalesce(sum(elapsed_ms > 3000 AND elapsed_ms <= 5000), 0) AS h21,
              coalesce(sum(elapsed_ms > 5000 AND elapsed_ms <= 10000), 0) AS h22,
              coalesce(sum(elapsed_ms > 10000 AND elapsed_ms <= 30000), 0) AS h23,
              coalesce(sum(elapsed_ms > 30000), 0) AS h24,
              max(rowid) AS last_row
      FROM purge_results GROUP BY instance, at / 3600000) g
JOIN purge_results r ON r.rowid = g.last_row;

DROP TABLE purge_results;
