-- Durable redelivery of purges that failed inline, and per-caller rate limiting.

CREATE TABLE deliveries (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    purge_id    INTEGER NOT NULL REFERENCES purges(id),
    url         TEXT NOT NULL,
    instance    TEXT NOT NULL,
    status      TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'abandoned')),
    attempts    INTEGER NOT NULL DEFAULT 0,   -- background attempts so far
    first_at    INTEGER NOT NULL,
    next_at     INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    last_error  TEXT
);
CREATE INDEX deliveries_due ON deliveries(status, next_at);

CREATE TABLE rate_limits (
    key         TEXT NOT NULL,
    window      INTEGER NOT NULL,             -- minute number since the epoch
    count       INTEGER NOT NULL,
    PRIMARY KEY (key, window)
);
