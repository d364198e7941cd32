-- People, their tokens and sessions, and the purge history (denied attempts included).
-- Times are milliseconds since the epoch. Secrets are stored only as SHA-256 hex hashes.

CREATE TABLE people (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    email       TEXT UNIQUE,
    role        TEXT NOT NULL CHECK (role IN ('admin', 'editor')),
    created_at  INTEGER NOT NULL
);

CREATE TABLE tokens (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    person_id   INTEGER NOT NULL REFERENCES people(id),
    label       TEXT NOT NULL,
    hint        TEXT NOT NULL,
    hash        TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

CREATE TABLE sessions (
    hash        TEXT PRIMARY KEY,
    person_id   INTEGER NOT NULL REFERENCES people(id),
    token_id    INTEGER REFERENCES tokens(id),   -- the token signed in with; revoking it ends the session
    csrf        TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE purges (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT NOT NULL,
    person_id   INTEGER,
    urls        TEXT NOT NULL,              -- JSON array of strings
    status      TEXT NOT NULL,              -- purged | partial | failed | denied
    http_status INTEGER NOT NULL,
    detail      TEXT,
    results     TEXT NOT NULL DEFAULT '[]'  -- JSON array of api::PurgeResult
);
CREATE INDEX purges_actor ON purges(actor, id DESC);

CREATE TABLE purge_results (
    purge_id    INTEGER NOT NULL REFERENCES purges(id),
    at          INTEGER NOT NULL,
    url         TEXT NOT NULL,
    instance    TEXT NOT NULL,
    outcome     TEXT NOT NULL
);
CREATE INDEX purge_results_instance ON purge_results(instance, at DESC);
