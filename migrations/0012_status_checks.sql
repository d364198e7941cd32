-- CHECKs on every column holding one of the API's names, so that a row the store could not read
-- back cannot be written: a history entry's status and kind (api::HistoryStatus,
-- api::HistoryKind) and its `recovered` flag (0 or 1), an hourly rollup's last outcome
-- (api::Outcome). people.role and deliveries.status have had theirs since 0001 and 0002.
--
-- SQLite cannot add a CHECK to a column: purges and instance_hours are rebuilt, with the same
-- columns in the same order (0001 to 0008 for purges, 0010 for instance_hours), the same rows
-- and ids, and their indexes made again as 0001, 0008 and 0010 made them. A stored value outside
-- the CHECKs fails the migration, which then changes nothing.
--
-- The token-hash and session-hash look-ups need no index of their own: tokens.hash is UNIQUE and
-- sessions.hash the PRIMARY KEY, each with SQLite's automatic index (the SQL test checks both
-- look-ups are index seeks).

-- D1 runs a migration as one transaction, foreign keys enforced, and they cannot be switched
-- off: deliveries and idempotency reference purges(id), so dropping purges counts each of their
-- rows as a violation, deferred to the commit; putting the rows back into the new purges counts
-- them off again, so the commit still checks every reference. Their child keys are indexed
-- first (as SQLite advises), so that each of those checks is an index seek, not a scan.
PRAGMA defer_foreign_keys = ON;

CREATE INDEX deliveries_purge ON deliveries(purge_id);
CREATE INDEX idempotency_purge ON idempotency(purge_id);

CREATE TABLE purges_copy AS SELECT * FROM purges;
DROP TABLE purges;
CREATE TABLE purges (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    person_id   INTEGER,
    urls        TEXT NOT NULL,              -- JSON array of strings
    status      TEXT NOT NULL CHECK (status IN ('purged', 'partial', 'failed', 'denied', 'running')),
    http_status INTEGER NOT NULL,
    detail      TEXT,
    results     TEXT NOT NULL DEFAULT '[]', -- JSON array of api::PurgeResult
    item_count  INTEGER,
    trace_id    TEXT,
    kind        TEXT NOT NULL DEFAULT 'purge' CHECK (kind IN ('purge', 'check')),
    replay      TEXT,
    lease_until INTEGER,
    lease_owner TEXT,
    recovered   INTEGER NOT NULL DEFAULT 0 CHECK (recovered IN (0, 1))
);
INSERT INTO purges (id, at, actor, person_id, urls, status, http_status, detail, results, item_count, trace_id,
                    kind, replay, lease_until, lease_owner, recovered)
SELECT id, at, actor, person_id, urls, status, http_status, detail, results, item_count, trace_id,
       kind, replay, lease_until, lease_owner, recovered
FROM purges_copy ORDER BY id;
DROP TABLE purges_copy;
CREATE INDEX purges_actor ON purges(actor, id DESC);
CREATE INDEX purges_lease ON purges(lease_until) WHERE lease_until IS NOT NULL;

-- Nothing references instance_hours: the new table is filled, the old one dropped, the new one
-- renamed.
CREATE TABLE instance_hours_new (
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
    last_outcome  TEXT NOT NULL
                  CHECK (last_outcome IN ('purged', 'not_cached', 'unconfirmed', 'rejected', 'failed')),
    PRIMARY KEY (instance, hour)
) WITHOUT ROWID;
INSERT INTO instance_hours_new SELECT * FROM instance_hours;
DROP TABLE instance_hours;
ALTER TABLE instance_hours_new RENAME TO instance_hours;
CREATE INDEX instance_hours_hour ON instance_hours(hour);
