-- Webhook notifications (crates/edgepurge-core/src/notify.rs): each kind's rate window and what
-- it held back, and how sending went each minute (GET /api/health sums the last hour).

CREATE TABLE notify_kinds (
    kind        TEXT PRIMARY KEY CHECK (kind IN ('partial', 'failed', 'abandoned', 'purged')),
    minute      INTEGER NOT NULL,           -- minute number since the epoch of `count`
    count       INTEGER NOT NULL,           -- events of the kind in that minute
    held        INTEGER NOT NULL,           -- events held back since the last one sent
    held_since  INTEGER,                    -- when the first of those happened, ms
    prev_held   INTEGER NOT NULL,           -- `held` before the last event: what a sent one summarises
    prev_since  INTEGER                     -- `held_since` before the last event
) WITHOUT ROWID;

CREATE TABLE notify_minutes (
    minute          INTEGER PRIMARY KEY,    -- minute number since the epoch
    sent            INTEGER NOT NULL,       -- POSTs a webhook accepted
    failed          INTEGER NOT NULL,       -- POSTs that failed
    held_back       INTEGER NOT NULL,       -- notifications held back (over NOTIFY_PER_MINUTE)
    last_failure_at INTEGER,                -- ms
    last_error      TEXT
);
